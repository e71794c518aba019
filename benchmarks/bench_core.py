"""Benchmark of the matching core: the compiled book's batch and per-call APIs against the reference.

Generates :func:`lob.core.workload.benchmark_commands` once (not timed: 60%
limit orders, some marketable, 30% cancels of live orders, 10% market orders,
a book of a few thousand resting orders), then times, in this one process and
best of ``--repeat``:

- ``OrderBook().execute(cmds)``: the batch API on a fresh book;
- ``OrderBook.submit(...)`` called once per command from a Python loop over
  rows pre-converted to Python ints, catching ``OrderError``, with
  ``take_fills()`` / ``take_stp_cancels()`` every 10,000 commands (timed);
- ``ReferenceBook.submit(...)``, the same loop, the baseline of the ratios;
- ``ReferenceBook().execute(cmds)``, for information.

Then it builds a book of 1,000,000 resting orders and reports its
``memory_bytes()`` and the RSS it added. Prints a table with pass/fail per
target and writes JSON (``--json``). No assertion on timings anywhere.

    python benchmarks/bench_core.py                    # 1,000,000 commands, best of 3
    python benchmarks/bench_core.py --commands 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lob.core import COMMAND_DTYPE, Kind, OrderBook, ReferenceBook, Side, Status
from lob.core.workload import benchmark_commands
from lob.errors import OrderError

Array = npt.NDArray[np.void]
Row = tuple[int, int, int, int, int, int, int]

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "core.json"
TAKE_EVERY = 10_000  # per-call runs empty the fill buffers this often
RESTING_FOR_MEMORY = 1_000_000

# Targets of the issue: name -> (threshold, unit, True if higher is better).
TARGETS: dict[str, tuple[float, str, bool]] = {
    "batch_ops_per_s": (10_000_000, "ops/s", True),
    "batch_over_reference": (25.0, "x", True),
    "percall_ops_per_s": (2_000_000, "ops/s", True),
    "memory_1m_resting_mb": (100.0, "MB", False),
}


# -- MEASURING ---------------------------------------------------------------------


def current_rss_mb() -> float:
    """Resident set size of this process now, MB (Linux /proc; NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def best_of(repeat: int, run: Callable[[], float]) -> float:
    """The smallest of ``repeat`` timings (seconds) returned by ``run``."""
    timings = []
    for _ in range(repeat):
        gc.collect()
        timings.append(run())
    return min(timings)


def time_batch(cls: type, cmds: Array) -> tuple[float, Any, tuple[Array, Array, Array]]:
    """Seconds for ``cls().execute(cmds)`` on a fresh book; the book and outputs for checking."""
    book = cls()
    t0 = time.perf_counter()
    outputs = book.execute(cmds)
    return time.perf_counter() - t0, book, outputs


def per_call_rows(cmds: Array) -> list[list[Row]]:
    """The commands as ``submit`` argument tuples of Python ints, in chunks of ``TAKE_EVERY``."""
    columns = (cmds[name].tolist() for name in ("kind", "order_id", "owner", "side", "price", "qty", "stp"))
    rows: list[Row] = list(zip(*columns, strict=True))
    return [rows[i : i + TAKE_EVERY] for i in range(0, len(rows), TAKE_EVERY)]


def time_per_call(cls: type, chunks: list[list[Row]]) -> tuple[float, Any]:
    """Seconds to submit every row from a Python loop on a fresh book, draining fills per chunk."""
    book = cls()
    submit, take_fills, take_stp_cancels = book.submit, book.take_fills, book.take_stp_cancels
    t0 = time.perf_counter()
    for chunk in chunks:
        for kind, order_id, owner, side, price, qty, stp in chunk:
            try:  # noqa: SIM105 -- try/except is free when nothing raises; contextlib.suppress is not
                submit(kind, order_id, owner, side, price, qty, stp)
            except OrderError:
                pass
        take_fills()
        take_stp_cancels()
    return time.perf_counter() - t0, book


def resting_counts(cmds: Array, results: Array, fills: Array) -> npt.NDArray[np.int64]:
    """Resting order count after each command of a LIMIT / CANCEL / MARKET stream without STP."""
    assert set(np.unique(cmds["kind"]).tolist()) <= {Kind.LIMIT, Kind.CANCEL, Kind.MARKET}
    assert not cmds["stp"].any(), "counting assumes no self-trade prevention"
    delta = ((cmds["kind"] == Kind.LIMIT) & (results["status"] == Status.RESTING)).astype(np.int64)
    delta -= (cmds["kind"] == Kind.CANCEL) & (results["status"] == Status.CANCELLED)
    emptied = fills["seq"][fills["maker_remaining"] == 0] - results["seq"][0]
    delta -= np.bincount(emptied, minlength=len(cmds))
    return np.cumsum(delta)


def resting_book_commands(n: int, seed: int) -> Array:
    """``n`` non-crossing limit orders: bids below 100,000 ticks, asks above, 5,000 levels a side."""
    rng = np.random.default_rng(seed)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["order_id"] = np.arange(n)
    cmds["owner"] = rng.integers(0, 1_000, n)
    sides = np.where(np.arange(n) % 2 == 0, int(Side.BUY), int(Side.SELL))
    cmds["side"] = sides
    cmds["price"] = 100_000 - sides * (1 + rng.integers(0, 5_000, n))
    cmds["qty"] = rng.integers(1, 100, n)
    cmds["kind"] = Kind.LIMIT
    return cmds


def memory_of_resting_book(n: int, seed: int) -> dict[str, float]:
    """A compiled book holding ``n`` resting orders: its ``memory_bytes()`` and the RSS it added, MB."""
    cmds = resting_book_commands(n, seed)
    gc.collect()
    before = current_rss_mb()
    book = OrderBook()
    outputs = book.execute(cmds)
    assert len(book) == n and not len(outputs[1]), "the memory book must hold every order, no fills"
    del outputs
    gc.collect()
    after = current_rss_mb()
    return {
        "orders": len(book),
        "levels": book.level_count(Side.BUY) + book.level_count(Side.SELL),
        "memory_bytes_mb": book.memory_bytes() / 2**20,
        "rss_increase_mb": after - before,
    }


# -- REPORTING ---------------------------------------------------------------------


def version_of(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cython": version_of("Cython"),
        "lob": version_of("lob"),
    }


def target_verdicts(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    verdicts = {}
    for name, (threshold, unit, higher) in TARGETS.items():
        value = figures[name]
        ok = value >= threshold if higher else value <= threshold
        verdicts[name] = {"target": threshold, "unit": unit, "value": value, "pass": bool(ok)}
    return verdicts


def print_report(fig: dict[str, Any]) -> None:
    m = fig["machine"]
    print(
        f"\nlob core benchmark: {fig['commands']:,} commands (60% limit, 30% cancel, 10% market), "
        f"seed {fig['seed']}, best of {fig['repeat']}"
    )
    print(f"machine: {m['cpu']}, {m['cpu_count']} CPUs, {m['platform']}")
    print(f"python {m['python']}, numpy {m['numpy']}, Cython {m['cython']}\n")
    print(f"{'api':<34}{'commands':>11}{'seconds':>10}{'ops/s':>14}{'ns/op':>9}{'vs reference':>14}")
    for label, key in (
        ("compiled  execute() batch", "batch"),
        ("compiled  submit() per call", "percall"),
        ("reference submit() per call", "reference"),
        ("reference execute() batch", "reference_batch"),
    ):
        ops = fig[f"{key}_ops_per_s"]
        ratio = ops / fig["reference_ops_per_s"]
        print(
            f"{label:<34}{fig[f'{key}_commands']:>11,}{fig[f'{key}_seconds']:>10.3f}"
            f"{ops:>14,.0f}{1e9 / ops:>9.0f}{ratio:>13.1f}x"
        )
    if fig["reference_commands"] < fig["commands"]:
        print(
            f"(reference timed on the first {fig['reference_commands']:,} commands only; "
            "its ops/s and the ratios come from that prefix)"
        )
    mem = fig["memory_1m"]
    print(
        f"\nresting orders: {fig['resting_orders_end']:,} at the end, {fig['resting_orders_max']:,} at most"
        f"\nRSS {fig['rss_after_generation_mb']:.0f} MB once the workload is generated; peak RSS "
        f"{fig['peak_rss_mb_timing']:.0f} MB after the timings, {fig['peak_rss_mb']:.0f} MB at the end"
        "\n(the peak is the harness: per-call argument tuples, ~125 B a command, and the reference's lists)"
        f"\n{mem['orders']:,} resting orders on {mem['levels']:,} levels: memory_bytes() "
        f"{mem['memory_bytes_mb']:.1f} MB, RSS increase {mem['rss_increase_mb']:.1f} MB\n"
    )
    print("targets:")
    for name, v in fig["targets"].items():
        sign = ">=" if TARGETS[name][2] else "<="
        verdict = "PASS" if v["pass"] else "FAIL"
        target = f"{v['target']:,.0f}" if v["target"] >= 1000 else f"{v['target']:g}"
        value = f"{v['value']:,.0f}" if v["value"] >= 1000 else f"{v['value']:.1f}"
        print(f"  {name:<24} {sign} {target:>10} {v['unit']:<6} {verdict}  (measured {value})")


def timings(cmds: Array, n_ref: int, repeat: int) -> dict[str, Any]:
    """ops/s of the four ways to run ``cmds`` (the reference on its first ``n_ref`` commands)."""
    chunks = per_call_rows(cmds)
    ref_chunks = chunks if n_ref == len(cmds) else per_call_rows(cmds[:n_ref])
    fig: dict[str, Any] = {}
    for key, count, run in (
        ("batch", len(cmds), lambda: time_batch(OrderBook, cmds)[0]),
        ("percall", len(cmds), lambda: time_per_call(OrderBook, chunks)[0]),
        ("reference", n_ref, lambda: time_per_call(ReferenceBook, ref_chunks)[0]),
        ("reference_batch", n_ref, lambda: time_batch(ReferenceBook, cmds[:n_ref])[0]),
    ):
        seconds = best_of(repeat, run)
        fig[f"{key}_commands"] = count
        fig[f"{key}_seconds"] = seconds
        fig[f"{key}_ops_per_s"] = count / seconds
    fig["batch_over_reference"] = fig["batch_ops_per_s"] / fig["reference_ops_per_s"]
    fig["percall_over_reference"] = fig["percall_ops_per_s"] / fig["reference_ops_per_s"]
    return fig


def checks(cmds: Array, n_ref: int) -> dict[str, Any]:
    """Untimed: every path ends in the same book and the batch outputs agree; resting counts."""
    _, book, (results, fills, _) = time_batch(OrderBook, cmds)
    _, per_call_book = time_per_call(OrderBook, per_call_rows(cmds))
    assert np.array_equal(book.snapshot(), per_call_book.snapshot()), "batch and per-call books differ"
    if n_ref == len(cmds):
        _, ref_book, ref_outputs = time_batch(ReferenceBook, cmds)
        assert np.array_equal(results, ref_outputs[0]) and np.array_equal(fills, ref_outputs[1])
        assert np.array_equal(book.snapshot(), ref_book.snapshot()), "compiled and reference books differ"
    counts = resting_counts(cmds, results, fills)
    assert counts[-1] == len(book), "resting count bookkeeping"
    return {
        "rejected": int((results["status"] == Status.REJECTED).sum()),
        "fills": len(fills),
        "resting_orders_end": int(counts[-1]),
        "resting_orders_max": int(counts.max()),
    }


# -- MAIN --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--commands", type=int, default=1_000_000, help="commands in the workload")
    parser.add_argument("--seed", type=int, default=1, help="seed of the workload")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each API; the best counts")
    parser.add_argument(
        "--reference-commands",
        type=int,
        default=None,
        help="time the reference on this prefix only (default: all commands)",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    n, repeat = args.commands, max(1, args.repeat)
    n_ref = min(n, args.reference_commands or n)

    t0 = time.perf_counter()
    cmds = benchmark_commands(n, args.seed)
    print(f"generated {n:,} commands in {time.perf_counter() - t0:.1f} s (not timed)")
    fig: dict[str, Any] = {"commands": n, "seed": args.seed, "repeat": repeat, "reference_commands": n_ref}
    fig["rss_after_generation_mb"] = current_rss_mb()
    fig.update(timings(cmds, n_ref, repeat))
    fig.update(checks(cmds, n_ref))
    fig["peak_rss_mb_timing"] = peak_rss_mb()

    fig["memory_1m"] = memory_of_resting_book(RESTING_FOR_MEMORY, args.seed)
    fig["memory_1m_resting_mb"] = max(
        fig["memory_1m"]["memory_bytes_mb"], fig["memory_1m"]["rss_increase_mb"]
    )
    fig["peak_rss_mb"] = peak_rss_mb()
    fig["targets"] = target_verdicts(fig)
    fig["machine"] = machine_info()
    fig["command_line"] = " ".join([Path(sys.executable).name, *sys.argv])
    fig["date"] = datetime.now(UTC).isoformat(timespec="seconds")

    print_report(fig)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(fig, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return fig


if __name__ == "__main__":
    main()
