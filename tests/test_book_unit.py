"""Unit tests of the matching core, run on both books (reference and compiled).

Every expected value is computed by hand from docs/core.md. Fill tuples are in
FILL_DTYPE order: (seq, taker_id, maker_id, taker_owner, maker_owner, price, qty,
maker_remaining, aggressor_side); STP-cancel tuples in STP_CANCEL_DTYPE order:
(seq, taker_id, maker_id, maker_owner, price, qty, maker_side); snapshot tuples in
SNAPSHOT_DTYPE order: (order_id, owner, price, qty, side, stp). Prices are ticks,
quantities lots. The ``book`` fixture checks the book's invariants after each test.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest

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
    Kind,
    Reason,
    Side,
    Status,
    commands,
)
from lob.errors import OrderError, SnapshotError

BUY = int(Side.BUY)
SELL = int(Side.SELL)
LIMIT, IOC, FOK, POST_ONLY, MARKET = Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET
CANCEL, REDUCE, REPLACE = Kind.CANCEL, Kind.REDUCE, Kind.REPLACE

#: One command as (kind, order_id, owner, side, price, qty, stp).
Cmd = tuple[int, int, int, int, int, int, int]


@pytest.fixture
def book(book: Any) -> Iterator[Any]:
    """The conftest book (each implementation in turn), invariants checked at the end."""
    yield book
    book.check_invariants()


# -- HELPERS --------------------------------------------------------------------


def rest(book: Any, *orders: tuple[int, int, int, int, int]) -> None:
    """Places (order_id, owner, side, price, qty) limit orders that must rest untouched."""
    for order_id, owner, side, price, qty in orders:
        assert book.limit(order_id, owner, side, price, qty) == Status.RESTING
        assert book.last_filled == 0


def fills(book: Any) -> list[tuple[int, ...]]:
    return book.take_fills().tolist()


def stp_cancels(book: Any) -> list[tuple[int, ...]]:
    return book.take_stp_cancels().tolist()


def snap(book: Any) -> list[tuple[int, ...]]:
    return book.snapshot().tolist()


def last(book: Any) -> tuple[int, int, int, int]:
    """(status, reason, filled, resting) of the book's last command."""
    return (book.last_status, book.last_reason, book.last_filled, book.last_resting)


def command_array(*rows: Cmd) -> np.ndarray:
    out = commands(len(rows))
    for i, (kind, order_id, owner, side, price, qty, stp) in enumerate(rows):
        out[i] = (order_id, owner, price, qty, kind, side, stp)
    return out


def call(book: Any, cmd: Cmd) -> int:
    """Runs ``cmd`` through the named per-call method of its kind (``submit`` for a bad kind)."""
    kind, order_id, owner, side, price, qty, stp = cmd
    if kind == LIMIT:
        return book.limit(order_id, owner, side, price, qty, stp)
    if kind == IOC:
        return book.ioc(order_id, owner, side, price, qty, stp)
    if kind == FOK:
        return book.fok(order_id, owner, side, price, qty, stp)
    if kind == POST_ONLY:
        return book.post_only(order_id, owner, side, price, qty, stp)
    if kind == MARKET:
        return book.market(order_id, owner, side, qty, price, stp)
    if kind == CANCEL:
        return book.cancel(order_id)
    if kind == REDUCE:
        return book.reduce(order_id, qty)
    if kind == REPLACE:
        return book.replace(order_id, price, qty)
    return book.submit(kind, order_id, owner, side, price, qty, stp)


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


# -- LIMIT ORDERS -----------------------------------------------------------------


