"""LOBSTER message and orderbook files: read, checked, and the book rebuilt message by message.

LOBSTER (https://lobsterdata.com; the format is that of its sample-file
ReadMe, "LOBSTER | academic data", version of 1 Sept 2013) ships a day of
one NASDAQ ticker as two CSV files of equal length: a *message* file (time
in seconds after midnight, type, order id, size in shares, price in dollars
x 10000, direction +1 buy / -1 sell; for an execution the side of the
resting order) and an *orderbook* file whose
row i is the top N levels after message i (ask price, ask size, bid price,
bid size, level by level; empty levels padded with price 9999999999 /
-9999999999 and size 0). Both are read with or without a header row.

Units: the price integer is kept as the tick (``tick_size`` 0.0001 dollars,
so nothing is ever rounded), sizes are lots of one share, times become int64
nanoseconds after midnight (rounded to the nearest ns).

The rebuild (:func:`rebuild`) keeps, per level, the total resting size and
the part of it no known order accounts for (*unattributed*: liquidity that
rested before the file began, seeded from the first orderbook row, or that
came into view from beyond the file's depth). Orders submitted in the file
are *known* (id -> level, remaining size). Rules:

- Seeding: row 1 is the book after message 1, so the seed is row 1 with
  message 1 undone (a submit's size taken off its level; a cancel's or
  execution's size put back, unattributed); message 1 is then applied.
- Types 1-4 change the level the message names by its size; type 5 (hidden
  execution) and type 7 (halt indicator) leave the book alone.
- A cancel or execution of an unknown order comes off the level's
  unattributed size, never off a known order. If the level has less
  unattributed size than the message removes, it loses what it has and the
  rest is recorded as an inconsistency (so the level is then smaller than the
  file says, and a check reports it).
- A level-N file has no messages about levels below the top N. So when a
  visible level empties, the level that moves up into view at depth N cannot
  be known from the messages: it is read from the same message's orderbook
  row (*a level read from the file*; counted, and those cells are not
  independent evidence in a check). Known orders at that price, and at
  levels the row shows to be gone, become unknown: they may have changed
  unseen while out of view.
- Without an orderbook file there is no seed and nothing comes into view:
  the book starts empty and holds only the orders the file shows. A
  message about an order that rested before the file began names a level
  the book may not have: it then changes nothing (``missing_level``), or
  takes only what the level has that no known order accounts for (none:
  ``unattributed_short``). In a file of few levels, orders that changed out
  of view also stay as last seen. The result is the file's own order flow,
  not the market's book, and the counts say how far it is from it.

Inconsistency codes: ``duplicate_id`` (a submit reuses a live id; the old
order's size becomes unattributed), ``price_mismatch`` (a message names
another level than its known order's; treated as about an unknown order),
``delete_partial`` (a delete of a known order for less than it has; the rest
stays unattributed), ``over_remove`` (more than the order and the level's
unattributed size hold), ``unattributed_short``, ``missing_level``,
``reveal_conflict`` (the row's level N is not below the book's level N-1;
nothing is read).

The ``lob replay lobster`` command, the check against every orderbook row and
the run directory are in :mod:`lob.replay.lobster_check`.
"""

from __future__ import annotations

