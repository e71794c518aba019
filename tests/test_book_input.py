"""Unit tests of bad input, run on both books (reference and compiled).

Every input error of docs/core.md and the order of the validation checks, per
call (an OrderError, through the named methods and ``submit``) and in a batch
(a REJECTED row); rejections that are outcomes, not errors; fields a kind does
not use. The ``book`` fixture checks the book's invariants after each test.
"""

from __future__ import annotations

from typing import Any

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
    last,
    rest,
    snap,
    stp_cancels,
)

from lob.core.codes import MAX_PRICE, MAX_QTY, RESULT_DTYPE, Reason, Status
from lob.errors import OrderError

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


# -- ARGUMENTS BEYOND THE C TYPES ----------------------------------------------------------------

# Per-call arguments are C int64 (ids, owners, prices, qtys) or C int (kind, side, stp).
TOO_WIDE = {
    "order-id": (LIMIT, 2**63, 1, BUY, 100, 5, 0),
    "owner": (LIMIT, 7, -(2**63) - 1, BUY, 100, 5, 0),
    "price": (LIMIT, 7, 1, BUY, 2**64, 5, 0),
    "qty": (LIMIT, 7, 1, BUY, 100, 2**70, 0),
    "side": (LIMIT, 7, 1, 2**40, 100, 5, 0),
    "stp": (LIMIT, 7, 1, BUY, 100, 5, 2**40),
    "kind": (2**40, 7, 1, BUY, 100, 5, 0),
}


@pytest.mark.parametrize("cmd", TOO_WIDE.values(), ids=TOO_WIDE.keys())
def test_an_argument_beyond_its_c_type_raises_overflow_before_the_book(two_sided: Any, cmd: Cmd) -> None:
    book = two_sided
    before = snap(book)
    with pytest.raises(OverflowError):
        book.submit(*cmd)
    assert (snap(book), book.seq, book.fill_count) == (before, 2, 0)
