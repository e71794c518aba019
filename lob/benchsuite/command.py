"""``lob bench``: run a suite, print its table, write it, compare it with an earlier result."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from lob.benchsuite.compare import SPEED_THRESHOLD, Comparison, compare_results
from lob.benchsuite.measure import (
    BASELINE_WORKLOAD,
    bare_simpy_seconds,
    git_state,
    load_case,
    machine_info,
    measure_run,
)
from lob.benchsuite.results import SuiteResult, check_extension, read_result, write_result
from lob.benchsuite.suites import default_config_dir, suite_cases
from lob.errors import LobError

EXIT_OK = 0
EXIT_FAILED = 1  # --compare found a speed regression or an outcome change, or a run was not deterministic

_BASELINE_BEFORE = _BASELINE_AFTER = 3  # baseline timings before and after the suite; one more after each run


class SuiteRun:
    """A suite being measured: its configs, loaded, their rows so far, and the baseline's timings.

    Each :meth:`run_round` runs every config (or those named) once, timing
    the baseline after each run; :meth:`result` gives the rows normalised
    by the median of all the baseline's CPU times. ``rounds`` counts the
    rounds over every config.
    """

    def __init__(
        self,
        suite: str,
        config_dir: Path | None = None,
        only: Sequence[str] | None = None,
        baseline: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        directory = config_dir if config_dir is not None else default_config_dir()
        self.suite = suite
        self.cases = [
            load_case(c) for c in suite_cases(suite, directory, None if only is None else tuple(only))
        ]
        self._baseline = baseline if baseline is not None else bare_simpy_seconds
        self.samples = [self._baseline() for _ in range(_BASELINE_BEFORE)]
        self.rounds = 0

    def run_round(self, names: Iterable[str] | None = None) -> None:
        """Runs each config (of ``names``, if given) once. Runtime: one pass over them."""
        wanted = None if names is None else set(names)
        for row, cfg in self.cases:
            if cfg is not None and (wanted is None or row.config in wanted):
                measure_run(row, cfg)
                self.samples.append(self._baseline())
        if wanted is None:
            self.rounds += 1

    def result(self) -> SuiteResult:
        """The suite's result as measured so far (the baseline timed a few more times first)."""
        import lob

        samples = self.samples + [self._baseline() for _ in range(_BASELINE_AFTER)]
        base = statistics.median(cpu for _, cpu in samples)
        rows = [row for row, _ in self.cases]
        for row in rows:
            if row.cpu_s is not None:
                row.cpu_over_baseline = row.cpu_s / base
        commit, dirty = git_state(Path(lob.__file__).resolve().parent)
        return SuiteResult(
            suite=self.suite,
            date=datetime.now(UTC).isoformat(timespec="seconds"),
            lob_version=lob.__version__,
            git_commit=commit,
            git_dirty=dirty,
            machine=machine_info(),
            repeat=self.rounds,
            baseline_workload=BASELINE_WORKLOAD,
            baseline_cpu_s=base,
            baseline_wall_s=statistics.median(wall for wall, _ in samples),
            baseline_samples=[list(s) for s in samples],
            speed_threshold=SPEED_THRESHOLD,
            rows=rows,
        )


def run_suite(
    suite: str,
    *,
    config_dir: Path | None = None,
    only: Sequence[str] | None = None,
    repeat: int = 3,
    baseline: Callable[[], tuple[float, float]] | None = None,
) -> SuiteResult:
    """Runs ``suite`` over ``config_dir`` (default: the checkout's configs/) in this process.

    ``only`` restricts it to configs of those names. The suite runs
    ``repeat`` times over, round after round, so that the runs of one config
    lie a round apart and one slow spell of the machine cannot slow them
    all; each config keeps its fastest run. The baseline workload is timed
    before the suite, after each run and after the suite; the median of its
    CPU times is the run's ``baseline_cpu_s``. Runtime: ``repeat`` times the
    suite, plus about 0.1 s a run for the baseline. ``baseline`` replaces
    the baseline workload (default :func:`bare_simpy_seconds`).
    """
    if repeat < 1:
        raise LobError(f"--repeat must be at least 1, got {repeat}")
    run = SuiteRun(suite, config_dir, only, baseline)
    for _ in range(repeat):
        run.run_round()
    return run.result()


# -- the table ---------------------------------------------------------------------------------------------


def _fixed(digits: int) -> Callable[[float | int | None], str]:
    return lambda v: "-" if v is None else f"{v:,.{digits}f}"


def _count(v: float | int | None) -> str:
    return "-" if v is None else f"{v:,}"


#: Table columns: header, ConfigResult field, formatter.
COLUMNS: list[tuple[str, str, Callable[[float | int | None], str]]] = [
    ("wall s", "wall_s", _fixed(2)),
    ("events/s", "events_per_s", _fixed(0)),
    ("x base", "cpu_over_baseline", _fixed(1)),
    ("peak drop %", "peak_drop_pct", _fixed(2)),
    ("liquidated", "liquidated_notional_quote", _fixed(0)),
    ("gens", "generations", _count),
    ("fund min", "insurance_fund_min_quote", _fixed(0)),
    ("ADL overshoot", "adl_overshoot_quote", _fixed(0)),
    ("slip med bps", "slippage_bps_median", _fixed(1)),
    ("slip p95 bps", "slippage_bps_p95", _fixed(1)),
]


