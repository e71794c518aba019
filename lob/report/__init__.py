"""HTML reports of a run or a sweep: ``lob report DIR`` and ``lob run --report``.

The page is self-contained (BokehJS inlined) and its time charts zoom
together. Importing this package is light; bokeh is imported when a report
is written.
"""

from lob.report.command import report_command, write_report, write_sweep_report

__all__ = ["report_command", "write_report", "write_sweep_report"]