class TestLimit:
    def test_rests_when_nothing_to_take(self, book: Any) -> None:
        assert book.limit(7, 42, BUY, 100, 10) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 10)
        assert (book.best_bid(), book.volume_at(BUY, 100)) == (100, 10)
        assert (book.order_qty(7), book.order_price(7), book.order_side(7), book.order_owner(7)) == (
            10,
            100,
            BUY,
            42,
        )
        assert fills(book) == []

    def test_fully_filled_trades_at_the_maker_price(self, book: Any) -> None:
        rest(book, (1, 10, SELL, 100, 5))
        assert book.limit(2, 20, BUY, 103, 5) == Status.FILLED
        assert last(book) == (Status.FILLED, Reason.NONE, 5, 0)
        assert fills(book) == [(1, 2, 1, 20, 10, 100, 5, 0, BUY)]
        assert 1 not in book and 2 not in book
        assert (len(book), book.level_count(SELL), book.level_count(BUY)) == (0, 0, 0)

    def test_sweeps_several_levels_and_rests_the_remainder(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 101, 3), (3, 13, SELL, 102, 4))
        assert book.limit(9, 20, BUY, 101, 10) == Status.RESTING  # seq 3
        assert last(book) == (Status.RESTING, Reason.NONE, 8, 2)
        assert fills(book) == [
            (3, 9, 1, 20, 11, 100, 5, 0, BUY),
            (3, 9, 2, 20, 12, 101, 3, 0, BUY),
        ]
        assert (book.best_bid(), book.volume_at(BUY, 101), book.best_ask()) == (101, 2, 102)
        assert (book.order_qty(9), book.order_price(9)) == (2, 101)
        assert (book.level_count(SELL), book.order_count) == (1, 2)

    def test_sell_sweep_leaves_a_partly_filled_maker(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 102, 4), (2, 12, BUY, 101, 6), (3, 13, BUY, 99, 1))
        assert book.limit(8, 30, SELL, 100, 7) == Status.FILLED  # seq 3
        assert last(book) == (Status.FILLED, Reason.NONE, 7, 0)
        assert fills(book) == [
            (3, 8, 1, 30, 11, 102, 4, 0, SELL),
            (3, 8, 2, 30, 12, 101, 3, 3, SELL),
        ]
        assert (book.order_qty(2), book.best_bid(), book.volume_at(BUY, 101)) == (3, 101, 3)

    def test_fifo_within_a_level(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 3), (2, 12, SELL, 100, 3), (3, 13, SELL, 100, 3))
        assert book.ioc(4, 20, BUY, 100, 4) == Status.FILLED  # seq 3
        assert fills(book) == [
            (3, 4, 1, 20, 11, 100, 3, 0, BUY),
            (3, 4, 2, 20, 12, 100, 1, 2, BUY),
        ]
        assert snap(book) == [(2, 12, 100, 2, SELL, 0), (3, 13, 100, 3, SELL, 0)]

    def test_does_not_trade_through_its_price(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 101, 5))
        assert book.limit(2, 20, BUY, 100, 5) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 5)
        assert (book.spread(), book.fill_count) == (1, 0)


# -- IOC ----------------------------------------------------------------------------


class TestIOC:
    def test_remainder_expires(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 102, 5))
        assert book.ioc(3, 20, BUY, 101, 8) == Status.EXPIRED  # seq 2
        assert last(book) == (Status.EXPIRED, Reason.NONE, 5, 0)
        assert fills(book) == [(2, 3, 1, 20, 11, 100, 5, 0, BUY)]
        assert 3 not in book
        assert (book.best_bid(), book.best_ask(), book.volume_at(SELL, 102)) == (NO_BID, 102, 5)

    def test_fully_filled(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        assert book.ioc(3, 20, BUY, 100, 2) == Status.FILLED
        assert last(book) == (Status.FILLED, Reason.NONE, 2, 0)
        assert book.order_qty(1) == 3

    def test_nothing_to_take_expires_with_zero_filled(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 101, 5))
        assert book.ioc(3, 20, BUY, 100, 2) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.NONE, 0, 0)
        assert (len(book), book.fill_count) == (1, 0)


# -- FOK ------------------------------------------------------------------------------


