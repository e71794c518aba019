"""Differential tests: the compiled OrderBook against the plain-Python ReferenceBook.

Three layers:

- seeded streams from :func:`lob.core.workload.random_commands`, ``diff_commands``
  commands in all (``--diff-commands`` / ``LOB_DIFF_COMMANDS``), split over
  several seeds and pushed through both books in bounded chunks, mostly
  through ``execute`` (the compiled one with ``check=True``), partly through the
  per-call API;
- hypothesis lists of a few dozen commands in a narrow price range, run every
  way (batch and per call) on both books;
- conservation properties checked against the ledger of tests/ledger.py,
  kept from the contract alone (docs/core.md), independent of both books.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from ledger import (
    BUY,
    NEW_KINDS,
    REJECTED,
    SELL,
    VALID_KINDS,
    VALID_STPS,
    Array,
    Outputs,
    audit,
    check_cheap_properties,
    describe,
)

from lob.core.book import OrderBook
from lob.core.codes import (
    COMMAND_DTYPE,
    FILL_DTYPE,
    INPUT_ERRORS,
    MAX_PRICE,
    MAX_QTY,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP_CANCEL_DTYPE,
    Kind,
    Reason,
    Status,
)
from lob.core.reference import ReferenceBook
from lob.core.workload import RandomStream, random_commands
from lob.errors import OrderError

SEEDS = (101, 202, 303, 404)
CHUNK = 10_000  # commands per chunk: bounds memory however long the run
PERCALL_EVERY = 5  # one chunk in five goes through the per-call API
OUTPUT_NAMES = ("results", "fills", "stp_cancels")


# -- COMPARING OUTPUTS -----------------------------------------------------------


def assert_same_outputs(
    cmds: Array, got: Outputs, want: Outputs, where: str, labels: tuple[str, str] = ("compiled", "reference")
) -> None:
    """``got`` equals ``want``, or fail naming the first differing row and the command that made it."""
    seq0 = int(want[0]["seq"][0]) if len(want[0]) else 0
    for name, g, w in zip(OUTPUT_NAMES, got, want, strict=True):
        assert g.dtype == w.dtype, f"{where}: {name} dtype {g.dtype} != {w.dtype}"
        if len(g) == len(w) and np.array_equal(g, w):
            continue
        n = min(len(g), len(w))
        diff = np.flatnonzero(g[:n] != w[:n])
        i = int(diff[0]) if len(diff) else n
        row = w[i] if i < len(w) else g[i]
        c = i if name == "results" else int(row["seq"]) - seq0  # the command that made the row
        lines = [
            f"{where}: {name} differ at row {i} ({len(g)} {labels[0]} rows, {len(w)} {labels[1]} rows)",
            f"  {labels[0]:<20}: {g[i] if i < len(g) else '<missing>'}",
            f"  {labels[1]:<20}: {w[i] if i < len(w) else '<missing>'}",
            f"  command {c} (seq {seq0 + c}) {describe(cmds[c]) if 0 <= c < len(cmds) else '?'}",
            "  commands before it:",
            *(f"    {j}: {describe(cmds[j])}" for j in range(max(0, c - 5), max(0, c))),
        ]
        pytest.fail("\n".join(lines))


def assert_same_state(compiled: Any, reference: Any, where: str) -> None:
    """Same resting orders, in the same queue order, and both books pass their own invariant check."""
    compiled.check_invariants()
    reference.check_invariants()
    snap_c, snap_r = compiled.snapshot(), reference.snapshot()
    assert snap_c.dtype == SNAPSHOT_DTYPE
    if not (len(snap_c) == len(snap_r) and np.array_equal(snap_c, snap_r)):
        n = min(len(snap_c), len(snap_r))
        diff = np.flatnonzero(snap_c[:n] != snap_r[:n])
        i = int(diff[0]) if len(diff) else n
        pytest.fail(
            f"{where}: snapshots differ at row {i} ({len(snap_c)} vs {len(snap_r)} orders): "
            f"compiled {snap_c[i] if i < len(snap_c) else None}, "
            f"reference {snap_r[i] if i < len(snap_r) else None}"
        )
    for query in ("best_bid", "best_ask", "spread", "__len__"):
        assert getattr(compiled, query)() == getattr(reference, query)(), f"{where}: {query}"
    assert compiled.seq == reference.seq, f"{where}: seq"
    for side in (BUY, SELL):
        assert compiled.level_count(side) == reference.level_count(side), f"{where}: level_count({side})"
        n = reference.level_count(side) + 1
        prices_c, qtys_c = compiled.depth(side, n)
        prices_r, qtys_r = reference.depth(side, n)
        assert np.array_equal(prices_c, prices_r), f"{where}: depth prices, side {side}"
        assert np.array_equal(qtys_c, qtys_r), f"{where}: depth qtys, side {side}"


def call_named(
    book: Any, kind: int, order_id: int, owner: int, side: int, price: int, qty: int, stp: int
) -> int:
    """One command through the book's method for its kind (``submit`` for a bad kind)."""
    if kind in (Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY):
        method = {
            Kind.LIMIT: book.limit,
            Kind.IOC: book.ioc,
            Kind.FOK: book.fok,
            Kind.POST_ONLY: book.post_only,
        }
        return int(method[Kind(kind)](order_id, owner, side, price, qty, stp))
    if kind == Kind.MARKET:
        return int(book.market(order_id, owner, side, qty, price, stp))
    if kind == Kind.CANCEL:
        return int(book.cancel(order_id))
    if kind == Kind.REDUCE:
        return int(book.reduce(order_id, qty))
    if kind == Kind.REPLACE:
        return int(book.replace(order_id, price, qty))
    return int(book.submit(kind, order_id, owner, side, price, qty, stp))


