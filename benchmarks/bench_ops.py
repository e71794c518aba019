"""What each book operation costs, in ns, compiled against the reference, in one process.

Each operation runs N times against a book prepared (untimed) to a realistic
state: 2,000 levels a side with 5 orders each around a 10,000-tick mid. The
compiled book is timed through the batch API (the loop in Cython) and through
per-call methods from a Python loop; the reference through per-call methods.
An empty Python loop of the same shape is timed too, so the per-call figure can
be read net of Python's own loop cost. Results print as a table and go to
``--json`` (default ``benchmarks/results/ops.json``).

Usage: ``python benchmarks/bench_ops.py [--n 200000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from bench_core import best_of  # same folder: run as a script, it is on sys.path

from lob.core import COMMAND_DTYPE, Kind, OrderBook, ReferenceBook, Side

Array = npt.NDArray[np.void]
MID = 10_000
LEVELS = 2_000
PER_LEVEL = 5
FIRST_ID = 10_000_000  # ids of the timed orders start here, clear of the prepared book's


def prepared_book(cls: type) -> Any:
    """A two-sided book: LEVELS levels a side, PER_LEVEL orders each, 2 ticks apart.

    The empty odd-offset prices between levels leave room to make new levels at
    any depth without crossing.
    """
    n = 2 * LEVELS * PER_LEVEL
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    level = np.repeat(np.arange(LEVELS), PER_LEVEL)
    cmds["kind"] = Kind.LIMIT
    cmds["order_id"] = np.arange(n)
    cmds["owner"] = np.arange(n) % 97
    cmds["side"][: n // 2] = Side.BUY
    cmds["side"][n // 2 :] = Side.SELL
    cmds["price"][: n // 2] = MID - 1 - 2 * level
    cmds["price"][n // 2 :] = MID + 1 + 2 * level
    cmds["qty"] = 10
    book = cls()
    book.execute(cmds)
    return book


def commands(op: str, n: int, rng: np.random.Generator) -> tuple[Array, Array | None]:
    """(setup, timed) command arrays for one operation; setup runs untimed first."""
    ids = FIRST_ID + np.arange(n)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["order_id"] = ids
    cmds["owner"] = 1000
    cmds["qty"] = 1
    side = np.where(rng.random(n) < 0.5, Side.BUY, Side.SELL)
    cmds["side"] = side
    depth = rng.integers(0, LEVELS, n)  # an existing level, anywhere in the book
    cmds["price"] = np.where(side == Side.BUY, MID - 1 - 2 * depth, MID + 1 + 2 * depth)
    if op == "add at an existing level":
        cmds["kind"] = Kind.LIMIT
        return cmds, None
    if op.startswith("new level"):
        # Pairs: a limit order at an empty price between two levels, then its
        # cancel, which removes the level again; so every add makes a new level.
        max_depth = 20 if "touch" in op else LEVELS
        gap = 2 + 2 * rng.integers(0, max_depth, n // 2)
        pair_side = side[: n // 2]
        cmds["kind"][0::2] = Kind.LIMIT
        cmds["kind"][1::2] = Kind.CANCEL
        cmds["order_id"][1::2] = cmds["order_id"][0::2]
        cmds["side"][0::2] = pair_side
        cmds["price"][0::2] = np.where(pair_side == Side.BUY, MID - 1 - gap, MID + 1 + gap)
        return cmds, None
    if op in ("cancel", "reduce by 1 of 2"):
        setup = cmds.copy()
        setup["kind"] = Kind.LIMIT
        setup["qty"] = 2
        timed = np.zeros(n, dtype=COMMAND_DTYPE)
        timed["order_id"] = rng.permutation(ids)
        timed["kind"] = Kind.CANCEL if op == "cancel" else Kind.REDUCE
        timed["qty"] = 1
        return setup, timed
    if op == "market order, 1 fill":
        cmds["kind"] = Kind.MARKET
        cmds["price"] = 0
        return cmds, None
    if op == "market sweep of 10 levels (per fill)":
        # Alternate sides so each side loses at most 10 levels per two orders;
        # the row is reported per fill (50 fills an order).
        sweeps = min(n, 2 * (LEVELS // 10) - 10)
        cmds = cmds[:sweeps]
        cmds["kind"] = Kind.MARKET
        cmds["price"] = 0
        cmds["qty"] = 10 * PER_LEVEL * 10
        cmds["side"] = np.where(np.arange(sweeps) % 2 == 0, Side.BUY, Side.SELL)
        return cmds, None
    if op == "FOK that cannot fill":
        cmds["kind"] = Kind.FOK
        cmds["price"] = np.where(side == Side.BUY, MID + 1, MID - 1)
        cmds["qty"] = 10 * PER_LEVEL + 1
        return cmds, None
    if op == "rejected (unknown id cancel)":
        cmds["kind"] = Kind.CANCEL
        cmds["order_id"] = ids + n  # never live
        return cmds, None
    raise ValueError(op)


OPS = [
    "add at an existing level",
    "new level near the touch (add/cancel)",
    "new level anywhere (add/cancel)",
    "cancel",
    "reduce by 1 of 2",
    "market order, 1 fill",
    "market sweep of 10 levels (per fill)",
    "FOK that cannot fill",
    "rejected (unknown id cancel)",
]


def as_rows(cmds: Array) -> list[tuple[int, ...]]:
    cols = (cmds[f].tolist() for f in ("kind", "order_id", "owner", "side", "price", "qty", "stp"))
    return list(zip(*cols, strict=True))


def units(op: str, setup: Array, timed: Array | None) -> int:
    """What a row is reported per: fills for the sweep, commands otherwise."""
    if "per fill" not in op:
        return len(setup if timed is None else timed)
    book = prepared_book(OrderBook)
    return len(book.execute(setup if timed is None else timed)[1])


def time_batch(cls: type, setup: Array, timed: Array | None) -> float:
    book = prepared_book(cls)
    if timed is not None:
        book.execute(setup)
    t0 = time.perf_counter()
    book.execute(setup if timed is None else timed)
    return time.perf_counter() - t0


def time_calls(cls: type, setup: Array, timed: Array | None) -> float:
    book = prepared_book(cls)
    if timed is None:
        timed = setup
    else:
        book.execute(setup)
    rows = as_rows(timed)
    submit = book.submit
    t0 = time.perf_counter()
    for kind, order_id, owner, side, price, qty, stp in rows:
        try:  # noqa: SIM105 -- try/except costs nothing when nothing raises
            submit(kind, order_id, owner, side, price, qty, stp)
        except ValueError:
            pass
    return time.perf_counter() - t0


def time_empty_loop(n: int) -> float:
    rows = [(0, i, 0, 1, 0, 0, 0) for i in range(n)]
    t0 = time.perf_counter()
    for kind, order_id, owner, side, price, qty, stp in rows:
        try:  # noqa: SIM105
            (kind, order_id, owner, side, price, qty, stp)  # noqa: B018
        except ValueError:
            pass
    return time.perf_counter() - t0


def time_queries(cls: type, n: int) -> dict[str, float]:
    """ns per call of the O(1)/O(log L) queries, from Python (the loop cost included)."""
    book = prepared_book(cls)
    out = {}
    calls: tuple[tuple[str, Callable[[], object]], ...] = (
        ("best_bid()", lambda: book.best_bid()),
        ("volume_at(side, price)", lambda: book.volume_at(Side.BUY, MID - 500)),
        ("depth(side, 10)", lambda: book.depth(Side.SELL, 10)),
    )
    for name, call in calls:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        out[name] = (time.perf_counter() - t0) / n * 1e9
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="operations timed per row (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="take the best of this many runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/ops.json"))
    args = parser.parse_args()
    n_ref = min(args.n, 50_000)
    loop_ns = best_of(args.repeat, lambda: time_empty_loop(args.n)) / args.n * 1e9
    rows: list[dict[str, Any]] = []
    for op in OPS:
        setup, timed = commands(op, args.n, np.random.default_rng(args.seed))
        ref_setup, ref_timed = commands(op, n_ref, np.random.default_rng(args.seed))
        count, ref_count = units(op, setup, timed), units(op, ref_setup, ref_timed)
        batch = best_of(args.repeat, partial(time_batch, OrderBook, setup, timed)) / count * 1e9
        calls = best_of(args.repeat, partial(time_calls, OrderBook, setup, timed)) / count * 1e9
        ref = best_of(args.repeat, partial(time_calls, ReferenceBook, ref_setup, ref_timed)) / ref_count * 1e9
        rows.append({"op": op, "batch_ns": batch, "percall_ns": calls, "reference_ns": ref})
    queries = {
        "compiled": time_queries(OrderBook, args.n),
        "reference": time_queries(ReferenceBook, n_ref),
    }
    print(f"book: {LEVELS} levels a side x {PER_LEVEL} orders; {args.n:,} ops a row (reference {n_ref:,})")
    print(f"empty Python loop of the per-call shape: {loop_ns:.0f} ns")
    print(f"{'operation':<36}{'batch ns':>10}{'per-call ns':>13}{'reference ns':>14}{'ref/batch':>11}")
    for r in rows:
        print(
            f"{r['op']:<36}{r['batch_ns']:>10.0f}{r['percall_ns']:>13.0f}{r['reference_ns']:>14.0f}"
            f"{r['reference_ns'] / r['batch_ns']:>10.0f}x"
        )
    for name in queries["compiled"]:
        print(f"{name:<36}{'':>10}{queries['compiled'][name]:>13.0f}{queries['reference'][name]:>14.0f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "n": args.n,
                "reference_n": n_ref,
                "empty_loop_ns": loop_ns,
                "operations": rows,
                "queries_ns": queries,
                "machine": {"platform": platform.platform(), "python": platform.python_version()},
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