class TestFOK:
    ASKS = ((1, 11, SELL, 100, 3), (2, 12, SELL, 101, 4), (3, 13, SELL, 102, 9))

    def test_fills_when_exactly_enough(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.fok(5, 20, BUY, 101, 7) == Status.FILLED  # seq 3
        assert last(book) == (Status.FILLED, Reason.NONE, 7, 0)
        assert fills(book) == [(3, 5, 1, 20, 11, 100, 3, 0, BUY), (3, 5, 2, 20, 12, 101, 4, 0, BUY)]
        assert snap(book) == [(3, 13, 102, 9, SELL, 0)]

    def test_one_lot_short_is_rejected_and_changes_nothing(self, book: Any) -> None:
        rest(book, *self.ASKS)  # 102 has 9 more lots, but beyond the FOK's price
        before = snap(book)
        assert book.fok(5, 20, BUY, 101, 8) == Status.REJECTED
        assert last(book) == (Status.REJECTED, Reason.FOK_UNFILLABLE, 0, 0)
        assert snap(book) == before
        assert (book.fill_count, book.seq, 5 in book) == (0, 4, False)

    def test_sell_fills_exactly(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 100, 2), (2, 12, BUY, 99, 2))
        assert book.fok(3, 20, SELL, 99, 4) == Status.FILLED
        assert fills(book) == [(2, 3, 1, 20, 11, 100, 2, 0, SELL), (2, 3, 2, 20, 12, 99, 2, 0, SELL)]

    # Asks: id 1 (owner 11, 3 lots @100), id 2 (own, 2 @100), id 3 (owner 13, 4 @101); taker owner 20.
    STP_ASKS = ((1, 11, SELL, 100, 3), (2, 20, SELL, 100, 2), (3, 13, SELL, 101, 4))
    STP_CASES: ClassVar[dict[STP, tuple[int, list[tuple[int, ...]], list[tuple[int, ...]]]]] = {
        # mode: (lots it can take, fills of a FOK for exactly that, STP cancels it writes)
        STP.NONE: (9, [(1, 11, 100, 3), (2, 20, 100, 2), (3, 13, 101, 4)], []),
        STP.CANCEL_RESTING: (7, [(1, 11, 100, 3), (3, 13, 101, 4)], [(3, 5, 2, 20, 100, 2, SELL)]),
        STP.CANCEL_INCOMING: (3, [(1, 11, 100, 3)], []),
        STP.CANCEL_BOTH: (3, [(1, 11, 100, 3)], []),
    }

    @pytest.mark.parametrize("stp", list(STP))
    def test_fills_what_stp_lets_it_take(self, book: Any, stp: STP) -> None:
        rest(book, *self.STP_ASKS)
        fillable, expected_fills, expected_cancels = self.STP_CASES[stp]
        assert book.fok(5, 20, BUY, 101, fillable, stp) == Status.FILLED  # seq 3
        assert last(book) == (Status.FILLED, Reason.NONE, fillable, 0)
        assert fills(book) == [
            (3, 5, maker, 20, owner, price, qty, 0, BUY) for maker, owner, price, qty in expected_fills
        ]
        assert stp_cancels(book) == expected_cancels
        # Under CANCEL_INCOMING / CANCEL_BOTH the FOK is filled before it reaches its own order.
        assert (2 in book) == (stp in (STP.CANCEL_INCOMING, STP.CANCEL_BOTH))

    @pytest.mark.parametrize("stp", list(STP))
    def test_one_lot_more_than_stp_allows_changes_nothing(self, book: Any, stp: STP) -> None:
        rest(book, *self.STP_ASKS)
        before = snap(book)
        fillable = self.STP_CASES[stp][0]
        assert book.fok(5, 20, BUY, 101, fillable + 1, stp) == Status.REJECTED
        assert last(book) == (Status.REJECTED, Reason.FOK_UNFILLABLE, 0, 0)
        assert snap(book) == before
        assert (fills(book), stp_cancels(book)) == ([], [])


# -- POST-ONLY ------------------------------------------------------------------------


class TestPostOnly:
    def test_rests_when_it_would_not_take(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 100, 5), (2, 12, SELL, 105, 5))
        assert book.post_only(3, 12, BUY, 104, 6) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 6)
        assert book.post_only(4, 11, SELL, 105, 2) == Status.RESTING
        assert (book.best_bid(), book.best_ask(), book.volume_at(SELL, 105)) == (104, 105, 7)
        assert book.fill_count == 0

    def test_rests_on_an_empty_book(self, book: Any) -> None:
        assert book.post_only(1, 11, SELL, 100, 5) == Status.RESTING
        assert book.best_ask() == 100

    @pytest.mark.parametrize(
        ("side", "price", "owner"),
        [(BUY, 105, 20), (BUY, 106, 20), (BUY, 105, 12), (SELL, 100, 20), (SELL, 99, 20), (SELL, 100, 11)],
        ids=["buy-at-ask", "buy-above-ask", "buy-own-ask", "sell-at-bid", "sell-below-bid", "sell-own-bid"],
    )
    def test_would_take_is_rejected_and_changes_nothing(
        self, book: Any, side: int, price: int, owner: int
    ) -> None:
        rest(book, (1, 11, BUY, 100, 5), (2, 12, SELL, 105, 5))
        before = snap(book)
        assert book.post_only(3, owner, side, price, 4) == Status.REJECTED
        assert last(book) == (Status.REJECTED, Reason.POST_ONLY_WOULD_TAKE, 0, 0)
        assert (snap(book), book.fill_count, 3 in book, book.seq) == (before, 0, False, 3)


# -- MARKET ---------------------------------------------------------------------------


