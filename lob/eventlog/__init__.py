"""The event log: row buffers during a run, the run directory on disk, and reading it back.

Importing this package imports neither pandas nor pyarrow (together about 80
MB of resident memory): :func:`write_run` and :func:`read_run` load them when
first used, so a simulation carries them only while it writes or reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lob.eventlog.recorder import Recorder
from lob.eventlog.rundir import RunDirExistsError, check_writable
from lob.eventlog.summary import market_summary

if TYPE_CHECKING:
    from lob.eventlog.reader import RunData, read_run
    from lob.eventlog.writer import write_run

__all__ = [
    "Recorder",
    "RunData",
    "RunDirExistsError",
    "check_writable",
    "market_summary",
    "read_run",
    "write_run",
]

_LAZY = {
    "RunData": "lob.eventlog.reader",
    "read_run": "lob.eventlog.reader",
    "write_run": "lob.eventlog.writer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lob.eventlog' has no attribute {name!r}")
