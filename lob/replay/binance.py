"""Replaying a raw Binance USD-M futures capture: the L2 book rebuilt from a snapshot and depth diffs.

A capture is a text file, gzip-compressed or plain, with one message a line::

    RECEIVE_NS JSON

RECEIVE_NS is the local receive time in integer nanoseconds (never decreasing);
JSON is the REST depth snapshot ``{"lastUpdateId": L, "bids": [[price, qty],
...], "asks": [...]}`` or a WebSocket event, bare or in the combined-stream
wrapper ``{"stream": ..., "data": EVENT}``, whose ``e`` is ``depthUpdate``
(``U``, ``u``, ``pu``, ``b``, ``a``), ``bookTicker`` (``u``, ``b``, ``B``,
``a``, ``A``) or ``trade`` (``t``, ``T``, ``p``, ``q``, ``m``). Anything else is
bad input: :class:`~lob.replay.errors.ReplayError` names the file, the line and
what was expected, or, with ``skip_bad``, the line is skipped and counted.

Units: prices and quantities are decimal strings converted exactly, without
floats, to integers: prices in units of ``10**-price_decimals`` (BTCUSDT's
"61496.50" is 6149650 hundredths; the exchange's tick, 0.10, is coarser),
quantities in lots of ``10**-qty_decimals`` ("0.014" is 14 lots of 0.001).
Unless given, both precisions are taken from the first string of each kind
the file carries; a later string with more decimals is an error.

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

Runtime: parsing is O(characters) with one ``json.loads`` a line; applying a
diff is O(levels changed x log(levels on the side)).
"""

from __future__ import annotations

import bisect
import gzip
import json
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, NamedTuple, TextIO

from sortedcontainers import SortedDict

from lob.replay.errors import ReplayError

__all__ = [
    "BinanceReader",
    "BinanceReplay",
    "BookTicker",
    "DepthDiff",
    "DepthSnapshot",
    "Gap",
    "L2Book",
    "Trade",
    "format_units",
    "replay",
    "replay_binance",
]

Level = tuple[int, int]  # (price units, lots)


# -- messages -----------------------------------------------------------------


class DepthSnapshot(NamedTuple):
    """The REST depth snapshot: the book as of update id ``last_update_id``."""

    line: int
    receive_ns: int
    last_update_id: int
    bids: list[Level]
    asks: list[Level]


class DepthDiff(NamedTuple):
    """A ``depthUpdate``: new absolute sizes of the levels that changed in updates ``first_id..last_id``."""

    line: int
    receive_ns: int
    first_id: int  # U
    last_id: int  # u
    prev_last_id: int  # pu: the previous diff's u
    bids: list[Level]
    asks: list[Level]


class BookTicker(NamedTuple):
    """A ``bookTicker``: the best bid and ask after update ``update_id``."""

    line: int
    receive_ns: int
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int


class Trade(NamedTuple):
    """A ``trade``: ``buyer_is_maker`` means the seller took liquidity."""

    line: int
    receive_ns: int
    trade_id: int
    time_ms: int
    price: int
    qty: int
    buyer_is_maker: bool


Message = DepthSnapshot | DepthDiff | BookTicker | Trade


class Gap(NamedTuple):
    """A break in the diffs' ``pu`` chain: the diff at ``line`` has ``pu`` = ``got``, not ``expected``."""

    line: int
    prev_line: int  # the line of the diff before it, the last one the book can vouch for
    expected: int  # that diff's u
    got: int


def format_units(value: int, decimals: int) -> str:
    """An integer in units of ``10**-decimals`` as a decimal string.

    >>> format_units(6149650, 2), format_units(14, 3), format_units(-5, 1)
    ('61496.50', '0.014', '-0.5')
    """
    if decimals == 0:
        return str(value)
    sign, digits = ("-" if value < 0 else ""), str(abs(value)).rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


# -- reading ------------------------------------------------------------------


class _Bad(Exception):
    """What is wrong with a line; the reader adds the file and line number."""


