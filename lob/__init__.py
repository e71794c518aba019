"""lob: limit-order-book markets under leverage, simulated event by event.

The matching core is imported eagerly; the simulator's API (``load_config``,
``run``, ``read_run``, ``Trader``) loads on first use, so that a program using
only the book does not pay for pydantic, SimPy or pyarrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lob.core import OrderBook, ReferenceBook
from lob.errors import LobError, OrderError, SnapshotError

if TYPE_CHECKING:
    from lob.agents.base import Trader
    from lob.eventlog.reader import RunData, read_run
    from lob.scenario.loader import ConfigError, load_config
    from lob.scenario.runner import RunResult, run

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "LobError",
    "OrderBook",
    "OrderError",
    "ReferenceBook",
    "RunData",
    "RunResult",
    "SnapshotError",
    "Trader",
    "__version__",
    "load_config",
    "read_run",
    "run",
]

_LAZY = {
    "ConfigError": "lob.scenario.loader",
    "load_config": "lob.scenario.loader",
    "run": "lob.scenario.runner",
    "RunResult": "lob.scenario.runner",
    "read_run": "lob.eventlog.reader",
    "RunData": "lob.eventlog.reader",
    "Trader": "lob.agents.base",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lob' has no attribute {name!r}")
