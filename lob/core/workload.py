"""Seeded command streams for the order book: adversarial tests and the benchmark.

Both generators return numpy arrays of :data:`~lob.core.codes.COMMAND_DTYPE`
(prices in ticks, quantities in lots) meant to be replayed on a *fresh* book.
They decide each command while driving a book of their own through the
per-call API (``submit``), so that cancels, reduces and replaces name orders
that are really live and a price can be set against the real best bid/ask.
Any object with the book API can drive (default: a fresh
:class:`~lob.core.reference.ReferenceBook`); since every conforming book
behaves the same, the same seed gives the same bytes whichever book drives.

Random numbers come from ``numpy.random.default_rng(seed)`` in fixed blocks,
so ``stream.take(a)`` then ``stream.take(b)`` equals ``stream.take(a + b)``.
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_right
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from lob.core.codes import COMMAND_DTYPE, MAX_PRICE, MAX_QTY, NO_ASK, NO_BID, Kind, Side
from lob.errors import OrderError

__all__ = ["RandomStream", "benchmark_commands", "random_commands"]

CommandRow = tuple[int, int, int, int, int, int, int]  # COMMAND_DTYPE field order

_BLOCK = 4096  # rows of uniforms drawn at once (fixed so chunking does not change a stream)
_DRAIN_EVERY = 4096  # commands between emptying the driving book's fill buffers

_LIMIT, _IOC, _FOK, _POST, _MARKET = (
    int(k) for k in (Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET)
)
_CANCEL, _REDUCE, _REPLACE = int(Kind.CANCEL), int(Kind.REDUCE), int(Kind.REPLACE)
_NEW_KINDS = (_LIMIT, _IOC, _FOK, _POST, _MARKET)
_BUY, _SELL = int(Side.BUY), int(Side.SELL)

# Share of each kind in random_commands (cumulative), before bad commands are mixed in.
_KIND_WEIGHTS = (
    (_LIMIT, 0.36),
    (_IOC, 0.07),
    (_FOK, 0.07),
    (_POST, 0.08),
    (_MARKET, 0.05),
    (_CANCEL, 0.14),
    (_REDUCE, 0.09),
    (_REPLACE, 0.14),
)
_KIND_CUMULATIVE = tuple(
    float(c) for c in np.cumsum([w for _, w in _KIND_WEIGHTS]) / sum(w for _, w in _KIND_WEIGHTS)
)
# Owner ids are arbitrary int64; one negative on purpose.
_OWNERS = (1, 2, 3, -4)
# Ways a command can be wrong; each maps to one validation reason of docs/core.md.
_DEFECTS = (
    "qty_zero",
    "qty_negative",
    "qty_too_big",
    "price_zero",
    "price_negative",
    "price_too_big",
    "id_negative",
    "id_unknown",
    "id_duplicate",
    "reduce_too_large",
    "side",
    "kind",
    "stp",
)


class _LiveIds:
    """Ids believed live, with O(1) add, remove and uniform pick.

    Makers emptied by a fill or an STP cancel are not removed when it happens:
    :meth:`pick` drops ids the book no longer holds (one ``in`` per try), which
    is cheaper than reading every fill.
    """

    __slots__ = ("_ids", "_pos")

    def __init__(self) -> None:
        self._ids: list[int] = []
        self._pos: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, order_id: int) -> bool:
        return order_id in self._pos

    def add(self, order_id: int) -> None:
        if order_id not in self._pos:
            self._pos[order_id] = len(self._ids)
            self._ids.append(order_id)

    def discard(self, order_id: int) -> None:
        i = self._pos.pop(order_id, None)
        if i is None:
            return
        last = self._ids.pop()
        if last != order_id:
            self._ids[i] = last
            self._pos[last] = i

    def pick(self, u: float, book: Any, dead: deque[int] | None = None) -> int | None:
        """A live id chosen by the uniform ``u`` in [0, 1), or None if none is live."""
        while self._ids:
            order_id = self._ids[int(u * len(self._ids))]
            if order_id in book:
                return order_id
            self.discard(order_id)
            if dead is not None:
                dead.append(order_id)
        return None


def _default_book() -> Any:
    from lob.core.reference import ReferenceBook

    return ReferenceBook()


class _Rows:
    """Command rows collected as tuples and packed into arrays every ``_BLOCK`` rows.

    Packing as we go keeps the memory at 40 bytes a command instead of a
    Python tuple's ~200; filling zeroed arrays field by field keeps the struct
    padding zero, so equal streams have equal bytes.
    """

    __slots__ = ("_blocks", "_rows")

    def __init__(self) -> None:
        self._blocks: list[npt.NDArray[np.void]] = []
        self._rows: list[CommandRow] = []

    def append(self, row: CommandRow) -> None:
        self._rows.append(row)
        if len(self._rows) == _BLOCK:
            self._pack()

    def _pack(self) -> None:
        block = np.zeros(len(self._rows), dtype=COMMAND_DTYPE)
        for name, column in zip(COMMAND_DTYPE.names or (), zip(*self._rows, strict=True), strict=False):
            block[name] = column
        self._blocks.append(block)
        self._rows = []

    def array(self) -> npt.NDArray[np.void]:
        self._pack()
        # Field by field again: numpy may leave padding uninitialised when it copies whole records.
        out = np.zeros(sum(len(block) for block in self._blocks), dtype=COMMAND_DTYPE)
        for name in COMMAND_DTYPE.names or ():
            out[name] = np.concatenate([block[name] for block in self._blocks])
        return out


class _Uniforms:
    """Rows of ``width`` uniforms in [0, 1), drawn from ``rng`` ``_BLOCK`` rows at a time."""

    __slots__ = ("_block", "_i", "_rng", "_width")

    def __init__(self, rng: np.random.Generator, width: int) -> None:
        self._rng = rng
        self._width = width
        self._block: list[list[float]] = []
        self._i = 0

    def next(self) -> list[float]:
        if self._i == len(self._block):
            self._block = self._rng.random((_BLOCK, self._width)).tolist()
            self._i = 0
        self._i += 1
        return self._block[self._i - 1]


class RandomStream:
    """An endless adversarial command stream for differential tests; see :func:`random_commands`.

    Keep one per book pair and call :meth:`take` for each chunk: the driving
    book and the live-id set carry over, so memory stays bounded however many
    commands are drawn.
    """

    def __init__(
        self,
        seed: int,
        book: Any = None,
        *,
        mid: int = 1_000,
        band: int = 6,
        bad_share: float = 0.03,
    ) -> None:
        self.book = _default_book() if book is None else book
        self._u = _Uniforms(np.random.default_rng(seed), 12)
        self._mid = mid
        self._band = band
        self._bad_share = bad_share
        self._live = _LiveIds()
        self._dead: deque[int] = deque(maxlen=64)  # recently dead ids, for reuse
        self._next_id = 0
        self._count = 0

    def take(self, n: int) -> npt.NDArray[np.void]:
        """The next ``n`` commands as a ``COMMAND_DTYPE`` array. Cost: O(n) driving-book calls."""
        book = self.book
        rows = _Rows()
        for _ in range(n):
            row = self._draw()
            rows.append(row)
            order_id, owner, price, qty, kind, side, stp = row
            with contextlib.suppress(OrderError):  # bad commands are part of the stream
                book.submit(kind, order_id, owner, side, price, qty, stp)
            self._after(row)
            self._count += 1
            if self._count % _DRAIN_EVERY == 0:
                book.take_fills()
                book.take_stp_cancels()
        return rows.array()

    # -- drawing one command --

    def _draw(self) -> CommandRow:
        u = self._u.next()
        if u[0] < 0.01:  # the price band drifts now and then
            self._mid = max(self._band + 2, self._mid + (1 if u[1] < 0.5 else -1))
        kind = _KIND_WEIGHTS[min(bisect_right(_KIND_CUMULATIVE, u[2]), len(_KIND_WEIGHTS) - 1)][0]
        side = _BUY if u[3] < 0.5 else _SELL
        owner = _OWNERS[int(u[4] * len(_OWNERS))]
        # Buys below the mid and sells above it, up to 2 ticks through: crossing is frequent.
        price = self._mid - side * (int(u[5] * (self._band + 3)) - 2)
        qty = self._qty(u[6], taker=kind in (_IOC, _FOK, _MARKET))
        stp = 0 if u[7] < 0.4 else 1 + int((u[7] - 0.4) / 0.6 * 3)
        if kind in _NEW_KINDS:
            order_id = self._new_id(u[8])
            if kind == _MARKET and u[9] < 0.5:
                price = 0  # no protection
        else:
            target = self._live.pick(u[8], self.book, self._dead)
            order_id = self._unknown_id() if target is None else target
            if kind == _CANCEL and u[9] < 0.2:
                # Fields a cancel does not use must be ignored: fill them with junk.
                owner, side, price, qty, stp = 99, 0, -5, 0, 9
            elif kind == _REDUCE and target is not None:
                remaining = self.book.order_qty(target)
                # A fifth take the whole remainder (the order leaves); the rest take part of it.
                qty = remaining if u[9] < 0.2 else 1 + int((u[9] - 0.2) / 0.8 * max(remaining - 1, 1))
                qty = min(qty, remaining)
            elif kind == _REPLACE and target is not None:
                if u[9] < 0.4:
                    price = self.book.order_price(target)
                if u[10] < 0.4:
                    qty = 1 + int(u[10] / 0.4 * self.book.order_qty(target))
        row = [order_id, owner, price, qty, kind, side, stp]
        if u[11] < self._bad_share:
            self._spoil(row, u[11] / self._bad_share)
        return tuple(row)  # type: ignore[return-value]

    @staticmethod
    def _qty(u: float, *, taker: bool) -> int:
        """Mostly a few lots, sometimes enough to sweep several levels, rarely (takers) MAX_QTY."""
        if u < 0.70:
            return 1 + int(u / 0.70 * 10)
        if u < 0.95:
            return 11 + int((u - 0.70) / 0.25 * 50)
        if u < 0.997 or not taker:
            return 61 + int((u - 0.95) / 0.047 * 340)
        return MAX_QTY

    def _new_id(self, u: float) -> int:
        if u < 0.15 and self._dead:  # reuse an id that has left the book
            order_id = self._dead[int(u / 0.15 * len(self._dead))]
            if order_id not in self.book:
                return order_id
        self._next_id += 1
        return self._next_id - 1

    def _unknown_id(self) -> int:
        return 10**12 + self._next_id  # never issued

    def _spoil(self, row: list[int], u: float) -> None:
        """Make ``row`` invalid in one way, or (a quarter of the time) two, to test validation order."""
        for _ in range(2 if u < 0.25 else 1):
            defect = _DEFECTS[int(u * len(_DEFECTS))]
            u = (u * 7.31) % 1.0
            if defect == "qty_zero":
                row[3] = 0
            elif defect == "qty_negative":
                row[3] = -1 - int(u * 5)
            elif defect == "qty_too_big":
                row[3] = MAX_QTY + 1
            elif defect == "price_zero":
                row[2] = 0
            elif defect == "price_negative":
                row[2] = -1 - int(u * 5)
            elif defect == "price_too_big":
                row[2] = MAX_PRICE + 1
            elif defect == "id_negative":
                row[0] = -1 - int(u * 3)
            elif defect == "id_unknown":
                row[0] = self._unknown_id()
            elif defect == "id_duplicate":
                live = self._live.pick(u, self.book, self._dead)
                if live is not None:
                    row[0] = live
                    if row[4] not in _NEW_KINDS:
                        row[4] = _LIMIT
            elif defect == "reduce_too_large":
                live = self._live.pick(u, self.book, self._dead)
                if live is not None:
                    row[0], row[4] = live, _REDUCE
                    row[3] = self.book.order_qty(live) + 1 + int(u * 3)
            elif defect == "side":
                row[5] = (0, 2, -2)[int(u * 3)]
            elif defect == "kind":
                row[4] = (8, -1, 127)[int(u * 3)]
            else:
                row[6] = (4, -1)[int(u * 2)]

    def _after(self, row: CommandRow) -> None:
        """Track the command's own id: live now or not."""
        order_id = row[0]
        if order_id in self.book:
            self._live.add(order_id)
        elif order_id in self._live:
            self._live.discard(order_id)
            self._dead.append(order_id)
        elif order_id >= 0 and order_id < self._next_id:
            self._dead.append(order_id)


