"""Parameter sweeps: a base config, a grid or random sample of overrides and seeds, run on Dask.

``lob sweep SWEEP.yaml`` runs every run of a sweep file (see
:mod:`lob.sweep.spec` for the file) on a local Dask cluster or an existing
one, and gathers one row per run into ``results.parquet``; running it again
runs only what is not done. Names load on first use, so that building the
command line does not import pandas, the simulator or Dask.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lob.sweep.command import SweepReport, add_sweep_arguments, run_sweep, sweep_command
    from lob.sweep.execute import METRICS, execute_run
    from lob.sweep.spec import Run, Sweep, SweepSpec, load_sweep, run_id

__all__ = [
    "METRICS",
    "Run",
    "Sweep",
    "SweepReport",
    "SweepSpec",
    "add_sweep_arguments",
    "execute_run",
    "load_sweep",
    "run_id",
    "run_sweep",
    "sweep_command",
]

_LAZY = {
    "SweepReport": "lob.sweep.command",
    "add_sweep_arguments": "lob.sweep.command",
    "run_sweep": "lob.sweep.command",
    "sweep_command": "lob.sweep.command",
    "METRICS": "lob.sweep.execute",
    "execute_run": "lob.sweep.execute",
    "Run": "lob.sweep.spec",
    "Sweep": "lob.sweep.spec",
    "SweepSpec": "lob.sweep.spec",
    "load_sweep": "lob.sweep.spec",
    "run_id": "lob.sweep.spec",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lob.sweep' has no attribute {name!r}")