class _Decimals(dict[str, int]):
    """Decimal strings -> integer units of ``10**-decimals``, converted on first sight and remembered.

    A dict, so that a string seen before (prices and sizes repeat) costs one
    lookup in C; a conversion costs ten times more. ``decimals`` is taken from
    the first string when None.
    """

    LIMIT = 1 << 20  # distinct strings kept before the memo is emptied

    def __init__(self, kind: str, decimals: int | None, positive: bool) -> None:
        super().__init__()
        self.kind = kind
        self.decimals = decimals
        self.positive = positive

    def __missing__(self, text: object) -> int:
        kind = self.kind
        if type(text) is not str:
            raise _Bad(f'{kind} {text!r:.40}: expected a decimal string such as "61496.50"')
        whole, _, frac = text.partition(".")
        digits = whole + frac
        if not whole or not digits.isascii() or not digits.isdigit():
            raise _Bad(f"{kind} {text!r:.40}: expected a non-negative decimal number")
        if self.decimals is None:
            self.decimals = len(frac)
        elif len(frac) > self.decimals:
            raise _Bad(
                f"{kind} {text!r}: {len(frac)} decimals, but this file's {kind}s carry {self.decimals}"
            )
        value = int(digits + "0" * (self.decimals - len(frac)))
        if self.positive and not value:
            raise _Bad(f"{kind} {text!r}: expected a positive {kind}")
        if len(self) >= self.LIMIT:
            self.clear()
        self[text] = value
        return value


