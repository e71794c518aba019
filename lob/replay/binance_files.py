"""Reading a raw Binance USD-M futures capture: one message a line, prices and quantities as integers.

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

The book rebuilt from these messages, its synchronisation and its check are
in :mod:`lob.replay.binance`.

Runtime: O(characters) with one ``json.loads`` a line.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, NamedTuple

from lob.replay.errors import ReplayError

__all__ = [
    "BinanceReader",
    "BookTicker",
    "DepthDiff",
    "DepthSnapshot",
    "Level",
    "Message",
    "Trade",
    "format_units",
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
