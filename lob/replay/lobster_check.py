"""``lob replay lobster``: a rebuilt LOBSTER book checked against every orderbook row, and written out.

The check compares the top N levels after each message with the orderbook
file's row for it, cell by cell (prices and sizes, empty levels as LOBSTER
pads them). A level read from the row as it came into view from beyond the
file's depth (see :mod:`lob.replay.lobster`) matches by construction; the
report says how many there were.

The run directory has the simulator's tables, one row per message in
``events`` (``seq`` is the message's index, ``time_ns`` its time after
midnight; the manifest's ``calendar_start`` is the file's day):

=====  ==============================================================================
type   events row
=====  ==============================================================================
1      ``limit``: the order, its side, price, size; ``leaves_lots`` its size, ``resting``
2      ``reduce``: ``qty_lots`` the lots cancelled, ``leaves_lots`` what rests (-1 unknown)
3      ``cancel``: ``qty_lots`` the lots deleted, ``leaves_lots`` 0, ``cancelled``
4      ``fill``: ``other_order_id`` the resting order (the taker is unknown: ``order_id``
       0, ``agent`` null), ``side`` the aggressor's (minus LOBSTER's direction),
       ``leaves_lots`` the resting order's remainder (-1 unknown), ``counterparty`` ``lobster``
5      ``fill`` as for 4, with ``counterparty`` ``hidden`` (the note that it met hidden
       liquidity; the book does not change) and ``leaves_lots`` -1
7      price -1: ``halt`` (``value`` NaN: LOBSTER gives no reason or length); price 0 or 1:
       ``resume`` with ``value`` 0 (quoting resumes) or 1 (trading resumes)
=====  ==============================================================================

Every order's ``agent`` is ``lobster`` (the anonymous market). ``trades``
has one row per type 4 and 5 message (``maker`` ``lobster`` or ``hidden``,
``taker`` null, fees 0). ``book`` has the top N levels (N = the file's
levels, 10 without an orderbook file) after every message that changed the
book, unless that would pass :data:`BOOK_ROWS_LIMIT` rows or an interval is
asked for: then after the last message of each interval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from lob.eventlog.rundir import absolute, check_writable
from lob.eventlog.schema import BOOK, EVENTS, KIND_CODE, STATUSES, TRADES
from lob.replay.errors import ReplayError
from lob.replay.lobster import MAX_NOTES, Rebuild, rebuild
from lob.replay.lobster_files import (
    EMPTY_ASK,
    EMPTY_BID,
    LOT_SIZE,
    MESSAGE_TYPES,
    TICK_SIZE,
    Messages,
    Orderbook,
    file_identity,
    pair,
    read_messages,
    read_orderbook,
)

#: With the default book policy, a snapshot after every book change unless that makes more rows than this.
BOOK_ROWS_LIMIT = 2_000_000
#: The interval used instead when it would (1 s).
FALLBACK_INTERVAL_NS = 1_000_000_000
#: Labels of the ``agent`` codes: every visible order is the anonymous market's; hidden liquidity is apart.
AGENTS = ("lobster", "hidden")
_LOBSTER, _HIDDEN = 0, 1
_RESTING, _CANCELLED = STATUSES.index("resting"), STATUSES.index("cancelled")


# -- the check --------------------------------------------------------------------------------------------


@dataclass
class Check:
    """How the rebuilt book compares with the orderbook file.

    ``rows`` counts every data row of the file, those left out with
    ``skip_bad`` too (they count as not matched); ``level_matched[k]`` the
    rows whose level k+1 (both sides) matched; ``first_mismatch`` the index
    of the first message whose row differs (None if none does).
    """

    rows: int
    matched: int
    level_matched: list[int]
    first_mismatch: int | None
    rows_with_file_levels: int

    @property
    def complete(self) -> bool:
        return self.matched == self.rows


def check(orderbook: Orderbook, result: Rebuild) -> Check:
    """Compare ``result.snapshots`` with every row of ``orderbook`` (paired with the messages rebuilt).

    Runtime: O(rows x levels), vectorized.
    """
    if result.snapshots is None:
        raise ValueError("check() needs a rebuild made with snapshots=True")
    same = result.snapshots == orderbook.rows
    by_level = same.reshape(len(same), orderbook.levels, 4).all(axis=2)
    row_ok = by_level.all(axis=1)
    bad = np.flatnonzero(~row_ok)
    return Check(
        rows=orderbook.data_lines,
        matched=int(np.count_nonzero(row_ok)),
        level_matched=[int(x) for x in np.count_nonzero(by_level, axis=0)],
        first_mismatch=int(bad[0]) if len(bad) else None,
        rows_with_file_levels=result.levels_from_file,
    )


def describe_mismatch(messages: Messages, orderbook: Orderbook, result: Rebuild, i: int) -> list[str]:
    """Lines showing row ``i`` in full: the rebuilt levels beside the file's, differing levels marked."""
    assert result.snapshots is not None
    ours, theirs = result.snapshots[i], orderbook.rows[i]
    out = [
        f"first mismatch: orderbook line {orderbook.line[i]}, the book after message {messages.describe(i)}",
        f"  {'level':<6} {'rebuilt ask':>22} {'file ask':>22} {'rebuilt bid':>22} {'file bid':>22}",
    ]
    for k in range(orderbook.levels):
        cells = [_level(ours, k, 0), _level(theirs, k, 0), _level(ours, k, 2), _level(theirs, k, 2)]
        mark = "" if (ours[4 * k : 4 * k + 4] == theirs[4 * k : 4 * k + 4]).all() else "  <- differs"
        out.append(f"  {k + 1:<6} {cells[0]:>22} {cells[1]:>22} {cells[2]:>22} {cells[3]:>22}{mark}")
    if result.from_file[i]:
        out.append(
            f"  (the {'bid' if result.from_file[i] > 0 else 'ask'} at level {orderbook.levels} "
            "was read from this row)"
        )
    return out


