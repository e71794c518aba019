"""Replaying a raw Binance USD-M futures capture: the L2 book rebuilt from a snapshot and depth diffs.

The capture, its format and units, and its reader are in
:mod:`lob.replay.binance_files` (its public names are importable from here
too).

Synchronisation follows Binance's "How to manage a local order book
correctly" for USD-M futures
(https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams/How-to-manage-a-local-order-book-correctly):
diffs are buffered until a snapshot arrives; diffs with ``u < lastUpdateId``
are dropped; the first diff applied must span the snapshot (``U <=
lastUpdateId <= u``); after it, each diff's ``pu`` must equal the previous
diff's ``u``. Quantities are absolute level sizes and 0 removes the level. A
broken chain is a gap: it is reported with its line, the book is discarded and
rebuilt from the next snapshot in the file; without one the replay ends
unsynchronised, and says so.

The check against ``bookTicker``: a diff aggregates every update from ``U`` to
``u``, so the rebuilt book is known only at diff boundaries. The state after a
diff ending at ``u_k`` holds for every update id up to, not including, the
next diff's ``U`` (the ``pu`` chain proves no depth change lies between).
A ticker with update id ``t`` is *reached* when ``u_k <= t < U_{k+1}`` for an
applied diff ``k``: its best bid and ask (price and quantity) are compared
with the book's. A ticker with ``U_{k+1} <= t < u_{k+1}`` falls inside a
diff: the book never passes through its state, so it is counted, not
compared; so are tickers from before synchronisation or during a gap, and
those the book has not reached when the file ends.

Runtime: applying a diff is O(levels changed x log(levels on the side)).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TextIO

from sortedcontainers import SortedDict

from lob.replay.binance_files import (
    BinanceReader,
    BookTicker,
    DepthDiff,
    DepthSnapshot,
    Level,
    Message,
    Trade,
    format_units,
)

__all__ = [
    "BinanceReader",
    "BinanceReplay",
    "BookTicker",
    "DepthDiff",
    "DepthSnapshot",
    "Gap",
    "L2Book",
    "Level",
    "Message",
    "Trade",
    "format_units",
    "replay",
    "replay_binance",
]


# -- the book -----------------------------------------------------------------


class L2Book:
    """Both sides of an L2 book: price (units) -> size (lots), best prices at hand.

    Each side is a :class:`~sortedcontainers.SortedDict`: setting an existing
    level is a dict store, adding or removing one O(log n), the best price
    O(1). ``update_id`` is the last update the book contains.

    >>> book = L2Book()
    >>> book.load(DepthSnapshot(1, 0, 10, [(100, 5), (99, 1)], [(101, 2)]))
    >>> book.apply(DepthDiff(2, 0, 9, 12, 8, [(100, 0)], [(102, 4)]))
    >>> book.top(), book.update_id
    ((99, 1, 101, 2), 12)
    """

    __slots__ = ("asks", "bids", "update_id")

    def __init__(self) -> None:
        self.bids: SortedDict = SortedDict()
        self.asks: SortedDict = SortedDict()
        self.update_id = -1

    def load(self, snapshot: DepthSnapshot) -> None:
        """Replace the whole book by ``snapshot``. Runtime: O(n log n) for n levels."""
        self.bids = SortedDict((p, q) for p, q in snapshot.bids if q)
        self.asks = SortedDict((p, q) for p, q in snapshot.asks if q)
        self.update_id = snapshot.last_update_id

    def apply(self, diff: DepthDiff) -> None:
        """Set each level ``diff`` names to its new size (0 removes it; removing a level absent is normal).

        Runtime: O(k log n) for k levels changed.
        """
        for side, levels in ((self.bids, diff.bids), (self.asks, diff.asks)):
            for price, qty in levels:
                if qty:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.update_id = diff.last_id

    def top(self) -> tuple[int, int, int, int]:
        """``(bid price, bid lots, ask price, ask lots)``; zeros for an empty side. Runtime: O(1)."""
        bids, asks = self.bids, self.asks
        bid = bids.peekitem(-1) if bids else (0, 0)
        ask = asks.peekitem(0) if asks else (0, 0)
        return (bid[0], bid[1], ask[0], ask[1])

    def crossed(self) -> bool:
        """Whether the best bid is at or above the best ask. Runtime: O(1)."""
        return bool(self.bids and self.asks and self.bids.peekitem(-1)[0] >= self.asks.peekitem(0)[0])

    def _check(self) -> None:
        for side in (self.bids, self.asks):
            assert all(type(p) is int and p > 0 and type(q) is int and q > 0 for p, q in side.items())


# -- synchronisation and the check ---------------------------------------------


class Gap(NamedTuple):
    """A break in the diffs' ``pu`` chain: the diff at ``line`` has ``pu`` = ``got``, not ``expected``."""

    line: int
    prev_line: int  # the line of the diff before it, the last one the book can vouch for
    expected: int  # that diff's u
    got: int


