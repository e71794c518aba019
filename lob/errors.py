"""Exception types for errors a user can cause."""

from __future__ import annotations

from lob.core.codes import MAX_PRICE, MAX_QTY, Reason


class LobError(Exception):
    """Base class of every error lob raises on purpose."""


class OrderError(LobError, ValueError):
    """A command the book cannot accept: bad field, unknown or duplicate id.

    ``reason`` is a :class:`lob.core.codes.Reason` code, the same one the batch
    API writes into its result row; ``order_id`` is the id the command named.
    The book is unchanged when this is raised.
    """

    def __init__(self, reason: int, order_id: int, detail: str) -> None:
        self.reason = Reason(reason)
        self.order_id = order_id
        super().__init__(f"order {order_id}: {detail} [{self.reason.name}]")


class SnapshotError(LobError, ValueError):
    """A snapshot array that cannot be restored (names the row and problem)."""


def order_error(reason: int, order_id: int, price: int = 0, qty: int = 0, extra: int = 0) -> OrderError:
    """Build the OrderError for a rejected command, with a message saying what was wrong.

    Both books call this on their (cold) error path so the wording is defined
    once. ``extra`` carries the kind/side/stp value or the remaining quantity,
    whichever the reason is about.
    """
    r = Reason(reason)
    if r is Reason.INVALID_QTY:
        detail = f"quantity must be in 1..{MAX_QTY} lots, got {qty}"
    elif r is Reason.INVALID_PRICE:
        detail = f"price must be in 1..{MAX_PRICE} ticks, got {price}"
    elif r is Reason.INVALID_ORDER_ID:
        detail = "order id must be >= 0"
    elif r is Reason.DUPLICATE_ORDER_ID:
        detail = "a live order already has this id"
    elif r is Reason.UNKNOWN_ORDER_ID:
        detail = "no live order has this id"
    elif r is Reason.REDUCE_TOO_LARGE:
        detail = f"cannot reduce by {qty} lots, only {extra} remain"
    elif r is Reason.INVALID_SIDE:
        detail = f"side must be 1 (buy) or -1 (sell), got {extra}"
    elif r is Reason.INVALID_KIND:
        detail = f"unknown command kind {extra}"
    elif r is Reason.INVALID_STP:
        detail = f"self-trade prevention mode must be 0..3, got {extra}"
    else:
        detail = "rejected"
    return OrderError(r, order_id, detail)