def format_table(result: SuiteResult) -> str:
    """The aligned table of ``result``: one line per config run, then a line per skipped config."""
    ran = [r for r in result.rows if r.status == "ok"]
    header = ["config", *(title for title, _, _ in COLUMNS)]
    cells = [[r.config, *(fmt(getattr(r, name)) for _, name, fmt in COLUMNS)] for r in ran]
    widths = [max(len(line[k]) for line in [header, *cells]) for k in range(len(header))]
    lines = []
    for line in [header, *cells]:
        first = line[0].ljust(widths[0])
        lines.append("  ".join([first, *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True))]))
    total = sum(r.wall_s or 0.0 for r in ran)
    lines.append(f"{len(ran)} configs in {total:.1f} s of runs")
    for r in result.rows:
        if r.status != "ok":
            lines.append(f"skipped {r.config}: {r.note}")
        if r.unstable:
            lines.append(f"NOT DETERMINISTIC {r.config}: {', '.join(r.unstable)} differed between its runs")
    return "\n".join(lines)


def format_comparison(cmp: Comparison, old: SuiteResult, source: Path) -> str:
    """The comparison section: speed changes (flagged past the threshold), outcome changes, notes, verdict."""
    commit = (old.git_commit or "no commit")[:10] + (" (modified)" if old.git_dirty else "")
    lines = [f"compared with {source} (suite {old.suite}, {old.date}, {commit}, lob {old.lob_version}):"]
    lines.append(f"  CPU time over the baseline (a regression: more than {cmp.threshold:.0%} slower)")
    width = max([len(s.config) for s in cmp.speed] + [6])
    for s in cmp.speed:
        flag = "  REGRESSION" if s.change > cmp.threshold else ""
        lines.append(f"    {s.config:<{width}}  {s.old:7.2f} -> {s.new:7.2f}  {s.change:+7.1%}{flag}")
    if cmp.outcome_changes:
        lines.append("  outcome changes (deterministic runs: any difference is one)")
        for o in cmp.outcome_changes:
            why = "  (config changed)" if o.config_changed else ""
            lines.append(f"    {o.config}  {o.metric}: {o.old} -> {o.new}{why}")
    else:
        compared = sum(1 for s in cmp.speed if s.config != "total")
        lines.append(f"  outcomes: identical in {compared} configs")
    lines += [f"  note: {n}" for n in cmp.notes]
    n_reg, n_out = len(cmp.regressions), len(cmp.outcome_changes)
    if cmp.failed:
        lines.append(f"FAILED: {n_reg} speed regression(s), {n_out} outcome change(s)")
    else:
        lines.append("ok: no speed regression, no outcome change")
    return "\n".join(lines)


# -- the command -------------------------------------------------------------------------------------------


def bench_command(
    *,
    suite: str,
    out: Path | None,
    compare: Path | None,
    repeat: int,
    stdout: TextIO,
    config_dir: Path | None = None,
    only: Sequence[str] | None = None,
) -> int:
    """``lob bench``: runs ``suite``, prints its table, writes ``out``, compares with ``compare``.

    Returns 0, or 1 if the comparison found a speed regression beyond
    :data:`SPEED_THRESHOLD` or any change of an outcome metric, or if a
    config's outcomes differed between its runs. A config that looks slower
    than in ``compare`` is run ``repeat`` times more before it is judged
    (every config, if only the total looks slower): noise only adds time,
    so a real regression survives that and a slow spell of the machine does
    not. ``out`` is written after that. A bad ``out`` extension, an unknown
    suite or ``repeat`` and an unreadable, malformed or other-suite
    ``compare`` file raise :class:`LobError` before anything runs.
    """
    if repeat < 1:
        raise LobError(f"--repeat must be at least 1, got {repeat}")
    if out is not None:
        check_extension(out)
    old = read_result(compare) if compare is not None else None
    if old is not None and old.suite != suite:
        raise LobError(
            f"{compare}: a result of suite {old.suite!r}, this run is suite {suite!r} "
            f"(their configs run for different lengths; compare like with like: --suite {old.suite})"
        )
    run = SuiteRun(suite, config_dir, only)
    n = sum(1 for _, cfg in run.cases if cfg is not None)
    print(
        f"lob bench: suite {suite}, {n} config{'s' if n != 1 else ''}, best of {repeat} runs each",
        file=stdout,
    )
    stdout.flush()
    for _ in range(repeat):
        run.run_round()
    result = run.result()
    cmp: Comparison | None = None
    rerun: list[str] = []
    if old is not None:
        cmp = compare_results(old, result)
        slower = {s.config for s in cmp.regressions}
        rerun = sorted(slower - {"total"}) or ([r.config for r in result.rows] if slower else [])
        if rerun:
            for _ in range(repeat):
                run.run_round(rerun)
            result = run.result()
            cmp = compare_results(old, result)
            cmp.notes.append(f"looked slower, so ran {repeat} more times before judging: {', '.join(rerun)}")
    print(
        f"baseline: {result.baseline_workload}, {result.baseline_cpu_s:.3f} s CPU "
        f"(median of {len(result.baseline_samples)}); x base = the run's CPU time over it",
        file=stdout,
    )
    print(format_table(result), file=stdout)
    status = EXIT_FAILED if any(r.unstable for r in result.rows) else EXIT_OK
    if out is not None:
        write_result(result, out)
        print(f"wrote {out}", file=stdout)
    if cmp is not None and old is not None and compare is not None:
        print(format_comparison(cmp, old, compare), file=stdout)
        if cmp.failed:
            status = EXIT_FAILED
    return status