class TestMarket:
    @pytest.mark.parametrize("side", [BUY, SELL])
    def test_into_an_empty_side_expires_unfilled(self, book: Any, side: int) -> None:
        rest(book, (1, 11, side, 100, 5))  # only the market order's own side has orders
        assert book.market(2, 20, side, 3) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.NONE, 0, 0)
        assert (book.fill_count, len(book), 2 in book) == (0, 1, False)

    def test_sweeps_the_side_then_expires(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 2), (2, 12, SELL, 105, 3))
        assert book.market(3, 20, BUY, 10) == Status.EXPIRED  # seq 2
        assert last(book) == (Status.EXPIRED, Reason.NONE, 5, 0)
        assert fills(book) == [(2, 3, 1, 20, 11, 100, 2, 0, BUY), (2, 3, 2, 20, 12, 105, 3, 0, BUY)]
        assert (len(book), book.best_ask()) == (0, NO_ASK)

    def test_fully_filled(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 100, 2), (2, 12, BUY, 90, 3))
        assert book.market(3, 20, SELL, 4) == Status.FILLED
        assert last(book) == (Status.FILLED, Reason.NONE, 4, 0)
        assert fills(book) == [(2, 3, 1, 20, 11, 100, 2, 0, SELL), (2, 3, 2, 20, 12, 90, 2, 1, SELL)]

    def test_buy_protection_stops_before_a_worse_level(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 2), (2, 12, SELL, 101, 3), (3, 13, SELL, 103, 4))
        assert book.market(9, 20, BUY, 10, protection=101) == Status.EXPIRED  # seq 3
        assert last(book) == (Status.EXPIRED, Reason.NONE, 5, 0)
        assert fills(book) == [(3, 9, 1, 20, 11, 100, 2, 0, BUY), (3, 9, 2, 20, 12, 101, 3, 0, BUY)]
        assert snap(book) == [(3, 13, 103, 4, SELL, 0)]

    def test_sell_protection_stops_before_a_worse_level(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 100, 2), (2, 12, BUY, 99, 3), (3, 13, BUY, 97, 4))
        assert book.market(9, 20, SELL, 10, protection=99) == Status.EXPIRED  # seq 3
        assert last(book) == (Status.EXPIRED, Reason.NONE, 5, 0)
        assert fills(book) == [(3, 9, 1, 20, 11, 100, 2, 0, SELL), (3, 9, 2, 20, 12, 99, 3, 0, SELL)]
        assert snap(book) == [(3, 13, 97, 4, BUY, 0)]

    def test_protection_better_than_the_touch_takes_nothing(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 2))
        assert book.market(9, 20, BUY, 1, protection=99) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.NONE, 0, 0)
        assert book.volume_at(SELL, 100) == 2

    def test_submit_passes_price_as_protection(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 2), (2, 12, SELL, 101, 3), (3, 13, SELL, 103, 4))
        assert book.submit(MARKET, 9, 20, BUY, 101, 10) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.NONE, 5, 0)
        assert book.volume_at(SELL, 103) == 4


# -- SELF-TRADE PREVENTION ---------------------------------------------------------------


