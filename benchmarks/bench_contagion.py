"""Benchmark of cross-margin contagion as instruments grow: N perpetuals on one venue, same activity each.

What: for each N (default 2, 4, 8) the script builds, in Python, a scenario
like ``configs/contagion_assets.yaml`` with N perpetuals ``I0..I{N-1}`` on one
venue, every instrument with the same traders of its own (2 market makers,
100 noise traders, 20 value traders), the same single-instrument
open-interest profile (400 leveraged longs, 10 shorts) and an equal share
of one cross-margined portfolio profile spanning all N instruments
(200 x N accounts, each account's notional split evenly, so 200 accounts'
worth of portfolio exposure per instrument at every N). A block seller
sells I0 from minute 5 of a 10-minute run: I0 cascades, the breached
portfolios sell their other positions, and liquidations are part of the
measured work. Everything per instrument is fixed; only N changes.

Why: the issue says wall time should grow about linearly with the number
of instruments at fixed activity per instrument. If the simulator does
per-event work proportional to N (a loop over all instruments or all
books on every mark update, say), the cost grows like N squared.

How: each config is parsed from YAML text (``parse_config``) and run
``--repeat`` times (default 3) in this process through
``lob.scenario.runner.run_config(cfg, write=False)``, the sizes taking
turns within a round so that a burst of load from elsewhere does not land
on one size. Per size it keeps the smallest CPU time
(``time.process_time`` around ``run_config``: build, simulate and
summarise) and the smallest wall ``simulate_s``. In each round the
bare-SimPy workload of ``lob.benchsuite.measure`` (one process yielding
200,000 timeouts) is timed too; its smallest CPU time is the baseline.

How to read it: ``events/inst`` (event-log rows per instrument) should be
about the same at every N; where it is not, the sizes did not do the same
work per instrument and the ratios mean less. Two things make it drift,
by design of the scenario: the block sale and I0's own cascade are a
fixed amount of work whatever N is (about 1,500 rows, so they weigh
more at N = 2), and the cascade crosses over through the portfolios only
where I0 is a large share of them: at N = 2 (half of each portfolio)
the other instrument cascades too, at N >= 4 it barely does. The
``liq`` column and the liquidations by instrument printed under the table
show it. ``cpu/inst`` is CPU seconds per instrument and ``us/event`` CPU
per event-log row. ``scaling = (cpu(N) / cpu(N0)) / (N / N0)``, with N0
the smallest size: 1.0 is linear; a cost quadratic in N would give N / N0
(4.0 at N = 8 against N0 = 2). ``sim scal`` is the same ratio on the wall
``simulate_s`` alone (no build, no summary; wall, so noisier).
``cpu/base`` is CPU over the bare-SimPy baseline: the machine's speed,
which on a shared VM moves by up to 2x from one minute to the next,
mostly cancels. No assertion on timings anywhere.

    python benchmarks/bench_contagion.py
    python benchmarks/bench_contagion.py --json benchmarks/results/contagion.json
    python benchmarks/bench_contagion.py --sizes 2,8 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench_core import machine_info

from lob.benchsuite.measure import BASELINE_WORKLOAD, bare_simpy_seconds
from lob.scenario.config import ScenarioConfig
from lob.scenario.loader import parse_config
from lob.scenario.runner import release_memory, run_config

DEFAULT_SIZES = (2, 4, 8)
DURATION = "10m"
SALE_START = "5m"
SALE_END = "8m"
MAKERS = 2
NOISE = 100
VALUE = 20
OI_LONGS = 400
OI_SHORTS = 10
PORTFOLIO_PER_INSTRUMENT = 200
BLOCK_QUANTITY = 4000

HEADER = """\
run:
  duration: {duration}
  seed: 1
  start: "2026-01-05T10:00:00"

venue:
  latency: {{base: 100us, jitter: 50us, distribution: uniform}}
  feed_latency: 200us
  fees: {{maker_bps: -0.2, taker_bps: 0.5}}
  mark: {{method: median, interval: 500ms, ma_window: 10}}
  liquidation: {{mode: market, check_latency: 100ms, fee_bps: 50, order: largest_first}}
  insurance_fund: 200000

