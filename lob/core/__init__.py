"""The matching core: a compiled price-time order book and its plain-Python reference.

See docs/core.md for the contract both books follow.
"""

from lob.core.book import OrderBook
from lob.core.codes import (
    COMMAND_DTYPE,
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
from lob.core.reference import ReferenceBook

__all__ = [
    "COMMAND_DTYPE",
    "FILL_DTYPE",
    "MAX_PRICE",
    "MAX_QTY",
    "NO_ASK",
    "NO_BID",
    "NO_SPREAD",
    "RESULT_DTYPE",
    "SNAPSHOT_DTYPE",
    "STP",
    "STP_CANCEL_DTYPE",
    "Kind",
    "OrderBook",
    "Reason",
    "ReferenceBook",
    "Side",
    "Status",
    "commands",
]
