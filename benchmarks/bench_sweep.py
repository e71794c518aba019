"""Benchmark of ``lob sweep``'s scaling: the same sweep on a local Dask cluster of 1 worker and of 2.

The sweep is ``--runs`` runs (default 16: seeds 1..16) of
``configs/flash_crash.yaml`` with ``run.duration`` cut to ``--duration``
(default 20m: the crash, 10:10-10:14, and its cascade are in it), about
0.4 s of simulation each. Runs differ in length, so the last one leaves a
worker idle for part of a run: with 8 runs that tail alone costs 2 workers
about a tenth of their speed, with 16 half as much. Both clusters are started and warmed up
(every worker imports the simulator and runs one short run) before any
clock starts, so start-up is not timed. Then, in each of ``--repeat``
rounds (default 5), the sweep runs on the 1-worker cluster and then on the
2-worker one, submitted and gathered through the code ``lob sweep`` uses
(``lob.sweep.cluster.submit_runs`` and ``completed_rows``; no table is
written). The same runs also go once through ``execute_run`` in this
process: the cost of a run without Dask.

Prints runs per minute for each size (best and median of the rounds) and
the ratio 2 workers / 1 worker against the target of the issue (>= 1.8x),
and writes JSON (``--json``). The machine's load average is recorded
before and after: on a 2-core machine, any other busy process takes a
worker's core. No assertion on timings anywhere.

    python benchmarks/bench_sweep.py
    python benchmarks/bench_sweep.py --runs 8 --duration 30m --repeat 3 --json /tmp/sweep.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench_core import machine_info, version_of

from lob.sweep.cluster import completed_rows, dask_client, submit_runs
from lob.sweep.execute import execute_run
from lob.sweep.spec import Sweep, load_sweep

if TYPE_CHECKING:
    from distributed import Client

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "configs" / "flash_crash.yaml"
TARGET_RATIO = 1.8
SIZES = (1, 2)


def make_sweep(folder: Path, runs: int, duration: str) -> Sweep:
    """The benchmark's sweep: ``runs`` seeds of the flash crash cut to ``duration``."""
    path = folder / "bench.yaml"
    path.write_text(
        f"name: bench\nbase: {BASE}\nset: {{run.duration: {duration}}}\nseeds: {{count: {runs}}}\n"
    )
    return load_sweep(path)


def in_process(sweep: Sweep) -> dict[str, Any]:
    """The runs one after another in this process, without Dask: the cost of a run itself."""
    started = time.perf_counter()
    rows = [
        execute_run(sweep.base, run.overrides, run.seed, base_text=sweep.base_text, run_id=run.run_id)
        for run in sweep.runs
    ]
    wall = time.perf_counter() - started
    assert all(row["status"] == "ok" for row in rows), [row["error"] for row in rows]
    return {"wall_s": round(wall, 3), "runs_per_min": round(len(rows) / wall * 60, 1)}


def warm_up(client: Client, warm: Sweep) -> None:
    """Every worker imports the simulator and runs one short run: imports, first-call caches, arenas."""
    client.run(importlib.import_module, "lob.sweep.execute")
    for address in client.scheduler_info()["workers"]:
        run = warm.runs[0]
        future = client.submit(
            execute_run,
            str(warm.base),
            list(run.overrides),
            run.seed,
            base_text=warm.base_text,
            workers=[address],
            pure=False,
        )
        assert future.result()["status"] == "ok"


def cpu_seconds(pids: list[int]) -> tuple[float, float] | None:
    """CPU seconds the whole machine has been busy, and those of ``pids``, from /proc (None off Linux)."""
    try:
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        ours = 0
        for pid in pids:
            stat = Path(f"/proc/{pid}/stat").read_text()
            after = stat[stat.rindex(")") + 2 :].split()  # fields from the 3rd on; comm may hold spaces
            ours += int(after[11]) + int(after[12])  # utime, stime
    except (OSError, ValueError):
        return None
    return (user + nice + system + irq + softirq + steal) / tick, ours / tick


def one_round(client: Client, sweep: Sweep, pids: list[int]) -> dict[str, Any]:
    """Submit every run and gather every row: wall seconds, the rows, and CPU used by other processes.

    ``foreign_cpu_s`` is the machine's busy CPU time over the round minus
    that of ``pids`` (this process, holding the scheduler and nannies, and
    every worker): what other programs took from the sweep.
    """
    cpu_before = cpu_seconds(pids)
    started = time.perf_counter()
    futures = submit_runs(client, sweep, sweep.runs)
    rows = [row for batch in completed_rows(futures, sweep.runs) for row in batch]
    wall = time.perf_counter() - started
    cpu_after = cpu_seconds(pids)
    assert all(row["status"] == "ok" for row in rows), [row["error"] for row in rows]
    foreign = None
    if cpu_before is not None and cpu_after is not None:
        foreign = round(max(0.0, (cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1])), 2)
    return {"wall_s": wall, "rows": rows, "foreign_cpu_s": foreign}