outputs:
  snapshot_interval: 1s
  depth: 10
"""

INSTRUMENT = (
    "  - {{symbol: {s}, tick_size: 0.01, lot_size: 1, price: 100.0, kind: perpetual, "
    "margin_tiers: binance_btcusdt}}\n"
)
FUNDAMENTAL = "  {s}: {{mean_reversion: 0.001, volatility: 0.005}}\n"
TRADERS = """\
  - type: market_maker
    name: maker_{s}
    instrument: {s}
    count: {makers}
    params: {{refresh_interval: 1s, levels: 5, half_spread_ticks: 2, level_spacing_ticks: 1, size: 25,
             tolerance_ticks: 1, skew_ticks_per_lot: 0.01, vol_widen: 1.0, vol_halflife: 10s,
             max_inventory: 600, withdraw_vol_bps: 50, reenter_vol_bps: 40, max_loss: 1500, withdraw_for: 3m}}
  - type: noise
    name: noise_{s}
    instrument: {s}
    count: {noise}
    params: {{mean_interval: 20s, market_prob: 0.2, offset_ticks: 150, cancel_after: 5m}}
  - type: value
    name: value_{s}
    instrument: {s}
    count: {value}
    params: {{mean_interval: 30s, obs_noise_ticks: 5, aggression: 0.3, depth_ticks: 3, size_min: 5,
             size_max: 20, max_position: 2000}}
"""
BLOCK_SELLER = """\
  - type: execution
    name: block_seller
    instrument: I0
    params: {{side: sell, quantity: {quantity}, start: {start}, end: {end}, mode: twap, slices: 180,
             order_type: market}}
"""
SINGLE_OI = """\
  - name: oi_{s}
    instrument: {s}
    longs: {{count: {longs}, notional: {{median: 5000, sigma: 1.0}}, leverage: {{min: 5, max: 100}},
            entry_spread: 0.002}}
    shorts: {{count: {shorts}, leverage: {{min: 1, max: 3}}}}
"""
PORTFOLIO_OI = """\
  - name: portfolio
    instruments: {{{weights}}}
    margin: cross
    longs: {{count: {count}, notional: {{median: 8000, sigma: 1.0}}, leverage: {{min: 10, max: 100}},
            entry_spread: 0.002}}
    shorts: {{count: {shorts}, leverage: {{min: 1, max: 3}}}}
