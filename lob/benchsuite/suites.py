"""Which configs a benchmark suite runs, and for how long.

``full`` runs every config of the directory at its own length. ``quick``
shortens the shipped ones to what still holds the event each exists for (a
crash, a cascade, a halt, the ADL waves); a config it does not know runs at
its own length, since cutting it blind could cut away the thing it tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lob.errors import LobError

SUITES = ("quick", "full")
DEFAULT_SUITE = "quick"

#: The quick suite's ``run.duration`` per shipped config, and why that length is enough.
QUICK_DURATIONS: dict[str, tuple[str, str]] = {
    "calm": ("10m", "a quiet market: ten minutes show its steady state"),
    "rmsc04_like": ("1h", "09:30-10:30, the opening hour of the day"),
    "flash_crash_spot": ("20m", "the block sale runs 10-14 min; six more for the makers' return"),
    "flash_crash": ("20m", "the block sale runs 10-14 min; 20 min hold the cascade it sets off"),
    "liquidation_partial": ("20m", "flash_crash's block sale and cascade, partial liquidation"),
    "liquidation_backstop": ("20m", "flash_crash's block sale and cascade, the backstop vault"),
    "circuit_breaker": ("20m", "the sale at 10-14 min and the market-wide halt at 17:40"),
    "leverage_cascade": ("15m", "the fundamental drops at 10 min; the cascade is over in five"),
    "adl_waves": ("25m", "all three blows (10, 16, 22 min) and their ADL waves"),
    "replay_binance_shock": ("3m", "the block sale at 2:00-2:30 and the liquidations it causes"),
    "contagion_assets": ("20m", "the AAA sale at 10-14 min and the BBB cascade cross margin sets off"),
    "contagion_venues": ("15m", "the thin venue's sale at 10-11 min and the deep venue's cascade"),
}


@dataclass(frozen=True)
class BenchCase:
    """One config of a suite: its file, the ``key=value`` overrides the suite applies, and why."""

    name: str
    path: Path
    overrides: tuple[str, ...] = ()
    note: str = ""


def default_config_dir() -> Path:
    """The checkout's ``configs/`` directory (next to the ``lob`` package in a source install)."""
    return Path(__file__).resolve().parent.parent.parent / "configs"


def suite_cases(suite: str, config_dir: Path, only: tuple[str, ...] | None = None) -> list[BenchCase]:
    """The cases of ``suite`` over the ``*.yaml`` files of ``config_dir``, by file name.

    ``only`` keeps the configs of those names (file stems), in the suite's
    order. Raises :class:`LobError` for an unknown suite, a missing directory,
    an empty one, or a name in ``only`` that is not there.
    """
    if suite not in SUITES:
        raise LobError(f"unknown suite {suite!r} (expected one of: {', '.join(SUITES)})")
    if not config_dir.is_dir():
        raise LobError(
            f"{config_dir}: no such directory (expected the scenario configs, *.yaml; "
            "lob bench runs from a source checkout)"
        )
    paths = sorted(config_dir.glob("*.yaml"))
    if not paths:
        raise LobError(f"{config_dir}: no *.yaml scenario configs in it")
    if only is not None:
        missing = sorted(set(only) - {p.stem for p in paths})
        if missing:
            raise LobError(f"{config_dir}: no config named {', '.join(missing)}")
        paths = [p for p in paths if p.stem in only]
    cases = []
    for path in paths:
        if suite == "quick" and path.stem in QUICK_DURATIONS:
            duration, why = QUICK_DURATIONS[path.stem]
            cases.append(BenchCase(path.stem, path, (f"run.duration={duration}",), f"{duration}: {why}"))
        elif suite == "quick":
            cases.append(BenchCase(path.stem, path, (), "its own length (not a shipped config)"))
        else:
            cases.append(BenchCase(path.stem, path))
    return cases
