"""Replaying a run directory: its recorded order flow through fresh books, every fill checked.

``lob replay RUN_DIR`` proves that a run's event log is complete: the books'
state is a function of the commands alone, so re-executing every command row
of ``events.parquet`` in sequence order, through a new
:class:`~lob.core.book.OrderBook` per instrument, must reproduce every fill of
``trades.parquet`` (taker and maker order, owners, price, lots, aggressor
side), every self-trade cancel, and each command's status and resting lots.

Which rows reach the book: every command row (kinds ``limit`` ... ``replace``)
except those the venue answered itself, before the book: a rejection for a
venue reason (``insufficient_margin``, ``price_band``, ``halted``), a cancel,
reduce or replace of an order the sender did not own (``unknown_order_id``:
the venue checks ownership first), and a cancel or reduce of an order held
during a halt (reason ``halted``). Positions moved off-book (takeovers,
auto-deleveraging) and money never touch a book, so they need nothing here.

Runtime: O(rows) Python steps plus the book's own work; a run's events are
read once with pyarrow (no pandas).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from lob.core.book import OrderBook
from lob.core.codes import Kind, Reason, Status
from lob.errors import LobError, OrderError
from lob.eventlog.reader import read_run
from lob.eventlog.schema import KIND_CODE, REASON_CODE

_FILL = KIND_CODE["fill"]
_STP_CANCEL = KIND_CODE["stp_cancel"]
_REJECTED = int(Status.REJECTED)
_OWNERSHIP_KINDS = (int(Kind.CANCEL), int(Kind.REDUCE), int(Kind.REPLACE))
_UNKNOWN = int(Reason.UNKNOWN_ORDER_ID)
_HALTED = REASON_CODE["halted"]
# Rejections the venue gives before the book sees the command.
_VENUE_REASONS = (REASON_CODE["insufficient_margin"], REASON_CODE["price_band"], _HALTED)


@dataclass
class OwnReplay:
    """What a replay reproduced; ``mismatches`` describes the first few differences in full."""

    commands: int = 0  # command rows re-executed
    skipped: int = 0  # command rows the venue answered without the book
    fills: int = 0  # fills in trades.parquet
    reproduced: int = 0  # of them, reproduced exactly and in order
    statuses_matched: int = 0  # commands whose status and resting lots matched the log
    stp_cancels: int = 0
    stp_reproduced: int = 0
    seconds: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every fill, self-trade cancel and command status reproduced."""
        return (
            self.reproduced == self.fills
            and self.stp_reproduced == self.stp_cancels
            and self.statuses_matched == self.commands
        )


