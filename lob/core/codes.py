"""Integer codes and record layouts shared by the compiled book and the reference.

Every value here is part of the public contract of :mod:`lob.core`: the
compiled :class:`~lob.core.book.OrderBook` mirrors them in ``_codes.pxd`` and a
test keeps the two in step. Units: prices are int64 ticks, quantities int64
lots, order ids and owner (account) ids are int64.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Side(IntEnum):
    """Side of an order; the sign convention of a signed quantity."""

    BUY = 1
    SELL = -1


class Kind(IntEnum):
    """Command kinds accepted by ``OrderBook.execute`` and ``submit``."""

    LIMIT = 0  # good till cancelled; the remainder rests
    IOC = 1  # immediate or cancel; the remainder expires
    FOK = 2  # fill entirely now or do nothing
    POST_ONLY = 3  # rejected (never repriced) if it would take
    MARKET = 4  # take until filled; ``price`` is the protection price, 0 = none
    CANCEL = 5
    REDUCE = 6  # ``qty`` lots come off the order; keeps time priority
    REPLACE = 7  # new ``price`` and total ``qty``; loses priority unless only shrinking


class STP(IntEnum):
    """Self-trade prevention mode, taken from the incoming (taker) order."""

    NONE = 0  # orders of one owner may trade with each other
    CANCEL_RESTING = 1  # cancel the owner's resting order and keep matching
    CANCEL_INCOMING = 2  # expire the rest of the incoming order
    CANCEL_BOTH = 3  # cancel the resting order and expire the incoming one


class Status(IntEnum):
    """Outcome of one command."""

    REJECTED = 0  # nothing changed; ``reason`` says why
    RESTING = 1  # the order (or its remainder) is on the book
    FILLED = 2  # fully filled; nothing rests
    EXPIRED = 3  # the unfilled remainder was dropped (IOC, market, STP)
    CANCELLED = 4  # cancel done, or a reduce took the order to zero


class Reason(IntEnum):
    """Why a command was rejected (or, with EXPIRED, why it stopped early)."""

    NONE = 0
    INVALID_QTY = 1  # qty <= 0 or qty > MAX_QTY
    INVALID_PRICE = 2  # price <= 0 or > MAX_PRICE (market: protection < 0)
    INVALID_ORDER_ID = 3  # negative order id
    DUPLICATE_ORDER_ID = 4  # a live order already has this id
    UNKNOWN_ORDER_ID = 5  # cancel / reduce / replace of an id not on the book
    REDUCE_TOO_LARGE = 6  # reduce by more than the remaining quantity
    INVALID_SIDE = 7
    INVALID_KIND = 8
    INVALID_STP = 9
    POST_ONLY_WOULD_TAKE = 10
    FOK_UNFILLABLE = 11
    SELF_TRADE = 12  # with EXPIRED: self-trade prevention stopped the order


#: Reasons that are the caller's mistake: the per-call API raises OrderError
#: for these. The others (POST_ONLY_WOULD_TAKE, FOK_UNFILLABLE) are outcomes
#: of the market's state and come back as a REJECTED status.
INPUT_ERRORS = frozenset(
    {
        Reason.INVALID_QTY,
        Reason.INVALID_PRICE,
        Reason.INVALID_ORDER_ID,
        Reason.DUPLICATE_ORDER_ID,
        Reason.UNKNOWN_ORDER_ID,
        Reason.REDUCE_TOO_LARGE,
        Reason.INVALID_SIDE,
        Reason.INVALID_KIND,
        Reason.INVALID_STP,
    }
)

#: Largest accepted quantity (lots) and price (ticks). Bounded so that level
#: totals and notionals stay far from int64 overflow.
MAX_QTY = 10**15
MAX_PRICE = 10**15

#: ``best_bid()`` of an empty bid side and ``best_ask()`` of an empty ask side.
NO_BID = 0
NO_ASK = np.iinfo(np.int64).max
#: ``spread()`` when either side is empty.
NO_SPREAD = -1

# Record layouts. align=True gives C struct layout, so the compiled core reads
# and writes these arrays through plain structs.
COMMAND_DTYPE = np.dtype(
    [
        ("order_id", "i8"),
        ("owner", "i8"),
        ("price", "i8"),
        ("qty", "i8"),
        ("kind", "i1"),
        ("side", "i1"),
        ("stp", "i1"),
    ],
    align=True,
)
RESULT_DTYPE = np.dtype(
    [
        ("seq", "i8"),  # the book's sequence number of this command
        ("filled", "i8"),  # lots this command's order took as taker
        ("resting", "i8"),  # lots of this order left on the book afterwards
        ("status", "i1"),
        ("reason", "i1"),
    ],
    align=True,
)
FILL_DTYPE = np.dtype(
    [
        ("seq", "i8"),
        ("taker_id", "i8"),
        ("maker_id", "i8"),
        ("taker_owner", "i8"),
        ("maker_owner", "i8"),
        ("price", "i8"),  # the maker's price, ticks
        ("qty", "i8"),
        ("maker_remaining", "i8"),  # maker's lots still resting after this fill
        ("aggressor_side", "i1"),  # the taker's side
    ],
    align=True,
)
STP_CANCEL_DTYPE = np.dtype(
    [
        ("seq", "i8"),
        ("taker_id", "i8"),
        ("maker_id", "i8"),
        ("maker_owner", "i8"),
        ("price", "i8"),
        ("qty", "i8"),  # lots the resting order had when it was cancelled
        ("maker_side", "i1"),
    ],
    align=True,
)
SNAPSHOT_DTYPE = np.dtype(
    [
        ("order_id", "i8"),
        ("owner", "i8"),
        ("price", "i8"),
        ("qty", "i8"),
        ("side", "i1"),
        ("stp", "i1"),
    ],
    align=True,
)


def commands(n: int) -> np.ndarray:
    """A zeroed command array of ``n`` rows, ready to fill in."""
    return np.zeros(n, dtype=COMMAND_DTYPE)