class TestSelfTradePrevention:
    # Asks: id 1 (owner 7, 2 lots @100), id 2 (owner 5, 3 @100), id 3 (owner 8, 4 @101).
    # The taker is id 50 of owner 5: a buy limit for 10 lots @101, seq 3.
    ASKS = ((1, 7, SELL, 100, 2), (2, 5, SELL, 100, 3), (3, 8, SELL, 101, 4))
    FILL_1 = (3, 50, 1, 5, 7, 100, 2, 0, BUY)
    FILL_3 = (3, 50, 3, 5, 8, 101, 4, 0, BUY)
    CANCEL_2 = (3, 50, 2, 5, 100, 3, SELL)

    def test_none_trades_with_itself(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.limit(50, 5, BUY, 101, 10, STP.NONE) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 9, 1)
        assert fills(book) == [self.FILL_1, (3, 50, 2, 5, 5, 100, 3, 0, BUY), self.FILL_3]
        assert stp_cancels(book) == []
        assert snap(book) == [(50, 5, 101, 1, BUY, 0)]

    def test_cancel_resting_cancels_the_maker_and_keeps_matching(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.limit(50, 5, BUY, 101, 10, STP.CANCEL_RESTING) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 6, 4)
        assert fills(book) == [self.FILL_1, self.FILL_3]
        assert stp_cancels(book) == [self.CANCEL_2]
        assert snap(book) == [(50, 5, 101, 4, BUY, int(STP.CANCEL_RESTING))]

    def test_cancel_incoming_stops_and_a_limit_remainder_does_not_rest(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.limit(50, 5, BUY, 101, 10, STP.CANCEL_INCOMING) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.SELF_TRADE, 2, 0)
        assert fills(book) == [self.FILL_1]
        assert stp_cancels(book) == []
        assert snap(book) == [(2, 5, 100, 3, SELL, 0), (3, 8, 101, 4, SELL, 0)]
        assert book.best_bid() == NO_BID

    def test_cancel_both_cancels_the_maker_and_expires_the_taker(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.limit(50, 5, BUY, 101, 10, STP.CANCEL_BOTH) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.SELF_TRADE, 2, 0)
        assert fills(book) == [self.FILL_1]
        assert stp_cancels(book) == [self.CANCEL_2]
        assert snap(book) == [(3, 8, 101, 4, SELL, 0)]

    def test_cancel_incoming_at_the_first_maker_fills_nothing(self, book: Any) -> None:
        rest(book, (1, 5, SELL, 100, 3), (2, 6, SELL, 100, 3))
        assert book.ioc(3, 5, BUY, 100, 2, STP.CANCEL_INCOMING) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.SELF_TRADE, 0, 0)
        assert (book.fill_count, len(book)) == (0, 2)

    def test_ioc_remainder_after_cancel_resting_expires_without_reason(self, book: Any) -> None:
        rest(book, *self.ASKS)
        assert book.ioc(50, 5, BUY, 101, 12, STP.CANCEL_RESTING) == Status.EXPIRED
        assert last(book) == (Status.EXPIRED, Reason.NONE, 6, 0)
        assert stp_cancels(book) == [self.CANCEL_2]
        assert len(book) == 0

    def test_own_order_beyond_the_limit_price_is_not_touched(self, book: Any) -> None:
        rest(book, (1, 7, SELL, 100, 2), (2, 5, SELL, 101, 3))
        assert book.limit(3, 5, BUY, 100, 5, STP.CANCEL_BOTH) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 2, 3)
        assert (stp_cancels(book), book.order_qty(2)) == ([], 3)

    def test_sell_taker_records_a_buy_maker_side(self, book: Any) -> None:
        rest(book, (1, 5, BUY, 100, 3), (2, 8, BUY, 100, 2))
        assert book.ioc(9, 5, SELL, 100, 4, STP.CANCEL_RESTING) == Status.EXPIRED  # seq 2
        assert last(book) == (Status.EXPIRED, Reason.NONE, 2, 0)
        assert stp_cancels(book) == [(2, 9, 1, 5, 100, 3, BUY)]
        assert fills(book) == [(2, 9, 2, 5, 8, 100, 2, 0, SELL)]

    def test_taker_mode_decides_not_the_makers(self, book: Any) -> None:
        assert book.limit(1, 5, SELL, 100, 3, STP.CANCEL_BOTH) == Status.RESTING
        assert book.ioc(2, 5, BUY, 100, 3, STP.NONE) == Status.FILLED
        assert fills(book) == [(1, 2, 1, 5, 5, 100, 3, 0, BUY)]

    def test_a_replaced_order_re_enters_with_its_own_mode(self, book: Any) -> None:
        assert book.limit(10, 5, BUY, 99, 4, STP.CANCEL_BOTH) == Status.RESTING
        rest(book, (11, 5, SELL, 100, 2), (12, 6, SELL, 100, 3))
        assert snap(book)[0] == (10, 5, 99, 4, BUY, int(STP.CANCEL_BOTH))
        assert book.replace(10, 100, 4) == Status.EXPIRED  # seq 3
        assert last(book) == (Status.EXPIRED, Reason.SELF_TRADE, 0, 0)
        assert stp_cancels(book) == [(3, 10, 11, 5, 100, 2, SELL)]
        assert snap(book) == [(12, 6, 100, 3, SELL, 0)]


# -- CANCEL AND REDUCE -------------------------------------------------------------------