def run_per_call(book: Any, cmds: Array, check: bool = False, named: bool = False) -> Outputs:
    """Runs ``cmds`` one by one through ``submit`` (or the named methods) and collects what ``execute`` would.

    An :class:`OrderError` counts as a REJECTED row with the error's reason (the
    book must be unchanged and must still take the seq).
    """
    rows = []
    columns = (cmds[name].tolist() for name in ("order_id", "owner", "price", "qty", "kind", "side", "stp"))
    for order_id, owner, price, qty, kind, side, stp in zip(*columns, strict=True):
        seq = book.seq
        try:
            if named:
                status = call_named(book, kind, order_id, owner, side, price, qty, stp)
            else:
                status = book.submit(kind, order_id, owner, side, price, qty, stp)
        except OrderError as exc:
            assert exc.reason in INPUT_ERRORS, f"OrderError for outcome {exc.reason.name}"
            assert exc.order_id == order_id, f"OrderError names order {exc.order_id}, command {order_id}"
            rows.append((seq, 0, 0, REJECTED, int(exc.reason)))
        else:
            assert status == book.last_status
            reason = book.last_reason
            assert status != REJECTED or reason in (Reason.POST_ONLY_WOULD_TAKE, Reason.FOK_UNFILLABLE), (
                f"per-call REJECTED with input-error reason {Reason(reason).name} did not raise"
            )
            rows.append((seq, book.last_filled, book.last_resting, status, reason))
        assert book.seq == seq + 1, "every command takes one seq"
        if check:
            book.check_invariants()
    results = np.array(rows, dtype=RESULT_DTYPE) if rows else np.zeros(0, RESULT_DTYPE)
    return results, book.take_fills(), book.take_stp_cancels()


def shift_seq(outputs: Outputs, delta: int) -> Outputs:
    shifted = tuple(a.copy() for a in outputs)
    for a in shifted:
        a["seq"] += delta
    return shifted  # type: ignore[return-value]


# -- I. SEEDED STREAMS ----------------------------------------------------------


def _chunks(total: int) -> Iterator[int]:
    while total > 0:
        yield min(CHUNK, total)
        total -= CHUNK