def _level(row: np.ndarray, k: int, col: int) -> str:
    price, lots = int(row[4 * k + col]), int(row[4 * k + col + 1])
    return "empty" if price in (EMPTY_ASK, EMPTY_BID) and lots == 0 else f"{price} x {lots}"


def _percent(part: int, whole: int) -> str:
    """``part/whole`` as a percentage rounded down to 0.01, so only a full match prints 100."""
    if whole == 0:
        return "100"
    value = math.floor(10_000 * part / whole) / 100
    return f"{value:.2f}".rstrip("0").rstrip(".")


# -- the run directory ------------------------------------------------------------------------------------


def event_tables(
    messages: Messages, result: Rebuild, *, book_interval_ns: int | None = None
) -> dict[str, np.ndarray]:
    """The ``events``, ``trades`` and ``book`` record arrays of a rebuild (see the module docstring).

    ``result`` must have snapshots. Runtime: O(messages x levels), vectorized.
    """
    assert result.snapshots is not None
    n = len(messages)
    kind, side, price = messages.type, messages.direction.astype(np.int8), messages.price
    fill = (kind == 4) | (kind == 5)
    order = kind <= 3
    halt = kind == 7
    ev = np.zeros(n, dtype=EVENTS.dtype)
    ev["seq"] = np.arange(n)
    ev["time_ns"] = messages.time_ns
    codes = np.full(n, KIND_CODE["fill"], dtype=np.int8)
    for t, name in ((1, "limit"), (2, "reduce"), (3, "cancel")):
        codes[kind == t] = KIND_CODE[name]
    codes[halt] = np.where(price[halt] < 0, KIND_CODE["halt"], KIND_CODE["resume"])
    ev["kind"] = codes
    ev["agent"] = np.where(order, _LOBSTER, -1)
    ev["order_id"] = np.where(order, messages.order_id, 0)
    ev["side"] = np.where(order, side, np.where(fill, -side, 0))
    ev["price_ticks"] = np.where(halt, 0, price)
    ev["qty_lots"] = np.where(halt, 0, messages.size)
    ev["leaves_lots"] = np.where(kind == 3, 0, result.leaves)
    status = np.full(n, -1, dtype=np.int8)
    status[order] = _RESTING
    status[(kind == 3) | ((kind == 2) & (result.leaves == 0))] = _CANCELLED
    ev["status"] = status
    ev["sent_ns"] = messages.time_ns
    ev["other_order_id"] = np.where(fill, messages.order_id, 0)
    ev["counterparty"] = np.where(kind == 4, _LOBSTER, np.where(kind == 5, _HIDDEN, -1))
    ev["value"] = np.where(halt, np.where(price < 0, np.nan, price.astype(np.float64)), 0.0)

    at = np.flatnonzero(fill)
    tr = np.zeros(len(at), dtype=TRADES.dtype)
    tr["seq"] = at
    tr["time_ns"] = messages.time_ns[at]
    tr["price_ticks"] = price[at]
    tr["qty_lots"] = messages.size[at]
    tr["aggressor_side"] = -side[at]
    tr["maker_order_id"] = messages.order_id[at]
    tr["taker"] = -1
    tr["maker"] = np.where(kind[at] == 5, _HIDDEN, _LOBSTER)

    return {"events": ev, "trades": tr, "book": _book_table(messages, result.snapshots, book_interval_ns)}