class TestCancelReduce:
    def test_cancel_removes_the_order_and_an_emptied_level(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 100, 3), (3, 13, SELL, 101, 4))
        assert book.cancel(2) == Status.CANCELLED
        assert last(book) == (Status.CANCELLED, Reason.NONE, 0, 0)
        assert (2 in book, book.volume_at(SELL, 100), book.level_count(SELL)) == (False, 5, 2)
        assert book.cancel(1) == Status.CANCELLED
        assert (book.level_count(SELL), book.best_ask(), len(book)) == (1, 101, 1)

    def test_cancel_in_the_middle_keeps_the_others_in_order(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 2), (2, 12, SELL, 100, 2), (3, 13, SELL, 100, 2))
        book.cancel(2)
        assert book.ioc(4, 20, BUY, 100, 3) == Status.FILLED  # seq 4
        assert fills(book) == [(4, 4, 1, 20, 11, 100, 2, 0, BUY), (4, 4, 3, 20, 13, 100, 1, 1, BUY)]

    def test_reduce_keeps_priority(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 100, 5))
        assert book.reduce(1, 3) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 2)
        assert (book.order_qty(1), book.volume_at(SELL, 100)) == (2, 7)
        assert book.ioc(3, 20, BUY, 100, 3) == Status.FILLED  # seq 3
        assert fills(book) == [(3, 3, 1, 20, 11, 100, 2, 0, BUY), (3, 3, 2, 20, 12, 100, 1, 4, BUY)]

    def test_reduce_by_exactly_the_remainder_cancels(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 100, 5))
        assert book.reduce(1, 5) == Status.CANCELLED
        assert last(book) == (Status.CANCELLED, Reason.NONE, 0, 0)
        assert (1 in book, book.volume_at(SELL, 100), book.level_count(SELL)) == (False, 5, 1)
        assert book.reduce(2, 5) == Status.CANCELLED
        assert (book.level_count(SELL), book.best_ask()) == (0, NO_ASK)

    def test_reduce_too_large_raises_and_changes_nothing(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        before = snap(book)
        with pytest.raises(OrderError) as err:
            book.reduce(1, 6)
        assert (err.value.reason, err.value.order_id) == (Reason.REDUCE_TOO_LARGE, 1)
        assert "order 1" in str(err.value) and "only 5 remain" in str(err.value)
        assert last(book) == (Status.REJECTED, Reason.REDUCE_TOO_LARGE, 0, 0)
        assert (snap(book), book.seq) == (before, 2)


# -- REPLACE -------------------------------------------------------------------------------


class TestReplace:
    def test_new_price_loses_priority(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 101, 5))
        assert book.replace(1, 101, 5) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 5)
        assert (book.order_price(1), book.level_count(SELL)) == (101, 1)
        assert book.ioc(3, 20, BUY, 101, 6) == Status.FILLED  # seq 3
        assert fills(book) == [(3, 3, 2, 20, 12, 101, 5, 0, BUY), (3, 3, 1, 20, 11, 101, 1, 4, BUY)]

    def test_larger_qty_at_the_same_price_loses_priority(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 100, 5))
        assert book.replace(1, 100, 6) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, 6)
        assert book.volume_at(SELL, 100) == 11
        assert book.ioc(3, 20, BUY, 100, 7) == Status.FILLED
        assert fills(book) == [(3, 3, 2, 20, 12, 100, 5, 0, BUY), (3, 3, 1, 20, 11, 100, 2, 4, BUY)]

    @pytest.mark.parametrize("new_qty", [3, 5], ids=["smaller", "same"])
    def test_no_larger_qty_at_the_same_price_keeps_priority(self, book: Any, new_qty: int) -> None:
        rest(book, (1, 11, SELL, 100, 5), (2, 12, SELL, 100, 5))
        assert book.replace(1, 100, new_qty) == Status.RESTING
        assert last(book) == (Status.RESTING, Reason.NONE, 0, new_qty)
        assert book.volume_at(SELL, 100) == new_qty + 5
        assert book.ioc(3, 20, BUY, 100, new_qty + 1) == Status.FILLED
        assert fills(book) == [
            (3, 3, 1, 20, 11, 100, new_qty, 0, BUY),
            (3, 3, 2, 20, 12, 100, 1, 4, BUY),
        ]

    def test_a_crossing_replace_trades_and_rests_the_rest(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 99, 5), (2, 12, SELL, 100, 3), (3, 13, SELL, 102, 1))
        assert book.replace(1, 100, 5) == Status.RESTING  # seq 3
        assert last(book) == (Status.RESTING, Reason.NONE, 3, 2)
        assert fills(book) == [(3, 1, 2, 11, 12, 100, 3, 0, BUY)]
        assert (book.best_bid(), book.volume_at(BUY, 100), book.volume_at(BUY, 99)) == (100, 2, 0)
        assert (book.order_owner(1), book.order_side(1), book.order_qty(1)) == (11, BUY, 2)

    def test_a_fully_filled_replace_leaves_the_book(self, book: Any) -> None:
        rest(book, (1, 11, BUY, 99, 5), (2, 12, SELL, 100, 3))
        assert book.replace(1, 100, 3) == Status.FILLED
        assert last(book) == (Status.FILLED, Reason.NONE, 3, 0)
        assert len(book) == 0


# -- BAD INPUT ---------------------------------------------------------------------------------