def _columns(file: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The ``names`` columns of a Parquet file as numpy arrays; categorical columns as codes (-1: null)."""
    try:
        table = pq.read_table(file, columns=list(names))
    except (OSError, pa.ArrowException) as e:
        raise LobError(f"{file}: cannot read it as Parquet: {e}") from e
    out: dict[str, np.ndarray] = {}
    for name in names:
        column = table.column(name).combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.indices.fill_null(-1)
        out[name] = column.to_numpy(zero_copy_only=False)
    return out


_EVENT_COLUMNS = (
    "seq", "kind", "agent", "instrument", "order_id", "side", "price_ticks", "qty_lots", "leaves_lots",
    "status", "reason", "stp", "other_order_id",
)  # fmt: skip
_TRADE_COLUMNS = (
    "seq", "instrument", "price_ticks", "qty_lots", "aggressor_side", "taker_order_id", "maker_order_id",
    "taker", "maker",
)  # fmt: skip


def replay_run(path: Path | str, *, max_mismatches: int = 5) -> OwnReplay:
    """Re-executes the command rows of the run at ``path`` and compares what the books do with the log.

    Raises :class:`~lob.errors.LobError` if ``path`` is not a readable run
    directory (see :func:`lob.eventlog.reader.read_run`) or lacks its events
    or trades table.
    """
    run = read_run(path)  # checks the manifest and schema version
    source = run.manifest.get("source", "simulation")
    if source != "simulation":
        raise LobError(
            f"{run.path}: a replay of {source} data, not a simulation: its log holds the history's own "
            "messages, not every order that reached the book, so it cannot be re-executed"
        )
    started = time.perf_counter()
    for table in ("events", "trades"):
        if not (run.path / f"{table}.parquet").is_file():
            raise LobError(f"{run.path}: no {table}.parquet; replay needs the events and trades tables")
    ev = _columns(run.path / "events.parquet", _EVENT_COLUMNS)
    tr = _columns(run.path / "trades.parquet", _TRADE_COLUMNS)
    books = [OrderBook() for _ in run.instruments]
    result = OwnReplay(fills=len(tr["seq"]), stp_cancels=int((ev["kind"] == _STP_CANCEL).sum()))
    # The log's fills and self-trade cancels, as the book reports them, keyed by the command that made them.
    expected = _expected_fills(tr)
    expected_stp = _expected_stp(ev)
    rows = np.flatnonzero(ev["kind"] < _FILL)
    col = {name: ev[name][rows].tolist() for name in _EVENT_COLUMNS}
    kind, agent, inst, oid = col["kind"], col["agent"], col["instrument"], col["order_id"]
    side, price, qty, leaves = col["side"], col["price_ticks"], col["qty_lots"], col["leaves_lots"]
    stp, status, reason, seq = col["stp"], col["status"], col["reason"], col["seq"]
    for k in range(len(rows)):
        book = books[inst[k]]
        if _answered_by_venue(kind[k], status[k], reason[k], oid[k], agent[k], book):
            result.skipped += 1
            continue
        result.commands += 1
        try:
            got_status = book.submit(kind[k], oid[k], agent[k], side[k], price[k], qty[k], stp[k])
            got_reason, got_resting = book.last_reason, book.last_resting
        except OrderError as err:
            got_status, got_reason, got_resting = _REJECTED, int(err.reason), 0
        except OverflowError:
            got_status, got_reason, got_resting = _REJECTED, -1, 0
        if (got_status, got_resting) == (status[k], leaves[k]) and (
            got_status != _REJECTED or got_reason == reason[k]
        ):
            result.statuses_matched += 1
        else:
            _note(result, max_mismatches, f"command at seq {seq[k]} (order {oid[k]}): logged status "
                  f"{status[k]} reason {reason[k]} resting {leaves[k]}, replayed status {got_status} "
                  f"reason {got_reason} resting {got_resting}")  # fmt: skip
        fills = book.take_fill_tuples() if book.fill_count else []
        want = expected.get(seq[k], [])
        got = [(f[1], f[2], f[3], f[4], f[5], f[6], f[8]) for f in fills]
        result.reproduced += sum(1 for a, b in zip(got, want, strict=False) if a == b)
        if got != want:
            _note(result, max_mismatches, f"command at seq {seq[k]} (order {oid[k]}): logged fills {want}, "
                  f"replayed {got} (taker, maker, taker owner, maker owner, price, lots, side)")  # fmt: skip
        if stp[k]:
            got_stp = [(r[2], r[4], r[5]) for r in book.take_stp_cancels().tolist()]
            want_stp = expected_stp.get(seq[k], [])
            result.stp_reproduced += sum(1 for a, b in zip(got_stp, want_stp, strict=False) if a == b)
            if got_stp != want_stp:
                _note(result, max_mismatches, f"command at seq {seq[k]}: logged self-trade cancels "
                      f"{want_stp}, replayed {got_stp}")  # fmt: skip
    result.seconds = time.perf_counter() - started
    return result


def _answered_by_venue(kind: int, status: int, reason: int, oid: int, owner: int, book: OrderBook) -> bool:
    """Whether the venue answered this command row itself, so the book never saw it."""
    if reason == _HALTED or (status == _REJECTED and reason in _VENUE_REASONS):
        return True  # a rejection before the book, or a cancel or reduce of an order held in a halt
    # The venue checks that the sender owns the order before the book: an order of another owner is
    # rejected as unknown to the sender (the book would take the command).
    return (
        kind in _OWNERSHIP_KINDS
        and status == _REJECTED
        and reason == _UNKNOWN
        and oid in book
        and book.order_owner(oid) != owner
    )


def _expected_fills(tr: Mapping[str, np.ndarray]) -> dict[int, list[tuple[int, ...]]]:
    """The trades, grouped by the command that made them (its seq is the row just before its first fill)."""
    out: dict[int, list[tuple[int, ...]]] = {}
    columns = [tr[c].tolist() for c in _TRADE_COLUMNS]
    # A command's fills are logged right after its own row, so they share the command's "parent" seq:
    # the trades' seqs run consecutively from command seq + 1.
    parent = -1
    last = -2
    for seq, _ii, px, q, aside, tid, mid, taker, maker in zip(*columns, strict=True):
        if seq != last + 1:
            parent = seq - 1
        last = seq
        out.setdefault(parent, []).append((tid, mid, taker, maker, px, q, aside))
    return out


def _expected_stp(ev: Mapping[str, np.ndarray]) -> dict[int, list[tuple[int, ...]]]:
    """Self-trade cancels by the seq of the command that caused them (the taker's, ``other_order_id``)."""
    out: dict[int, list[tuple[int, ...]]] = {}
    for k in np.flatnonzero(ev["kind"] == _STP_CANCEL).tolist():
        parent = _command_before(ev, k, int(ev["other_order_id"][k]))
        out.setdefault(parent, []).append(
            (int(ev["order_id"][k]), int(ev["price_ticks"][k]), int(ev["qty_lots"][k]))
        )
    return out


def _command_before(ev: Mapping[str, np.ndarray], k: int, taker: int) -> int:
    """The seq of the nearest command row before row ``k`` for order ``taker``."""
    j = k - 1
    while j >= 0 and not (ev["kind"][j] < _FILL and ev["order_id"][j] == taker):
        j -= 1
    return int(ev["seq"][j]) if j >= 0 else -1


def _note(result: OwnReplay, limit: int, text: str) -> None:
    if len(result.mismatches) < limit:
        result.mismatches.append(text)


def replay_run_command(path: Path, *, stdout: TextIO) -> int:
    """``lob replay RUN_DIR``: prints what was reproduced, ending ``reproduced R/N fills``; 0 if all were."""
    result = replay_run(path)
    rate = result.commands / result.seconds if result.seconds else 0.0
    print(
        f"{path}: {result.commands:,} commands re-executed ({result.skipped:,} answered by the venue "
        f"without the book) in {result.seconds:.2f} s ({rate:,.0f} commands/s)",
        file=stdout,
    )
    print(f"statuses and resting lots matched for {result.statuses_matched:,}/{result.commands:,} commands",
          file=stdout)  # fmt: skip
    if result.stp_cancels:
        print(f"self-trade cancels reproduced: {result.stp_reproduced:,}/{result.stp_cancels:,}", file=stdout)
    for text in result.mismatches:
        print(f"mismatch: {text}", file=stdout)
    print(f"reproduced {result.reproduced:,}/{result.fills:,} fills", file=stdout)
    return 0 if result.complete else 1
