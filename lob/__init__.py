"""lob: limit-order-book markets under leverage, simulated event by event."""

from lob.core import OrderBook, ReferenceBook
from lob.errors import LobError, OrderError, SnapshotError

__version__ = "0.1.0"

__all__ = ["LobError", "OrderBook", "OrderError", "ReferenceBook", "SnapshotError", "__version__"]