def random_commands(n: int, seed: int, book: Any = None, **params: Any) -> npt.NDArray[np.void]:
    """``n`` adversarial commands for differential testing (a ``COMMAND_DTYPE`` array).

    Every kind (LIMIT, IOC, FOK, POST_ONLY, MARKET with and without a
    protection price, CANCEL, REDUCE, REPLACE) and every STP mode, four owners
    so that self-trades happen, prices within ``band`` ticks (default 6) of a
    mid (default 1000 ticks) that moves a tick now and then, so orders cross
    and sweep several levels often. Quantities are mostly 1-10 lots, sometimes
    up to 400, rarely ``MAX_QTY`` for takers. New orders sometimes reuse the
    id of an order that has left the book; cancels, reduces and replaces
    almost always name a live order. About ``bad_share`` (default 3%) of the
    commands are made invalid (quantity 0, negative or above ``MAX_QTY``; price
    0, negative or above ``MAX_PRICE``; negative, unknown or duplicate live id;
    reduce by more than remains; bad side, kind or STP code), a quarter of
    them in two ways at once; cancels sometimes carry junk in fields they do
    not use.

    ``book`` is the book that drives generation (fresh; default a new
    :class:`ReferenceBook`); ``params`` go to :class:`RandomStream`.
    Cost: O(n) time (about 7 us per command with the reference driving),
    40 bytes of output per command.

    >>> random_commands(1000, seed=1).dtype == COMMAND_DTYPE
    True
    """
    return RandomStream(seed, book, **params).take(n)