import gc
import io
import re
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from lob.replay.errors import ReplayError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Price of an empty ask level in the orderbook file (dollars x 10000), with size 0.
EMPTY_ASK = 9_999_999_999
#: Price of an empty bid level in the orderbook file, with size 0.
EMPTY_BID = -9_999_999_999
#: Dollars per tick: LOBSTER's price integer is kept as the tick.
TICK_SIZE = 0.0001
#: Shares per lot.
LOT_SIZE = 1.0
#: Message types and what they are (LOBSTER's ReadMe).
MESSAGE_TYPES = {
    1: "submit",
    2: "partial cancel",
    3: "delete",
    4: "visible execution",
    5: "hidden execution",
    7: "trading halt indicator",
}
MESSAGE_FIELDS = ("time", "type", "order id", "size", "price", "direction")
_LEVEL_FIELDS = ("ask price", "ask size", "bid price", "bid size")
# TICKER_YYYY-MM-DD_START_END_(message|orderbook)_LEVEL.csv
_NAME = re.compile(
    r"^(?P<ticker>.+?)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<window>\d+_\d+)_(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
_INT = re.compile(rb"^\s*[-+]?\d+\s*$")
_NUMBER = re.compile(rb"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
#: At most this many skipped lines and inconsistencies are described one by one.
MAX_NOTES = 5


# -- reading ----------------------------------------------------------------------------------------------


def seconds_text(ns: int) -> str:
    """Nanoseconds after midnight as LOBSTER writes times: seconds with 9 decimals, exactly."""
    return f"{ns // 10**9}.{ns % 10**9:09d}"


@dataclass
class Messages:
    """A message file: one entry per message, in file order.

    ``time_ns`` int64 ns after midnight; ``type`` and ``direction`` int8;
    ``order_id``, ``size`` (lots) and ``price`` (ticks; for type 7 LOBSTER's
    -1/0/1 flag) int64; ``line`` the 1-based file line of each message.
    ``data_lines`` counts every line after the header, kept or not;
    ``skipped`` lists (line, why) of the lines left out with ``skip_bad``,
    and ``dropped`` counts every message left out, also those whose
    orderbook row was bad.
    """

    path: Path
    time_ns: np.ndarray
    type: np.ndarray
    order_id: np.ndarray
    size: np.ndarray
    price: np.ndarray
    direction: np.ndarray
    line: np.ndarray
    header: bool
    data_lines: int
    skipped: list[tuple[int, str]] = field(default_factory=list)
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.line)

    def take(self, keep: np.ndarray) -> Messages:
        """The messages where the boolean mask ``keep`` is true (the others count as dropped)."""
        return replace(
            self,
            time_ns=self.time_ns[keep],
            type=self.type[keep],
            order_id=self.order_id[keep],
            size=self.size[keep],
            price=self.price[keep],
            direction=self.direction[keep],
            line=self.line[keep],
            dropped=self.dropped + int(np.count_nonzero(~keep)),
        )

    def describe(self, i: int) -> str:
        """Message ``i`` in words, with its file line."""
        kind = MESSAGE_TYPES.get(int(self.type[i]), "?")
        side = "buy" if self.direction[i] > 0 else "sell"
        return (
            f"line {self.line[i]}: {seconds_text(int(self.time_ns[i]))} s, type {self.type[i]} ({kind}), "
            f"order {self.order_id[i]}, {self.size[i]} shares at {self.price[i]}, {side} side"
        )


@dataclass
class Orderbook:
    """An orderbook file: ``rows`` int64 (rows, 4 x ``levels``) in LOBSTER's column order.

    ``line``, ``data_lines``, ``skipped`` and ``dropped`` as in :class:`Messages`.
    """

    path: Path
    levels: int
    rows: np.ndarray
    line: np.ndarray
    header: bool
    data_lines: int
    skipped: list[tuple[int, str]] = field(default_factory=list)
    dropped: int = 0

    def __len__(self) -> int:
        return len(self.line)

    def take(self, keep: np.ndarray) -> Orderbook:
        """The rows where the boolean mask ``keep`` is true (the others count as dropped)."""
        return replace(
            self,
            rows=self.rows[keep],
            line=self.line[keep],
            dropped=self.dropped + int(np.count_nonzero(~keep)),
        )


def _load(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReplayError(path, None, f"cannot read this {what}: {e.strerror or e}") from e
    data = data.rstrip()
    if not data:
        raise ReplayError(path, None, f"empty: expected a LOBSTER {what}")
    return data + b"\n"


def _is_header(line: bytes) -> bool:
    """A first line none of whose fields is a number is a header (LOBSTER's own files have none)."""
    return not any(_NUMBER.match(f) for f in line.rstrip(b"\r").split(b","))


@dataclass
class _Table:
    columns: list[np.ndarray]
    line: np.ndarray  # file line of each row read
    header: bool
    data_lines: int
    bad: list[tuple[int, str]]


class _Refused(Exception):
    """The fast CSV path cannot read the data as it is; the slow path says why."""


def _read_csv(
    path: Path, data: bytes, names: Sequence[str], floats: int, skip_bad: bool, expected: str
) -> _Table:
    """Numeric CSV ``data`` (ending in a newline): the first ``floats`` columns float64, the rest int64.

    The fast path is pyarrow's CSV reader. If it refuses anything, the lines
    are read again in Python, which names the first bad line (or, with
    ``skip_bad``, lists every bad line and keeps the rest).

    Runtime: O(bytes); the fast path reads about 15 M six-field lines/s here.
    """
    first_end = data.index(b"\n")
    header = _is_header(data[:first_end])
    body = data[first_end + 1 :] if header else data
    first_line = 2 if header else 1
    if not body:
        raise ReplayError(path, None, f"a header and no data lines: expected lines of {expected}")
    data_lines = body.count(b"\n")
    try:
        columns = _fast_csv(body, len(names), floats)
    except _Refused:
        return _slow_csv(path, body, names, floats, skip_bad, first_line, header, expected)
    line = np.arange(first_line, first_line + data_lines, dtype=np.int64)
    return _Table(columns, line, header, data_lines, [])


def _fast_csv(body: bytes, width: int, floats: int) -> list[np.ndarray]:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.csv as pc  # type: ignore[import-untyped]

    types = {f"f{k}": (pa.float64() if k < floats else pa.int64()) for k in range(width)}
    try:
        table = pc.read_csv(
            io.BytesIO(body),
            read_options=pc.ReadOptions(autogenerate_column_names=True),
            # No quoting and no skipped empty lines: one CSV row is exactly one line of the file.
            parse_options=pc.ParseOptions(quote_char=False, ignore_empty_lines=False),
            convert_options=pc.ConvertOptions(
                column_types=types,
                null_values=[],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException as e:
        raise _Refused from e
    if table.num_columns != width or any(c.null_count for c in table.columns):
        raise _Refused
    return [_numpy(column, np.float64 if k < floats else np.int64) for k, column in enumerate(table.columns)]


def _numpy(column: object, dtype: type) -> np.ndarray:
    """A null-free Arrow column as numpy, from its buffers (``to_numpy`` would import pandas: 0.2 s)."""
    parts: list[np.ndarray] = [
        np.frombuffer(chunk.buffers()[1], dtype=dtype)[chunk.offset : chunk.offset + len(chunk)]
        for chunk in column.chunks  # type: ignore[attr-defined]
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _slow_csv(
    path: Path,
    body: bytes,
    names: Sequence[str],
    floats: int,
    skip_bad: bool,
    first_line: int,
    header: bool,
    expected: str,
) -> _Table:
    width = len(names)
    lines = body[:-1].split(b"\n")
    values: list[list[float]] = []
    kept: list[int] = []
    bad: list[tuple[int, str]] = []
    for k, raw in enumerate(lines):
        fields = raw.rstrip(b"\r").split(b",")
        problem = None
        if len(fields) != width:
            found = "an empty line" if not raw.strip() else f"{len(fields)} fields"
            problem = f"expected {expected}, found {found}"
        else:
            for j, f in enumerate(fields):
                if not (_NUMBER if j < floats else _INT).match(f):
                    kind = "a number" if j < floats else "an integer"
                    problem = (
                        f"field {j + 1} ({names[j]}) is {f.decode('utf-8', 'replace')!r}: expected {kind}"
                    )
                    break
        if problem is not None:
            if not skip_bad:
                raise ReplayError(path, first_line + k, problem)
            bad.append((first_line + k, problem))
            continue
        values.append([float(f) if j < floats else int(f) for j, f in enumerate(fields)])
        kept.append(first_line + k)
    columns = [
        np.array([row[j] for row in values], dtype=np.float64 if j < floats else np.int64)
        for j in range(width)
    ]
    return _Table(columns, np.array(kept, dtype=np.int64), header, len(lines), bad)


class _Rejecter:
    """Row checks in turn: raise for the first bad row, or (``skip_bad``) record and drop them all."""

    def __init__(self, path: Path, line: np.ndarray, skip_bad: bool, bad: list[tuple[int, str]]) -> None:
        self.path = path
        self.line = line
        self.skip_bad = skip_bad
        self.bad = bad
        self.keep = np.ones(len(line), dtype=bool)

    def __call__(self, mask: np.ndarray, why: Callable[[int], str]) -> None:
        """Rows where ``mask`` is true (among those still kept) are bad; ``why(k)`` says why row k is."""
        rows = np.flatnonzero(mask & self.keep)
        if len(rows) == 0:
            return
        if not self.skip_bad:
            k = int(rows[0])
            raise ReplayError(self.path, int(self.line[k]), why(k))
        self.bad.extend((int(self.line[k]), why(int(k))) for k in rows)
        self.keep[rows] = False


def read_messages(path: Path | str, *, skip_bad: bool = False) -> Messages:
    """Read and check a LOBSTER message file (any level, with or without a header row).

    Raises :class:`ReplayError` naming the file, the line and what was
    expected for a line of the wrong shape, a non-numeric field, an unknown
    type, a direction other than 1 or -1, a size, price or order id out of
    range, or a time earlier than a line before it. With ``skip_bad`` those
    lines are left out and listed in ``skipped`` instead (a line earlier than
    the latest line kept before it is the one left out).

    Runtime: O(lines); about 6 M messages/s on a good file.
    """
    path = Path(path)
    expected = "6 comma-separated fields (" + ", ".join(MESSAGE_FIELDS) + ")"
    table = _read_csv(path, _load(path, "message file"), MESSAGE_FIELDS, 1, skip_bad, expected)
    seconds, kind, oid, size, price, direction = table.columns
    reject = _Rejecter(path, table.line, skip_bad, table.bad)
    reject(
        ~np.isfinite(seconds) | (seconds < 0) | (seconds >= 1e9),
        lambda k: f"time {float(seconds[k])!r}: expected seconds after midnight (>= 0, below 1e9)",
    )
    types = ", ".join(f"{t} ({name})" for t, name in MESSAGE_TYPES.items())
    reject(~np.isin(kind, list(MESSAGE_TYPES)), lambda k: f"unknown message type {kind[k]}: expected {types}")
    reject(
        (direction != 1) & (direction != -1),
        lambda k: f"direction {direction[k]}: expected 1 (buy) or -1 (sell)",
    )
    on_book = kind != 7
    reject(on_book & (size <= 0), lambda k: f"size {size[k]}: expected a positive number of shares")
    reject(on_book & (price <= 0), lambda k: f"price {price[k]}: expected a positive price (dollars x 10000)")
    reject(oid < 0, lambda k: f"order id {oid[k]}: expected a number >= 0")
    reject(
        ~on_book & (np.abs(price) > 1),
        lambda k: (
            f"price {price[k]}: a trading halt indicator (type 7) has price -1 (halt), "
            "0 (quoting resumes) or 1 (trading resumes)"
        ),
    )
    time_ns = np.rint(np.where(reject.keep, seconds, 0.0) * 1e9).astype(np.int64)
    lowest = np.iinfo(np.int64).min
    latest = np.maximum.accumulate(np.where(reject.keep, time_ns, lowest))
    before = np.concatenate(([lowest], latest[:-1]))
    reject(
        time_ns < before,
        lambda k: (
            f"time {seconds_text(int(time_ns[k]))} s is before an earlier line's "
            f"{seconds_text(int(before[k]))} s: expected messages in time order"
        ),
    )
    keep = reject.keep
    table.bad.sort()
    return Messages(
        path,
        time_ns[keep],
        kind[keep].astype(np.int8),
        oid[keep],
        size[keep],
        price[keep],
        direction[keep].astype(np.int8),
        table.line[keep],
        table.header,
        table.data_lines,
        table.bad,
        table.data_lines - int(np.count_nonzero(keep)),
    )


def read_orderbook(path: Path | str, *, skip_bad: bool = False) -> Orderbook:
    """Read and check a LOBSTER orderbook file (4 columns a level, any number of levels).

    Every row must have as many columns as the first, a multiple of 4; each
    level a positive price and size or LOBSTER's empty-level filler (price
    9999999999 ask, -9999999999 bid, size 0); asks rising and bids falling
    level by level; empty levels only after the occupied ones. Raises
    :class:`ReplayError` (file, line, what was expected) or, with
    ``skip_bad``, leaves bad rows out and lists them in ``skipped``.

    Runtime: O(rows x levels).
    """
    path = Path(path)
    data = _load(path, "orderbook file")
    header = _is_header(data[: data.index(b"\n")])
    first = data.split(b"\n", 2)[1 if header else 0].rstrip(b"\r")
    width = first.count(b",") + 1
    if width % 4 or not first.strip():
        raise ReplayError(
            path,
            2 if header else 1,
            f"{width} columns: expected 4 a level (ask price, ask size, bid price, bid size)",
        )
    levels = width // 4
    names = [f"{_LEVEL_FIELDS[j % 4]} {j // 4 + 1}" for j in range(width)]
    expected = f"{width} comma-separated fields (4 a level, {levels} levels, like the first row)"
    table = _read_csv(path, data, names, 0, skip_bad, expected)
    rows = np.column_stack(table.columns) if len(table.line) else np.zeros((0, width), np.int64)
    reject = _Rejecter(path, table.line, skip_bad, table.bad)
    for side, col, filler, rising in (("ask", 0, EMPTY_ASK, True), ("bid", 2, EMPTY_BID, False)):
        prices, sizes = rows[:, col::4], rows[:, col + 1 :: 4]
        empty = (prices == filler) & (sizes == 0)
        real = (prices > 0) & (prices < EMPTY_ASK) & (sizes > 0)
        step = np.diff(prices, axis=1)
        disorder = real[:, 1:] & real[:, :-1] & ((step <= 0) if rising else (step >= 0))
        checks = (
            (~(real | empty), f"a positive price and size, or the empty-level filler {filler} with size 0"),
            (np.pad(real[:, 1:] & ~real[:, :-1], ((0, 0), (1, 0))), "no occupied level after an empty one"),
            (
                np.pad(disorder, ((0, 0), (1, 0))),
                f"{side} prices {'rising' if rising else 'falling'} level by level",
            ),
        )
        for cells, what in checks:

            def why(
                k: int, cells: np.ndarray = cells, what: str = what, side: str = side, col: int = col
            ) -> str:
                lvl = int(np.flatnonzero(cells[k])[0])
                price, size = rows[k, 4 * lvl + col], rows[k, 4 * lvl + col + 1]
                return f"level {lvl + 1} {side}: price {price}, size {size}: expected {what}"

            reject(np.asarray(cells.any(axis=1)), why)
    keep = reject.keep
    table.bad.sort()
    return Orderbook(
        path,
        levels,
        rows[keep],
        table.line[keep],
        table.header,
        table.data_lines,
        table.bad,
        table.data_lines - int(np.count_nonzero(keep)),
    )


def _name_parts(path: Path) -> dict[str, str] | None:
    match = _NAME.match(path.name)
    return match.groupdict() if match else None


def pair(messages: Messages, orderbook: Orderbook) -> tuple[Messages, Orderbook]:
    """The messages and rows that belong together, one row per message.

    Raises :class:`ReplayError` if the files cannot be a pair: other line
    counts (row i must be the book after message i), or LOBSTER file names
    of another ticker, day or level. A message or row left out by
    ``skip_bad`` takes its partner with it: a row cannot be checked without
    its message, nor a message rebuilt without the row that may seed the
    levels it brings into view.
    """
    ob = orderbook.path
    if messages.data_lines != orderbook.data_lines:
        raise ReplayError(
            ob,
            None,
            f"{orderbook.data_lines} rows, but the message file {messages.path.name} has "
            f"{messages.data_lines} messages: expected one row per message (row i is the book after "
            "message i); is it the orderbook file of another ticker, day or level?",
        )
    m_name, o_name = _name_parts(messages.path), _name_parts(ob)
    if o_name is not None and o_name["kind"] == "orderbook" and int(o_name["levels"]) != orderbook.levels:
        raise ReplayError(ob, None, f"{orderbook.levels} levels a row, but its name says {o_name['levels']}")
    if m_name is not None and o_name is not None:
        mine = (m_name["ticker"], m_name["date"], m_name["window"], m_name["levels"])
        theirs = (o_name["ticker"], o_name["date"], o_name["window"], o_name["levels"])
        if mine != theirs:
            raise ReplayError(
                ob,
                None,
                f"named for {' '.join(theirs)} (ticker, day, window, levels), but the message file "
                f"{messages.path.name} for {' '.join(mine)}: expected the orderbook file of the same day",
            )
    m_index = messages.line - (2 if messages.header else 1)
    o_index = orderbook.line - (2 if orderbook.header else 1)
    both = np.intersect1d(m_index, o_index, assume_unique=True)
    return messages.take(np.isin(m_index, both)), orderbook.take(np.isin(o_index, both))


def file_identity(path: Path) -> tuple[str, str | None]:
    """The ticker and day (ISO date) in a LOBSTER file name, or the file's stem and None."""
    parts = _name_parts(path)
    if parts is None:
        return path.stem, None
    return parts["ticker"], parts["date"]


# -- the book ---------------------------------------------------------------------------------------------

# Fields of a level record, a list so that a message changes it in place after one dict lookup.
LOTS, UNATTRIBUTED, REFRESHED = 0, 1, 2


class LobsterBook:
    """The rebuilt book: levels by signed price, and the known orders.

    Prices are signed, +ticks for bids and -ticks for asks, so that on both
    sides the best level is the largest key: each side's ladder is an
    ascending list with the best level last, where a level near the touch is
    added or removed by moving only the few entries after it. ``levels`` maps
    a signed price to its record ``[lots, unattributed lots, refreshed]``:
    a message that leaves a level in place costs one dict lookup and no
    search. A known order is *fresh* if it was submitted after the level's
    ``refreshed`` index: the message whose orderbook row last set the level,
    or the one before the submit that made the level (-1 for seeded levels).
    Older orders at that price are *stale*, since they rested on a level the
    file stopped showing (or emptied): they may have changed out of view, so
    a message about one is treated as about an unknown order. ``orders`` maps
    an id to (signed price, remaining lots, submit index).
    """

    __slots__ = ("asks", "bids", "depth", "levels", "orders")

    def __init__(self, depth: int) -> None:
        self.depth = depth  # levels the files show (N); deeper levels may be stale
        self.levels: dict[int, list[int]] = {}
        self.orders: dict[int, tuple[int, int, int]] = {}
        self.bids: list[int] = []
        self.asks: list[int] = []

    # -- queries -------------------------------------------------------------------------------------

    def top(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """The best ``n`` (all if None) levels of ``side`` (+1 bid, -1 ask): (price ticks, lots), best first.

        Runtime: O(n).
        """
        ladder = self.bids if side > 0 else self.asks
        keys = ladder[::-1] if n is None or n >= len(ladder) else ladder[: -n - 1 : -1]
        return [(k * side, self.levels[k][LOTS]) for k in keys]

    def row(self, n: int | None = None) -> list[int]:
        """The top ``n`` (default ``depth``) levels in LOBSTER's orderbook-row layout, empty levels filled.

        Runtime: O(n).
        """
        n = self.depth if n is None else n
        return _row(self.asks, self.bids, self.levels, n, _empty_row(n))

    def stale(self, order: tuple[int, int, int]) -> bool:
        """Whether a known order is stale: its level was made again or set from a row since its submit."""
        level = self.levels.get(order[0])
        return level is None or order[2] <= level[REFRESHED]

    def _check(self) -> None:
        """Assert every invariant of the book (for tests; O(levels + orders))."""
        assert all(k < 0 for k in self.asks) and all(k > 0 for k in self.bids)
        for ladder in (self.asks, self.bids):
            assert all(a < b for a, b in pairwise(ladder)), "ladder out of order"
        assert set(self.levels) == set(self.asks) | set(self.bids), "levels and ladders disagree"
        known: Counter[int] = Counter()
        for oid, order in self.orders.items():
            assert order[1] > 0, f"order {oid} rests with {order[1]} lots"
            if not self.stale(order):
                assert order[0] in self.levels, f"order {oid} rests on a level that does not exist"
                known[order[0]] += order[1]
        for sp, (lots, unattributed, _) in self.levels.items():
            assert 0 <= unattributed <= lots and lots > 0, f"level {sp}: bad sizes"
            assert lots - unattributed == known[sp], f"level {sp}: known orders do not add up"

    # -- seeding -------------------------------------------------------------------------------------

    def seed(self, row: np.ndarray) -> None:
        """Set the book to an orderbook row, every level unattributed."""
        self.__init__(self.depth)  # type: ignore[misc]
        for k in range(len(row) // 4):
            ask, ask_lots, bid, bid_lots = (int(x) for x in row[4 * k : 4 * k + 4])
            if ask_lots > 0:
                self._add_level(-ask, ask_lots)
            if bid_lots > 0:
                self._add_level(bid, bid_lots)

    def _add_level(self, sp: int, lots: int) -> None:
        self.levels[sp] = [lots, lots, -1]
        insort(self.bids if sp > 0 else self.asks, sp)

    def undo_first(self, messages: Messages, orderbook: Orderbook) -> None:
        """Take message 0's effect off a book seeded from row 0: the book before the file began.

        Raises :class:`ReplayError` if row 0 cannot be the book after message 0.
        """
        kind, lots, side = int(messages.type[0]), int(messages.size[0]), int(messages.direction[0])
        sp = int(messages.price[0]) * side
        where = f"{'bid' if side > 0 else 'ask'} {abs(sp)}"
        wrong = (
            f"message 1 ({messages.describe(0)}) cannot have led to row 1; "
            f"is this the orderbook file of {messages.path.name}?"
        )
        level = self.levels.get(sp)
        if kind == 1:
            have = level[LOTS] if level else 0
            if level is None or have < lots:
                raise ReplayError(
                    orderbook.path, int(orderbook.line[0]), f"{have} shares at {where}, but {wrong}"
                )
            if have > lots:
                level[LOTS] = level[UNATTRIBUTED] = have - lots
            else:
                del self.levels[sp]
                ladder = self.bids if sp > 0 else self.asks
                del ladder[bisect_left(ladder, sp)]
        elif kind in (2, 3, 4):
            if level is not None:
                level[LOTS] += lots
                level[UNATTRIBUTED] += lots
                return
            ladder = self.bids if side > 0 else self.asks
            if len(ladder) >= self.depth and sp < ladder[-self.depth]:
                raise ReplayError(
                    orderbook.path,
                    int(orderbook.line[0]),
                    f"{where} is below the row's {self.depth} levels, but {wrong}",
                )
            self._add_level(sp, lots)


def _empty_row(n: int) -> list[int]:
    return [EMPTY_ASK, 0, EMPTY_BID, 0] * n


def _row(asks: list[int], bids: list[int], levels: dict[int, list[int]], n: int, row: list[int]) -> list[int]:
    """Fill ``row`` (a fresh empty row) with the top ``n`` levels."""
    m = len(asks)
    for k in range(n if n < m else m):
        sp = asks[m - 1 - k]
        row[4 * k] = -sp
        row[4 * k + 1] = levels[sp][0]
    m = len(bids)
    for k in range(n if n < m else m):
        sp = bids[m - 1 - k]
        row[4 * k + 2] = sp
        row[4 * k + 3] = levels[sp][0]
    return row


# -- the rebuild ------------------------------------------------------------------------------------------


@dataclass
class Rebuild:
    """What :func:`rebuild` made of a message file.

    ``leaves`` (int64, one per message): lots of the message's order resting
    afterwards, -1 where unknown (an order from before the file, or types 5
    and 7). ``from_file`` (int8): +1 / -1 where the message's orderbook row
    supplied the bid / ask level N (see the module docstring), else 0.
    ``snapshots`` (int64, messages x 4N, LOBSTER's row layout) is the top N
    after each message when asked for. ``inconsistencies`` counts by code;
    ``notes`` describes the first few as (message index, text); ``seconds``
    is the wall time of :func:`rebuild`.
    """

    book: LobsterBook
    leaves: np.ndarray
    from_file: np.ndarray
    snapshots: np.ndarray | None
    unknown_ids: int
    inconsistencies: Counter[str]
    notes: list[tuple[int, str]]
    seconds: float

    @property
    def levels_from_file(self) -> int:
        """Levels read from the orderbook file because they came into view from beyond its depth."""
        return int(np.count_nonzero(self.from_file))


class _Notes:
    """Counts inconsistencies and keeps the first few in words (only called when one happens)."""

    def __init__(self, messages: Messages) -> None:
        self.messages = messages
        self.counts: Counter[str] = Counter()
        self.notes: list[tuple[int, str]] = []

    def __call__(self, i: int, code: str, text: str) -> None:
        self.counts[code] += 1
        if len(self.notes) < MAX_NOTES:
            self.notes.append((i, f"{code}: {self.messages.describe(i)}: {text}"))


def rebuild(
    messages: Messages, orderbook: Orderbook | None = None, *, depth: int = 10, snapshots: bool = False
) -> Rebuild:
    """Rebuild the book from ``messages``, seeded from ``orderbook`` row 0 (see the module docstring).

    ``orderbook`` must be paired with ``messages`` (:func:`pair`); without it
    the book starts empty and ``depth`` sets the levels of ``snapshots``.
    Raises :class:`ReplayError` if row 0 cannot be the book after message 0.

    Runtime: O(messages) dict operations, plus O(log L + d) for each level
    made or emptied (L levels on the side, d between it and the best) and
    O(N) per message for ``snapshots``; 1.0-1.9 M messages/s on the AMZN
    sample day without snapshots (0.5-0.7 M with them) on this project's
    2-vCPU machine.
    """
    t0 = time.perf_counter()
    n = len(messages)
    book = LobsterBook(orderbook.levels if orderbook is not None else depth)
    if orderbook is not None and n:
        book.seed(orderbook.rows[0])
        book.undo_first(messages, orderbook)
    notes = _Notes(messages)
    leaves = [-1] * n
    from_file: list[tuple[int, int]] = []
    snaps: list[int] | None = [] if snapshots else None
    # The loop allocates a tuple per submit and a list per new level, and nothing that can form a cycle:
    # the cyclic collector, which would walk every live record once per 700 allocations, is paused.
    collecting = gc.isenabled()
    gc.disable()
    try:
        unknown = _apply(
            book,
            messages.type.tolist(),
            (messages.price * messages.direction).tolist(),
            messages.size.tolist(),
            messages.order_id.tolist(),
            leaves,
            from_file,
            _edges(orderbook) if orderbook is not None else None,
            snaps,
            notes,
        )
    finally:
        if collecting:
            gc.enable()
    sides = np.zeros(n, dtype=np.int8)
    if from_file:
        at, side = np.array(from_file, dtype=np.int64).T
        sides[at] = side
    snap_array = None
    if snaps is not None:
        snap_array = np.array(snaps, dtype=np.int64).reshape(n, 4 * book.depth)
    return Rebuild(
        book,
        np.array(leaves, dtype=np.int64),
        sides,
        snap_array,
        unknown,
        notes.counts,
        notes.notes,
        time.perf_counter() - t0,
    )


def _edges(orderbook: Orderbook) -> dict[int, tuple[list[int], list[int]]]:
    """Per side, level N of every row: (signed prices, lots), lots 0 where the side has fewer levels."""
    n = orderbook.levels
    ask, ask_lots, bid, bid_lots = orderbook.rows[:, 4 * n - 4 :].T.tolist()
    return {1: (bid, bid_lots), -1: ([-p for p in ask], ask_lots)}


def _apply(
    book: LobsterBook,
    types: list[int],
    signed_prices: list[int],
    sizes: list[int],
    ids: list[int],
    leaves: list[int],
    from_file: list[tuple[int, int]],
    edges: dict[int, tuple[list[int], list[int]]] | None,
    snaps: list[int] | None,
    note: _Notes,
) -> int:
    """The message loop; returns how many messages named an unknown order.

    Written for speed: every name it uses per message is a local, the common
    cases come first, a level record is changed in place ([0] lots, [1]
    unattributed, [2] refreshed), and nothing is allocated for a message but
    a submit's order record.
    """
    levels, orders, bids, asks, depth = book.levels, book.orders, book.bids, book.asks, book.depth
    levels_get, orders_get, orders_setdefault = levels.get, orders.get, orders.setdefault
    empty = _empty_row(depth)
    row = book.row()
    unknown = 0
    for i, t in enumerate(types):
        if t == 1:
            sp = signed_prices[i]
            q = sizes[i]
            level = levels_get(sp)
            if level is None:
                levels[sp] = [q, 0, i - 1]  # orders at this price submitted before now are stale
                insort(bids if sp > 0 else asks, sp)
            else:
                level[0] += q
            rec = (sp, q, i)
            old = orders_setdefault(ids[i], rec)
            if old is not rec:
                _duplicate(book, i, old, rec, ids[i], note)
            leaves[i] = q
        elif t < 5:
            sp = signed_prices[i]
            q = sizes[i]
            oid = ids[i]
            o = orders_get(oid)
            level = levels_get(sp)
            if level is None:
                unknown += 1
                if o is not None:
                    _forget(book, i, oid, o, note)
                note(i, "missing_level", "the book has no such level; the message changes nothing")
                if snaps is not None:
                    snaps.extend(row)
                continue
            if o is not None and o[0] == sp and o[2] > level[2]:
                left = o[1] - q
                if left > 0 and t != 3:
                    orders[oid] = (sp, left, o[2])
                    leaves[i] = left
                else:
                    del orders[oid]
                    leaves[i] = 0
                    if left:
                        q = _odd_known(level, i, o[1], q, left, note)
            else:
                unknown += 1
                if o is not None:
                    _forget(book, i, oid, o, note)
                x = level[1]
                if x >= q:
                    level[1] = x - q
                else:
                    note(
                        i,
                        "unattributed_short",
                        f"only {x} lots at the level are not known orders'; took those",
                    )
                    level[1] = 0
                    q = x
            left = level[0] - q
            if left:
                level[0] = left
            else:
                del levels[sp]
                ladder = bids if sp > 0 else asks
                k = bisect_left(ladder, sp)
                del ladder[k]
                if edges is not None and len(ladder) - k < depth:
                    # A visible level emptied: level N comes into view from beyond the file's depth.
                    side = 1 if sp > 0 else -1
                    prices, lots = edges[side]
                    _bring_into_view(book, ladder, i, prices[i], lots[i], note)
                    from_file.append((i, side))
        if snaps is not None:
            if t < 5:
                row = _row(asks, bids, levels, depth, empty[:])
            snaps.extend(row)  # one flat list: a single conversion to numpy at the end
    return unknown


def _duplicate(
    book: LobsterBook, i: int, old: tuple[int, int, int], rec: tuple[int, int, int], oid: int, note: _Notes
) -> None:
    """A submit reusing a live id: the old order's lots stay on its level, unattributed."""
    note(i, "duplicate_id", f"order {oid} is already resting ({old[1]} lots); its lots become unattributed")
    book.orders[oid] = rec
    if not book.stale(old):
        book.levels[old[0]][UNATTRIBUTED] += old[1]


def _forget(book: LobsterBook, i: int, oid: int, o: tuple[int, int, int], note: _Notes) -> None:
    """A message about a stale order, or one naming another level than its order's: forget the order."""
    del book.orders[oid]
    if not book.stale(o):  # fresh, so the message names the wrong level: its lots become unattributed
        note(
            i,
            "price_mismatch",
            f"order {oid} rests at {abs(o[0])} on the {'bid' if o[0] > 0 else 'ask'} side",
        )
        book.levels[o[0]][UNATTRIBUTED] += o[1]


def _odd_known(level: list[int], i: int, had: int, q: int, left: int, note: _Notes) -> int:
    """A delete for less than the order has, or a removal of more: returns the lots the level loses."""
    if left > 0:  # type 3 for less than the order's remainder
        note(
            i, "delete_partial", f"the order had {had} lots; the other {left} stay on the level, unattributed"
        )
        level[UNATTRIBUTED] += left
        return q
    x = level[UNATTRIBUTED]
    extra = min(-left, x)
    if extra < -left:
        note(
            i, "over_remove", f"the order had {had} lots and the level {x} more not known orders'; took those"
        )
    level[UNATTRIBUTED] = x - extra
    return had + extra


def _bring_into_view(book: LobsterBook, ladder: list[int], i: int, sp: int, lots: int, note: _Notes) -> None:
    """Set the level at depth N of ``ladder``'s side from message ``i``'s orderbook row.

    ``sp`` is the row's signed level-N price, ``lots`` its size (0: the side
    has fewer than N levels). Levels the book holds between its level N-1
    and ``sp`` are shown gone by the row and removed; known orders at them
    and at ``sp`` become stale, since they may have changed out of view.
    """
    cut = len(ladder) - book.depth + 1  # ladder[:cut] lie below the book's level N-1
    if cut < 0:
        cut = 0
    if lots and cut < len(ladder) and sp >= ladder[cut]:
        note(
            i,
            "reveal_conflict",
            f"the row's level {book.depth} is not below the book's level {book.depth - 1}",
        )
        return
    start = bisect_right(ladder, sp, 0, cut) if lots else 0
    if start < cut:
        for shown_gone in ladder[start:cut]:
            del book.levels[shown_gone]
        del ladder[start:cut]
    if lots:
        level = book.levels.get(sp)
        if level is None:
            insort(ladder, sp)
            book.levels[sp] = [lots, lots, i]
        else:
            level[LOTS] = level[UNATTRIBUTED] = lots
            level[REFRESHED] = i


# -- the command ------------------------------------------------------------------------------------------


def replay_lobster(
    message_file: Path,
    orderbook_file: Path | None,
    *,
    check: bool,
    out: Path | None,
    skip_bad: bool,
    force: bool,
    stdout: TextIO,
    book_interval_ns: int | None = None,
) -> int:
    """``lob replay lobster MESSAGE_FILE [ORDERBOOK_FILE] [--check] [--out DIR]``: returns the exit status.

    Reads both files (``skip_bad``: bad lines are left out, counted and
    listed, each with its partner line), rebuilds the book, prints what it
    found to ``stdout``, and writes a run directory at ``out`` if given
    (atomically; an existing directory is replaced only with ``force``).
    With ``check`` it compares the book after every message with its
    orderbook row, prints the share of rows matching at each level, the first
    mismatch in full and the throughput, and ends with ``matched R/N rows
    (P%)``. ``book_interval_ns`` sets the book table's interval (default: a
    snapshot after every book change, see :mod:`lob.replay.lobster_check`).

    Returns 0, or 1 if the check found a row that differs (rows left out
    count as differing). Raises :class:`ReplayError` for bad input, and for
    ``check`` without ``orderbook_file``.

    Runtime: O(messages x levels).
    """
    from lob.replay.lobster_check import run_command  # that module builds on this one

    return run_command(
        message_file,
        orderbook_file,
        check_rows=check,
        out=out,
        skip_bad=skip_bad,
        force=force,
        stdout=stdout,
        book_interval_ns=book_interval_ns,
    )
