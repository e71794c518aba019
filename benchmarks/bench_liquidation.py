"""Benchmark of the liquidation engine as accounts grow: the flash crash with 1,000 to 100,000 accounts.

Runs ``configs/flash_crash.yaml`` once per size N (default 1,000, 10,000 and
100,000 margined accounts of open interest) through the code ``lob run`` uses
(``run_config``: build the world, simulate, summarise and write the run
directory to a temporary directory), each phase timed. To compare like with
like, the same accounts are liquidated at every size:

- the config's own open-interest profile (``oi``) is kept, with its longs cut
  to ``--hot-longs`` (default 900; 5-100x leverage) and its 30 shorts: the
  "hot" accounts, the fuel of the cascade, identical at every size;
- a second profile, ``cold``, fills the size up to N: N - hot accounts, 1% of
  them shorts, all at 1-2x leverage, which no move of this crash reaches.
  Passive accounts send no orders and draw from their own random stream, so
  the market, and who is liquidated, should not depend on N.

The script checks that (orders, log events and liquidations counted, and the
liquidated accounts in order, read back from ``liquidations.parquet``, none of
them cold) and says so when it does not hold. The cost of a mark update is
the time spent in ``RiskEngine.on_mark`` (the engine's listener on the mark
price: it asks the liquidation index which accounts the mark crossed); the
breach checks that follow (``RiskEngine._check``) are timed too. Both are
wrapped in the built world before it runs. Cyclic garbage collection is timed
in each phase (``gc.callbacks``): with N accounts alive a full collection
walks all of them, the one cost of N that can land inside the simulation.

The baseline of the ratios is the smallest size, run in the same process after
an uncounted warm-up run. Sizes run in ascending order, ``--repeat`` rounds
(default 3); a size's figures are those of its fastest simulation, with the
fastest build, write and total of its rounds. Untimed, after the rounds, each
size's world is built once more under ``tracemalloc`` for its memory, and one
full collection is timed with it alive. Prints a table, the ratios
largest/smallest, the target of the issue (100,000 accounts simulate in at
most 2x the wall time of 1,000), peak RSS, and writes JSON (``--json``).
``--profile`` adds a cProfile table of the simulation of the smallest and the
largest size (it slows the run; those figures are not the benchmark's). No
assertion on timings anywhere.

    python benchmarks/bench_liquidation.py
    python benchmarks/bench_liquidation.py --json benchmarks/results/liquidation.json
    python benchmarks/bench_liquidation.py --sizes 1000 100000 --repeat 1 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from unittest import mock

import pyarrow.parquet as pq  # type: ignore[import-untyped]
from bench_core import machine_info, peak_rss_mb

import lob.scenario.runner as runner
from lob.scenario.config import ScenarioConfig
from lob.scenario.loader import load_config
from lob.scenario.world import World

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "configs" / "flash_crash.yaml"
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "liquidation.json"
DEFAULT_SIZES = (1_000, 10_000, 100_000)
COLD = "cold"  # name of the low-leverage profile; its accounts are ``cold-long-<k>``, ``cold-short-<k>``
COLD_LEVERAGE = {"min": 1.0, "max": 2.0}
COLD_SHORT_SHARE = 0.01  # as the config's 3,000 longs to 30 shorts
BUSY_LOAD = 0.3  # a 1-minute load average above this before the runs means other jobs are running
TARGET_RATIO = 2.0  # simulate time of the largest size over the smallest (the target)

P = ParamSpec("P")
R = TypeVar("R")


# -- THE SCENARIO ------------------------------------------------------------------


def scenario(config: Path, accounts: int, hot_longs: int) -> tuple[ScenarioConfig, dict[str, int]]:
    """``config``: its first open-interest profile cut to ``hot_longs`` longs, cold accounts up to N."""
    base = load_config(config)
    if not base.open_interest:
        raise SystemExit(f"{config} has no open_interest profile to keep")
    hot = base.open_interest[0].model_dump(mode="json")
    if hot_longs < 1:
        raise SystemExit("--hot-longs must be at least 1")
    hot["longs"]["count"] = hot_longs
    hot_total = hot_longs + hot["shorts"]["count"]
    cold_total = accounts - hot_total
    if cold_total < 2:
        raise SystemExit(
            f"{accounts:,} accounts leave no room for cold ones beside {hot_total:,} hot: "
            "lower --hot-longs or raise --sizes"
        )
    cold_shorts = max(1, round(cold_total * COLD_SHORT_SHARE))
    cold = {
        "name": COLD,
        "instrument": hot["instrument"],
        "longs": {
            "count": cold_total - cold_shorts,
            "notional": hot["longs"]["notional"],
            "leverage": COLD_LEVERAGE,
            "entry_spread": hot["longs"]["entry_spread"],
        },
        "shorts": {"count": cold_shorts, "leverage": COLD_LEVERAGE},
    }
    # JSON is YAML: the override goes through the loader's validation like a --set would.
    cfg = load_config(config, [f"open_interest={json.dumps([hot, cold])}"])
    counts = {"hot_longs": hot_longs, "hot_shorts": hot_total - hot_longs}
    counts |= {"cold_longs": cold_total - cold_shorts, "cold_shorts": cold_shorts}
    return cfg, counts


# -- MEASURING ---------------------------------------------------------------------


class CallTimer:
    """Wall seconds and calls of the functions it wraps."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    def wrap(self, fn: Callable[P, R]) -> Callable[P, R]:
        clock = time.perf_counter

        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            t0 = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += clock() - t0
                self.calls += 1

        return timed

    def mean_us(self) -> float:
        return self.seconds / self.calls * 1e6 if self.calls else float("nan")