class BinanceReader:
    """Iterates over a capture's messages, prices and quantities as integers.

    ``skipped`` counts the bad lines skipped under ``skip_bad``; ``skips``
    keeps the first few of their errors. ``symbol``, ``price_decimals`` and
    ``qty_decimals`` are known once a message carrying them has been read.

    Runtime: O(characters); a level string already seen converts by one dict
    lookup (prices and sizes repeat, and a conversion costs ten times more).
    """

    MAX_SKIPS_KEPT = 20

    def __init__(
        self,
        path: Path | str,
        *,
        skip_bad: bool = False,
        price_decimals: int | None = None,
        qty_decimals: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.skip_bad = skip_bad
        self.symbol: str | None = None
        self.lines = 0
        self.skipped = 0
        self.skips: list[ReplayError] = []
        self._last_ns = -1
        self._last_ticker: tuple[int, int] = (-1, 0)  # (update id, line)
        self._prices = _Decimals("price", price_decimals, positive=True)
        self._qtys = _Decimals("quantity", qty_decimals, positive=False)

    @property
    def price_decimals(self) -> int | None:
        """Prices are in units of ``10**-price_decimals``; None until the first price is read."""
        return self._prices.decimals

    @property
    def qty_decimals(self) -> int | None:
        """Quantities are in lots of ``10**-qty_decimals``; None until the first quantity is read."""
        return self._qtys.decimals

    def __iter__(self) -> Iterator[Message]:
        with _open(self.path) as f:
            try:
                for raw in f:
                    self.lines += 1
                    try:
                        message = self._parse(raw)
                    except _Bad as exc:
                        error = ReplayError(self.path, self.lines, str(exc))
                        if not self.skip_bad:
                            raise error from None
                        self.skipped += 1
                        if len(self.skips) < self.MAX_SKIPS_KEPT:
                            self.skips.append(error)
                        continue
                    yield message
            except (EOFError, OSError, zlib.error) as exc:
                # gzip's own errors; not skippable, as nothing after them can be read
                raise ReplayError(self.path, self.lines + 1, f"cannot read the file: {exc}") from None

    # -- one line --

    def _parse(self, raw: bytes) -> Message:
        ns_text, space, payload = raw.partition(b" ")
        if not raw.strip():
            raise _Bad("empty line: expected `RECEIVE_NS JSON`")
        if not space:
            raise _Bad("expected `RECEIVE_NS JSON`: no JSON after the receive time (truncated line?)")
        if not ns_text.isdigit():
            raise _Bad(f"receive time {_show(ns_text)} is not an integer number of nanoseconds")
        receive_ns = int(ns_text)
        if receive_ns < self._last_ns:
            raise _Bad(f"receive time goes backwards: {receive_ns} ns after {self._last_ns} ns")
        try:
            data = json.loads(payload.decode())
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            if not payload.rstrip().endswith(b"}"):
                raise _Bad("the line ends before its JSON object does (truncated line?)") from None
            raise _Bad(f"invalid JSON: {exc}") from None
        if type(data) is not dict:
            raise _Bad(f"expected a JSON object, got {type(data).__name__}")
        event = data["data"] if "stream" in data and "data" in data else data
        if type(event) is not dict:
            raise _Bad(f"expected the stream's data to be a JSON object, got {type(event).__name__}")
        kind = event.get("e")
        line = self.lines
        message: Message
        symbol = self.symbol
        if kind == "depthUpdate":
            symbol = self._symbol(event)
            first, last = _uint(event, "U"), _uint(event, "u")
            if first > last:
                raise _Bad(f"depthUpdate: first update id U={first} is above the last, u={last}")
            message = DepthDiff(
                line,
                receive_ns,
                first,
                last,
                _int(event, "pu"),
                self._levels(event, "b"),
                self._levels(event, "a"),
            )
        elif kind == "bookTicker":
            symbol = self._symbol(event)
            uid = _uint(event, "u")
            if uid < self._last_ticker[0]:
                last_uid, last_line = self._last_ticker
                raise _Bad(f"bookTicker update id {uid} is below {last_uid} (line {last_line}): out of order")
            message = BookTicker(
                line,
                receive_ns,
                uid,
                self._value(self._prices, event, "b"),
                self._value(self._qtys, event, "B"),
                self._value(self._prices, event, "a"),
                self._value(self._qtys, event, "A"),
            )
            self._last_ticker = (uid, line)
        elif kind == "trade":
            symbol = self._symbol(event)
            maker = _field(event, "m")
            if type(maker) is not bool:
                raise _Bad(f"trade field 'm': expected true or false, got {maker!r}")
            qty = self._value(self._qtys, event, "q")
            if qty == 0:
                raise _Bad("trade field 'q': expected a positive quantity, got 0")
            price = self._value(self._prices, event, "p")
            message = Trade(line, receive_ns, _uint(event, "t"), _uint(event, "T"), price, qty, maker)
        elif kind is None and "lastUpdateId" in event:
            uid = _uint(event, "lastUpdateId")
            message = DepthSnapshot(
                line, receive_ns, uid, self._levels(event, "bids"), self._levels(event, "asks")
            )
        else:
            what = f"unknown message type {kind!r}" if kind is not None else "a message with no type ('e')"
            raise _Bad(
                f"{what}: expected a depthUpdate, bookTicker or trade event, "
                'or a depth snapshot {"lastUpdateId": ...}'
            )
        self._last_ns, self.symbol = receive_ns, symbol
        return message

    @staticmethod
    def _value(units: _Decimals, event: dict[str, object], key: str) -> int:
        text = _field(event, key)
        try:
            try:
                return units[text]  # type: ignore[index]  # __missing__ checks the type
            except TypeError:  # unhashable: a list or an object
                return units.__missing__(text)
        except _Bad as exc:
            raise _Bad(f"{event.get('e')} field {key!r}: {exc}") from None

    def _symbol(self, event: dict[str, object]) -> str:
        symbol = event.get("s")
        if symbol == self.symbol and symbol is not None:
            return symbol
        if type(symbol) is not str:
            raise _Bad(f"{event.get('e')} field 's': expected the symbol, a string, got {symbol!r}")
        if self.symbol is not None:
            raise _Bad(f"symbol {symbol!r} differs from the file's {self.symbol!r}: one symbol per capture")
        return symbol

    def _levels(self, event: dict[str, object], key: str) -> list[Level]:
        levels = _field(event, key)
        prices, qtys = self._prices, self._qtys
        # Checked first: a string entry "PQ" would unpack as the pair ("P", "Q").
        if type(levels) is list and set(map(type, levels)) <= _LIST:
            try:
                return [(prices[p], qtys[q]) for p, q in levels]
            except _Bad as exc:
                raise _Bad(f"field {key!r}: {exc}") from None
            except (TypeError, ValueError):  # an entry of the wrong length, or holding a list
                pass
        if type(levels) is not list:
            raise _Bad(f"field {key!r}: expected a list of [price, quantity] pairs, got {levels!r:.60}")
        for i, entry in enumerate(levels):
            if type(entry) is not list or len(entry) != 2:
                raise _Bad(f"field {key!r} entry {i}: expected [price, quantity], got {entry!r:.60}")
            try:
                prices[entry[0]], qtys[entry[1]]
            except TypeError:
                raise _Bad(
                    f"field {key!r} entry {i}: expected two decimal strings, got {entry!r:.60}"
                ) from None
        raise AssertionError("unreachable: the entries converted one by one")


_LIST = {list}


def _open(path: Path) -> IO[bytes]:
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes lines
        return open(path, "rb")
    except OSError as exc:
        raise ReplayError(path, None, f"cannot open: {exc.strerror or exc}") from None


def _show(text: bytes) -> str:
    return repr(text.decode("utf-8", "replace")[:40])


def _field(event: dict[str, object], key: str) -> object:
    try:
        return event[key]
    except KeyError:
        kind = event.get("e") or "snapshot"
        raise _Bad(f"{kind}: field {key!r} is missing") from None


def _int(event: dict[str, object], key: str) -> int:
    value = _field(event, key)
    if type(value) is not int:
        raise _Bad(f"{event.get('e') or 'snapshot'} field {key!r}: expected an integer, got {value!r:.60}")
    return value


def _uint(event: dict[str, object], key: str) -> int:
    value = _int(event, key)
    if value < 0:
        raise _Bad(
            f"{event.get('e') or 'snapshot'} field {key!r}: expected a non-negative integer, got {value}"
        )
    return value


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
