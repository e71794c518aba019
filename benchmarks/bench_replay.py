"""Benchmark of the historical replays: parsing and rebuilding timed separately, on the shipped real data.

Each source is a function that returns a dict of figures, or None (saying
why) when its data is not under ``--data`` (default ``../shared/data``):

- ``lobster``: the AMZN 2012-06-21 level-1 LOBSTER sample, the full trading
  day (57,515 messages and as many orderbook rows). *Parse* is
  ``read_messages`` + ``read_orderbook`` + ``pair`` (both files read from
  disk, every line checked; pyarrow is imported before the clock). *Rebuild*
  is ``rebuild(messages, orderbook)``: seeding, every message applied, levels
  coming into view read from the rows; the Python lists it loops over are
  made inside the timing. *Check* is what ``lob replay lobster --check``
  adds: the rebuild with a snapshot of the top levels after every message,
  and their comparison with every row. Target of the issue: rebuilding at
  >= 1,000,000 messages/s. *Baseline*, in the same process, is the floor of
  any message-by-message rebuild in Python: the same columns made into lists
  and one dict store per message; the rebuild's time over it is printed as a
  ratio, which moves less than absolute rates on a noisy machine.

Each phase runs ``--repeat`` times (default 5) and the fastest counts, with
the cyclic garbage collector on, as in the command. No assertion on timings
anywhere. Prints the figures and writes them as JSON with ``--json PATH``.

    python benchmarks/bench_replay.py
    python benchmarks/bench_replay.py --json benchmarks/results/replay.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_core import machine_info

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LOBSTER_DAY = Path("lobster") / "AMZN_2012-06-21_L1"
LOBSTER_TARGET = 1_000_000  # messages/s rebuilding


def best_of(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` timed calls of ``run`` (seconds) and the last call's result."""
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t0)
    return best, result


def lobster(data: Path = DATA, repeat: int = 5) -> dict[str, Any] | None:
    """Parse, rebuild and check the AMZN sample day; None if it is absent."""
    import pyarrow.csv  # type: ignore[import-untyped]  # noqa: F401  (its import is not parsing)

    from lob.replay.lobster import pair, read_messages, read_orderbook, rebuild
    from lob.replay.lobster_check import check

    folder = data / LOBSTER_DAY
    messages_file = next(folder.glob("*_message_*.csv"), None) if folder.is_dir() else None
    orderbook_file = next(folder.glob("*_orderbook_*.csv"), None) if folder.is_dir() else None
    if messages_file is None or orderbook_file is None:
        print(f"lobster: skipped, no LOBSTER message and orderbook files in {folder}")
        return None

    def parse() -> Any:
        return pair(read_messages(messages_file), read_orderbook(orderbook_file))

    parse_s, (messages, orderbook) = best_of(repeat, parse)
    rebuild_s, result = best_of(repeat, lambda: rebuild(messages, orderbook))
    baseline_s, _ = best_of(repeat, lambda: _one_store_per_message(messages))
    check_s, found = best_of(repeat, lambda: check(orderbook, rebuild(messages, orderbook, snapshots=True)))
    n = len(messages)
    rate = n / rebuild_s
    return {
        "data": str(folder),
        "messages": n,
        "levels": orderbook.levels,
        "parse_s": parse_s,
        "parse_messages_per_s": n / parse_s,
        "rebuild_s": rebuild_s,
        "rebuild_messages_per_s": rate,
        "baseline_s": baseline_s,
        "rebuild_over_baseline": rebuild_s / baseline_s,
        "check_s": check_s,
        "check_messages_per_s": n / check_s,
        "rows_matched": found.matched,
        "rows": found.rows,
        "unknown_id_messages": result.unknown_ids,
        "levels_from_file": result.levels_from_file,
        "target": {"rebuild_messages_per_s": LOBSTER_TARGET, "pass": rate >= LOBSTER_TARGET},
    }


def _one_store_per_message(messages: Any) -> int:
    """The baseline: every message's columns as Python values, and one dict store per message."""
    last: dict[int, int] = {}
    columns = (messages.time_ns, messages.type, messages.order_id, messages.size, messages.price)
    for _t, _kind, oid, size, _price, side in zip(
        *(c.tolist() for c in columns), messages.direction.tolist(), strict=True
    ):
        last[oid] = size * side
    return len(last)


#: The sources, in the order they run: name -> function(data, repeat) returning figures or None.
SOURCES: dict[str, Callable[[Path, int], dict[str, Any] | None]] = {"lobster": lobster}