class Probe:
    """What one run measured inside the world: mark updates, breach checks, garbage collection."""

    def __init__(self) -> None:
        self.on_mark = CallTimer()
        self.check = CallTimer()
        self.candidates = 0  # accounts handed to the breach checks
        self.phase = "build"  # what run_config is doing: build, simulate, write
        self.gc_s = {"build": 0.0, "simulate": 0.0, "write": 0.0}  # seconds of cyclic garbage collection
        self.gc_full = {"build": 0, "simulate": 0, "write": 0}  # collections of the oldest generation
        self._gc_started = 0.0
        self.index_size = 0  # accounts in the liquidation indexes when the run starts

    def instrument(self, world: World) -> None:
        """Times ``on_mark`` (where the mark prices call it) and ``_check`` of the world's risk engine."""
        risk = world.risk
        if risk is None or not world.marks:
            raise SystemExit("the config has no perpetual: no risk engine to measure")
        original = risk.on_mark
        timed_mark = self.on_mark.wrap(original)
        setattr(risk, "on_mark", timed_mark)  # noqa: B010 -- mypy refuses assigning to a method
        for mark in world.marks.values():
            mark.listeners[:] = [timed_mark if f == original else f for f in mark.listeners]
        if not any(timed_mark in m.listeners for m in world.marks.values()):
            raise SystemExit("RiskEngine.on_mark is not a mark listener: the probe would time nothing")
        check = self.check.wrap(risk._check)

        def counted(ii: int, candidates: list[int], *rest: Any) -> None:
            self.candidates += len(candidates)
            check(ii, candidates, *rest)

        setattr(risk, "_check", counted)  # noqa: B010 -- the on_mark callback calls self._check
        self.index_size = sum(len(index) for index in risk.indexes)

    def gc_callback(self, phase: str, info: dict[str, int]) -> None:
        """A ``gc.callbacks`` entry: adds each collection's time to the phase under way."""
        now = time.perf_counter()
        if phase == "start":
            self._gc_started = now
            return
        self.gc_s[self.phase] += now - self._gc_started
        self.gc_full[self.phase] += info["generation"] == 2

    def simulating(self, run: Callable[P, None], profiler: cProfile.Profile | None) -> Callable[P, None]:
        """``run`` (the world's) marking the simulate phase, profiled if asked."""

        def timed(*args: P.args, **kwargs: P.kwargs) -> None:
            self.phase = "simulate"
            if profiler is not None:
                profiler.enable()
            try:
                run(*args, **kwargs)
            finally:
                if profiler is not None:
                    profiler.disable()
                self.phase = "write"

        return timed


