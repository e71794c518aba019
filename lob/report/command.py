"""``lob report DIR``: a run directory's or a sweep directory's report, told apart by their contents.

bokeh is imported inside these functions, not with the module, so that the
CLI and ``import lob.report`` do not pay for it until a report is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from lob.errors import LobError

#: The file that makes a directory a run directory (written last, so its presence means complete).
RUN_MARKER = "manifest.json"
#: The file that makes a directory a sweep directory: one row per run of the sweep.
SWEEP_MARKER = "results.parquet"


def report_command(path: Path, *, out: Path | None, stdout: TextIO) -> int:
    """Write the report of ``path`` (a run or a sweep directory) and print where; 0 on success.

    ``out`` defaults to ``path/report.html``. Raises
    :class:`~lob.errors.LobError` if ``path`` is neither kind of directory
    or its contents cannot be read.
    """
    path = Path(path)
    kind = directory_kind(path)
    written = write_report(path, out) if kind == "run" else write_sweep_report(path, out)
    print(f"{kind} report: {written} ({written.stat().st_size / 1e6:.1f} MB)", file=stdout)
    return 0


def directory_kind(path: Path) -> str:
    """``"run"`` if ``path`` has a manifest.json, ``"sweep"`` if it has a results.parquet; else LobError."""
    if not path.is_dir():
        raise LobError(
            f"{path}: no such directory; expected a run directory (with {RUN_MARKER}) "
            f"or a sweep directory (with {SWEEP_MARKER})"
        )
    if (path / RUN_MARKER).is_file():
        return "run"
    if (path / SWEEP_MARKER).is_file():
        return "sweep"
    raise LobError(
        f"{path}: neither a run directory (no {RUN_MARKER}: not a run, or one that did not finish) "
        f"nor a sweep directory (no {SWEEP_MARKER})"
    )


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """The run report of ``run_dir``, written to ``out`` (default ``run_dir/report.html``); its path.

    For ``lob run --report``. See :func:`lob.report.page.write_report`.
    """
    from lob.report.page import write_report as write

    return write(run_dir, out)


def write_sweep_report(sweep_dir: Path, out: Path | None = None) -> Path:
    """The sweep report of ``sweep_dir``, written to ``out`` (default ``sweep_dir/report.html``); its path.

    See :func:`lob.report.sweep.write_sweep_report`.
    """
    from lob.report.sweep import write_sweep_report as write

    return write(sweep_dir, out)