# The book for these: bid id 1 (owner 11, 5 lots @100), ask id 2 (owner 12, 5 lots @105).
BAD_INPUT = {
    "qty-zero": ((LIMIT, 7, 1, BUY, 100, 0, 0), Reason.INVALID_QTY),
    "qty-negative": ((LIMIT, 7, 1, BUY, 100, -3, 0), Reason.INVALID_QTY),
    "qty-above-max": ((LIMIT, 7, 1, BUY, 100, MAX_QTY + 1, 0), Reason.INVALID_QTY),
    "ioc-price-zero": ((IOC, 7, 1, BUY, 0, 5, 0), Reason.INVALID_PRICE),
    "fok-price-negative": ((FOK, 7, 1, BUY, -1, 5, 0), Reason.INVALID_PRICE),
    "post-only-price-above-max": ((POST_ONLY, 7, 1, SELL, MAX_PRICE + 1, 5, 0), Reason.INVALID_PRICE),
    "negative-id": ((LIMIT, -1, 1, BUY, 100, 5, 0), Reason.INVALID_ORDER_ID),
    "duplicate-live-id": ((LIMIT, 1, 1, BUY, 105, 5, 0), Reason.DUPLICATE_ORDER_ID),
    "ioc-duplicate-id": ((IOC, 2, 1, BUY, 105, 5, 0), Reason.DUPLICATE_ORDER_ID),
    "market-qty-zero": ((MARKET, 7, 1, BUY, 0, 0, 0), Reason.INVALID_QTY),
    "market-protection-negative": ((MARKET, 7, 1, BUY, -1, 5, 0), Reason.INVALID_PRICE),
    "market-protection-above-max": ((MARKET, 7, 1, SELL, MAX_PRICE + 1, 5, 0), Reason.INVALID_PRICE),
    "market-duplicate-id": ((MARKET, 1, 1, BUY, 0, 5, 0), Reason.DUPLICATE_ORDER_ID),
    "side-zero": ((LIMIT, 7, 1, 0, 100, 5, 0), Reason.INVALID_SIDE),
    "side-two": ((IOC, 7, 1, 2, 100, 5, 0), Reason.INVALID_SIDE),
    "stp-four": ((LIMIT, 7, 1, BUY, 100, 5, 4), Reason.INVALID_STP),
    "stp-negative": ((MARKET, 7, 1, BUY, 0, 5, -1), Reason.INVALID_STP),
    "kind-eight": ((8, 7, 1, BUY, 100, 5, 0), Reason.INVALID_KIND),
    "kind-negative": ((-1, 7, 1, BUY, 100, 5, 0), Reason.INVALID_KIND),
    "cancel-unknown": ((CANCEL, 99, 0, BUY, 0, 0, 0), Reason.UNKNOWN_ORDER_ID),
    "cancel-negative-id": ((CANCEL, -5, 0, BUY, 0, 0, 0), Reason.UNKNOWN_ORDER_ID),
    "reduce-unknown": ((REDUCE, 99, 0, BUY, 0, 1, 0), Reason.UNKNOWN_ORDER_ID),
    "reduce-qty-zero": ((REDUCE, 1, 0, BUY, 0, 0, 0), Reason.INVALID_QTY),
    "reduce-qty-negative": ((REDUCE, 1, 0, BUY, 0, -1, 0), Reason.INVALID_QTY),
    "reduce-too-large": ((REDUCE, 1, 0, BUY, 0, 6, 0), Reason.REDUCE_TOO_LARGE),
    "replace-unknown": ((REPLACE, 99, 0, BUY, 100, 5, 0), Reason.UNKNOWN_ORDER_ID),
    "replace-qty-zero": ((REPLACE, 1, 0, BUY, 100, 0, 0), Reason.INVALID_QTY),
    "replace-qty-above-max": ((REPLACE, 1, 0, BUY, 100, MAX_QTY + 1, 0), Reason.INVALID_QTY),
    "replace-price-zero": ((REPLACE, 1, 0, BUY, 0, 5, 0), Reason.INVALID_PRICE),
    "replace-price-above-max": ((REPLACE, 2, 0, BUY, MAX_PRICE + 1, 5, 0), Reason.INVALID_PRICE),
    # Validation order: the first failing check names the reason.
    "order-kind-before-side": ((9, 7, 1, 0, 100, 5, 0), Reason.INVALID_KIND),
    "order-side-before-stp": ((LIMIT, 7, 1, 0, 100, 5, 7), Reason.INVALID_SIDE),
    "order-stp-before-id": ((LIMIT, -1, 1, BUY, 100, 5, 7), Reason.INVALID_STP),
    "order-id-before-qty": ((LIMIT, -1, 1, BUY, 100, 0, 0), Reason.INVALID_ORDER_ID),
    "order-qty-before-price": ((LIMIT, 7, 1, BUY, 0, 0, 0), Reason.INVALID_QTY),
    "order-price-before-duplicate": ((LIMIT, 1, 1, BUY, 0, 5, 0), Reason.INVALID_PRICE),
    "order-duplicate-before-post-only": ((POST_ONLY, 1, 1, BUY, 105, 5, 0), Reason.DUPLICATE_ORDER_ID),
    "order-duplicate-before-fok": ((FOK, 2, 1, BUY, 100, 50, 0), Reason.DUPLICATE_ORDER_ID),
    "order-reduce-qty-before-unknown": ((REDUCE, 99, 0, BUY, 0, 0, 0), Reason.INVALID_QTY),
    "order-replace-qty-before-price": ((REPLACE, 99, 0, BUY, 0, 0, 0), Reason.INVALID_QTY),
    "order-replace-price-before-unknown": ((REPLACE, 99, 0, BUY, 0, 5, 0), Reason.INVALID_PRICE),
}


@pytest.fixture
def two_sided(book: Any) -> Any:
    rest(book, (1, 11, BUY, 100, 5), (2, 12, SELL, 105, 5))
    return book