def _book_table(messages: Messages, snaps: np.ndarray, interval_ns: int | None) -> np.ndarray:
    levels = snaps.shape[1] // 4
    changed = np.flatnonzero(messages.type <= 4)
    if interval_ns is None and len(changed) * levels > BOOK_ROWS_LIMIT:
        interval_ns = FALLBACK_INTERVAL_NS
    if interval_ns is None:
        at = changed
    else:
        bucket = messages.time_ns // interval_ns
        at = np.flatnonzero(np.append(bucket[1:] != bucket[:-1], True))  # the last message of each interval
    rows = snaps[at].reshape(len(at) * levels, 4)
    book = np.zeros(len(rows), dtype=BOOK.dtype)
    book["time_ns"] = np.repeat(messages.time_ns[at], levels)
    book["level"] = np.tile(np.arange(levels), len(at))
    ask_lots, bid_lots = rows[:, 1], rows[:, 3]
    book["ask_ticks"] = np.where(ask_lots > 0, rows[:, 0], 0)
    book["ask_lots"] = ask_lots
    book["bid_ticks"] = np.where(bid_lots > 0, rows[:, 2], 0)
    book["bid_lots"] = bid_lots
    book["fundamental"] = np.nan
    return book


def summary(
    messages: Messages, orderbook: Orderbook | None, result: Rebuild, found: Check | None
) -> dict[str, Any]:
    """The deterministic headline figures written to ``summary.json``."""
    symbol, day = file_identity(messages.path)
    kinds = messages.type
    trade = (kinds == 4) | (kinds == 5)
    hidden = kinds == 5
    volume = int(messages.size[trade].sum())
    notional = int((messages.size[trade] * messages.price[trade]).sum())
    return {
        "source": "lobster",
        "symbol": symbol,
        "day": day,
        "levels": result.book.depth,
        "messages": len(messages),
        "by_type": {MESSAGE_TYPES[t]: int(np.count_nonzero(kinds == t)) for t in MESSAGE_TYPES},
        "dropped_messages": messages.dropped,
        "skipped_lines": {
            "message_file": len(messages.skipped),
            "orderbook_file": len(orderbook.skipped) if orderbook is not None else 0,
        },
        "trades": {
            "count": int(np.count_nonzero(trade)),
            "volume_lots": volume,
            "hidden_count": int(np.count_nonzero(hidden)),
            "hidden_volume_lots": int(messages.size[hidden].sum()),
            "vwap_ticks": notional / volume if volume else None,
        },
        "unknown_id_messages": result.unknown_ids,
        "levels_from_file": result.levels_from_file,
        "inconsistencies": dict(sorted(result.inconsistencies.items())),
        "check": None if found is None or orderbook is None else _check_summary(found, orderbook),
        "final_book": {
            "bids": [list(level) for level in result.book.top(1, result.book.depth)],
            "asks": [list(level) for level in result.book.top(-1, result.book.depth)],
        },
    }


def _check_summary(found: Check, orderbook: Orderbook) -> dict[str, Any]:
    first = found.first_mismatch
    return {
        "rows": found.rows,
        "matched": found.matched,
        "level_matched": found.level_matched,
        "first_mismatch_line": None if first is None else int(orderbook.line[first]),
        "rows_with_file_levels": found.rows_with_file_levels,
    }


def write_replay(
    out: Path,
    messages: Messages,
    orderbook: Orderbook | None,
    result: Rebuild,
    found: Check | None,
    *,
    force: bool,
    skip_bad: bool = False,
    book_interval_ns: int | None = None,
    wall_s: dict[str, float] | None = None,
) -> Path:
    """Write the replay as a run directory at ``out`` (atomically; an existing one only with ``force``)."""
    import yaml

    from lob.eventlog.writer import write_run
    from lob.market.instrument import Instrument

    symbol, day = file_identity(messages.path)
    config = {
        "replay": {
            "source": "lobster",
            "message_file": str(absolute(messages.path)),
            "orderbook_file": None if orderbook is None else str(absolute(orderbook.path)),
            "skip_bad": skip_bad,
            "book_interval_ns": book_interval_ns,
        }
    }
    manifest = {
        "run": f"lobster-{symbol}-{day}" if day else f"lobster-{symbol}",
        "source": "lobster",
        "calendar_start": f"{day}T00:00:00" if day else None,
        "wall_s": wall_s or {},
    }
    return write_run(
        out,
        config_yaml=yaml.safe_dump(config, sort_keys=False),
        arrays=event_tables(messages, result, book_interval_ns=book_interval_ns),
        agents=AGENTS,
        instruments=[Instrument(symbol, TICK_SIZE, LOT_SIZE, index=0)],
        summary=summary(messages, orderbook, result, found),
        manifest=manifest,
        force=force,
        consume=True,
    )