class BinanceReplay:
    """Rebuilds the book from messages fed in file order; with ``check``, compares it with bookTickers.

    Feed every message to :meth:`feed`, then call :meth:`finish`. Progress
    (synchronisations, gaps, unusable snapshots) goes to ``on_note`` as it
    happens. ``failure`` says, after :meth:`finish`, why the book is not in
    sync at the end of the file, or is None.

    The ticker counts: ``compared`` (of which ``matched``), ``inside`` (the
    ticker's state lies inside one diff), ``unsynced`` (before the first
    synchronisation or during a gap), ``not_reached`` (after the book's last
    diff when the file ends) and ``late`` (arrived after the book had moved
    past it by more diffs than it keeps: :attr:`HISTORY` to twice that).
    """

    HISTORY = 4096  # diff boundaries kept for tickers that arrive after the book has moved past them
    MAX_BUFFER = 100_000  # diffs buffered while waiting for a snapshot
    MAX_MISMATCHES = 5  # kept in ``mismatches``

    def __init__(self, *, check: bool = False, on_note: Callable[[str], None] | None = None) -> None:
        self.book = L2Book()
        self.check = check
        self.synced = False
        self.failure: str | None = None
        self.notes: list[str] = []
        self._on_note = on_note
        self.snapshots = self.diffs = self.applied = self.level_changes = self.trades = self.tickers = 0
        self.syncs = 0
        self.gaps: list[Gap] = []
        self.crossed = 0  # diffs after which the book was crossed
        self.compared = self.matched = self.inside = self.unsynced = self.not_reached = self.late = 0
        #: The first few tickers that did not match, with the book's top they were compared with.
        self.mismatches: list[tuple[BookTicker, tuple[int, int, int, int]]] = []
        self._buffer: list[DepthDiff] = []
        self._evicted = False
        self._snapshot: DepthSnapshot | None = None
        self._stale: DepthSnapshot | None = None  # the last snapshot found unusable
        self._last: DepthDiff | None = None  # the last diff applied or buffered
        self._pending: deque[BookTicker] = deque()
        self._hist_first: list[int] = []  # U of each applied diff since the last synchronisation
        self._hist_last: list[int] = []  # its u
        self._hist_top: list[tuple[int, int, int, int]] = []  # the book's top after it
        self._trimmed = False

    def note(self, text: str) -> None:
        """Record a line of progress (and pass it to ``on_note``)."""
        self.notes.append(text)
        if self._on_note is not None:
            self._on_note(text)

    def feed(self, message: Message) -> None:
        """Take one message. Runtime: a diff O(k log n); anything else O(1) amortised."""
        kind = type(message)
        if kind is DepthDiff:
            self._on_diff(message)  # type: ignore[arg-type]
        elif kind is BookTicker:
            self.tickers += 1
            if self.check:
                self._on_ticker(message)  # type: ignore[arg-type]
        elif kind is Trade:
            self.trades += 1
        else:
            self._on_snapshot(message)  # type: ignore[arg-type]

    def finish(self) -> None:
        """The file has ended: settle the tickers left waiting and say whether the book is in sync."""
        pending = self._pending
        if self.synced:
            top = self.book.top()
            while pending and pending[0].update_id == self.book.update_id:
                self._compare(pending.popleft(), top)
            self.not_reached += len(pending)
        else:
            self.unsynced += len(pending)
            self.failure = self._why_unsynced()
        pending.clear()

    # -- depth --

    def _on_snapshot(self, snap: DepthSnapshot) -> None:
        self.snapshots += 1
        if self.synced:
            self.note(f"snapshot at line {snap.line} not needed: the book is in sync")
            return
        self._snapshot = snap
        self._try_sync()

    def _on_diff(self, diff: DepthDiff) -> None:
        self.diffs += 1
        last = self._last
        if last is not None and diff.prev_last_id != last.last_id:
            self._gap(diff, last)
        if self.synced:
            self._apply(diff)
        else:
            self._buffer.append(diff)
            if len(self._buffer) > self.MAX_BUFFER:
                del self._buffer[0]
                self._evicted = True
            if self._snapshot is not None:
                self._try_sync()
        self._last = diff

    def _gap(self, diff: DepthDiff, last: DepthDiff) -> None:
        self.gaps.append(Gap(diff.line, last.line, last.last_id, diff.prev_last_id))
        text = (
            f"gap at line {diff.line}: depthUpdate pu={diff.prev_last_id}, "
            f"but the previous diff (line {last.line}) ended at u={last.last_id}"
        )
        if self.synced:
            self.synced = False
            self.note(f"{text}; book discarded, waiting for a snapshot to resynchronise")
        else:
            self.note(f"{text}; the {len(self._buffer)} diffs buffered before it are discarded")
        self._buffer.clear()
        self._evicted = False

    def _try_sync(self) -> None:
        snap = self._snapshot
        assert snap is not None
        target, buffer = snap.last_update_id, self._buffer
        stale = 0
        while stale < len(buffer) and buffer[stale].last_id < target:
            stale += 1
        del buffer[:stale]
        if not buffer:
            return  # the diff that spans the snapshot has not arrived yet
        first = buffer[0]
        if first.first_id > target:
            evicted = " (older diffs were evicted from the buffer)" if self._evicted else ""
            self.note(
                f"snapshot at line {snap.line} (lastUpdateId {target}) cannot be used: the first diff "
                f"after it (line {first.line}) starts at U={first.first_id}{evicted}; waiting for another"
            )
            self._stale, self._snapshot = snap, None
            return
        self.book.load(snap)
        self.synced, self._snapshot, self._buffer = True, None, []
        self.syncs += 1
        self._hist_first, self._hist_last, self._hist_top, self._trimmed = [], [], [], False
        pending = self._pending
        while pending and pending[0].update_id < first.last_id:
            pending.popleft()
            self.unsynced += 1
        self.note(
            f"synchronised: snapshot at line {snap.line} (lastUpdateId {target}), first diff at line "
            f"{first.line} (U={first.first_id}, u={first.last_id})"
        )
        for diff in buffer:
            self._apply(diff)

    def _apply(self, diff: DepthDiff) -> None:
        pending, book = self._pending, self.book
        if pending:
            top = book.top()
            while pending and pending[0].update_id < diff.first_id:
                self._compare(pending.popleft(), top)
        book.apply(diff)
        self.applied += 1
        self.level_changes += len(diff.bids) + len(diff.asks)
        while pending and pending[0].update_id < diff.last_id:
            pending.popleft()
            self.inside += 1
        top = book.top()
        if top[0] and top[2] and top[0] >= top[2]:
            self.crossed += 1
            if self.crossed <= self.MAX_MISMATCHES:
                self.note(
                    f"crossed book after the diff at line {diff.line}: "
                    f"bid {top[0]} >= ask {top[2]} (price units)"
                )
        if self.check:
            self._hist_first.append(diff.first_id)
            self._hist_last.append(diff.last_id)
            self._hist_top.append(top)
            if len(self._hist_last) > 2 * self.HISTORY:
                del (
                    self._hist_first[: self.HISTORY],
                    self._hist_last[: self.HISTORY],
                    self._hist_top[: self.HISTORY],
                )
                self._trimmed = True

    # -- the ticker check --

    def _on_ticker(self, ticker: BookTicker) -> None:
        uid = ticker.update_id
        if not self.synced or uid >= self.book.update_id:
            self._pending.append(ticker)
            if len(self._pending) > self.MAX_BUFFER:  # never synchronised for that long
                self._pending.popleft()
                self.unsynced += 1
            return
        # Late: the book has moved past it. Find the last boundary at or before it.
        k = bisect.bisect_right(self._hist_last, uid) - 1
        if k >= 0:
            if uid < self._hist_first[k + 1]:
                self._compare(ticker, self._hist_top[k])
            else:
                self.inside += 1
        elif self._hist_first and uid >= self._hist_first[0] and not self._trimmed:
            self.inside += 1
        elif self._trimmed:
            self.late += 1
        else:
            self.unsynced += 1

    def _compare(self, ticker: BookTicker, top: tuple[int, int, int, int]) -> None:
        self.compared += 1
        seen = (ticker.bid_price, ticker.bid_qty, ticker.ask_price, ticker.ask_qty)
        if seen == top:
            self.matched += 1
        elif len(self.mismatches) < self.MAX_MISMATCHES:
            self.mismatches.append((ticker, top))

    def _why_unsynced(self) -> str:
        if self.syncs and self.gaps:
            gap = self.gaps[-1]
            return (
                f"the book is out of sync since the gap at line {gap.line} and no later snapshot could "
                f"resynchronise it; it was last right after the diff at line {gap.prev_line} "
                f"(update id {gap.expected})"
            )
        if self._snapshot is not None:
            snap = self._snapshot
            return (
                f"no diff spans the snapshot at line {snap.line} (lastUpdateId {snap.last_update_id}): "
                "none has U <= lastUpdateId <= u"
            )
        if self._stale is not None:
            return (
                f"the snapshot at line {self._stale.line} is older than the diffs after it; no later snapshot"
            )
        if not self.snapshots:
            return 'no depth snapshot ({"lastUpdateId": ...}) in the file: the book has nothing to start from'
        return "the book never synchronised"


