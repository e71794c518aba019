"""The event log: row buffers during a run, the run directory on disk, and reading it back.

Importing this package does not import pandas; :func:`read_run` does, when a
table is first read.
"""

from lob.eventlog.reader import RunData, read_run
from lob.eventlog.recorder import Recorder
from lob.eventlog.summary import market_summary
from lob.eventlog.writer import RunDirExistsError, check_writable, write_run

__all__ = [
    "Recorder",
    "RunData",
    "RunDirExistsError",
    "check_writable",
    "market_summary",
    "read_run",
    "write_run",
]