"""


def scenario_yaml(n: int) -> str:
    """The YAML text of the N-instrument scenario: the same traders and open interest per instrument."""
    symbols = [f"I{k}" for k in range(n)]
    parts = [HEADER.format(duration=DURATION), "instruments:\n"]
    parts += [INSTRUMENT.format(s=s) for s in symbols]
    parts.append("fundamental:\n")
    parts += [FUNDAMENTAL.format(s=s) for s in symbols]
    parts.append("traders:\n")
    parts += [TRADERS.format(s=s, makers=MAKERS, noise=NOISE, value=VALUE) for s in symbols]
    parts.append(BLOCK_SELLER.format(quantity=BLOCK_QUANTITY, start=SALE_START, end=SALE_END))
    parts.append("open_interest:\n")
    weights = ", ".join(f"{s}: 1" for s in symbols)
    parts.append(PORTFOLIO_OI.format(weights=weights, count=PORTFOLIO_PER_INSTRUMENT * n, shorts=OI_SHORTS))
    parts += [SINGLE_OI.format(s=s, longs=OI_LONGS, shorts=OI_SHORTS) for s in symbols]
    return "".join(parts)


def make_config(n: int) -> ScenarioConfig:
    """The validated N-instrument scenario."""
    return parse_config(scenario_yaml(n), "bench_contagion")


def run_once(cfg: ScenarioConfig) -> dict[str, Any]:
    """One run of ``cfg`` in this process, no run directory: its times, events and liquidations."""
    release_memory()  # the previous run's garbage is collected outside the clock
    wall, cpu = time.perf_counter(), time.process_time()
    result = run_config(cfg, write=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary, timings = result.summary, result.timings
    del result
    release_memory()
    liq = summary.get("liquidations") or {}
    contagion = summary.get("contagion") or {}
    by_instrument = {
        symbol: int(section["liquidations"]) for symbol, section in contagion.get("by_instrument", {}).items()
    }
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "build_s": timings["build_s"],
        "simulate_s": timings["simulate_s"],
        "summarise_s": timings["write_s"],
        "events": int(summary["run"]["events"]),
        "commands": int(summary["run"]["commands"]),
        "simpy_events": int(summary["run"]["simpy_events"]),
        "traders": int(summary["run"]["traders"]),
        "liquidations": int(liq.get("liquidations", 0)),
        "deepest_generation": liq.get("deepest_generation"),
        "liquidations_by_instrument": by_instrument or None,
        "cross_instrument_links": (contagion.get("links") or {}).get("cross_instrument"),
    }


def best(n: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A size's figures: the smallest CPU and wall times over its runs, the counts of the first run."""
    first = runs[0]
    same = all(r[k] == first[k] for r in runs for k in ("events", "commands", "liquidations", "simpy_events"))
    return {
        "instruments": n,
        "traders": first["traders"],
        "cpu_s": round(min(r["cpu_s"] for r in runs), 3),
        "cpu_s_all": [round(r["cpu_s"], 3) for r in runs],
        "wall_s": round(min(r["wall_s"] for r in runs), 3),
        "build_s": round(min(r["build_s"] for r in runs), 3),
        "simulate_s": round(min(r["simulate_s"] for r in runs), 3),
        "simulate_s_all": [round(r["simulate_s"], 3) for r in runs],
        "summarise_s": round(min(r["summarise_s"] for r in runs), 3),
        "events": first["events"],
        "commands": first["commands"],
        "simpy_events": first["simpy_events"],
        "liquidations": first["liquidations"],
        "deepest_generation": first["deepest_generation"],
        "liquidations_by_instrument": first["liquidations_by_instrument"],
        "cross_instrument_links": first["cross_instrument_links"],
        "deterministic": same,
    }


def derived(sizes: dict[int, dict[str, Any]], baseline_cpu: float) -> None:
    """Adds per-instrument figures and the ratios to the smallest size and to the baseline, in place."""
    n0 = min(sizes)
    ref = sizes[n0]
    for n, fig in sizes.items():
        fig["cpu_per_instrument_s"] = round(fig["cpu_s"] / n, 4)
        fig["simulate_per_instrument_s"] = round(fig["simulate_s"] / n, 4)
        fig["events_per_instrument"] = round(fig["events"] / n)
        fig["liquidations_per_instrument"] = round(fig["liquidations"] / n, 1)
        fig["cpu_ratio"] = round(fig["cpu_s"] / ref["cpu_s"], 3)
        fig["scaling"] = round(fig["cpu_s"] / ref["cpu_s"] / (n / n0), 3)
        fig["simulate_scaling"] = round(fig["simulate_s"] / ref["simulate_s"] / (n / n0), 3)
        fig["events_scaling"] = round(fig["events"] / ref["events"] / (n / n0), 3)
        fig["cpu_over_baseline"] = round(fig["cpu_s"] / baseline_cpu, 2)
        fig["cpu_per_event_us"] = round(fig["cpu_s"] / fig["events"] * 1e6, 2)


#: The table's columns: heading, key in a size's figures, width, format.
COLUMNS = (
    ("N", "instruments", 3, ""),
    ("traders", "traders", 7, ","),
    ("build s", "build_s", 7, ".3f"),
    ("sim s", "simulate_s", 7, ".3f"),
    ("cpu s", "cpu_s", 7, ".3f"),
    ("events", "events", 7, ","),
    ("events/inst", "events_per_instrument", 11, ","),
    ("liq", "liquidations", 5, ","),
    ("liq/inst", "liquidations_per_instrument", 8, ""),
    ("cpu/inst", "cpu_per_instrument_s", 8, ".3f"),
    ("us/event", "cpu_per_event_us", 8, ".2f"),
    ("cpu/base", "cpu_over_baseline", 8, ".1f"),
    ("scaling", "scaling", 7, ".2f"),
    ("sim scal", "simulate_scaling", 8, ".2f"),
)