def figures(n: int, rounds: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    """Runs per minute over all rounds, and over the quiet ones (others took < 5% of a CPU)."""
    walls = [r["wall_s"] for r in rounds]
    quiet = [
        r["wall_s"]
        for r in rounds
        if r["foreign_cpu_s"] is not None and r["foreign_cpu_s"] < 0.05 * r["wall_s"]
    ]
    rows = [row for r in rounds for row in r["rows"]]
    return {
        "workers": workers,
        "workers_used": len({row["worker"] for row in rows}),
        "wall_s": [round(w, 3) for w in walls],
        "foreign_cpu_s": [r["foreign_cpu_s"] for r in rounds],
        "runs_per_min_best": round(n / min(walls) * 60, 1),
        "runs_per_min_median": round(n / statistics.median(walls) * 60, 1),
        "quiet_rounds": len(quiet),
        "runs_per_min_quiet_median": round(n / statistics.median(quiet) * 60, 1) if quiet else None,
        "run_wall_s_median": round(statistics.median(row["wall_s"] for row in rows), 3),
    }


def on_clusters(sweep: Sweep, repeat: int, warm: Sweep) -> dict[str, dict[str, Any]]:
    """``repeat`` rounds on each cluster size, the sizes taking turns within a round (start-up untimed).

    Taking turns spreads a burst of load from elsewhere over both sizes
    rather than landing it on one.
    """
    with ExitStack() as stack:
        clients = {n: stack.enter_context(dask_client(n)) for n in SIZES}
        pids = [os.getpid()]
        for client in clients.values():
            warm_up(client, warm)
            pids.extend(client.run(os.getpid).values())
        rounds: dict[int, list[dict[str, Any]]] = {n: [] for n in SIZES}
        for _ in range(repeat):
            for n, client in clients.items():
                rounds[n].append(one_round(client, sweep, pids))
    return {str(n): figures(len(sweep.runs), rounds[n], n) for n in SIZES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs in the sweep (seeds 1..N; default 16)")
    parser.add_argument("--duration", default="20m", help="run.duration of each run (default 20m)")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per cluster size (default 5)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = make_sweep(Path(tmp), args.runs, args.duration)
        warm = make_sweep(Path(tmp), 1, "1m")
        base = in_process(sweep)
        sizes = on_clusters(sweep, args.repeat, warm)
    load_after = os.getloadavg()
    one, two = sizes["1"], sizes["2"]
    quiet = one["runs_per_min_quiet_median"] and two["runs_per_min_quiet_median"]
    result = {
        "sweep": {"base": str(BASE.relative_to(ROOT)), "duration": args.duration, "runs": args.runs},
        "repeat": args.repeat,
        "in_process": base,
        "clusters": sizes,
        "ratio_best": round(two["runs_per_min_best"] / one["runs_per_min_best"], 2),
        "ratio_median": round(two["runs_per_min_median"] / one["runs_per_min_median"], 2),
        "ratio_quiet_median": round(two["runs_per_min_quiet_median"] / one["runs_per_min_quiet_median"], 2)
        if quiet
        else None,
        "target_ratio": TARGET_RATIO,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "machine": {**machine_info(), "dask": version_of("dask"), "distributed": version_of("distributed")},
    }
    print(
        f"sweep benchmark: {args.runs} runs of {result['sweep']['base']} (run.duration={args.duration}), "
        f"{args.repeat} rounds, the sizes taking turns; start-up untimed"
    )
    print(
        f"  {'in this process, no Dask':<24} : {base['runs_per_min']:7.1f} runs/min ({base['wall_s']:.2f} s)"
    )
    for n, fig in sizes.items():
        rounds = ", ".join(f"{w:.2f}" for w in fig["wall_s"])
        others = ", ".join("?" if f is None else f"{f:.2f}" for f in fig["foreign_cpu_s"])
        label = f"{n} worker{'s' if n != '1' else ''} (Dask)"
        print(
            f"  {label:<24} : {fig['runs_per_min_best']:7.1f} runs/min best, "
            f"{fig['runs_per_min_median']:.1f} median; a run {fig['run_wall_s_median']:.2f} s"
        )
        print(f"    rounds {rounds} s; CPU s taken by other programs in each: {others}")
    verdict = "ok" if result["ratio_best"] >= TARGET_RATIO else "MISSED"
    print(
        f"  2 workers / 1 worker: {result['ratio_best']:.2f}x best, {result['ratio_median']:.2f}x median; "
        f"target >= {TARGET_RATIO}x: {verdict}"
    )
    if quiet:
        print(
            f"  over quiet rounds only ({one['quiet_rounds']} and {two['quiet_rounds']}): "
            f"{result['ratio_quiet_median']:.2f}x median"
        )
    else:
        print("  no quiet round for both sizes: other programs were busy; the ratios are not the code's")
    print(
        f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"(1 min; {os.cpu_count()} CPUs)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"  -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