def benchmark_commands(
    n: int,
    seed: int,
    book: Any = None,
    *,
    mid: int = 100_000,
    target_orders: int = 2_000,
) -> npt.NDArray[np.void]:
    """The benchmark workload of the core: ``n`` LIMIT, CANCEL and MARKET commands.

    60% limit orders, 30% cancels of live orders, 10% market orders (no
    protection), all with STP ``NONE``, fresh ids, 100 owners. The mid (ticks,
    starting at ``mid``) drifts as a random walk of about 0.03 tick per
    command. A passive limit order rests ``1 + Exp(10)`` ticks behind the mid
    (never crossing); a marketable one is priced 0-3 ticks through the best
    opposite price. The marketable share of limit orders is
    ``0.1 * resting / target_orders`` (capped at 0.5), the one feedback that
    keeps the resting count near a few thousand instead of drifting; with the
    default ``target_orders`` it settles around 1,500-3,000. Limit quantities
    are ``1 + Exp(8)`` lots, market quantities ``1 + Exp(15)``. While the book
    is still empty a cancel slot becomes a passive limit order.

    ``book`` drives generation (fresh; default a new :class:`ReferenceBook`).
    Cost: O(n) time (about 7 us per command with the reference driving), 40
    bytes per command.
    """
    book = _default_book() if book is None else book
    u_rows = _Uniforms(np.random.default_rng(seed), 7)
    live = _LiveIds()
    rows = _Rows()
    centre = float(mid)
    for order_id in range(n):
        if order_id % _DRAIN_EVERY == 0:
            book.take_fills()
            book.take_stp_cancels()
        u = u_rows.next()
        centre += (u[1] - 0.5) * 0.1
        side = _BUY if u[2] < 0.5 else _SELL
        owner = int(u[6] * 100)
        if 0.6 <= u[0] < 0.9:
            target = live.pick(u[6], book)
            if target is not None:
                row: CommandRow = (target, 0, 0, 0, _CANCEL, _BUY, 0)  # unused fields as cancel() sets them
                book.cancel(target)
                live.discard(target)
                rows.append(row)
                continue
        if u[0] < 0.9:
            resting = len(book)
            if u[3] < min(0.5, 0.1 * resting / target_orders):
                best = book.best_ask() if side == _BUY else book.best_bid()
                if best in (NO_BID, NO_ASK):
                    best = round(centre)
                price = best + side * (int(-math.log(1.0 - u[4]) / math.log(2.0)) % 4)
                qty = 1 + int(-8.0 * math.log(1.0 - u[5]))
            else:
                price = round(centre) - side * (1 + int(-10.0 * math.log(1.0 - u[4])))
                # Never through the opposite best: passive orders stay passive.
                price = min(price, book.best_ask() - 1) if side == _BUY else max(price, book.best_bid() + 1)
                qty = 1 + int(-8.0 * math.log(1.0 - u[5]))
            row = (order_id, owner, price, qty, _LIMIT, side, 0)
            book.limit(order_id, owner, side, price, qty)
            if order_id in book:
                live.add(order_id)
        else:
            qty = 1 + int(-15.0 * math.log(1.0 - u[5]))
            row = (order_id, owner, 0, qty, _MARKET, side, 0)
            book.market(order_id, owner, side, qty)
        rows.append(row)
    return rows.array()
