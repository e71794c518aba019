"""Unit tests of the book's state and its batch API, run on both books (reference and compiled).

Sequence numbers, queries, snapshot / restore, the per-call output buffers and
``execute`` (checked against a hand-computed script touching every kind and
outcome). Every expected value is computed by hand from docs/core.md; tuple
layouts are those described in book_helpers. The ``book`` fixture checks the
book's invariants after each test.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, ClassVar

import numpy as np
import pytest
from book_helpers import (
    BUY,
    CANCEL,
    FOK,
    IOC,
    LIMIT,
    MARKET,
    POST_ONLY,
    REDUCE,
    REPLACE,
    SELL,
    Cmd,
    call,
    checked_book,  # noqa: F401  (the `book` fixture: invariants checked after each test)
    command_array,
    fills,
    last,
    rest,
    snap,
    stp_cancels,
)

from lob.core.codes import (
    FILL_DTYPE,
    MAX_PRICE,
    MAX_QTY,
    NO_ASK,
    NO_BID,
    NO_SPREAD,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP,
    STP_CANCEL_DTYPE,
    Reason,
    Status,
    commands,
)
from lob.errors import OrderError, SnapshotError

# -- SEQUENCE NUMBERS AND RESULT FIELDS -------------------------------------------


class TestSequence:
    def test_seq_starts_at_zero_and_counts_every_command(self, book: Any) -> None:
        assert book.seq == 0
        book.limit(1, 10, SELL, 100, 5)  # seq 0
        with pytest.raises(OrderError):
            book.limit(-1, 10, SELL, 100, 5)  # seq 1, rejected
        book.ioc(2, 20, BUY, 100, 2)  # seq 2
        assert book.fok(3, 20, BUY, 100, 50) == Status.REJECTED  # seq 3, rejected outcome
        assert book.seq == 4
        assert fills(book) == [(2, 2, 1, 20, 10, 100, 2, 3, BUY)]
        results, _, _ = book.execute(
            command_array((CANCEL, 1, 0, BUY, 0, 0, 0), (CANCEL, 1, 0, BUY, 0, 0, 0))
        )
        assert results["seq"].tolist() == [4, 5]
        assert book.seq == 6

    def test_queries_and_snapshots_take_no_seq(self, book: Any) -> None:
        rest(book, (1, 10, SELL, 100, 5))
        _ = (book.best_ask(), book.depth(SELL, 3), book.snapshot(), book.take_fills(), len(book))
        book.restore(book.snapshot())
        book.clear()
        assert book.seq == 1


# -- QUERIES ---------------------------------------------------------------------------------


class TestQueries:
    def test_empty_book(self, book: Any) -> None:
        assert (book.best_bid(), book.best_ask(), book.spread()) == (NO_BID, NO_ASK, NO_SPREAD)
        assert math.isnan(book.mid())
        assert (book.volume_at(BUY, 100), book.volume_at(SELL, 100)) == (0, 0)
        for side in (BUY, SELL):
            prices, qtys = book.depth(side, 5)
            assert (prices.dtype, qtys.dtype, len(prices), len(qtys)) == (np.int64, np.int64, 0, 0)
            assert book.level_count(side) == 0
        assert (len(book), book.order_count, 0 in book, book.fill_count) == (0, 0, False, 0)
        assert book.snapshot().dtype == SNAPSHOT_DTYPE and len(book.snapshot()) == 0
        assert book.memory_bytes() >= 0

    @pytest.mark.parametrize("side", [BUY, SELL])
    def test_one_sided_book(self, book: Any, side: int) -> None:
        rest(book, (1, 11, side, 100, 5))
        assert book.spread() == NO_SPREAD
        assert math.isnan(book.mid())
        assert (book.best_bid(), book.best_ask()) == ((100, NO_ASK) if side == BUY else (NO_BID, 100))

    def test_two_sided_book(self, book: Any) -> None:
        rest(
            book,
            (1, 11, BUY, 100, 3),
            (2, 12, BUY, 98, 5),
            (3, 13, BUY, 100, 4),
            (4, 14, SELL, 104, 6),
            (5, 15, SELL, 103, 1),
        )
        assert (book.best_bid(), book.best_ask(), book.spread(), book.mid()) == (100, 103, 3, 101.5)
        assert (book.volume_at(BUY, 100), book.volume_at(BUY, 98), book.volume_at(BUY, 99)) == (7, 5, 0)
        assert (book.volume_at(SELL, 100), book.volume_at(SELL, 104)) == (0, 6)
        prices, qtys = book.depth(BUY, 10)
        assert (prices.tolist(), qtys.tolist()) == ([100, 98], [7, 5])
        assert (prices.dtype, qtys.dtype) == (np.int64, np.int64)
        prices, qtys = book.depth(SELL, 1)
        assert (prices.tolist(), qtys.tolist()) == ([103], [1])
        assert [len(a) for a in book.depth(SELL, 0)] == [0, 0]
        assert (book.level_count(BUY), book.level_count(SELL)) == (2, 2)
        assert (len(book), book.order_count) == (5, 5)
        assert (3 in book, 6 in book, -1 in book, "3" in book) == (True, False, False, False)
        assert (book.order_qty(2), book.order_price(2), book.order_side(2), book.order_owner(2)) == (
            5,
            98,
            BUY,
            12,
        )
        assert book.memory_bytes() > 0

    def test_mid_is_a_float(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 100, 1), (2, 12, SELL, 102, 1))
        assert isinstance(book.mid(), float) and book.mid() == 101.0
        book.cancel(2)
        rest(book, (3, 12, SELL, 101, 1))
        assert book.mid() == 100.5

    @pytest.mark.parametrize("query", ["order_qty", "order_price", "order_side", "order_owner"])
    def test_order_queries_on_unknown_ids_raise(self, book: Any, query: str) -> None:
        rest(book, (1, 11, BUY, 100, 1))
        book.cancel(1)
        for order_id in (1, 99):
            with pytest.raises(OrderError) as err:
                getattr(book, query)(order_id)
            assert (err.value.reason, err.value.order_id) == (Reason.UNKNOWN_ORDER_ID, order_id)

    def test_len_and_contains_follow_adds_and_removals(self, book: Any) -> None:
        rest(book, (0, -3, BUY, 100, 2), (5, 4, SELL, 101, 2))  # id 0 and a negative owner are valid
        assert (len(book), 0 in book, 5 in book, book.order_owner(0)) == (2, True, True, -3)
        book.ioc(6, 4, BUY, 101, 2)
        assert (len(book), 5 in book, 6 in book) == (1, False, False)

    def test_extreme_prices_and_quantities(self, book: Any) -> None:
        rest(book, (1, 11, SELL, MAX_PRICE, MAX_QTY), (2, 12, BUY, 1, MAX_QTY))
        assert (book.best_ask(), book.best_bid(), book.spread()) == (MAX_PRICE, 1, MAX_PRICE - 1)
        assert book.volume_at(SELL, MAX_PRICE) == MAX_QTY
        assert book.market(3, 20, BUY, MAX_QTY, protection=MAX_PRICE) == Status.FILLED
        assert fills(book) == [(2, 3, 1, 20, 11, MAX_PRICE, MAX_QTY, 0, BUY)]

    def test_capacity_is_only_a_hint(self, book_cls: type) -> None:
        book = book_cls(capacity=1)
        for i in range(300):
            assert book.limit(i, i, SELL, 1000 + i, 1) == Status.RESTING
        assert (len(book), book.level_count(SELL)) == (300, 300)
        book.check_invariants()
        assert book.market(1000, 1, BUY, 300) == Status.FILLED
        assert (len(book), book.fill_count) == (0, 300)
        book.check_invariants()

    def test_clear_removes_orders_and_keeps_seq_and_buffers(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, BUY, 90, 5))
        book.ioc(3, 20, BUY, 100, 1)
        book.clear()
        assert (len(book), book.level_count(BUY), book.level_count(SELL)) == (0, 0, 0)
        assert (book.best_bid(), book.best_ask(), book.seq, book.fill_count) == (NO_BID, NO_ASK, 3, 1)
        rest(book, (1, 11, SELL, 100, 5))  # ids are free again


# -- SNAPSHOT AND RESTORE ----------------------------------------------------------------------

SNAP_ORDERS = (  # (order_id, owner, side, price, qty, stp), in arrival order
    (1, 11, BUY, 100, 3, STP.NONE),
    (2, 12, BUY, 101, 4, STP.CANCEL_RESTING),
    (3, 13, BUY, 100, 5, STP.CANCEL_INCOMING),
    (4, 14, SELL, 103, 6, STP.CANCEL_BOTH),
    (5, 15, SELL, 102, 7, STP.NONE),
    (6, 16, SELL, 103, 1, STP.NONE),
)
SNAP_ROWS = [  # bids best first, then asks best first, FIFO within a level
    (2, 12, 101, 4, BUY, 1),
    (1, 11, 100, 3, BUY, 0),
    (3, 13, 100, 5, BUY, 2),
    (5, 15, 102, 7, SELL, 0),
    (4, 14, 103, 6, SELL, 3),
    (6, 16, 103, 1, SELL, 0),
]
# A sell IOC (id 20, owner 30) for 10 lots @100 then takes, without seq:
SNAP_TAKER_FILLS = [
    (20, 2, 30, 12, 101, 4, 0, SELL),
    (20, 1, 30, 11, 100, 3, 0, SELL),
    (20, 3, 30, 13, 100, 3, 2, SELL),
]


def snapshot_array(*rows: tuple[int, int, int, int, int, int]) -> np.ndarray:
    return np.array(list(rows), dtype=SNAPSHOT_DTYPE)


class TestSnapshot:
    def fill(self, book: Any) -> None:
        for order_id, owner, side, price, qty, stp in SNAP_ORDERS:
            assert book.limit(order_id, owner, side, price, qty, stp) == Status.RESTING

    def test_layout(self, book: Any) -> None:
        self.fill(book)
        out = book.snapshot()
        assert out.dtype == SNAPSHOT_DTYPE
        assert out.tolist() == SNAP_ROWS

    def test_shows_remaining_quantities(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.ioc(2, 20, BUY, 100, 2)
        assert snap(book) == [(1, 11, 100, 3, SELL, 0)]

    def test_restore_reproduces_the_book_and_its_future_matching(self, book: Any, book_cls: type) -> None:
        self.fill(book)
        other = book_cls()
        rest(other, (99, 1, BUY, 50, 1))  # replaced by the restore
        other.restore(book.snapshot())
        assert snap(other) == SNAP_ROWS
        assert (99 in other, len(other), other.seq) == (False, 6, 1)
        other.check_invariants()
        for b in (book, other):
            assert b.ioc(20, 30, SELL, 100, 10) == Status.FILLED
            assert [f[1:] for f in fills(b)] == SNAP_TAKER_FILLS
            assert snap(b) == [(3, 13, 100, 2, BUY, 2), *SNAP_ROWS[3:]]

    def test_restored_orders_keep_their_stp_mode(self, book: Any) -> None:
        book.restore(snapshot_array((1, 5, 99, 4, BUY, 3), (2, 5, 100, 2, SELL, 0), (3, 6, 100, 1, SELL, 0)))
        assert book.replace(1, 100, 4) == Status.EXPIRED  # CANCEL_BOTH against its own ask
        assert last(book) == (Status.EXPIRED, Reason.SELF_TRADE, 0, 0)
        assert stp_cancels(book) == [(0, 1, 2, 5, 100, 2, SELL)]

    def test_from_snapshot(self, book: Any, book_cls: type) -> None:
        self.fill(book)
        other = book_cls.from_snapshot(book.snapshot())
        assert isinstance(other, book_cls)
        assert (snap(other), other.seq, other.fill_count) == (SNAP_ROWS, 0, 0)
        other.check_invariants()

    def test_queues_are_rebuilt_in_row_order(self, book: Any) -> None:
        book.restore(snapshot_array((7, 1, 100, 2, SELL, 0), (3, 2, 100, 2, SELL, 0), (5, 3, 99, 1, BUY, 0)))
        assert snap(book) == [(5, 3, 99, 1, BUY, 0), (7, 1, 100, 2, SELL, 0), (3, 2, 100, 2, SELL, 0)]
        assert book.ioc(9, 4, BUY, 100, 3) == Status.FILLED
        assert [f[2] for f in fills(book)] == [7, 3]

    def test_restore_keeps_seq_and_buffers(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 5, SELL, 100, 1))
        book.ioc(3, 20, BUY, 100, 1)
        book.ioc(4, 5, BUY, 100, 5, STP.CANCEL_RESTING)
        book.restore(snapshot_array((8, 1, 100, 2, SELL, 0)))
        assert (book.seq, book.fill_count, len(stp_cancels(book))) == (4, 2, 1)
        assert snap(book) == [(8, 1, 100, 2, SELL, 0)]

    def test_an_empty_snapshot_empties_the_book(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.restore(np.zeros(0, dtype=SNAPSHOT_DTYPE))
        assert (len(book), book.best_ask()) == (0, NO_ASK)

    # Rows 0 and 1 are good (bid id 1 @100, ask id 2 @105); row 2 is the bad one.
    BAD_ROWS: ClassVar[dict[str, tuple[int, ...]]] = {
        "qty-zero": (3, 1, 101, 0, BUY, 0),
        "qty-negative": (3, 1, 101, -1, BUY, 0),
        "qty-above-max": (3, 1, 101, MAX_QTY + 1, BUY, 0),
        "price-zero": (3, 1, 0, 1, BUY, 0),
        "price-negative": (3, 1, -1, 1, BUY, 0),
        "price-above-max": (3, 1, MAX_PRICE + 1, 1, SELL, 0),
        "side-zero": (3, 1, 101, 1, 0, 0),
        "side-two": (3, 1, 101, 1, 2, 0),
        "stp-four": (3, 1, 101, 1, BUY, 4),
        "stp-negative": (3, 1, 101, 1, BUY, -1),
        "negative-id": (-1, 1, 101, 1, BUY, 0),
        "duplicate-id": (1, 1, 101, 1, BUY, 0),
        "crossed-bid-at-ask": (3, 1, 105, 1, BUY, 0),
        "crossed-ask-below-bid": (3, 1, 99, 1, SELL, 0),
    }

    @pytest.mark.parametrize("bad_row", BAD_ROWS.values(), ids=BAD_ROWS.keys())
    def test_bad_snapshot_raises_naming_the_row_and_changes_nothing(
        self, book: Any, bad_row: tuple[int, ...]
    ) -> None:
        rest(book, (50, 9, SELL, 90, 4))
        book.ioc(51, 8, BUY, 90, 1)
        before = snap(book)
        rows = snapshot_array((1, 11, 100, 5, BUY, 0), (2, 12, 105, 5, SELL, 0), bad_row)
        with pytest.raises(SnapshotError) as err:
            book.restore(rows)
        assert (snap(book), book.seq, book.fill_count) == (before, 2, 1)
        with pytest.raises(SnapshotError):
            type(book).from_snapshot(rows)
        assert "row 2" in str(err.value)

    def test_a_wrong_dtype_raises(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        with pytest.raises(SnapshotError):
            book.restore(np.zeros(2, dtype=np.int64))
        assert len(book) == 1


# -- BUFFERS AND THE BATCH API -----------------------------------------------------------------


class TestBuffers:
    def test_take_fills_empties_the_buffer(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.ioc(2, 20, BUY, 100, 1)
        book.ioc(3, 21, BUY, 100, 1)
        assert book.fill_count == 2
        out = book.take_fills()
        assert out.dtype == FILL_DTYPE
        assert out.tolist() == [(1, 2, 1, 20, 11, 100, 1, 4, BUY), (2, 3, 1, 21, 11, 100, 1, 3, BUY)]
        assert book.fill_count == 0
        again = book.take_fills()
        assert (again.dtype, len(again)) == (FILL_DTYPE, 0)

    def test_fill_tuples_does_not_empty_the_buffer(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.ioc(2, 20, BUY, 100, 2)
        expected = [(1, 2, 1, 20, 11, 100, 2, 3, BUY)]
        assert book.fill_tuples() == expected
        assert all(type(v) is int for v in book.fill_tuples()[0])
        assert book.fill_count == 1
        assert fills(book) == expected
        assert book.fill_tuples() == []

    def test_take_fill_tuples_empties_the_buffer(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.ioc(2, 20, BUY, 100, 2)
        book.ioc(3, 21, BUY, 100, 1)
        out = book.take_fill_tuples()
        assert out == [(1, 2, 1, 20, 11, 100, 2, 3, BUY), (2, 3, 1, 21, 11, 100, 1, 2, BUY)]
        assert all(type(v) is int for v in out[0])
        assert book.fill_count == 0
        assert book.take_fill_tuples() == []
        book.ioc(4, 20, BUY, 100, 1)
        assert book.take_fill_tuples() == [(3, 4, 1, 20, 11, 100, 1, 1, BUY)]

    def test_take_stp_cancels_empties_the_buffer(self, book: Any) -> None:
        rest(book, (1, 5, SELL, 100, 2))
        book.ioc(2, 5, BUY, 100, 1, STP.CANCEL_RESTING)
        out = book.take_stp_cancels()
        assert out.dtype == STP_CANCEL_DTYPE
        assert out.tolist() == [(1, 2, 1, 5, 100, 2, SELL)]
        again = book.take_stp_cancels()
        assert (again.dtype, len(again)) == (STP_CANCEL_DTYPE, 0)


# A script touching every kind, outcome and rejection, with its hand-computed results
# (seq, filled, resting, status, reason); the book ends empty.
SCRIPT: list[tuple[Cmd, tuple[int, int, int, int, int]]] = [
    ((LIMIT, 1, 11, SELL, 100, 5, 0), (0, 0, 5, Status.RESTING, Reason.NONE)),
    ((LIMIT, 2, 12, SELL, 101, 5, 0), (1, 0, 5, Status.RESTING, Reason.NONE)),
    ((LIMIT, 3, 13, BUY, 99, 4, 0), (2, 0, 4, Status.RESTING, Reason.NONE)),
    ((IOC, 4, 21, BUY, 100, 3, 0), (3, 3, 0, Status.FILLED, Reason.NONE)),
    ((LIMIT, 5, 12, BUY, 101, 6, STP.CANCEL_RESTING), (4, 2, 4, Status.RESTING, Reason.NONE)),
    ((FOK, 6, 31, SELL, 99, 9, 0), (5, 0, 0, Status.REJECTED, Reason.FOK_UNFILLABLE)),
    ((POST_ONLY, 7, 31, SELL, 101, 2, 0), (6, 0, 0, Status.REJECTED, Reason.POST_ONLY_WOULD_TAKE)),
    ((POST_ONLY, 8, 31, SELL, 102, 2, 0), (7, 0, 2, Status.RESTING, Reason.NONE)),
    ((MARKET, 9, 41, SELL, 100, 6, 0), (8, 4, 0, Status.EXPIRED, Reason.NONE)),
    ((REDUCE, 3, 0, BUY, 0, 1, 0), (9, 0, 3, Status.RESTING, Reason.NONE)),
    ((REPLACE, 3, 0, BUY, 102, 3, 0), (10, 2, 1, Status.RESTING, Reason.NONE)),
    ((CANCEL, 99, 0, BUY, 0, 0, 0), (11, 0, 0, Status.REJECTED, Reason.UNKNOWN_ORDER_ID)),
    ((LIMIT, 10, 13, SELL, 102, 1, STP.CANCEL_BOTH), (12, 0, 0, Status.EXPIRED, Reason.SELF_TRADE)),
    ((REDUCE, 1, 0, BUY, 0, 1, 0), (13, 0, 0, Status.REJECTED, Reason.UNKNOWN_ORDER_ID)),
    ((LIMIT, 11, 0, 0, 100, 1, 0), (14, 0, 0, Status.REJECTED, Reason.INVALID_SIDE)),
    ((LIMIT, 12, 50, BUY, 98, 7, 0), (15, 0, 7, Status.RESTING, Reason.NONE)),
    ((CANCEL, 12, 0, BUY, 0, 0, 0), (16, 0, 0, Status.CANCELLED, Reason.NONE)),
    ((9, 13, 0, BUY, 0, 1, 0), (17, 0, 0, Status.REJECTED, Reason.INVALID_KIND)),
]
SCRIPT_FILLS = [
    (3, 4, 1, 21, 11, 100, 3, 2, BUY),
    (4, 5, 1, 12, 11, 100, 2, 0, BUY),
    (8, 9, 5, 41, 12, 101, 4, 0, SELL),
    (10, 3, 8, 13, 31, 102, 2, 0, BUY),
]
SCRIPT_STP_CANCELS = [(4, 5, 2, 12, 101, 5, SELL), (12, 10, 3, 13, 102, 1, BUY)]


class TestExecute:
    def test_batch_and_per_call_paths_agree_with_the_hand_computed_script(
        self, book: Any, book_cls: type
    ) -> None:
        expected = [result for _, result in SCRIPT]
        results, batch_fills, batch_cancels = book.execute(command_array(*(cmd for cmd, _ in SCRIPT)))
        assert results.tolist() == expected
        assert batch_fills.dtype == FILL_DTYPE and batch_fills.tolist() == SCRIPT_FILLS
        assert batch_cancels.dtype == STP_CANCEL_DTYPE and batch_cancels.tolist() == SCRIPT_STP_CANCELS
        assert (book.seq, len(book), book.fill_count) == (18, 0, 0)

        per_call = book_cls()
        seen = []
        for cmd, _ in SCRIPT:
            with contextlib.suppress(OrderError):
                call(per_call, cmd)
            seen.append((per_call.seq - 1, per_call.last_filled, per_call.last_resting, *last(per_call)[:2]))
        assert seen == expected
        assert (fills(per_call), stp_cancels(per_call)) == (SCRIPT_FILLS, SCRIPT_STP_CANCELS)
        per_call.check_invariants()

    def test_batch_leaves_the_per_call_buffers_alone(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (3, 20, SELL, 101, 2))
        book.ioc(2, 20, BUY, 100, 1)  # seq 2
        book.ioc(4, 20, BUY, 101, 5, STP.CANCEL_RESTING)  # seq 3
        batch = command_array(
            (LIMIT, 5, 30, SELL, 100, 3, 0),
            (LIMIT, 6, 31, SELL, 100, 1, 0),
            (IOC, 7, 30, BUY, 100, 4, STP.CANCEL_RESTING),
        )
        results, batch_fills, batch_cancels = book.execute(batch)
        assert results["status"].tolist() == [Status.RESTING, Status.RESTING, Status.EXPIRED]
        assert batch_fills.tolist() == [(6, 7, 6, 30, 31, 100, 1, 0, BUY)]
        assert batch_cancels.tolist() == [(6, 7, 5, 30, 100, 3, SELL)]
        assert book.fill_tuples() == [(2, 2, 1, 20, 11, 100, 1, 4, BUY), (3, 4, 1, 20, 11, 100, 4, 0, BUY)]
        assert stp_cancels(book) == [(3, 4, 3, 20, 101, 2, SELL)]

    def test_check_mode_runs_clean(self, book: Any) -> None:
        results, _, _ = book.execute(command_array(*(cmd for cmd, _ in SCRIPT)), check=True)
        assert len(results) == len(SCRIPT)

    def test_an_empty_batch(self, book: Any) -> None:
        results, batch_fills, batch_cancels = book.execute(commands(0))
        assert (results.dtype, batch_fills.dtype, batch_cancels.dtype) == (
            RESULT_DTYPE,
            FILL_DTYPE,
            STP_CANCEL_DTYPE,
        )
        assert (len(results), len(batch_fills), len(batch_cancels), book.seq) == (0, 0, 0, 0)
