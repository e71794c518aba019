"""Running one config for the benchmark: its times, its speed, and the outcome metrics of its summary.

Wall time on a shared machine moves by half from one minute to the next.
The speed that ``--compare`` judges is therefore the run's CPU time (the
process's, :func:`time.process_time`) over the CPU time of a fixed workload
timed in the same process (:func:`bare_simpy_seconds`): time spent waiting
for a core counts in neither, and a slower or faster machine changes both.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lob.benchsuite.suites import BenchCase
from lob.scenario.loader import ConfigError, dump_config, load_config

if TYPE_CHECKING:
    from lob.scenario.config import ScenarioConfig

#: Timeouts one bare SimPy process yields in the baseline workload: about 0.1 s on a 2.6 GHz core.
BASELINE_TIMEOUTS = 200_000
BASELINE_WORKLOAD = f"bare SimPy: one process yielding {BASELINE_TIMEOUTS:,} timeouts"

#: The outcome metrics: deterministic for a config, seed and code, compared exactly by ``--compare``.
OUTCOME_METRICS = (
    "peak_drop_pct",
    "liquidated_notional_quote",
    "generations",
    "insurance_fund_min_quote",
    "adl_overshoot_quote",
    "slippage_bps_median",
    "slippage_bps_p95",
)


@dataclass
class ConfigResult:
    """One row of the benchmark table: a config's timings (seconds) and outcome metrics.

    ``status`` is ``"ok"`` or ``"skipped"`` (then ``note`` says why and every
    measurement is None). Of ``repeat`` runs, ``wall_s`` and ``cpu_s`` are
    the smallest (interference only ever adds time), the phases those of the
    fastest run. ``cpu_over_baseline`` is ``cpu_s`` divided by the suite's
    baseline CPU time: the speed that ``--compare`` judges.
    ``events_per_s`` counts the event log's rows per wall second of the
    ``simulate`` phase. Outcome metrics, from ``summary.json``, are None
    where the run has no such section (no perpetual, no ADL):
    ``peak_drop_pct`` is the largest over instruments, ``generations`` the
    deepest cascade generation + 1 (0 without liquidations), money in quote
    currency, slippage in bps against the arrival mid.
    """

    config: str
    status: str = "ok"
    note: str = ""
    seed: int | None = None
    duration_ns: int | None = None
    config_sha256: str | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    build_s: float | None = None
    simulate_s: float | None = None
    summarise_s: float | None = None
    events: int | None = None
    events_per_s: float | None = None
    cpu_over_baseline: float | None = None
    peak_drop_pct: float | None = None
    liquidated_notional_quote: float | None = None
    generations: int | None = None
    insurance_fund_min_quote: float | None = None
    adl_overshoot_quote: float | None = None
    slippage_bps_median: float | None = None
    slippage_bps_p95: float | None = None
    #: Outcome metrics that differed between repeats (a determinism bug); empty when all agreed.
    unstable: list[str] = field(default_factory=list)

    def outcomes(self) -> dict[str, float | int | None]:
        """The outcome metrics by name."""
        return {name: getattr(self, name) for name in OUTCOME_METRICS}


def bare_simpy_seconds(timeouts: int = BASELINE_TIMEOUTS) -> tuple[float, float]:
    """(wall, CPU) seconds for one SimPy process to yield ``timeouts`` one-ns timeouts: the baseline workload.

    Pure Python and independent of lob's code, so across commits it measures
    only the machine (and the interpreter and SimPy versions). Runtime: O(timeouts).
    """
    import simpy

    env = simpy.Environment()

    def proc() -> Generator[simpy.Event, Any, None]:
        timeout = env.timeout  # bound once: the loop is the measurement
        for _ in range(timeouts):
            yield timeout(1)

    env.process(proc())
    wall, cpu = time.perf_counter(), time.process_time()
    env.run()
    return time.perf_counter() - wall, time.process_time() - cpu


def outcome_metrics(summary: Mapping[str, Any]) -> dict[str, float | int | None]:
    """The outcome metrics of a ``summary.json`` (see :class:`ConfigResult`), as the summary rounds them."""
    instruments = summary.get("instruments", {}).values()
    drops = [m["peak_drop_pct"] for m in instruments if m.get("peak_drop_pct") is not None]
    liq = summary.get("liquidations") or {}
    adl = summary.get("adl") or {}
    deepest = liq.get("deepest_generation")
    return {
        "peak_drop_pct": max(drops) if drops else None,
        "liquidated_notional_quote": liq.get("liquidated_notional_quote"),
        "generations": (deepest + 1 if deepest is not None else 0) if liq else None,
        "insurance_fund_min_quote": liq.get("insurance_fund_min_quote"),
        "adl_overshoot_quote": adl.get("overshoot_quote"),
        "slippage_bps_median": liq.get("slippage_mid_bps_median"),
        "slippage_bps_p95": liq.get("slippage_mid_bps_p95"),
    }


def missing_file(exc: ConfigError) -> str | None:
    """The problem text if every problem of ``exc`` is a file the config names that is not there, else None.

    Such a config (a replay of ../shared/data) is skipped where its data is absent.
    """
    if exc.problems and all(p.message.startswith("no such file") for p in exc.problems):
        return "; ".join(p.message for p in exc.problems)
    return None


def load_case(case: BenchCase) -> tuple[ConfigResult, ScenarioConfig | None]:
    """``case``'s config, validated, and its row still without measurements.

    A config whose data is absent gives a ``skipped`` row and None; any other
    :class:`ConfigError` is raised.
    """
    try:
        cfg = load_config(case.path, case.overrides)
    except ConfigError as exc:
        absent = missing_file(exc)
        if absent is None:
            raise
        return ConfigResult(case.name, status="skipped", note=f"needs data that is not here: {absent}"), None
    row = ConfigResult(
        case.name,
        note=case.note,
        seed=cfg.run.seed,
        duration_ns=cfg.run.duration,
        config_sha256=hashlib.sha256(dump_config(cfg).encode()).hexdigest(),
    )
    return row, cfg


def measure_run(row: ConfigResult, cfg: ScenarioConfig) -> None:
    """Runs ``cfg`` once in this process (no run directory) and folds the run into ``row``.

    The first run sets the outcome metrics; a later one that disagrees adds
    the metric to ``row.unstable``. Times keep their minimum: interference
    only ever adds time. ``cpu_over_baseline`` is left to the caller, who
    times the baseline. Runtime: one run of the config.
    """
    from lob.scenario.runner import release_memory, run_config

    wall, cpu = time.perf_counter(), time.process_time()
    result = run_config(cfg, write=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary, timings = result.summary, result.timings
    del result
    release_memory()  # the world goes before the next run, and outside the clock
    outcomes = outcome_metrics(summary)
    if row.wall_s is None:
        for name, value in outcomes.items():
            setattr(row, name, value)
    else:
        differ = {name for name, value in outcomes.items() if getattr(row, name) != value}
        row.unstable = sorted(set(row.unstable) | differ)
    row.cpu_s = cpu if row.cpu_s is None else min(row.cpu_s, cpu)
    if row.wall_s is None or wall < row.wall_s:
        row.wall_s, row.build_s = wall, timings["build_s"]
        row.simulate_s, row.summarise_s = timings["simulate_s"], timings["write_s"]
        row.events = int(summary["run"]["events"])
        row.events_per_s = row.events / row.simulate_s if row.simulate_s > 0 else None


def machine_info() -> dict[str, Any]:
    """The machine and the software versions the figures depend on."""
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": _version_of("numpy"),
        "simpy": _version_of("simpy"),
    }


def _version_of(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def git_state(directory: Path) -> tuple[str | None, bool | None]:
    """(HEAD commit, whether tracked files differ from it) of the checkout holding ``directory``.

    (None, None) without git or outside a checkout.
    """
    try:
        commit = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())