class TestBadInput:
    @pytest.mark.parametrize(("cmd", "reason"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
    @pytest.mark.parametrize("via", ["named", "submit"])
    def test_per_call_raises_and_changes_nothing(
        self, two_sided: Any, cmd: Cmd, reason: Reason, via: str
    ) -> None:
        book = two_sided
        before = snap(book)
        with pytest.raises(OrderError) as err:
            if via == "named":
                call(book, cmd)
            else:
                book.submit(*cmd)
        assert (err.value.reason, err.value.order_id) == (reason, cmd[1])
        assert f"order {cmd[1]}:" in str(err.value) and reason.name in str(err.value)
        assert last(book) == (Status.REJECTED, reason, 0, 0)  # even a rejected amend of a live order
        assert (snap(book), book.seq, book.fill_count) == (before, 3, 0)
        assert stp_cancels(book) == []

    @pytest.mark.parametrize(("cmd", "reason"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
    def test_execute_gives_a_rejected_row_and_changes_nothing(
        self, two_sided: Any, cmd: Cmd, reason: Reason
    ) -> None:
        book = two_sided
        before = snap(book)
        results, batch_fills, batch_cancels = book.execute(command_array(cmd))
        assert results.dtype == RESULT_DTYPE
        assert results.tolist() == [(2, 0, 0, Status.REJECTED, reason)]
        assert (len(batch_fills), len(batch_cancels)) == (0, 0)
        assert (snap(book), book.seq) == (before, 3)

    @pytest.mark.parametrize(
        ("cmd", "words"),
        [
            ((LIMIT, 7, 1, 2, 100, 5, 0), "got 2"),
            ((LIMIT, 7, 1, BUY, 100, 5, 4), "got 4"),
            ((8, 7, 1, BUY, 100, 5, 0), "kind 8"),
            ((LIMIT, 7, 1, BUY, 100, 0, 0), "got 0"),
            ((MARKET, 7, 1, BUY, -1, 5, 0), "got -1"),
            ((REDUCE, 1, 0, BUY, 0, 9, 0), "only 5 remain"),
        ],
        ids=["side", "stp", "kind", "qty", "protection", "reduce"],
    )
    def test_messages_name_the_bad_value(self, two_sided: Any, cmd: Cmd, words: str) -> None:
        with pytest.raises(OrderError, match=words):
            call(two_sided, cmd)

    def test_outcome_rejections_do_not_raise(self, two_sided: Any) -> None:
        assert two_sided.post_only(7, 1, BUY, 105, 5) == Status.REJECTED
        assert two_sided.fok(8, 1, BUY, 105, 6) == Status.REJECTED
        assert two_sided.submit(POST_ONLY, 9, 1, SELL, 100, 5) == Status.REJECTED
        assert two_sided.last_reason == Reason.POST_ONLY_WOULD_TAKE

    def test_fields_a_kind_does_not_use_are_ignored(self, two_sided: Any) -> None:
        book = two_sided
        results, _, _ = book.execute(
            command_array(
                (REDUCE, 1, -9, 0, -7, 2, 9),  # owner, side, price, stp unused
                (REPLACE, 1, -9, 0, 101, 3, 9),  # owner, side, stp unused
                (CANCEL, 2, -9, 0, -7, -7, 9),  # only the id is used
            )
        )
        assert results["status"].tolist() == [Status.RESTING, Status.RESTING, Status.CANCELLED]
        assert snap(book) == [(1, 11, 101, 3, BUY, 0)]
        assert book.submit(CANCEL, 1, side=0, price=-1, qty=-1, stp=9) == Status.CANCELLED


class TestIdReuse:
    def test_an_id_may_be_reused_once_its_order_is_gone(self, book: Any) -> None:
        rest(book, (1, 11, SELL, 100, 5))
        book.cancel(1)
        rest(book, (1, 11, SELL, 100, 5))  # after a cancel
        assert book.ioc(2, 20, BUY, 100, 5) == Status.FILLED
        rest(book, (1, 12, BUY, 99, 1))  # after being filled as a maker
        assert book.ioc(2, 20, SELL, 99, 1) == Status.FILLED  # a taker id never rests
        assert book.fok(3, 20, BUY, 100, 1) == Status.REJECTED
        assert book.post_only(3, 20, BUY, 90, 1) == Status.RESTING  # after a rejection
        book.reduce(3, 1)
        rest(book, (3, 21, SELL, 120, 1))  # after a reduce to zero, now on the other side
        assert (book.order_owner(3), book.order_side(3), len(book)) == (21, SELL, 1)

    def test_an_id_expired_by_stp_is_free(self, book: Any) -> None:
        rest(book, (1, 5, SELL, 100, 1))
        assert book.limit(2, 5, BUY, 100, 1, STP.CANCEL_INCOMING) == Status.EXPIRED
        rest(book, (2, 5, BUY, 99, 1))


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