# -- the command ------------------------------------------------------------------------------------------


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def run_command(
    message_file: Path,
    orderbook_file: Path | None,
    *,
    check_rows: bool,
    out: Path | None,
    skip_bad: bool,
    force: bool,
    stdout: TextIO,
    book_interval_ns: int | None = None,
) -> int:
    """``lob replay lobster``; see :func:`lob.replay.lobster.replay_lobster`."""
    if check_rows and orderbook_file is None:
        raise ReplayError(
            message_file, None, "--check needs the ORDERBOOK_FILE to compare the rebuilt book with"
        )
    if out is not None:
        check_writable(out, force)  # fail before the work, not after it
    import pyarrow.csv  # type: ignore[import-untyped]  # noqa: F401  (loaded before the clock: not parsing)

    t0 = time.perf_counter()
    messages = read_messages(message_file, skip_bad=skip_bad)
    orderbook = read_orderbook(orderbook_file, skip_bad=skip_bad) if orderbook_file is not None else None
    if orderbook is not None:
        messages, orderbook = pair(messages, orderbook)
    parse_s = time.perf_counter() - t0
    snapshots = out is not None or (orderbook is not None and check_rows)
    result = rebuild(messages, orderbook, snapshots=snapshots)
    found = check(orderbook, result) if orderbook is not None and result.snapshots is not None else None
    check_s = time.perf_counter() - t0 - parse_s

    def p(text: str = "") -> None:
        print(text, file=stdout)

    n = len(messages)
    symbol, day = file_identity(messages.path)
    levels = f"{result.book.depth} level{'s' if result.book.depth != 1 else ''}"
    source = f"{_count(n, 'message')} from {messages.path.name}" + (
        " (header row skipped)" if messages.header else ""
    )
    p(f"LOBSTER {symbol}{' ' + day if day else ''}, {levels}: {source}")
    if orderbook is None:
        p("no orderbook file: the book starts empty, so orders resting before the file are missing from it")
    p(f"read in {parse_s:.3f} s ({_rate(n, parse_s)} messages/s)")
    what = "rebuilt, with a snapshot after each message," if snapshots else "rebuilt"
    p(f"{what} in {result.seconds:.3f} s ({_rate(n, result.seconds)} messages/s)")
    counts = {t: int(np.count_nonzero(messages.type == t)) for t in MESSAGE_TYPES}
    p("by type: " + ", ".join(f"{_count(counts[t], name)} ({t})" for t, name in MESSAGE_TYPES.items()))
    p(f"messages about orders unknown to the file (resting before it began): {result.unknown_ids:,}")
    if orderbook is not None:
        p(
            f"levels read from the orderbook file as they came into view from beyond its {levels}: "
            f"{result.levels_from_file:,} (those cells match by construction)"
        )
    _print_problems(p, messages, orderbook, result)
    if out is not None:
        written = write_replay(
            out,
            messages,
            orderbook,
            result,
            found,
            force=force,
            skip_bad=skip_bad,
            book_interval_ns=book_interval_ns,
            wall_s={"read": round(parse_s, 3), "rebuild": round(result.seconds, 3)},
        )
        p(f"wrote {written}")
    if found is None:
        if orderbook is not None:
            p("not checked against the orderbook file (use --check)")
        return 0
    if not check_rows:
        p(
            f"the rebuilt book matches the orderbook file in {found.matched}/{found.rows} rows "
            "(--check for details)"
        )
        return 0
    assert orderbook is not None
    p(f"check: {_rate(n, check_s)} messages/s (rebuild with snapshots and comparison)")
    for k, matched in enumerate(found.level_matched):
        p(f"  level {k + 1}: {_percent(matched, found.rows)}% of rows match")
    if found.first_mismatch is not None:
        for text in describe_mismatch(messages, orderbook, result, found.first_mismatch):
            p(text)
    p(f"matched {found.matched}/{found.rows} rows ({_percent(found.matched, found.rows)}%)")
    return 0 if found.complete else 1


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:.2f} M" if seconds > 0 else "-"


def _print_problems(
    p: Callable[[str], None], messages: Messages, orderbook: Orderbook | None, result: Rebuild
) -> None:
    skipped = [(messages.path.name, line, why) for line, why in messages.skipped]
    if orderbook is not None:
        skipped += [(orderbook.path.name, line, why) for line, why in orderbook.skipped]
    if skipped or messages.dropped:
        p(
            f"skipped {_count(len(skipped), 'bad line')}; {_count(messages.dropped, 'message')} not replayed "
            "(a bad message takes its orderbook row with it, and a bad row its message)"
        )
        for name, line, why in sorted(skipped, key=lambda s: s[1])[:MAX_NOTES]:
            p(f"  {name}:{line}: {why}")
    if result.inconsistencies:
        total = sum(result.inconsistencies.values())
        p(
            f"inconsistencies: {total:,} ("
            + ", ".join(f"{code} {k:,}" for code, k in sorted(result.inconsistencies.items()))
            + ")"
        )
        for _, text in result.notes:
            p(f"  {text}")
    else:
        p("inconsistencies: none")