def print_report(fig: dict[str, Any]) -> None:
    figures = fig.get("lobster")
    if figures:
        name, n, levels = Path(figures["data"]).name, figures["messages"], figures["levels"]
        print(f"lobster {name}: {n:,} messages, {levels} level(s)")
        for phase in ("parse", "rebuild", "check"):
            print(
                f"  {phase:<8} {figures[f'{phase}_s'] * 1e3:8.1f} ms  "
                f"{figures[f'{phase}_messages_per_s'] / 1e6:6.2f} M messages/s"
            )
        print(
            f"  baseline {figures['baseline_s'] * 1e3:8.1f} ms  (one dict store a message); "
            f"rebuild / baseline = {figures['rebuild_over_baseline']:.1f}x"
        )
        verdict = "met" if figures["target"]["pass"] else "MISSED"
        print(f"  target: rebuild >= {LOBSTER_TARGET / 1e6:.0f} M messages/s: {verdict}")
        print(f"  check: matched {figures['rows_matched']}/{figures['rows']} rows")
    m = fig["machine"]
    print(f"machine: {m['cpu']}, {m['cpu_count']} CPUs, Python {m['python']}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--data", type=Path, default=DATA, help="the shared data folder (default ../shared/data)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each phase; the fastest counts")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    fig: dict[str, Any] = {"repeat": max(1, args.repeat)}
    for name, source in SOURCES.items():
        fig[name] = source(args.data, fig["repeat"])
    fig["machine"] = machine_info()
    fig["command_line"] = " ".join([Path(sys.executable).name, *sys.argv])
    fig["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_report(fig)
    print_binance(fig.get("binance"))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(fig, indent=2) + "\n")
        print(f"wrote {args.json}")
    return fig


# -- binance -------------------------------------------------------------------

BINANCE_CAPTURE = Path("binance_usdm") / "btcusdt_20240808.gz"


def binance(data: Path = DATA, repeat: int = 5) -> dict[str, Any] | None:
    """Parse, rebuild and check the Binance USD-M BTCUSDT capture; None if it is absent.

    *Parse* is a pass of ``BinanceReader`` over the gzip file: decompression,
    ``json.loads`` and the exact conversion of every price and size to
    integers, messages dropped as they come (as in ``lob replay binance``).
    *Rebuild* is ``BinanceReplay.feed`` over the parsed messages: buffering,
    synchronisation on the snapshot, the ``pu`` chain and every diff applied
    to the book. *Check* is the rebuild with the bookTicker comparison on.
    Rates are messages (every line: snapshot, diffs, trades, tickers) a second;
    the rebuild's rate in diffs and level changes a second is given too.
    """
    from lob.replay.binance import BinanceReader, BinanceReplay

    path = data / BINANCE_CAPTURE
    if not path.is_file():
        print(f"binance: skipped, no capture at {path}")
        return None

    def parse() -> int:
        return sum(1 for _ in BinanceReader(path))

    def rebuild(check: bool) -> BinanceReplay:
        result = BinanceReplay(check=check)
        for message in messages:
            result.feed(message)
        result.finish()
        return result

    parse_s, n = best_of(repeat, parse)
    messages = list(BinanceReader(path))
    rebuild_s, built = best_of(repeat, lambda: rebuild(False))
    check_s, checked = best_of(repeat, lambda: rebuild(True))
    return {
        "data": str(path),
        "messages": n,
        "diffs": built.diffs,
        "diffs_applied": built.applied,
        "level_changes": built.level_changes,
        "synchronised": built.failure is None,
        "gaps": len(built.gaps),
        "parse_s": parse_s,
        "parse_messages_per_s": n / parse_s,
        "rebuild_s": rebuild_s,
        "rebuild_messages_per_s": n / rebuild_s,
        "rebuild_diffs_per_s": built.applied / rebuild_s,
        "rebuild_level_changes_per_s": built.level_changes / rebuild_s,
        "check_s": check_s,
        "check_messages_per_s": n / check_s,
        "tickers_matched": checked.matched,
        "tickers_compared": checked.compared,
        "tickers_inside_a_diff": checked.inside,
        "tickers_before_sync": checked.unsynced,
    }


def print_binance(figures: dict[str, Any] | None) -> None:
    """The Binance part of the report."""
    if not figures:
        return
    n = figures["messages"]
    print(
        f"binance {Path(figures['data']).name}: {n:,} messages, {figures['diffs_applied']:,} diffs applied, "
        f"{figures['level_changes']:,} level changes"
    )
    for phase in ("parse", "rebuild", "check"):
        print(
            f"  {phase:<8} {figures[f'{phase}_s'] * 1e3:8.1f} ms  "
            f"{figures[f'{phase}_messages_per_s'] / 1e6:6.2f} M messages/s"
        )
    print(f"  rebuild: {figures['rebuild_level_changes_per_s'] / 1e6:.2f} M level changes/s")
    print(f"  check: matched {figures['tickers_matched']}/{figures['tickers_compared']} bookTickers")


SOURCES["binance"] = binance


if __name__ == "__main__":
    main()
