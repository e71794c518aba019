"""Historical depth as background flow: a recorded L2 book fed to the venue on the SimPy clock.

A replay-then-intervene run puts a real day's book under simulated traders:
the historical liquidity rests in the venue's book as orders of one passive
account (``history-SYMBOL`` in a run), and simulated orders trade against
it. The source is an L2 stream (levels, not orders: a Binance depth capture, see
:mod:`lob.replay.binance`): an opening snapshot, then updates giving a level's
new total size.

The queue model (the rules, and why):

- At t = 0 each snapshot level becomes one history order of its size.
- An update that **raises** a level by ``d`` lots adds a new history
  order of ``d`` at the back of the level: new historical interest queues
  behind whatever rests there, simulated orders included.
- An update that **lowers** a level by ``d`` takes ``d`` off the history
  orders of that level from the front (a reduce keeps an order's place): a
  historical cancel or trade comes off the historical queue in front of a
  simulated order, which moves up.
- **Conflicts.** Simulated orders consume historical liquidity that the
  recording knows nothing about. The historical sizes are tracked as
  recorded; when an update lowers a level by more than history still
  rests there (a simulated taker got to it first), the decrease is cut to
  what remains, and the cut is counted: ``conflicts`` updates, ``cut_lots``
  lots. Liquidity a simulated order took never comes back by itself; later
  raises add to what remains.
- A historical raise at a price that crosses a resting simulated order
  trades with it, as a new order would.
- Historical trades are not replayed as orders: their effect on the levels
  is already in the depth updates. So a simulated order resting at a level
  is filled only by simulated takers, never by a historical one (an L2
  record does not say which orders a trade took).

The history account is passive and unmargined (it neither sends nor hears
anything; its cash takes the other side of the simulated trades), so money
and positions stay exactly conserved. Every update is applied through the
venue's order entry at zero latency and logged like any command.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import simpy

from lob.core.codes import Kind, Status
from lob.market.latency import LatencyModel
from lob.market.venue import Connection, Venue
from lob.replay.errors import ReplayError

_LIMIT = int(Kind.LIMIT)
_REDUCE = int(Kind.REDUCE)
_REJECTED = int(Status.REJECTED)


@dataclass(frozen=True)
class DepthStream:
    """An L2 recording on the run's clock: the opening levels and the updates after them.

    ``snapshot`` rows are ``(side, price_ticks, qty_lots)`` (side +1 bid, -1
    ask); ``updates`` is a structured array with fields ``time_ns`` (from the
    run start, non-decreasing), ``side``, ``price_ticks`` and ``qty_lots``
    (the level's new total; 0 removes it). Rows of one time are applied
    together, in order.
    """

    snapshot: Sequence[tuple[int, int, int]]
    updates: np.ndarray


UPDATE_DTYPE = np.dtype([("time_ns", "i8"), ("side", "i1"), ("price_ticks", "i8"), ("qty_lots", "i8")])


class HistoricalDepth:
    """Feeds a :class:`DepthStream` into one instrument's book as a passive history account's orders."""

    def __init__(
        self, env: simpy.Environment, venue: Venue, ii: int, stream: DepthStream, until_ns: int
    ) -> None:
        self.env = env
        self.venue = venue
        self.ii = ii
        self.stream = stream
        self.until_ns = until_ns
        passive = LatencyModel(0)
        self.conn: Connection = venue.connect(None, passive, passive, listens=False)
        self.owner = self.conn.index
        self.recorded: dict[tuple[int, int], int] = {}  # (side, price) -> the level's size as recorded
        self._queues: dict[
            tuple[int, int], deque[int]
        ] = {}  # (side, price) -> history order ids, front first
        self.updates = 0  # recorded level updates applied (after the snapshot)
        self.conflicts = 0  # decreases cut because simulated orders had taken the liquidity
        self.cut_lots = 0
        env.process(self._run())

    def _run(self) -> Generator[simpy.Event, Any, None]:
        for side, price, qty in self.stream.snapshot:
            self._set(side, price, qty)
        self.venue.publish_now(self.ii)
        up = self.stream.updates
        times, sides, prices, qtys = (up[f].tolist() for f in ("time_ns", "side", "price_ticks", "qty_lots"))
        k, n = 0, len(times)
        while k < n and times[k] <= self.until_ns:
            t = times[k]
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            while k < n and times[k] == t:
                self._set(sides[k], prices[k], qtys[k])
                self.updates += 1
                k += 1
            self.venue.publish_now(self.ii)

    def _set(self, side: int, price: int, qty: int) -> None:
        """The recorded level ``(side, price)`` is now ``qty`` lots: add or take off the difference."""
        key = (side, price)
        delta = qty - self.recorded.get(key, 0)
        if qty:
            self.recorded[key] = qty
        else:
            self.recorded.pop(key, None)
        if not delta:
            return
        venue, ii = self.venue, self.ii
        book = venue.books[ii]
        now: int = self.env._now  # type: ignore[assignment]  # time is int ns here
        queue = self._queues.setdefault(key, deque())
        if delta > 0:
            oid = venue.new_order_id()
            status = venue.submit_now(self.conn, (_LIMIT, oid, side, price, delta, 0, now, ii))
            if status != _REJECTED and oid in book:
                queue.append(oid)
            return
        take = -delta
        while take and queue:
            oid = queue[0]
            if oid not in book:  # filled by simulated takers
                queue.popleft()
                continue
            resting = book.order_qty(oid)
            step = min(take, resting)
            venue.submit_now(self.conn, (_REDUCE, oid, 0, 0, step, 0, now, ii))
            take -= step
            if step == resting:
                queue.popleft()
        if take:
            self.conflicts += 1
            self.cut_lots += take
        if not queue:
            del self._queues[key]

    def summary(self) -> dict[str, int]:
        """Updates applied, conflicts and the lots they cut, and the position simulated takers left it."""
        account = self.venue.accounts[self.owner]
        return {
            "level_updates": self.updates,
            "conflicts": self.conflicts,
            "cut_lots": self.cut_lots,
            "history_position_lots": account.position[self.ii],
        }


def binance_depth_stream(path: Path | str, tick_size: float, lot_size: float) -> DepthStream:
    """The depth of a raw Binance USD-M capture (:mod:`lob.replay.binance`) as a :class:`DepthStream`.

    The book is synchronised by Binance's rules; t = 0 is the receive time of
    the snapshot it starts from, and the opening levels are the book once
    synchronised (the diffs received before the snapshot folded in). Each
    later diff lands at its receive time; a resynchronisation after a gap
    becomes the level changes between the two books. Prices and sizes are
    converted to the instrument's ticks and lots exactly: a price that is not
    a whole number of ticks, or a size not a whole number of lots, is a
    :class:`~lob.replay.errors.ReplayError`, as is a capture that never
    synchronises.
    """
    from lob.replay.binance import BinanceReader, BinanceReplay, DepthDiff, DepthSnapshot, L2Book

    changes: list[tuple[int, int, int, int]] = []  # (receive ns, side, price units, lots)

    class Recording(L2Book):
        """The replay's book, noting every level it changes and when the first snapshot was loaded."""

        __slots__ = ("loaded_ns",)

        def __init__(self) -> None:
            super().__init__()
            self.loaded_ns: int | None = None

        def levels(self) -> dict[tuple[int, int], int]:
            return {(1, p): q for p, q in self.bids.items()} | {(-1, p): q for p, q in self.asks.items()}

        def load(self, snapshot: DepthSnapshot) -> None:
            before = self.levels()
            super().load(snapshot)
            after = self.levels()
            if self.loaded_ns is None:
                self.loaded_ns = snapshot.receive_ns
            for key in sorted(before.keys() | after.keys()):
                if before.get(key, 0) != after.get(key, 0):
                    changes.append((snapshot.receive_ns, key[0], key[1], after.get(key, 0)))

        def apply(self, diff: DepthDiff) -> None:
            super().apply(diff)
            for side, levels in ((1, diff.bids), (-1, diff.asks)):
                changes.extend((diff.receive_ns, side, price, qty) for price, qty in levels)

    file = Path(path)
    reader = BinanceReader(file)
    replay = BinanceReplay()
    book = Recording()
    replay.book = book
    for message in reader:
        replay.feed(message)
    replay.finish()
    t0 = book.loaded_ns
    if t0 is None or reader.price_decimals is None or reader.qty_decimals is None:
        raise ReplayError(file, None, f"the depth never synchronised: {replay.failure}")
    price_scale = _scale(reader.price_decimals, tick_size)
    qty_scale = _scale(reader.qty_decimals, lot_size)
    opening: dict[tuple[int, int], int] = {}
    rows: list[tuple[int, int, int, int]] = []
    for ns, side, price, qty in changes:
        ticks, lots = _convert(file, price, price_scale, qty, qty_scale)
        if ns <= t0:
            opening[(side, ticks)] = lots
        else:
            rows.append((ns - t0, side, ticks, lots))
    snapshot = sorted((side, price, qty) for (side, price), qty in opening.items() if qty)
    return DepthStream(snapshot, np.array(rows, dtype=UPDATE_DTYPE))


def _scale(decimals: int, unit: float) -> tuple[int, int]:
    """``(numerator, denominator)``: a value in units of ``10**-decimals`` times this is in ``unit``s."""
    ratio = Fraction(1, 10**decimals) / Fraction(Decimal(repr(unit)))
    return ratio.numerator, ratio.denominator


def _convert(file: Path, price: int, ps: tuple[int, int], qty: int, qs: tuple[int, int]) -> tuple[int, int]:
    """A price and a size in the capture's units as the instrument's ticks and lots, exactly."""
    ticks, rest = divmod(price * ps[0], ps[1])
    if rest:
        raise ReplayError(file, None, f"price {price} (capture units) is not a whole number of ticks")
    lots, rest = divmod(qty * qs[0], qs[1])
    if rest:
        raise ReplayError(file, None, f"size {qty} (capture units) is not a whole number of lots")
    return ticks, lots
