"""``lob sweep``: run every run of a sweep file, skip those already done, gather one results table.

The output directory (default ``runs/sweeps/<name>``) holds
``results.parquet`` (see :mod:`lob.sweep.results`), rewritten atomically
as runs complete so an interrupted sweep keeps what finished, and copies of
the sweep file (``sweep.yaml``) and of the base config (``base.yaml``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from lob.errors import LobError
from lob.sweep.spec import Run, Sweep, load_sweep, yaml_text

DEFAULT_OUT = Path("runs") / "sweeps"
#: Least seconds between two rewrites of results.parquet while runs complete (and once at the end).
SAVE_EVERY_S = 2.0
EXIT_INTERRUPTED = 130
RESULTS = "results.parquet"  # lob.sweep.results, which loads pandas, is imported only to run a sweep


@dataclass
class SweepReport:
    """What a sweep did: runs found done, run now, failed (their rows), and where the table is."""

    sweep: Sweep
    table_path: Path
    done_before: int = 0
    ran: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    wall_s: float = 0.0

    @property
    def ok(self) -> int:
        """Runs of this sweep that succeeded now."""
        return self.ran - len(self.failed)


def default_workers() -> int:
    """The CPUs this process may use: one worker process each."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``lob sweep``'s arguments on ``parser`` (the names :func:`sweep_command` takes)."""
    n = default_workers()
    parser.add_argument("sweep", metavar="SWEEP", help="sweep file (YAML)")
    parser.add_argument(
        "--workers",
        type=int,
        default=n,
        metavar="N",
        help=f"worker processes of the local Dask cluster (default: one per CPU, {n}); 0: in this process",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="use the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786)",
    )
    parser.add_argument("--out", metavar="DIR", help="output directory (default runs/sweeps/NAME)")
    parser.add_argument(
        "--write-runs", action="store_true", help="also write each run's directory, to DIR/runs/RUN_ID"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check the sweep file and count the runs to do; run nothing"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def sweep_command(
    path: Path,
    *,
    workers: int,
    scheduler: str | None,
    out: Path | None,
    progress: bool,
    stdout: TextIO,
    write_runs: bool = False,
    dry_run: bool = False,
) -> int:
    """``lob sweep``: check the sweep file, run what is not done, write the table; the exit status.

    0 if every run succeeded (now or before), 1 if any failed, 130 if
    interrupted (the table keeps what finished). A bad sweep file raises
    :class:`lob.scenario.ConfigError`; an unusable output directory or
    cluster, :class:`lob.errors.LobError`.
    """
    sweep = load_sweep(path)
    out_dir = out if out is not None else DEFAULT_OUT / sweep.name
    if dry_run:
        from lob.sweep.results import read_rows

        done = _done_rows(sweep, read_rows(out_dir / RESULTS))
        print(_plan(sweep, out_dir), file=stdout)
        print(
            f"  {len(done)} done before, {len(sweep.runs) - len(done)} to run (dry run: nothing run)",
            file=stdout,
        )
        return 0
    report = run_sweep(
        sweep,
        workers=workers,
        scheduler=scheduler,
        out=out_dir,
        progress=progress,
        stdout=stdout,
        write_runs=write_runs,
    )
    if report.interrupted:
        return EXIT_INTERRUPTED
    return 1 if report.failed else 0


def run_sweep(
    sweep: Sweep,
    *,
    workers: int,
    scheduler: str | None = None,
    out: Path | None = None,
    progress: bool = False,
    stdout: TextIO | None = None,
    write_runs: bool = False,
) -> SweepReport:
    """Run the sweep's runs not done yet and write the table; what happened.

    ``workers`` processes of a new local Dask cluster, or the cluster of
    ``scheduler``; ``workers=0`` runs them one after another in this process
    (no Dask). Ctrl-C stops the sweep: the report says ``interrupted`` and
    the table keeps every run that had finished.
    """
    from lob.sweep.results import SUPERSEDED, read_rows, supersede, table, write_table

    def say(text: str) -> None:
        if stdout is not None:
            print(text, file=stdout, flush=True)

    out_dir = out if out is not None else DEFAULT_OUT / sweep.name
    _prepare(out_dir, sweep)
    path = out_dir / RESULTS
    old = read_rows(path)
    runs = {run.run_id: run for run in sweep.runs}
    stale = [row for row in old if row["run_id"] not in runs]
    supersede(out_dir, stale, sweep.param_names)
    # Earlier failures stay in the table until their run is done again. Parameters as the sweep gives
    # them: a value the table holds as YAML text (a mapping, say) is the sweep's value again.
    rows = {row["run_id"]: {**row, **runs[row["run_id"]].params} for row in old if row["run_id"] in runs}
    todo = [run for run in sweep.runs if rows.get(run.run_id, {}).get("status") != "ok"]
    report = SweepReport(sweep, path, done_before=len(sweep.runs) - len(todo))
    say(_plan(sweep, out_dir))
    moved = f"; {len(stale)} rows of runs no longer in the sweep moved to {SUPERSEDED}" if stale else ""
    plan = f"{len(todo)} to run {_where(workers, scheduler)}" if todo else "nothing to run"
    say(f"  {report.done_before} done before, {plan}{moved}")

    def save() -> None:
        write_table(table((rows[r.run_id] for r in sweep.runs if r.run_id in rows), sweep.param_names), path)

    t0 = time.perf_counter()
    saved = t0
    write_dir = out_dir / "runs" if write_runs else None
    bar = tqdm(
        total=len(todo),
        unit="run",
        desc=sweep.name,
        file=sys.stderr,
        disable=not progress or not todo or not sys.stderr.isatty(),
        leave=False,
    )
    try:
        with bar, _batches(sweep, todo, workers, scheduler, write_dir) as batches:
            for batch in batches:
                for row in batch:
                    rows[row["run_id"]] = row
                    report.ran += 1
                    if row["status"] != "ok":
                        report.failed.append(row)
                bar.update(len(batch))
                if report.failed:
                    bar.set_postfix(failed=len(report.failed), refresh=False)
                if time.perf_counter() - saved >= SAVE_EVERY_S:
                    save()
                    saved = time.perf_counter()
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        report.wall_s = time.perf_counter() - t0
        save()
    _report(report, len(todo), say)
    return report


