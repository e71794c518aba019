"""``lob replay RUN_DIR``: a run's order flow re-executed reproduces its fills, and a wrong log is caught.

Every shipped config is replayed in tests/test_run.py; here a small run is
written once and then altered, to show the replay notices what it should.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lob.replay.own_run import replay_run
from lob.scenario.loader import parse_config
from lob.scenario.runner import run_config

ROOT = Path(__file__).resolve().parent.parent

CONFIG = """
run: {duration: 2m, seed: 3}
instruments:
  - {symbol: XYZ, tick_size: 0.01, lot_size: 1, price: 100.0}
venue:
  circuit_breakers:
    band: {limit: 0.002, reference: trades, window: 10s}
traders:
  - {type: market_maker, count: 2, params: {refresh_interval: 1s, levels: 3, size: 10}}
  - {type: noise, count: 30, params: {mean_interval: 2s, market_prob: 0.3, offset_ticks: 40}}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay") / "run"
    run_config(parse_config(CONFIG, "replay.yaml"), out)
    return out


def lob_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lob", *args], capture_output=True, text=True, cwd=ROOT)


def altered(run_dir: Path, tmp_path: Path, table: str, change: object) -> Path:
    """A copy of the run whose ``table`` went through ``change(pyarrow table) -> table``."""
    copy = tmp_path / "altered"
    shutil.copytree(run_dir, copy)
    file = copy / f"{table}.parquet"
    pq.write_table(change(pq.read_table(file)), file)  # type: ignore[operator]
    return copy


def test_the_run_replays_completely_band_rejections_included(run_dir: Path) -> None:
    result = replay_run(run_dir)
    assert result.complete, result.mismatches
    assert result.fills > 500 and result.reproduced == result.fills
    assert result.skipped > 0  # orders the band refused never reached the book, and are not re-executed
    done = lob_cli("replay", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"reproduced {result.fills:,}/{result.fills:,} fills"


def test_a_wrong_fill_price_is_caught(run_dir: Path, tmp_path: Path) -> None:
    def bump_one_price(table: pa.Table) -> pa.Table:
        prices = table.column("price_ticks").to_numpy().copy()
        prices[len(prices) // 2] += 1
        return table.set_column(table.schema.get_field_index("price_ticks"), "price_ticks", pa.array(prices))

    copy = altered(run_dir, tmp_path, "trades", bump_one_price)
    result = replay_run(copy)
    assert not result.complete and result.reproduced == result.fills - 1
    done = lob_cli("replay", str(copy))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "mismatch: command at seq" in done.stdout
    assert done.stdout.splitlines()[-1] == f"reproduced {result.fills - 1:,}/{result.fills:,} fills"


def test_a_missing_command_is_caught(run_dir: Path, tmp_path: Path) -> None:
    def drop_first_resting_limit(table: pa.Table) -> pa.Table:
        kind = table.column("kind").to_pylist()
        leaves = table.column("leaves_lots").to_numpy()
        k = next(i for i, (x, left) in enumerate(zip(kind, leaves, strict=True)) if x == "limit" and left > 0)
        keep = np.ones(len(kind), dtype=bool)
        keep[k] = False
        return table.filter(pa.array(keep))

    result = replay_run(altered(run_dir, tmp_path, "events", drop_first_resting_limit))
    assert not result.complete and result.mismatches


def test_not_a_run_directory(tmp_path: Path) -> None:
    done = lob_cli("replay", str(tmp_path / "nothing"))
    assert done.returncode == 1 and "no run directory here" in done.stderr and "Traceback" not in done.stderr
    (tmp_path / "half").mkdir()
    done = lob_cli("replay", str(tmp_path / "half"))
    assert done.returncode == 1 and "manifest.json" in done.stderr


def test_replay_usage_errors_exit_2() -> None:
    done = lob_cli("replay", "some_dir", "extra")
    assert done.returncode == 2 and "unexpected arguments" in done.stderr
