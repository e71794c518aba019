"""Benchmark of the simulator: a whole scenario day, against bare SimPy in the same process.

Runs ``configs/rmsc04_like.yaml`` (09:30-16:00, about 1,100 traders) once in
this process, through the code ``lob run`` uses: building the world,
simulating, and summarising plus writing the run directory (to a temporary
directory), each timed. Then, as the in-process baseline, it
runs bare SimPy: one process yielding as many timeouts as the run scheduled
SimPy events, which is the floor any SimPy-driven design with those events
pays. Prints wall time, simulated events and orders per wall second, peak
RSS, the ratio to that floor and to the ABIDES figures of DESIGN.md, and
writes JSON (``--json``) with at least ``wall_s``, ``orders``, ``events`` and
``peak_rss_mb``. ``--profile`` prints where the time goes (cProfile, top
functions by own time). No assertion on timings anywhere.

    python benchmarks/bench_sim.py
    python benchmarks/bench_sim.py --config configs/calm.yaml --json /tmp/calm.json
    python benchmarks/bench_sim.py --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import simpy
from bench_core import machine_info, peak_rss_mb

from lob.scenario.loader import load_config
from lob.scenario.runner import run_config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "configs" / "rmsc04_like.yaml"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "sim.json"

# ABIDES on its rmsc04 day, on this 2-core machine (DESIGN.md).
ABIDES_WALL_S = 28.6
ABIDES_PEAK_MB = 340.0
TARGETS: dict[str, tuple[float, str]] = {"wall_s": (1.5, "s"), "peak_rss_mb": (120.0, "MB")}


def bare_simpy(n_events: int) -> float:
    """Seconds for one SimPy process to yield ``n_events`` one-ns timeouts: the floor."""
    env = simpy.Environment()

    def proc() -> Any:
        timeout = env.timeout
        for _ in range(n_events):
            yield timeout(1)

    env.process(proc())
    started = time.perf_counter()
    env.run()
    return time.perf_counter() - started


def run_day(config: Path, profile: bool) -> dict[str, Any]:
    """Runs ``config`` through the same code as ``lob run`` (``run_config``), into a temporary directory."""
    cfg = load_config(config)
    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory() as tmp:
        if profiler:
            profiler.enable()
        result = run_config(cfg, Path(tmp) / "run", keep_world=profile)
        if profiler:
            profiler.disable()
        rows = json.loads((Path(tmp) / "run" / "manifest.json").read_text())["rows"]
    t = result.timings
    run = result.summary["run"]
    out: dict[str, Any] = {
        "config": str(config.relative_to(ROOT) if config.is_relative_to(ROOT) else config),
        "traders": run["traders"],
        "simulated_s": cfg.run.duration / 1e9,
        "build_s": round(t["build_s"], 3),
        "simulate_s": round(t["simulate_s"], 3),
        "write_s": round(t["write_s"], 3),
        "wall_s": round(result.wall_s, 3),
        "orders": run["commands"],
        "events": run["events"],
        "simpy_events": run["simpy_events"],
        "trades": rows.get("trades"),
        "book_rows": rows.get("book"),
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--json", type=Path, default=None, help=f"write results here (e.g. {DEFAULT_JSON})")
    parser.add_argument("--profile", action="store_true", help="profile the simulation (slows it down)")
    args = parser.parse_args(argv)

    result = run_day(args.config.resolve(), args.profile)
    floor = bare_simpy(result["simpy_events"])
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["bare_simpy_s"] = round(floor, 3)
    result["simulate_over_bare_simpy"] = round(result["simulate_s"] / floor, 2)
    result["abides_wall_over_ours"] = round(ABIDES_WALL_S / result["wall_s"], 1)
    result["abides_peak_over_ours"] = round(ABIDES_PEAK_MB / result["peak_rss_mb"], 1)
    result["orders_per_wall_s"] = round(result["orders"] / result["wall_s"])
    result["events_per_wall_s"] = round(result["events"] / result["wall_s"])
    result["machine"] = machine_info()

    print(f"{result['config']}: {result['traders']} traders, {result['simulated_s']:.0f} simulated seconds")
    print(
        f"  build {result['build_s']:.3f} s   simulate {result['simulate_s']:.3f} s   "
        f"write {result['write_s']:.3f} s"
    )
    print(
        f"  orders {result['orders']:,}   log events {result['events']:,}   "
        f"SimPy events {result['simpy_events']:,}"
    )
    print(
        f"  {result['orders_per_wall_s']:,} orders and {result['events_per_wall_s']:,} events per wall second"
    )
    print(
        f"  bare SimPy with the same events: {floor:.3f} s; "
        f"simulate / bare = {result['simulate_over_bare_simpy']}x"
    )
    print(
        f"  ABIDES rmsc04 {ABIDES_WALL_S} s / ours {result['wall_s']} s = {result['abides_wall_over_ours']}x"
    )
    for key, (limit, unit) in TARGETS.items():
        verdict = "ok" if result[key] <= limit else "MISSED"
        print(f"  {key:<12} {result[key]:>8} {unit}   target <= {limit} {unit}   {verdict}")
    if "profile" in result:
        print(result.pop("profile"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
