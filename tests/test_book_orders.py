"""Unit tests of the order kinds that can take, run on both books (reference and compiled).

LIMIT, IOC, FOK, POST_ONLY and MARKET orders, and self-trade prevention. Every
expected value is computed by hand from docs/core.md; tuple layouts are those
described in book_helpers. The ``book`` fixture checks the book's invariants
after each test.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from book_helpers import (
    BUY,
    MARKET,
    SELL,
    checked_book,  # noqa: F401  (the `book` fixture: invariants checked after each test)
    fills,
    last,
    rest,
    snap,
    stp_cancels,
)

from lob.core.codes import NO_ASK, NO_BID, STP, Reason, Status

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