# -- the command --------------------------------------------------------------


def replay(
    path: Path | str,
    *,
    check: bool = False,
    skip_bad: bool = False,
    price_decimals: int | None = None,
    qty_decimals: int | None = None,
    on_note: Callable[[str], None] | None = None,
) -> tuple[BinanceReplay, BinanceReader, float, float]:
    """Replay the capture at ``path``: ``(replay, reader, parse seconds, rebuild seconds)``.

    Parse time is spent reading, decoding and converting lines; rebuild time
    in :meth:`BinanceReplay.feed` (applying diffs, and the check if asked).

    Raises :class:`ReplayError` for bad input (unless ``skip_bad``).
    """
    reader = BinanceReader(path, skip_bad=skip_bad, price_decimals=price_decimals, qty_decimals=qty_decimals)
    result = BinanceReplay(check=check, on_note=on_note)
    feed, clock = result.feed, time.perf_counter
    parse = rebuild = 0.0
    t0 = clock()
    for message in reader:
        t1 = clock()
        parse += t1 - t0
        feed(message)
        t0 = clock()
        rebuild += t0 - t1
    parse += clock() - t0
    result.finish()
    return result, reader, parse, rebuild


def _count(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _top_text(top: tuple[int, int, int, int], pd: int, qd: int) -> str:
    bid, bid_qty, ask, ask_qty = (format_units(v, d) for v, d in zip(top, (pd, qd, pd, qd), strict=True))
    return f"bid {bid} x {bid_qty}, ask {ask} x {ask_qty}"


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "n/a"


def _percent(part: int, whole: int) -> str:
    # Floored, so that 100.00% is printed only when every one matched.
    hundredths = part * 10_000 // whole
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


def replay_binance(path: Path, *, check: bool, skip_bad: bool, stdout: TextIO) -> int:
    """``lob replay binance FILE [--check] [--skip-bad]``: rebuild the book and report.

    Prints the synchronisation point, every gap and resynchronisation with its
    line, what was read, the parse and rebuild throughput, and with ``check``
    the ticker counts ending ``matched R/N best bid/ask updates (P%)``.
    Returns 0, or 1 when the book was not in sync at the end of the file, was
    ever crossed, or (``check``) a comparison failed or none was possible.
    Raises :class:`ReplayError` for bad input (``skip_bad``: counted, reported, skipped).
    """

    def say(text: str) -> None:
        print(text, file=stdout)

    say(f"binance replay: {path}")
    result, reader, parse_s, rebuild_s = replay(path, check=check, skip_bad=skip_bad, on_note=say)
    messages = result.snapshots + result.diffs + result.trades + result.tickers
    say(
        f"read {_count(reader.lines, 'line')}: {_count(result.snapshots, 'snapshot')}, "
        f"{_count(result.diffs, 'depth diff')} ({result.applied:,} applied), "
        f"{_count(result.trades, 'trade')}, {_count(result.tickers, 'bookTicker')}"
    )
    if reader.skipped:
        say(f"skipped {_count(reader.skipped, 'bad line')} (--skip-bad); the first:")
        for error in reader.skips[:5]:
            say(f"  {error}")
    pd, qd = reader.price_decimals or 0, reader.qty_decimals or 0
    say(
        f"{reader.symbol or '?'}: prices in units of {format_units(1, pd)}, "
        f"quantities in lots of {format_units(1, qd)}"
    )
    if result.synced:
        bid, bid_qty, ask, ask_qty = result.book.top()
        say(
            f"book at update id {result.book.update_id}: {len(result.book.bids):,} bid and "
            f"{len(result.book.asks):,} ask levels, best bid {format_units(bid, pd)} x "
            f"{format_units(bid_qty, qd)}, best ask {format_units(ask, pd)} x {format_units(ask_qty, qd)}"
        )
    say(
        f"parse: {messages:,} messages in {parse_s:.3f} s ({_rate(messages, parse_s)}); "
        f"rebuild: {messages:,} messages in {rebuild_s:.3f} s ({_rate(messages, rebuild_s)}), "
        f"{result.level_changes:,} level changes ({_rate(result.level_changes, rebuild_s)})"
    )
    status = 0
    if result.gaps:
        say(f"{_count(len(result.gaps), 'gap')}, {_count(max(result.syncs - 1, 0), 'resynchronisation')}")
    if result.failure is not None:
        say(f"error: {path}: {result.failure}")
        status = 1
    if result.crossed:
        say(f"error: the rebuilt book was crossed after {_count(result.crossed, 'diff')}")
        status = 1
    if check:
        for ticker, top in result.mismatches:
            book = _top_text(top, pd, qd)
            seen = _top_text((ticker.bid_price, ticker.bid_qty, ticker.ask_price, ticker.ask_qty), pd, qd)
            say(
                f"mismatch: line {ticker.line}: bookTicker u={ticker.update_id} has {seen}; "
                f"the book has {book}"
            )
        say(
            f"bookTickers not compared: {result.inside:,} inside a diff's update range, "
            f"{result.unsynced:,} before synchronisation or during a gap, "
            f"{result.not_reached:,} not reached at the end, {result.late:,} arrived too late"
        )
        if result.compared:
            say(
                f"matched {result.matched:,}/{result.compared:,} best bid/ask updates "
                f"({_percent(result.matched, result.compared)})"
            )
        else:
            say("matched 0/0 best bid/ask updates (nothing to compare)")
        if result.matched != result.compared or not result.compared:
            status = 1
    return status
