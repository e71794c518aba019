"""LOBSTER message and orderbook files: read, checked line by line, and paired.

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

The book rebuilt from them is in :mod:`lob.replay.lobster`; the ``lob replay
lobster`` command, the check against every orderbook row and the run
directory are in :mod:`lob.replay.lobster_check`.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lob.replay.errors import ReplayError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = [
    "EMPTY_ASK",
    "EMPTY_BID",
    "LOT_SIZE",
    "MESSAGE_FIELDS",
    "MESSAGE_TYPES",
    "TICK_SIZE",
    "Messages",
    "Orderbook",
    "file_identity",
    "pair",
    "read_messages",
    "read_orderbook",
    "seconds_text",
]

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
