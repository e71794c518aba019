"""``lob validate`` as a user runs it: exit status, the ok line, problems on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lob.cli import main

REPO = Path(__file__).resolve().parent.parent

GOOD = """\
run:
  duration: 90m
instruments:
  - {symbol: XYZ, tick_size: 0.01, price: 100.0}
traders:
  - type: tests.trader_fixtures:SpreadTrader
    count: 2
    params: {spread: 4}
  - type: tests.trader_fixtures:PlainTrader
"""


def lob(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m lob ARGS`` from the repository root (so that ``tests.trader_fixtures`` imports)."""
    return subprocess.run(
        [sys.executable, "-m", "lob", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_validate_a_good_config(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    done = lob("validate", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ok: {path}: 2 trader groups, 3 traders, duration 90m\n"
    assert done.stderr == ""


def test_validate_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("spread: 4", "spread: -1").replace("duration: 90m", "duration: 5 parsecs"))
    done = lob("validate", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"{path}:2: run.duration: expected a duration such as 500us, 2s, 1h, 6h30m "
        "or an integer of nanoseconds, got '5 parsecs'",
        f"{path}:8: traders[0].params.spread: Input should be greater than 0 (got -1)",
    ]
    assert "Traceback" not in done.stderr


def test_validate_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    done = lob("validate", str(path), "--set", "traders[0].count=10", "--set", "run.duration=2h")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ok: {path}: 2 trader groups, 11 traders, duration 2h\n"
    done = lob("validate", str(path), "--set", "traders[0].cuont=10")
    assert done.returncode == 2
    assert "--set: traders[0].cuont: unknown key 'cuont'" in done.stderr and "Traceback" not in done.stderr


def test_validate_a_missing_file(tmp_path: Path) -> None:
    done = lob("validate", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert done.stderr == f"{tmp_path / 'missing.yaml'}: no such file\n"


@pytest.mark.parametrize("argv", [[], ["validate"], ["frobnicate"]])
def test_usage_errors_return_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "usage: lob" in capsys.readouterr().err


def test_main_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD.replace("    count: 2\n", ""))
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out == f"ok: {path}: 2 trader groups, 2 traders, duration 90m\n"
    assert main(["--version"]) == 0