@contextmanager
def probed(probe: Probe, profiler: cProfile.Profile | None) -> Iterator[None]:
    """``run_config`` builds worlds that ``probe`` instruments (and profiles their simulation if asked)."""
    build = runner.build_world

    def build_and_probe(cfg: ScenarioConfig) -> World:
        probe.phase = "build"
        world = build(cfg)
        probe.instrument(world)
        setattr(world, "run", probe.simulating(world.run, profiler))  # noqa: B010
        return world

    gc.callbacks.append(probe.gc_callback)
    try:
        with mock.patch.object(runner, "build_world", build_and_probe):
            yield
    finally:
        gc.callbacks.remove(probe.gc_callback)


def run_once(cfg: ScenarioConfig, profiler: cProfile.Profile | None = None) -> dict[str, Any]:
    """One run of ``cfg`` through ``run_config``, into a temporary directory: timings, who was liquidated."""
    probe = Probe()
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        with probed(probe, profiler):
            result = runner.run_config(cfg, Path(tmp) / "run")
        liquidated = pq.read_table(Path(tmp) / "run" / "liquidations.parquet", columns=["agent"])
        names = [str(name) for name in liquidated.column("agent").to_pylist()]
    t = result.timings
    run = result.summary["run"]
    return {
        "build_s": t["build_s"],
        "simulate_s": t["simulate_s"],
        "write_s": t["write_s"],
        "total_s": result.wall_s,
        "liquidations": result.summary["liquidations"].get("liquidations", 0),
        "liquidated": names,
        "deepest_generation": result.summary["liquidations"].get("deepest_generation"),
        "orders": run["commands"],
        "events": run["events"],
        "simpy_events": run["simpy_events"],
        "mark_updates": probe.on_mark.calls,
        "on_mark_s": probe.on_mark.seconds,
        "on_mark_us": probe.on_mark.mean_us(),
        "checks": probe.check.calls,
        "check_s": probe.check.seconds,
        "check_candidates": probe.candidates,
        "indexed_accounts": probe.index_size,
        "gc_s": probe.gc_s,
        "gc_full_collections": probe.gc_full,
    }


def world_memory(cfg: ScenarioConfig) -> tuple[float, float]:
    """MB of Python heap (tracemalloc) the built world holds, and seconds of one full collection with it.

    Untimed: tracing slows the build. The collection is timed once tracing has
    stopped, the second after the build (the first collects the build's garbage).
    """
    gc.collect()
    tracemalloc.start()
    try:
        world = runner.build_world(cfg)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    gc.collect()
    t0 = time.perf_counter()
    gc.collect()
    full_gc_s = time.perf_counter() - t0
    del world
    gc.collect()
    return held / 2**20, full_gc_s


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the fastest simulation, with the fastest build, write and total over ``runs``."""
    out = dict(min(runs, key=lambda r: r["simulate_s"]))
    for key in ("build_s", "write_s", "total_s"):
        out[key] = min(r[key] for r in runs)
    out["simulate_s_all"] = [round(r["simulate_s"], 3) for r in runs]
    return out


# -- REPORTING ---------------------------------------------------------------------


def profile_text(profiler: cProfile.Profile, top: int) -> str:
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return text.getvalue()


def consistency(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether every size ran the same market and liquidated the same accounts, none of them cold."""
    first = sizes[0]
    out: dict[str, Any] = {"same": True, "cold_liquidated": 0, "notes": []}
    for s in sizes[1:]:
        for key in ("liquidations", "orders", "events"):
            if s[key] != first[key]:
                n, n0 = s["accounts"], first["accounts"]
                out["notes"].append(f"{key}: {s[key]:,} with {n:,} accounts, {first[key]:,} with {n0:,}")
        if s["liquidated"] != first["liquidated"]:
            a, b = set(s["liquidated"]), set(first["liquidated"])
            out["notes"].append(
                f"{s['accounts']:,} accounts: not the same liquidations in the same order as "
                f"{first['accounts']:,}: {len(a - b)} accounts liquidated only here, {len(b - a)} only there"
            )
    for s in sizes:
        cold = sum(1 for name in s["liquidated"] if name.startswith(f"{COLD}-"))
        out["cold_liquidated"] += cold
        if cold:
            out["notes"].append(f"{s['accounts']:,} accounts: {cold} cold accounts liquidated")
    out["same"] = not out["notes"]
    return out