def print_table(sizes: dict[int, dict[str, Any]], baseline_cpu: float) -> None:
    """The per-size table, the baseline, and each size's liquidations by instrument."""
    n0 = min(sizes)
    print(" ".join(f"{head:>{width}}" for head, _, width, _ in COLUMNS))
    for _, f in sorted(sizes.items()):
        print(" ".join(f"{f[key]:>{width}{spec}}" for _, key, width, spec in COLUMNS))
    print(
        f"  scaling = (cpu(N) / cpu({n0})) / (N / {n0}): 1.0 is linear in N; "
        f"'sim scal' is the same on wall simulate_s"
    )
    print(f"  baseline ({BASELINE_WORKLOAD}): {baseline_cpu:.3f} CPU s, best of the rounds")
    for n, f in sorted(sizes.items()):
        notes = []
        if not f["deterministic"]:
            notes.append("counts differed between repeats")
        if f["liquidations_by_instrument"]:
            notes.append(
                "liquidations by instrument "
                + ", ".join(f"{s} {c}" for s, c in f["liquidations_by_instrument"].items())
            )
        if notes:
            print(f"  N={n}: " + "; ".join(notes))


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(x) for x in text.split(",") if x.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, e.g. 2,4,8")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each size; the best counts (default 3)"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--sizes", type=parse_sizes, default=list(DEFAULT_SIZES), help="instrument counts (default 2,4,8)"
    )
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    configs = {n: make_config(n) for n in args.sizes}
    print(
        f"contagion benchmark: N perpetuals on one venue, {DURATION} each, "
        f"block sale of I0 from {SALE_START}; best of {args.repeat}"
    )
    print(
        f"  per instrument: {MAKERS} makers, {NOISE} noise, {VALUE} value traders, "
        f"{OI_LONGS} + {OI_SHORTS} single-instrument OI accounts, "
        f"{PORTFOLIO_PER_INSTRUMENT} of the cross-margined portfolio accounts"
    )
    print(f"  load average before {load_before[0]:.2f} (1 min; {os.cpu_count()} CPUs)")
    run_once(configs[min(configs)])  # warm-up, uncounted: imports, first-call caches
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in args.sizes}
    baselines: list[float] = []
    for _ in range(args.repeat):
        baselines.append(bare_simpy_seconds()[1])
        for n in args.sizes:
            runs[n].append(run_once(configs[n]))
    load_after = os.getloadavg()
    baseline_cpu = min(baselines)
    sizes = {n: best(n, rs) for n, rs in runs.items()}
    derived(sizes, baseline_cpu)
    print_table(sizes, baseline_cpu)
    print(f"  load average after {load_after[0]:.2f}")

    if args.json:
        out = {
            "scenario": {
                "duration": DURATION,
                "sale": {
                    "instrument": "I0",
                    "quantity": BLOCK_QUANTITY,
                    "start": SALE_START,
                    "end": SALE_END,
                },
                "per_instrument": {
                    "market_makers": MAKERS,
                    "noise": NOISE,
                    "value": VALUE,
                    "oi_longs": OI_LONGS,
                    "oi_shorts": OI_SHORTS,
                    "portfolio_accounts": PORTFOLIO_PER_INSTRUMENT,
                },
            },
            "repeat": args.repeat,
            "cpu_measures": "time.process_time around run_config(write=False): build, simulate, summarise",
            "baseline": {"workload": BASELINE_WORKLOAD, "cpu_s": round(baseline_cpu, 4)},
            "sizes": {str(n): f for n, f in sorted(sizes.items())},
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "machine": machine_info(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"  -> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