# -- helpers -----------------------------------------------------------------------------------------------


def _plan(sweep: Sweep, out_dir: Path) -> str:
    seeds = len({run.seed for run in sweep.runs})
    sets = sweep.parameter_sets
    return (
        f"sweep {sweep.name}: {len(sweep.runs)} runs ({sets} parameter set{'s' if sets != 1 else ''} x "
        f"{seeds} seed{'s' if seeds != 1 else ''}) of {sweep.base} -> {out_dir}"
    )


def _where(workers: int, scheduler: str | None) -> str:
    if scheduler is not None:
        return f"on the Dask cluster at {scheduler}"
    if workers == 0:
        return "in this process"
    return f"on a local Dask cluster of {workers} worker process{'es' if workers != 1 else ''}"


def _prepare(out_dir: Path, sweep: Sweep) -> None:
    """Create ``out_dir`` (or check it is a sweep's) and copy the sweep file and base config in."""
    if out_dir.exists() and not out_dir.is_dir():
        raise LobError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir():
        names = {p.name for p in out_dir.iterdir()}
        if names and not names & {RESULTS, "sweep.yaml"}:
            raise LobError(
                f"{out_dir}: exists and is not a sweep's output directory (no {RESULTS}); "
                "choose another --out"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        copy = out_dir / "sweep.yaml"
        if not (copy.exists() and copy.samefile(sweep.path)):
            shutil.copyfile(sweep.path, copy)
        (out_dir / "base.yaml").write_text(sweep.base_text, encoding="utf-8")
    except OSError as exc:
        raise LobError(f"{out_dir}: cannot write the sweep's output: {exc.strerror or exc}") from None


def _done_rows(sweep: Sweep, old: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows of this sweep's runs that succeeded before, with the parameters as the sweep gives them."""
    runs = {run.run_id: run for run in sweep.runs}
    return {
        row["run_id"]: {**row, **runs[row["run_id"]].params}
        for row in old
        if row["run_id"] in runs and row["status"] == "ok"
    }


def _batches(
    sweep: Sweep, todo: list[Run], workers: int, scheduler: str | None, write_dir: Path | None
) -> AbstractContextManager[Iterator[list[dict[str, Any]]]]:
    """Batches of rows as runs complete, inside the context of their cluster (closed on the way out)."""
    if not todo:
        return nullcontext(iter(()))
    if scheduler is None and workers == 0:
        return nullcontext(_in_process(sweep, todo, write_dir))
    return _on_dask(sweep, todo, workers, scheduler, write_dir)


def _in_process(sweep: Sweep, todo: list[Run], write_dir: Path | None) -> Iterator[list[dict[str, Any]]]:
    from lob.sweep import execute  # looked up at each call: a test may stand in for execute_run

    base = str(sweep.base)
    for run in todo:
        out = None if write_dir is None else write_dir / run.run_id
        yield [
            execute.execute_run(
                base,
                run.overrides,
                run.seed,
                params=run.params,
                base_text=sweep.base_text,
                run_id=run.run_id,
                out=out,
            )
        ]


@contextmanager
def _on_dask(
    sweep: Sweep, todo: list[Run], workers: int, scheduler: str | None, write_dir: Path | None
) -> Iterator[Iterator[list[dict[str, Any]]]]:
    """The cluster open while the batches are read; on the way out, runs not finished are cancelled."""
    from lob.sweep.cluster import completed_rows, dask_client, submit_runs

    with dask_client(workers, scheduler) as client:
        futures = submit_runs(client, sweep, todo, write_dir)
        try:
            yield completed_rows(futures, todo)
        finally:
            client.cancel(futures)  # type: ignore[no-untyped-call]


def _report(report: SweepReport, todo: int, say: Callable[[str], None]) -> None:
    if report.interrupted:
        say(
            f"interrupted after {report.wall_s:.1f} s: {report.ran} of {todo} runs finished "
            f"({len(report.failed)} failed); the table keeps them: {report.table_path}"
        )
    elif todo:
        rate = report.ran / report.wall_s * 60 if report.wall_s > 0 else 0.0
        say(
            f"{report.ok} ok, {len(report.failed)} failed in {report.wall_s:.1f} s wall "
            f"({rate:.0f} runs a minute) -> {report.table_path}"
        )
    else:
        say(f"nothing to run: every run is done -> {report.table_path}")
    for row in report.failed[:10]:
        what = [row["run_id"], *(f"{k}={yaml_text(row[k])}" for k in report.sweep.param_names)]
        error = (row["error"] or "").splitlines()
        say(f"  failed {' '.join(what)} seed {row['seed']}: {error[0] if error else ''}")
    if len(report.failed) > 10:
        say(f"  ... and {len(report.failed) - 10} more (the error column of the table has each one)")