def print_report(fig: dict[str, Any]) -> None:
    m = fig["machine"]
    sizes = fig["sizes"]
    print(
        f"\n{fig['config']}: {fig['simulated_s']:.0f} simulated seconds, seed {fig['seed']}, "
        f"best of {fig['repeat']}"
    )
    print(f"machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['platform']}, python {m['python']}")
    before = fig["load_average"]["before"][0]
    busy = "  (other jobs were running: every figure is slowed)" if before > BUSY_LOAD else ""
    print(f"load average (1 min) before the runs: {before:.2f}{busy}")
    c, hot = sizes[0]["counts"], fig["hot_leverage"]
    print(
        f"hot accounts (the config's profile): {c['hot_longs']:,} longs at {hot['min']:g}-{hot['max']:g}x, "
        f"{c['hot_shorts']} shorts; the rest cold at {COLD_LEVERAGE['min']:g}-{COLD_LEVERAGE['max']:g}x\n"
    )
    head = (
        f"{'accounts':>9}{'build s':>9}{'simulate s':>11}{'write s':>9}{'total s':>9}"
        f"{'gc s':>7}{'liquidations':>13}{'liq/s':>7}{'marks':>7}{'on_mark us':>11}{'check us':>10}"
        f"{'world MB':>9}{'peak MB':>9}"
    )
    print(head)
    for s in sizes:
        print(
            f"{s['accounts']:>9,}{s['build_s']:>9.3f}{s['simulate_s']:>11.3f}{s['write_s']:>9.3f}"
            f"{s['total_s']:>9.3f}{s['gc_s']['simulate']:>7.3f}{s['liquidations']:>13,}"
            f"{s['liquidations_per_simulate_s']:>7,.0f}"
            f"{s['mark_updates']:>7,}{s['on_mark_us']:>11.2f}{s['check_us']:>10.1f}"
            f"{s['world_mb']:>9.1f}{s['peak_rss_mb']:>9.1f}"
        )
    print(
        "\n(gc s: cyclic garbage collection during simulate, part of it; liq/s: liquidations per second "
        "of simulate time;\n on_mark us: mean per mark update; check us: mean per breach check, covering "
        "every account it was handed;\n world MB: Python heap the built world holds (tracemalloc); "
        "peak MB: peak RSS of the process once this size has run)"
    )
    print(
        f"\n{'accounts':>9}{'build us/account':>18}{'world B/account':>17}"
        f"{'one full gc ms':>15}{'gc s (full collections): build':>32}{'simulate':>14}{'write':>14}"
    )
    for s in sizes:
        gc_s, full = s["gc_s"], s["gc_full_collections"]
        cells = "".join(
            f"{f'{gc_s[phase]:.3f} ({full[phase]})':>{width}}"
            for phase, width in (("build", 32), ("simulate", 14), ("write", 14))
        )
        n = s["accounts"]
        per_account = f"{s['build_s'] / n * 1e6:>18.1f}{s['world_mb'] * 2**20 / n:>17,.0f}"
        print(f"{n:>9,}{per_account}{s['full_gc_s'] * 1e3:>15.1f}{cells}")
    cons = fig["consistency"]
    if cons["same"]:
        print(
            f"\nsame market at every size: {sizes[0]['orders']:,} orders, {sizes[0]['events']:,} log events, "
            f"{sizes[0]['liquidations']:,} liquidations of the same accounts in the same order, none cold"
        )
    else:
        print("\nNOT the same run at every size:")
        for note in cons["notes"]:
            print(f"  {note}")
    small, large = sizes[0], sizes[-1]
    print(f"\n{large['accounts']:,} / {small['accounts']:,} accounts:")
    for key in ("build_s", "simulate_s", "write_s", "total_s", "on_mark_us"):
        print(f"  {key:<11} {fig['ratios'][key]:>6.2f}x")
    verdict = "PASS" if fig["target"]["pass"] else "MISSED"
    print(
        f"\ntarget: simulate time of {large['accounts']:,} accounts <= {TARGET_RATIO:g}x that of "
        f"{small['accounts']:,}, same liquidations: {verdict} "
        f"(measured {fig['ratios']['simulate_s']:.2f}x; whole run {fig['ratios']['total_s']:.2f}x)"
    )


