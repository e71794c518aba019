"""``lob bench``: the shipped scenarios as a benchmark of speed and of outcomes.

Each config runs in this process without writing a run directory; a row
holds its wall time, events per second, its time over a baseline workload
timed in the same process, and the outcome metrics of its summary (peak
drop, liquidated notional, cascade generations, insurance-fund minimum,
ADL overshoot, liquidation slippage). ``--compare`` flags speed regressions
beyond noise and any change of an outcome.

- :mod:`lob.benchsuite.suites`: which configs a suite runs, for how long;
- :mod:`lob.benchsuite.measure`: one config's row, the baseline, the machine;
- :mod:`lob.benchsuite.results`: the result as JSON or Parquet;
- :mod:`lob.benchsuite.compare`: two results compared;
- :mod:`lob.benchsuite.command`: the command, its table and its exit status.
"""

from __future__ import annotations

from lob.benchsuite.command import bench_command, format_table, run_suite
from lob.benchsuite.compare import SPEED_THRESHOLD, Comparison, compare_results
from lob.benchsuite.measure import OUTCOME_METRICS, ConfigResult
from lob.benchsuite.results import SuiteResult, read_result, write_result
from lob.benchsuite.suites import DEFAULT_SUITE, QUICK_DURATIONS, SUITES

__all__ = [
    "DEFAULT_SUITE",
    "OUTCOME_METRICS",
    "QUICK_DURATIONS",
    "SPEED_THRESHOLD",
    "SUITES",
    "Comparison",
    "ConfigResult",
    "SuiteResult",
    "bench_command",
    "compare_results",
    "format_table",
    "read_result",
    "run_suite",
    "write_result",
]
