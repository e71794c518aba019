"""The ``lob`` command line: one small function per subcommand.

A subcommand is a ``_add_<name>(subparsers)`` function that declares its
parser and sets ``handler`` to a ``_<name>(args) -> int`` function; add it to
:data:`_SUBCOMMANDS`. Errors a user can cause (:class:`lob.errors.LobError`)
are printed to stderr without a traceback: exit status 2 for a bad config, 1
for any other.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TypeAlias

from lob import __version__
from lob.errors import LobError
from lob.scenario import ConfigError, load_config
from lob.scenario.durations import format_duration

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CONFIG = 2  # also argparse's status for a bad command line

_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``lob`` with ``argv`` (default ``sys.argv[1:]``); the process exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error that argparse has already printed
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG
    # As `python -m` does: trader classes named by import path may live in the working directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except LobError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    """The ``lob`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="lob", description="Limit-order-book market simulations.")
    parser.add_argument("--version", action="version", version=f"lob {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(subparsers)
    return parser


def add_set_option(parser: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable), collected in ``args.overrides``."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set run.seed=3 --set traders[0].params.size=4",
    )


# -- validate ----------------------------------------------------------------------------------------------


def _add_validate(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a scenario config",
        description="Check a scenario config and report every problem.",
    )
    parser.add_argument("config", metavar="CONFIG", help="scenario config file (YAML)")
    add_set_option(parser)
    parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    groups = len(cfg.traders)
    print(
        f"ok: {args.config}: {groups} trader group{'s' if groups != 1 else ''}, "
        f"{cfg.trader_count} trader{'s' if cfg.trader_count != 1 else ''}, "
        f"duration {format_duration(cfg.run.duration)}"
    )
    return EXIT_OK


# -- run ---------------------------------------------------------------------------------------------------


def _add_run(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a scenario and write its run directory",
        description="Run a scenario config and write its run directory (tables, summary, manifest).",
    )
    parser.add_argument("config", metavar="CONFIG", help="scenario config file (YAML)")
    parser.add_argument("--out", metavar="DIR", help="run directory to write (default runs/NAME-seedSEED)")
    parser.add_argument("--seed", type=int, metavar="N", help="root seed (overrides run.seed)")
    parser.add_argument("--force", action="store_true", help="replace an existing run directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.add_argument("--report", action="store_true", help="write RUN_DIR/report.html at the end")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback if the simulation fails"
    )
    add_set_option(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from lob.scenario.runner import run_config
    from lob.scenario.terminal import print_summary, progress_bar

    overrides = list(args.overrides)
    if args.seed is not None:
        if args.seed < 0:
            raise LobError(f"--seed must be >= 0, got {args.seed}")
        overrides.append(f"run.seed={args.seed}")
    cfg = load_config(args.config, overrides)
    try:
        with progress_bar(cfg.run.duration, disable=args.quiet) as progress:
            result = run_config(cfg, args.out, force=args.force, progress=progress)
    except KeyboardInterrupt:
        print("interrupted: no run directory was written", file=sys.stderr)
        return 130
    except LobError:
        raise
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: the simulation failed: {_where(exc)}", file=sys.stderr)
        print("nothing was written; rerun with --debug for the traceback", file=sys.stderr)
        return EXIT_ERROR
    if not args.quiet:
        print_summary(result)
    if args.report and result.path is not None:
        from lob.report import write_report

        page = write_report(result.path)
        if not args.quiet:
            print(f"report: {page}")
    return EXIT_OK


def _where(exc: BaseException) -> str:
    """``Type: message (file:line in function)`` at the frame that raised, e.g. in a trader's code.

    SimPy re-raises a failed process's exception as a copy whose ``__cause__``
    is the original; the original's traceback leads to the user's line.
    """
    while isinstance(exc.__cause__, type(exc)) and exc.__cause__.args == exc.args:
        exc = exc.__cause__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = ""
    if tb is not None:
        code = tb.tb_frame.f_code
        place = f" ({code.co_filename}:{tb.tb_lineno} in {code.co_name})"
    return f"{type(exc).__name__}: {exc}{place}"


# -- replay ------------------------------------------------------------------------------------------------

_REPLAY_USAGE = """lob replay RUN_DIR
       lob replay lobster MESSAGE_FILE [ORDERBOOK_FILE] [--check] [--out DIR] [--force] [--skip-bad]
       lob replay binance FILE [--check] [--skip-bad]"""


def _add_replay(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a run directory, a LOBSTER day or a Binance capture through the matching core",
        description=(
            "RUN_DIR: re-execute a run's recorded order flow through fresh books and check that every "
            "fill is reproduced (ends 'reproduced R/N fills'). lobster: rebuild the book from LOBSTER "
            "message (and orderbook) files; --check compares it with every orderbook row. binance: "
            "rebuild the L2 book of a raw Binance USD-M capture; --check compares it with every "
            "bookTicker the book has reached. Exit status 1 unless everything matched."
        ),
        usage=_REPLAY_USAGE,
    )
    parser.add_argument("source", metavar="RUN_DIR | lobster | binance")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(handler=_replay)


def _replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.source == "lobster":
        from lob.replay.lobster import replay_lobster

        sub = argparse.ArgumentParser(prog="lob replay lobster")
        sub.add_argument("message_file", metavar="MESSAGE_FILE")
        sub.add_argument("orderbook_file", metavar="ORDERBOOK_FILE", nargs="?")
        sub.add_argument("--check", action="store_true", help="compare with every orderbook row")
        sub.add_argument("--out", metavar="DIR", help="write the replay as a run directory")
        sub.add_argument("--force", action="store_true", help="replace an existing run directory")
        sub.add_argument("--skip-bad", action="store_true", help="skip bad message lines, counted")
        a = _parse_sub(sub, args.rest)
        if isinstance(a, int):
            return a
        return replay_lobster(
            Path(a.message_file),
            Path(a.orderbook_file) if a.orderbook_file else None,
            check=a.check,
            out=Path(a.out) if a.out else None,
            skip_bad=a.skip_bad,
            force=a.force,
            stdout=sys.stdout,
        )
    if args.source == "binance":
        from lob.replay.binance import replay_binance

        sub = argparse.ArgumentParser(prog="lob replay binance")
        sub.add_argument("file", metavar="FILE")
        sub.add_argument("--check", action="store_true", help="compare with every bookTicker reached")
        sub.add_argument("--skip-bad", action="store_true", help="skip bad lines, counted")
        a = _parse_sub(sub, args.rest)
        if isinstance(a, int):
            return a
        return replay_binance(Path(a.file), check=a.check, skip_bad=a.skip_bad, stdout=sys.stdout)
    if args.rest:
        print(f"usage: {_REPLAY_USAGE}", file=sys.stderr)
        print(f"lob replay: unexpected arguments after RUN_DIR: {' '.join(args.rest)}", file=sys.stderr)
        return EXIT_CONFIG
    from lob.replay.own_run import replay_run_command

    return replay_run_command(Path(args.source), stdout=sys.stdout)


def _parse_sub(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """``parser.parse_args(argv)``, or the exit status where argparse has printed help or a usage error."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_CONFIG


# -- report ------------------------------------------------------------------------------------------------


def _add_report(subparsers: _Subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a run or a sweep",
        description=(
            "Write a self-contained HTML report (opens offline) of a run directory, or of a sweep "
            "directory (results.parquet: each metric against each parameter)."
        ),
    )
    parser.add_argument("path", metavar="RUN_DIR | SWEEP_DIR")
    parser.add_argument("--out", metavar="FILE", help="where to write it (default DIR/report.html)")
    parser.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lob.report import report_command

    return report_command(Path(args.path), out=Path(args.out) if args.out else None, stdout=sys.stdout)


# -- bench -------------------------------------------------------------------------------------------------


def _add_bench(subparsers: _Subparsers) -> None:
    from pathlib import Path

    parser = subparsers.add_parser(
        "bench",
        help="run the shipped scenarios as a benchmark of speed and outcomes",
        description=(
            "Run every config of a suite in this process and print one table: wall time, events per "
            "second, CPU time over a baseline, and each run's outcome metrics. --compare flags speed "
            "regressions beyond noise and any change of an outcome. Exit status 1 if it found either."
        ),
    )
    parser.add_argument(
        "--suite",
        choices=("quick", "full"),
        default="quick",
        help="quick: the configs shortened to their event (default); full: each at its own length",
    )
    parser.add_argument(
        "--out", metavar="FILE", type=Path, help="write the result as FILE.json or FILE.parquet"
    )
    parser.add_argument(
        "--compare", metavar="FILE", type=Path, help="an earlier --out result of the same suite"
    )
    parser.add_argument(
        "--repeat",
        metavar="N",
        type=int,
        default=3,
        help="runs of each config, the fastest counts (default 3)",
    )
    parser.add_argument(
        "--configs",
        metavar="DIR",
        type=Path,
        help="directory of *.yaml configs (default: the checkout's configs/)",
    )
    parser.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from lob.benchsuite import bench_command

    try:
        return bench_command(
            suite=args.suite,
            out=args.out,
            compare=args.compare,
            repeat=args.repeat,
            stdout=sys.stdout,
            config_dir=args.configs,
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# -- sweep -------------------------------------------------------------------------------------------------


def _add_sweep(subparsers: _Subparsers) -> None:
    from lob.sweep.command import add_sweep_arguments

    parser = subparsers.add_parser(
        "sweep",
        help="run a sweep of a config over parameters and seeds on Dask",
        description=(
            "Run every run of a sweep file (a base config, a grid or random sample of --set overrides, "
            "seeds) on a local Dask cluster or an existing one, and gather one row per run into "
            "results.parquet. Runs already done are skipped; a failed run is recorded with its error. "
            "Exit status 1 if any run failed."
        ),
    )
    add_sweep_arguments(parser)
    parser.set_defaults(handler=_sweep)


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lob.sweep.command import sweep_command

    return sweep_command(
        Path(args.sweep),
        workers=args.workers,
        scheduler=args.scheduler,
        out=Path(args.out) if args.out else None,
        progress=not args.no_progress,
        stdout=sys.stdout,
        write_runs=args.write_runs,
        dry_run=args.dry_run,
    )


_SUBCOMMANDS: list[Callable[[_Subparsers], None]] = [
    _add_validate,
    _add_run,
    _add_replay,
    _add_report,
    _add_bench,
    _add_sweep,
]
