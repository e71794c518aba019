"""Differential tests: the compiled OrderBook against the plain-Python ReferenceBook.

Three layers:

- seeded streams from :func:`lob.core.workload.random_commands`, ``diff_commands``
  commands in all (``--diff-commands`` / ``LOB_DIFF_COMMANDS``), split over
  several seeds and pushed through both books in bounded chunks, mostly
  through ``execute`` (the compiled one with ``check=True``), partly through the
  per-call API;
- hypothesis lists of a few dozen commands in a narrow price range, run every
  way (batch and per call) on both books;
- conservation properties checked against a ledger kept here from the
  contract alone (docs/core.md), independent of both books.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lob.core.book import OrderBook
from lob.core.codes import (
    COMMAND_DTYPE,
    FILL_DTYPE,
    INPUT_ERRORS,
    MAX_PRICE,
    MAX_QTY,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP,
    STP_CANCEL_DTYPE,
    Kind,
    Reason,
    Side,
    Status,
)
from lob.core.reference import ReferenceBook
from lob.core.workload import RandomStream, random_commands
from lob.errors import OrderError

Array = npt.NDArray[np.void]
Outputs = tuple[Array, Array, Array]  # results, fills, stp_cancels

SEEDS = (101, 202, 303, 404)
CHUNK = 10_000  # commands per chunk: bounds memory however long the run
PERCALL_EVERY = 5  # one chunk in five goes through the per-call API

NEW_KINDS = frozenset(int(k) for k in (Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET))
VALID_KINDS = frozenset(int(k) for k in Kind)
VALID_STPS = frozenset(int(s) for s in STP)
BUY, SELL = int(Side.BUY), int(Side.SELL)
REJECTED, RESTING, FILLED, EXPIRED, CANCELLED = (int(s) for s in Status)
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


def describe(cmd: np.void) -> str:
    kind, side, stp = int(cmd["kind"]), int(cmd["side"]), int(cmd["stp"])
    name = Kind(kind).name if kind in VALID_KINDS else f"kind={kind}"
    return (
        f"{name} id={int(cmd['order_id'])} owner={int(cmd['owner'])} side={side} "
        f"price={int(cmd['price'])} qty={int(cmd['qty'])} stp={stp}"
    )


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


def check_cheap_properties(cmds: Array, results: Array, fills: Array, where: str) -> None:
    """Vectorised conservation checks, cheap enough for every chunk of the long run."""
    assert int(fills["qty"].sum()) == int(results["filled"].sum()), f"{where}: fill lots != filled"
    assert np.all(fills["qty"] > 0), f"{where}: empty fill"
    if len(results):
        assert np.array_equal(results["seq"], results["seq"][0] + np.arange(len(results))), f"{where}: seq"
    if len(fills):
        taker = cmds[fills["seq"] - results["seq"][0]]
        new = np.isin(taker["kind"], list(NEW_KINDS))
        assert np.array_equal(fills["aggressor_side"][new], taker["side"][new]), f"{where}: aggressor side"
        assert np.array_equal(fills["taker_id"], taker["order_id"]), f"{where}: taker id"
        limited = new & (taker["kind"] != Kind.MARKET) | (taker["kind"] == Kind.MARKET) & (taker["price"] > 0)
        side, px, lim = fills["aggressor_side"], fills["price"], taker["price"]
        worse = limited & (((side == BUY) & (px > lim)) | ((side == SELL) & (px < lim)))
        assert not worse.any(), f"{where}: fill worse than the taker's limit: {fills[worse][:3]}"


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


class Ledger:
    """The resting orders as the contract says they must be, rebuilt from a book's outputs alone.

    Dict order is queue order: a reduce keeps an order's place, a re-entry goes
    to the back. Every check costs O(orders), which is fine for short lists.
    """

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}  # id -> [owner, side, price, qty, stp]
        self.lots_in = 0  # lots of accepted new orders and re-entries
        self.lots_out = 0  # lots taken, expired, cancelled, reduced or STP-cancelled

    def best_maker(self, side: int) -> int | None:
        """Id of the first order in the best level of ``side``, None if the side is empty."""
        best_id, best_price = None, None
        for order_id, (_, s, price, _, _) in self.orders.items():
            if s == side and (
                best_price is None or (price > best_price if side == BUY else price < best_price)
            ):
                best_id, best_price = order_id, price
        return best_id

    def expected_input_error(self, cmd: tuple[int, ...]) -> int:
        """The validation reason docs/core.md gives ``cmd`` (NONE if it passes input checks)."""
        order_id, _, price, qty, kind, side, stp = cmd
        qty_ok, price_ok = 1 <= qty <= MAX_QTY, 1 <= price <= MAX_PRICE
        if kind not in VALID_KINDS:
            return Reason.INVALID_KIND
        if kind in NEW_KINDS:
            if kind == Kind.MARKET:
                price_ok = 0 <= price <= MAX_PRICE
            for ok, reason in (
                (side in (BUY, SELL), Reason.INVALID_SIDE),
                (stp in VALID_STPS, Reason.INVALID_STP),
                (order_id >= 0, Reason.INVALID_ORDER_ID),
                (qty_ok, Reason.INVALID_QTY),
                (price_ok, Reason.INVALID_PRICE),
                (order_id not in self.orders, Reason.DUPLICATE_ORDER_ID),
            ):
                if not ok:
                    return reason
            return Reason.NONE
        if kind == Kind.CANCEL:
            return Reason.NONE if order_id in self.orders else Reason.UNKNOWN_ORDER_ID
        if not qty_ok:
            return Reason.INVALID_QTY
        if kind == Kind.REPLACE and not price_ok:
            return Reason.INVALID_PRICE
        if order_id not in self.orders:
            return Reason.UNKNOWN_ORDER_ID
        if kind == Kind.REDUCE and qty > self.orders[order_id][3]:
            return Reason.REDUCE_TOO_LARGE
        return Reason.NONE

    def makers_in_priority(self, side: int, limit: int) -> list[tuple[int, list[int]]]:
        """Orders of ``side`` priced no worse than ``limit`` for a taker, in price-time priority."""
        inside = [
            (i, o)
            for i, o in self.orders.items()
            if o[1] == side and (o[2] >= limit if side == BUY else o[2] <= limit)
        ]
        return sorted(inside, key=lambda item: -item[1][2] if side == BUY else item[1][2])  # stable: FIFO

    def fok_reachable(self, taker: list[int], limit: int) -> int:
        """Lots a FOK could take now, as docs/core.md counts them under its STP mode."""
        owner, side, _, _, stp = taker
        total = 0
        for _, (m_owner, _, _, m_qty, _) in self.makers_in_priority(-side, limit):
            if stp != STP.NONE and m_owner == owner:
                if stp == STP.CANCEL_RESTING:
                    continue
                break
            total += m_qty
        return total

    def take(
        self, cmd: tuple[int, ...], taker: list[int], result: np.void, fills: Array, stps: Array
    ) -> None:
        """Applies one taking order's fills and STP cancels; checks priority, prices, sides and STP."""
        order_id, kind = cmd[0], cmd[4]
        owner, side, limit, qty, stp = taker
        if kind == Kind.MARKET and limit == 0:
            limit = MAX_PRICE if side == BUY else 1
        fills_left, stps_left = list(fills), list(stps)
        stopped = False
        while fills_left or stps_left:
            assert qty > 0 and not stopped, f"order {order_id}: records after it stopped"
            maker_id = self.best_maker(-side)
            assert maker_id is not None, f"order {order_id}: a fill or STP cancel with no maker left"
            m_owner, m_side, m_price, m_qty, _ = self.orders[maker_id]
            assert (m_price <= limit) if side == BUY else (m_price >= limit), "took beyond the limit"
            if stp != STP.NONE and m_owner == owner:
                if stp != STP.CANCEL_INCOMING:
                    assert stps_left, f"no STP cancel of own maker {maker_id}"
                    s = stps_left.pop(0)
                    got = tuple(
                        int(s[k])
                        for k in ("taker_id", "maker_id", "maker_owner", "price", "qty", "maker_side")
                    )
                    assert got == (order_id, maker_id, owner, m_price, m_qty, m_side), f"STP cancel {got}"
                    del self.orders[maker_id]
                    self.lots_out += m_qty
                stopped = stp != STP.CANCEL_RESTING
                continue
            assert fills_left, (
                f"order {order_id}: STP cancel of {int(stps_left[0]['maker_id'])}, priority says {maker_id}"
            )
            f = fills_left.pop(0)
            assert int(f["maker_id"]) == maker_id, (
                f"order {order_id} hit {int(f['maker_id'])}, priority says {maker_id}"
            )
            assert (int(f["taker_id"]), int(f["taker_owner"]), int(f["aggressor_side"])) == (
                order_id,
                owner,
                side,
            )
            assert (int(f["maker_owner"]), int(f["price"])) == (m_owner, m_price), "maker owner / price"
            lots = int(f["qty"])
            assert 0 < lots <= min(m_qty, qty), "fill larger than the maker or the taker"
            assert int(f["maker_remaining"]) == m_qty - lots, "maker_remaining"
            qty -= lots
            self.lots_out += 2 * lots  # the taker's lots and the maker's
            if m_qty == lots:
                del self.orders[maker_id]
            else:
                self.orders[maker_id][3] -= lots
        taker[3] = qty
        if qty == 0:
            return
        reachable = self.makers_in_priority(-side, limit)
        if int(result["reason"]) == Reason.SELF_TRADE:
            own_next = stp == STP.CANCEL_INCOMING and reachable and reachable[0][1][0] == owner
            assert stopped or own_next, f"order {order_id} expired SELF_TRADE with no own maker in the way"
        else:
            assert not stopped, "STP stopped the order but the reason is not SELF_TRADE"
            assert not reachable, f"order {order_id} left matchable maker {reachable[:1]} on the book"

    def apply(self, cmd: tuple[int, ...], result: np.void, fills: Array, stps: Array) -> None:
        """Checks one command's result and records against the ledger, then updates it."""
        order_id, owner, price, qty, kind, side, stp = cmd
        status, reason = int(result["status"]), int(result["reason"])
        filled, resting = int(result["filled"]), int(result["resting"])
        assert int(fills["qty"].sum()) == filled, "fill lots != filled"
        expected = self.expected_input_error(cmd)
        if expected != Reason.NONE:
            assert (status, reason) == (REJECTED, expected), f"expected REJECTED {Reason(expected).name}"
        if status == REJECTED:
            assert len(fills) == 0 and len(stps) == 0 and filled == 0, "a rejected command changed the book"
            if expected == Reason.NONE:
                assert (kind, reason) in (
                    (Kind.POST_ONLY, Reason.POST_ONLY_WOULD_TAKE),
                    (Kind.FOK, Reason.FOK_UNFILLABLE),
                ), f"unexpected rejection {Reason(reason).name}"
                if kind == Kind.POST_ONLY:
                    assert self.makers_in_priority(-side, price), "POST_ONLY_WOULD_TAKE without crossing"
                else:
                    reach = self.fok_reachable([owner, side, price, qty, stp], price)
                    assert reach < qty, f"FOK_UNFILLABLE but {reach} lots reachable"
            return
        if kind == Kind.CANCEL or kind == Kind.REDUCE:
            assert len(fills) == 0 and len(stps) == 0 and filled == 0
            order = self.orders[order_id]
            cut = order[3] if kind == Kind.CANCEL else qty
            self.lots_out += cut
            order[3] -= cut
            if order[3] == 0:
                del self.orders[order_id]
                assert (status, resting) == (CANCELLED, 0), "cancel / reduce to zero"
            else:
                assert (status, resting) == (RESTING, order[3]), "reduce keeps the rest"
            return
        if kind == Kind.REPLACE:
            order = self.orders[order_id]
            if price == order[2] and qty <= order[3]:  # acts as a reduce, keeps its place
                assert len(fills) == 0 and len(stps) == 0 and filled == 0
                self.lots_out += order[3] - qty
                order[3] = qty
                assert (status, resting) == (RESTING, qty), "replace in place"
                return
            del self.orders[order_id]
            self.lots_out += order[3]
            taker = [order[0], order[1], price, qty, order[4]]
            kind = Kind.LIMIT
        else:
            taker = [owner, side, price, qty, stp]
            assert kind != Kind.POST_ONLY or len(fills) == len(stps) == 0, "a post-only order took"
        self.lots_in += qty
        self.take(cmd, taker, result, fills, stps)
        left = taker[3]
        assert filled == qty - left, "filled"
        if status == RESTING:
            assert kind in (Kind.LIMIT, Kind.POST_ONLY) and reason == Reason.NONE
            assert resting == left > 0, "resting != what is left"
            self.orders[order_id] = taker
        elif status == FILLED:
            assert left == 0 and resting == 0 and reason == Reason.NONE
        else:
            assert status == EXPIRED and resting == 0 and left > 0, f"status {status}"
            assert kind in (Kind.IOC, Kind.MARKET) or reason == Reason.SELF_TRADE, "only STP expires a limit"
            assert kind != Kind.FOK, "a FOK expired"
            self.lots_out += left

    def assert_matches(self, book: Any) -> None:
        """The book holds exactly the ledger's orders, in queue order, with consistent level totals."""
        rows = [(i, o[0], o[2], o[3], o[1], o[4]) for i, o in self.orders.items()]
        bids = sorted((r for r in rows if r[4] == BUY), key=lambda r: -r[2])  # stable: FIFO kept
        asks = sorted((r for r in rows if r[4] == SELL), key=lambda r: r[2])
        expected = np.array(bids + asks, dtype=SNAPSHOT_DTYPE)
        snap = book.snapshot()
        assert len(snap) == len(expected) and np.array_equal(snap, expected), "book != ledger"
        resting = sum(o[3] for o in self.orders.values())
        assert self.lots_in == self.lots_out + resting, "lots submitted not accounted for"
        for side in (BUY, SELL):
            prices, totals = book.depth(side, book.level_count(side) + 1)
            mine = snap[snap["side"] == side]
            assert int(totals.sum()) == int(mine["qty"].sum()), f"side {side}: level totals != resting orders"
            for p, t in zip(prices.tolist(), totals.tolist(), strict=True):
                assert book.volume_at(side, p) == t == int(mine["qty"][mine["price"] == p].sum())


def audit(cmds: Array, outputs: Outputs, book: Any) -> None:
    """Replays ``outputs`` against a :class:`Ledger`; ``book`` started empty and ran ``cmds``."""
    results, fills, stps = outputs
    check_cheap_properties(cmds, results, fills, "audit")
    ledger = Ledger()
    seq0 = int(results["seq"][0]) if len(results) else 0
    fill_at = np.searchsorted(fills["seq"], seq0 + np.arange(len(cmds) + 1))
    stp_at = np.searchsorted(stps["seq"], seq0 + np.arange(len(cmds) + 1))
    for i, cmd in enumerate(cmds.tolist()):
        try:
            ledger.apply(cmd, results[i], fills[fill_at[i] : fill_at[i + 1]], stps[stp_at[i] : stp_at[i + 1]])
        except AssertionError as exc:
            raise AssertionError(f"command {i} {describe(cmds[i])}: {exc}") from exc
    ledger.assert_matches(book)


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
