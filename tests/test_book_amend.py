"""Unit tests of amending resting orders, run on both books (reference and compiled).

CANCEL, REDUCE and REPLACE (priority kept or lost), and reusing the id of an
order that is gone. Every expected value is computed by hand from docs/core.md;
tuple layouts are those described in book_helpers. The ``book`` fixture checks
the book's invariants after each test.
"""

from __future__ import annotations

from typing import Any

import pytest
from book_helpers import (
    BUY,
    SELL,
    checked_book,  # noqa: F401  (the `book` fixture: invariants checked after each test)
    fills,
    last,
    rest,
    snap,
)

from lob.core.codes import NO_ASK, STP, Reason, Status
from lob.errors import OrderError

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


# -- ID REUSE ------------------------------------------------------------------------------


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