@pytest.mark.parametrize("seed", SEEDS)
def test_seeded_stream(seed: int, diff_commands: int) -> None:
    """The compiled book equals the reference over a long seeded stream (chunked, bounded memory)."""
    stream = RandomStream(seed)
    compiled, reference = OrderBook(), ReferenceBook()
    done = 0
    for k, n in enumerate(_chunks(diff_commands // len(SEEDS))):
        cmds = stream.take(n)
        where = f"seed {seed}, commands {done}..{done + n - 1}"
        if k % PERCALL_EVERY == PERCALL_EVERY - 1:
            # The per-call path on both books, and the compiled batch path on a copy of the book.
            shadow = OrderBook.from_snapshot(compiled.snapshot())
            seq0 = compiled.seq
            want = run_per_call(reference, cmds)
            got = run_per_call(compiled, cmds)
            assert_same_outputs(cmds, got, want, where + " (per call)")
            batch = shift_seq(shadow.execute(cmds, check=True), seq0)
            assert_same_outputs(cmds, batch, got, where, ("compiled batch", "compiled per call"))
        else:
            got = compiled.execute(cmds, check=True)
            want = reference.execute(cmds)
            assert_same_outputs(cmds, got, want, where)
            assert compiled.fill_count == 0, "execute must leave the per-call buffers alone"
        check_cheap_properties(cmds, want[0], want[1], where)
        assert_same_state(compiled, reference, where)
        done += n


def test_generation_is_deterministic() -> None:
    """Same seed, same bytes: in one go, in chunks, and whichever book drives generation."""
    once = random_commands(3_000, seed=5)
    assert once.dtype == COMMAND_DTYPE
    assert once.tobytes() == random_commands(3_000, seed=5).tobytes()
    stream = RandomStream(5)
    assert np.array_equal(np.concatenate([stream.take(1_000), stream.take(2_000)]), once)
    assert random_commands(3_000, seed=5, book=OrderBook()).tobytes() == once.tobytes()
    assert random_commands(3_000, seed=6).tobytes() != once.tobytes()


def test_stream_covers_the_contract() -> None:
    """The stream reaches every kind, STP mode, status and reason, and self-trades."""
    cmds = random_commands(20_000, seed=9)
    results, fills, stps = ReferenceBook().execute(cmds)
    assert set(cmds["kind"].tolist()) >= VALID_KINDS
    assert set(cmds["stp"].tolist()) >= VALID_STPS
    assert set(results["status"].tolist()) >= {int(s) for s in Status}
    assert set(results["reason"].tolist()) >= {int(r) for r in Reason}
    assert len(stps) > 0 and np.any(fills["taker_owner"] == fills["maker_owner"])
    seq_prices = np.unique(fills[["seq", "price"]])
    assert len(seq_prices) > len(np.unique(fills["seq"])), "no command took from two levels"


# -- II. HYPOTHESIS -------------------------------------------------------------


BAD_VALUES = {  # per COMMAND_DTYPE field index: values no valid command has
    0: [-1, -(2**63)],
    2: [0, -1, MAX_PRICE + 1, 2**63 - 1],
    3: [0, -1, MAX_QTY + 1],
    4: [8, -1, 127],
    5: [0, 2, -128],
    6: [4, -1],
}


# Hypothesis' explain phase alone can take minutes on a failure of these tests; shrinking, seconds.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)
EXTREMES = [(0, 2**63 - 1), (1, -(2**63)), (2, 1), (2, MAX_PRICE), (3, MAX_QTY)]  # valid edge values

# One command as independent draws, so that hypothesis shrinks a list by deleting and simplifying
# elements; _build resolves the ids, which depend on the commands before.
raw_command = st.tuples(
    st.sampled_from([int(Kind.LIMIT)] * 3 + [int(k) for k in Kind]),  # kind
    st.integers(0, 30),  # order id
    st.integers(0, 4),  # cancel / reduce / replace: 0 = the id above, k = k-th latest placed id
    st.sampled_from([1, 2, 3]),  # owner
    st.integers(97, 103),  # price, ticks
    st.sampled_from([1, 1, 2, 3, 5, 8, 13, 30]),  # qty, lots
    st.sampled_from([BUY, SELL]),
    st.sampled_from(sorted(VALID_STPS)),
    st.booleans(),  # MARKET: no protection
    st.integers(0, 39),  # < 5: one bad field; 5-6: one extreme valid value
    st.integers(0, 255),  # which bad field / value
)


def _build(raws: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Commands in COMMAND_DTYPE field order from :data:`raw_command` draws.

    Ids come from 0-30, so new orders sometimes reuse an id or duplicate a
    live one; most cancels, reduces and replaces name one of the four latest
    ids placed by an order that could rest. Deleting one command changes few
    others, which keeps shrinking fast.
    """
    rows: list[tuple[int, ...]] = []
    placed: list[int] = []
    for kind, order_id, recent, owner, price, qty, side, stp, no_protection, roll, which in raws:
        if kind not in NEW_KINDS and recent > 0 and placed:
            order_id = placed[-min(recent, len(placed))]
        row = [order_id, owner, 0 if kind == Kind.MARKET and no_protection else price, qty, kind, side, stp]
        if roll < 5:
            field = sorted(BAD_VALUES)[which % len(BAD_VALUES)]
            row[field] = BAD_VALUES[field][which // len(BAD_VALUES) % len(BAD_VALUES[field])]
        elif roll < 7:
            field, value = EXTREMES[which % len(EXTREMES)]
            row[field] = value
        if row[4] in (Kind.LIMIT, Kind.POST_ONLY, Kind.REPLACE):
            placed.append(row[0])
        rows.append(tuple(row))
    return rows


#: Up to 64 commands (about 25 on average): 3 owners, prices 97-103 ticks, every kind and STP mode,
#: ids reused and targeted as described in _build; one command in eight has a bad field. Drawn as
#: bursts of bursts: a flat list long enough on average would need a min_size, which makes
#: shrinking a failure take minutes.
command_lists = st.lists(st.lists(raw_command, min_size=1, max_size=8), min_size=1, max_size=8).map(
    lambda bursts: _build([raw for burst in bursts for raw in burst])
)


def as_commands(rows: list[tuple[int, ...]]) -> Array:
    return np.array(rows, dtype=COMMAND_DTYPE)


@settings(max_examples=2500, deadline=None, phases=PHASES)
@given(command_lists, st.booleans())
def test_books_agree_on_short_lists(rows: list[tuple[int, ...]], named: bool) -> None:
    """Batch and per call (``submit`` or the named methods), both books give the same results,
    fills, STP cancels and final book."""
    cmds = as_commands(rows)
    compiled, reference = OrderBook(), ReferenceBook()
    want = reference.execute(cmds, check=True)
    got = compiled.execute(cmds, check=True)
    assert_same_outputs(cmds, got, want, "batch")
    assert_same_state(compiled, reference, "batch")

    compiled, reference = OrderBook(), ReferenceBook()
    per_call = run_per_call(compiled, cmds, check=True, named=named)
    assert_same_outputs(cmds, per_call, want, "per call", ("compiled per call", "reference batch"))
    per_call = run_per_call(reference, cmds, check=True, named=named)
    assert_same_outputs(cmds, per_call, want, "per call", ("reference per call", "reference batch"))
    assert_same_state(compiled, reference, "per call")


# -- III. CONSERVATION ----------------------------------------------------------


@settings(
    max_examples=1000,
    deadline=None,
    phases=PHASES,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command_lists)
def test_conservation_short_lists(book_cls: type, rows: list[tuple[int, ...]]) -> None:
    """Every lot is accounted for, priority and limits hold, on both books."""
    cmds = as_commands(rows)
    book = book_cls()
    audit(cmds, book.execute(cmds), book)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_conservation_seeded_stream(book_cls: type, seed: int) -> None:
    cmds = random_commands(8_000, seed=seed)
    book = book_cls()
    audit(cmds, book.execute(cmds), book)


def test_dtypes_of_outputs() -> None:
    results, fills, stps = OrderBook().execute(random_commands(500, seed=1))
    assert (results.dtype, fills.dtype, stps.dtype) == (RESULT_DTYPE, FILL_DTYPE, STP_CANCEL_DTYPE)