# -- MAIN --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="accounts of open interest"
    )
    parser.add_argument("--hot-longs", type=int, default=900, help="leveraged longs kept from the config")
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the sizes; the fastest counts")
    parser.add_argument("--json", type=Path, default=None, help=f"write results here (e.g. {DEFAULT_JSON})")
    parser.add_argument("--profile", action="store_true", help="profile the smallest and largest size")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = args.config.resolve()
    sizes = sorted(set(args.sizes))
    repeat = max(1, args.repeat)
    cfgs = {n: scenario(config, n, args.hot_longs) for n in sizes}
    load_before = os.getloadavg()

    warm = run_once(cfgs[sizes[0]][0])  # imports, first-touch allocations and caches: not counted
    print(f"warm-up, {sizes[0]:,} accounts (not counted): simulate {warm['simulate_s']:.3f} s", flush=True)
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    peaks: dict[int, float] = {}
    for round_ in range(repeat):
        for n in sizes:
            runs[n].append(run_once(cfgs[n][0]))
            peaks.setdefault(n, peak_rss_mb())  # ascending sizes: the first round's peak is this size's
            r = runs[n][-1]
            print(
                f"round {round_ + 1}/{repeat}, {n:>7,} accounts: build {r['build_s']:.3f} s, "
                f"simulate {r['simulate_s']:.3f} s, write {r['write_s']:.3f} s, "
                f"{r['liquidations']:,} liquidations",
                flush=True,
            )

    rows = []
    for n in sizes:
        row = best(runs[n])
        row["accounts"] = n
        row["counts"] = cfgs[n][1]
        row["liquidations_per_simulate_s"] = row["liquidations"] / row["simulate_s"]
        row["check_us"] = row["check_s"] / row["checks"] * 1e6 if row["checks"] else float("nan")
        row["peak_rss_mb"] = peaks[n]
        row["world_mb"], row["full_gc_s"] = world_memory(cfgs[n][0])
        rows.append(row)
    small, large = rows[0], rows[-1]
    ratios = {
        key: large[key] / small[key] for key in ("build_s", "simulate_s", "write_s", "total_s", "on_mark_us")
    }
    cons = consistency(rows)
    same = cons["same"]
    base_cfg = cfgs[sizes[0]][0]
    fig: dict[str, Any] = {
        "config": str(config.relative_to(ROOT) if config.is_relative_to(ROOT) else config),
        "seed": base_cfg.run.seed,
        "simulated_s": base_cfg.run.duration / 1e9,
        "repeat": repeat,
        "hot_longs": args.hot_longs,
        "hot_leverage": base_cfg.open_interest[0].longs.leverage.model_dump(),
        "cold_leverage": COLD_LEVERAGE,
        "sizes": rows,
        "ratios": ratios,
        "consistency": cons,
        "target": {
            "what": f"simulate_s of {large['accounts']} accounts / {small['accounts']}, same liquidations",
            "max_ratio": TARGET_RATIO,
            "ratio": ratios["simulate_s"],
            "pass": bool(same and ratios["simulate_s"] <= TARGET_RATIO),
        },
        "peak_rss_mb": peak_rss_mb(),
        "load_average": {"before": load_before, "after": os.getloadavg()},  # 1, 5, 15 min: other jobs?
        "machine": machine_info(),
        "command_line": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print_report(fig)

    if args.profile:
        fig["profile"] = {}
        for n in (sizes[0], sizes[-1]):
            profiler = cProfile.Profile()
            run_once(cfgs[n][0], profiler)
            text = profile_text(profiler, 25)
            fig["profile"][str(n)] = text
            print(f"\nprofile of the simulation, {n:,} accounts (slowed by the profiler):\n{text}")

    if args.json:
        for row in rows:
            del row["liquidated"]  # the check is in "consistency"; the names are not worth the bytes
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_rounded(fig), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


def _rounded(value: Any) -> Any:
    """``value`` with every float to 6 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
