"""lob sweep: the sweep file, its run list and ids, one run's row, resuming, and a real Dask cluster.

Every sweep here runs a tiny market (30 simulated seconds, about 50 ms a
run) in this process (``workers=0``), except the Dask test, which starts a
local cluster of 2 worker processes; deselect it with ``-k "not dask"``; it
skips itself where ``distributed`` is not installed.
"""

from __future__ import annotations

import argparse
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import lob
import lob.sweep.execute
from lob.scenario import ConfigError
from lob.sweep import METRICS, add_sweep_arguments, execute_run, load_sweep, run_sweep, sweep_command
from lob.sweep.results import RESULTS, SUPERSEDED
from lob.sweep.spec import run_id, yaml_text

ROOT = Path(__file__).resolve().parent.parent

BASE = """\
run: {duration: 30s, seed: 1}
instruments: [{symbol: XYZ, tick_size: 0.01, price: 100.0}]
fundamental: {XYZ: {mean_reversion: 0.01, volatility: 0.02}}
traders:
  - {type: market_maker, count: 1, params: {refresh_interval: 1s, levels: 2, size: 5}}
  - {type: noise, count: 5, params: {mean_interval: 5s, market_prob: 0.3}}
"""
EXPLODER = {"type": "tests.custom_traders:Exploder"}  # raises 1 ms into the run


def write_sweep(tmp_path: Path, text: str, name: str = "sweep.yaml", base: str = BASE) -> Path:
    (tmp_path / "base.yaml").write_text(base)
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    return str(info.value)


# -- the sweep file and its runs ---------------------------------------------------------------------------


def test_a_grid_crossed_with_seeds_gives_every_run_in_order(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path,
        """
base: base.yaml
set: {run.duration: 20s}
grid:
  traders[0].params.size: [3, 7]
  traders[1].params.market_prob: [0.1, 0.2, 0.5]
seeds: {count: 2, start: 5}
""",
    )
    sweep = load_sweep(path)
    assert sweep.name == "sweep" and sweep.base == tmp_path / "base.yaml"
    assert sweep.param_names == ("traders[0].params.size", "traders[1].params.market_prob")
    assert len(sweep.runs) == 12 and sweep.parameter_sets == 6
    first, second, last = sweep.runs[0], sweep.runs[1], sweep.runs[-1]
    assert first.params == {"traders[0].params.size": 3, "traders[1].params.market_prob": 0.1}
    assert (first.seed, second.seed, second.params) == (5, 6, first.params)  # seeds vary fastest
    assert last.params == {"traders[0].params.size": 7, "traders[1].params.market_prob": 0.5}
    assert last.overrides == (
        'run.duration="20s"',
        "traders[0].params.size=7",
        "traders[1].params.market_prob=0.5",
    )
    assert len({run.run_id for run in sweep.runs}) == 12


def test_a_sample_is_reproducible_in_range_and_each_key_draws_its_own_stream(tmp_path: Path) -> None:
    text = """
name: sampled
base: base.yaml
grid: {"traders[0].params.levels": [2, 3]}
sample:
  n: 5
  seed: 3
  params:
    traders[1].params.market_prob: {uniform: [0.1, 0.4]}
    venue.feed_latency: {choice: [1ms, 5ms]}
    traders[0].params.size: {integers: [1, 4]}
seeds: [1]
"""
    a = load_sweep(write_sweep(tmp_path, text))
    b = load_sweep(write_sweep(tmp_path, text))
    assert a.name == "sampled" and len(a.runs) == 10  # 2 grid points x 5 draws
    assert [r.run_id for r in a.runs] == [r.run_id for r in b.runs]
    probs = [r.params["traders[1].params.market_prob"] for r in a.runs]
    assert all(0.1 <= p < 0.4 for p in probs) and len(set(probs)) == 5
    assert {r.params["venue.feed_latency"] for r in a.runs} <= {"1ms", "5ms"}
    assert {r.params["traders[0].params.size"] for r in a.runs} <= {1, 2, 3, 4}
    # Another sampled key, or another distribution for one key, leaves the other keys' draws alone.
    more = text.replace(
        "    venue.feed_latency:",
        "    venue.insurance_fund: {log_uniform: [10, 1000]}\n    venue.feed_latency:",
    )
    c = load_sweep(write_sweep(tmp_path, more))
    assert [r.params["traders[1].params.market_prob"] for r in c.runs] == probs
    assert all(10 <= r.params["venue.insurance_fund"] < 1000 for r in c.runs)


def test_run_ids_are_stable_and_change_with_the_base_config_overrides_and_seed(tmp_path: Path) -> None:
    text = "base: base.yaml\ngrid:\n  traders[0].params.size: [3, 7]\nseeds: [1, 2]\n"
    ids = [r.run_id for r in load_sweep(write_sweep(tmp_path, text)).runs]
    assert ids == [r.run_id for r in load_sweep(write_sweep(tmp_path, text)).runs]
    assert ids[0] == run_id(BASE, ["traders[0].params.size=3"], 1)
    assert len(set(ids)) == 4 and all(len(i) == 16 for i in ids)
    changed = [r.run_id for r in load_sweep(write_sweep(tmp_path, text, base=BASE + "# a comment\n")).runs]
    assert not set(changed) & set(ids)


def test_without_seeds_a_sweep_runs_the_base_configs_seed(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path, "base: base.yaml\ngrid:\n  traders[0].params.size: [3]\n"))
    assert [r.seed for r in sweep.runs] == [1]


@pytest.mark.parametrize(
    "value",
    [
        1,
        -3,
        0.5,
        1e-05,
        2.5e20,
        -0.0,
        "20m",
        "yes",
        "1e-5",
        'a "quoted" text',
        True,
        None,
        [1, "a"],
        {"base": "1ms"},
    ],
)
def test_override_values_read_back_as_the_same_value(value: Any) -> None:
    assert yaml.safe_load(yaml_text(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "base: base.yaml\ngrids: {}\n",
            "sweep.yaml:2: grids: unknown key 'grids' (expected one of: name, base, set, grid, sample, seeds",
        ),
        (
            "base: base.yaml\ngrid:\n  traders[0].params.sise: [3, 4]\n",
            "sweep.yaml:3: grid['traders[0].params.sise']: 3: unknown key 'sise'",
        ),
        (
            "base: base.yaml\ngrid:\n  traders[0].params.size: [3, -4]\n",
            "sweep.yaml:3: grid['traders[0].params.size']: -4: Input should be greater than 0",
        ),
        (
            "base: base.yaml\ngrid:\n  traders[7].params.size: [3]\n",
            "sweep.yaml:3: grid['traders[7].params.size']: 3: index [7] is out of range: traders has 2 item",
        ),
        (
            "base: base.yaml\ngrid:\n  traders[x].size: [3]\n",
            "sweep.yaml:3: grid['traders[x].size']: malformed key path: bad index [x]",
        ),
        (
            "base: base.yaml\ngrid:\n  traders[0].params.size: 3\n",
            "sweep.yaml:3: grid['traders[0].params.size']: expected a list, got 3",
        ),
        (
            "base: base.yaml\nsample:\n  n: 2\n  params:\n    venue.insurance_fund: {normal: [0, 1]}\n",
            "sweep.yaml:5: sample.params['venue.insurance_fund'].normal: unknown key 'normal' "
            "(expected one of: uniform, log_uniform, integers, choice)",
        ),
        (
            "base: base.yaml\nsample:\n  n: 2\n  params:\n    venue.insurance_fund: {uniform: [5, 1]}\n",
            "sweep.yaml:5: sample.params['venue.insurance_fund']: uniform: expected [low, high] with low <",
        ),
        (
            "base: base.yaml\nsample:\n  n: 2\n  params:\n    venue.insurance_fund: {log_uniform: [0, 1]}\n",
            "log_uniform: expected low > 0, got 0.0",
        ),
        (
            "base: base.yaml\ngrid: {run.seed: [1, 2]}\n",
            "sweep.yaml:2: grid['run.seed']: the seed is set by seeds:",
        ),
        (
            "base: base.yaml\nset: {venue.mark: {interval: 1s}}\ngrid: {venue.mark.interval: [2s]}\n",
            "sweep.yaml:3: grid['venue.mark.interval']: venue.mark.interval overlaps venue.mark in set",
        ),
        ("base: nowhere.yaml\n", "sweep.yaml:1: base: the base config"),
        (
            "base: base.yaml\nseeds: {count: 0}\n",
            "sweep.yaml:2: seeds: count: expected an integer >= 1, got 0",
        ),
        (
            "base: base.yaml\nseeds: [1, -2]\n",
            "sweep.yaml:2: seeds[1]: Input should be greater than or equal to 0",
        ),
        (
            "",
            "sweep.yaml: expected a mapping with the keys name, base, set, grid, sample, seeds, got an empty",
        ),
        ("grid: {}\n", "sweep.yaml: base: required key missing"),
        (
            "base: base.yaml\ngrid: {traders[0].params.size: [3]}\n",
            "sweep.yaml:2: invalid YAML: while parsing a flow mapping (line 2): expected ',' or '}', "
            "but got '[' (column 15); quote a key path with [..] inside {...}",
        ),
    ],
    ids=[
        "unknown-key",
        "typo-in-key-path",
        "bad-value",
        "index-out-of-range",
        "malformed-key-path",
        "grid-not-a-list",
        "unknown-distribution",
        "empty-range",
        "log-uniform-from-zero",
        "seed-in-grid",
        "overlapping-keys",
        "missing-base",
        "bad-seed-range",
        "negative-seed",
        "empty-file",
        "no-base",
        "unquoted-key-in-flow-mapping",
    ],
)
def test_a_bad_sweep_file_fails_before_anything_runs_naming_file_line_and_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    message = problems(write_sweep(tmp_path, text))
    assert expected in message.replace(str(tmp_path) + "/", "")


def test_a_problem_of_the_base_config_itself_names_the_base_file_and_line(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, "base: base.yaml\n", base=BASE.replace("levels: 2", "levels: -2"))
    assert "base.yaml:5: traders[0].params.levels" in problems(path)


def test_every_bad_value_is_reported_once_with_its_line(tmp_path: Path) -> None:
    text = "base: base.yaml\ngrid:\n  traders[0].params.size: [3, -4, -5]\n  traders[1].count: [2, 0]\n"
    lines = problems(write_sweep(tmp_path, text)).splitlines()
    assert [line.split(": ", 3)[2] for line in lines] == ["-4", "-5", "0"]
    assert [line.split(":")[1] for line in lines] == ["3", "3", "4"]


def test_a_large_sample_is_checked_at_its_extremes(tmp_path: Path) -> None:
    text = "base: base.yaml\nsample:\n  n: 300\n  params:\n    venue.insurance_fund: {uniform: [-1000, 1]}\n"
    message = problems(write_sweep(tmp_path, text))
    assert "sweep.yaml:5: sample.params['venue.insurance_fund']: -99" in message
    assert len(message.splitlines()) == 2  # of 300 draws, only the lowest and the highest are loaded


def test_the_shipped_leverage_sweep_is_valid() -> None:
    sweep = load_sweep(ROOT / "configs" / "sweeps" / "leverage.yaml")
    assert sweep.base == Path("configs/flash_crash.yaml") or sweep.base.name == "flash_crash.yaml"
    assert sweep.param_names == ("open_interest[0].longs.leverage.max", "traders[0].params.withdraw_vol_bps")
    assert len(sweep.runs) == sweep.parameter_sets * len(sweep.spec.seeds or [])


# -- one run -----------------------------------------------------------------------------------------------


def test_a_run_gives_one_flat_row_of_parameters_seed_metrics_and_status(tmp_path: Path) -> None:
    write_sweep(tmp_path, "")
    row = execute_run(tmp_path / "base.yaml", ["traders[0].params.size=3"], 4)
    assert row["status"] == "ok" and row["error"] is None
    assert row["run_id"] == run_id(BASE, ["traders[0].params.size=3"], 4)
    assert (row["traders[0].params.size"], row["seed"]) == (3, 4)
    assert set(METRICS) <= set(row) and row["volume_lots"] > 0 and row["liquidations"] == 0
    assert row["wall_s"] > 0 and ":" in row["worker"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ([f"traders[1]={yaml_text(EXPLODER)}"], "ZeroDivisionError: the user's bug ("),
        (["traders[0].params.size=-1"], "--set: traders[0].params.size: Input should be greater than 0"),
        (["traders[0]=5"], "traders[0]: expected a mapping, got 5"),
    ],
    ids=["trader-raises", "invalid-value", "not-a-mapping"],
)
def test_a_failed_run_is_a_row_with_its_error_never_an_exception(
    tmp_path: Path, overrides: list[str], error: str
) -> None:
    write_sweep(tmp_path, "")
    row = execute_run(tmp_path / "base.yaml", overrides, 1)
    assert row["status"] == "failed" and error in row["error"]
    assert all(row[m] is None for m in METRICS) and row["seed"] == 1


def test_a_missing_base_config_is_a_failed_row_too(tmp_path: Path) -> None:
    row = execute_run(tmp_path / "gone.yaml", [], 1)
    assert row["status"] == "failed" and "FileNotFoundError" in row["error"]


# -- sweeping and resuming (in this process) ---------------------------------------------------------------

SWEEP = """\
name: tiny
base: base.yaml
grid:
  traders[0].params.size: [3, 7]
seeds: [1, 2]
"""


def test_a_sweep_writes_one_row_per_run_and_running_it_again_skips_them(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SWEEP)
    out = tmp_path / "out"
    first = run_sweep(load_sweep(path), workers=0, out=out)
    assert (first.ran, first.done_before, first.failed, first.interrupted) == (4, 0, [], False)
    frame = pd.read_parquet(out / RESULTS)
    assert list(frame.columns[:3]) == ["run_id", "traders[0].params.size", "seed"]
    assert frame["traders[0].params.size"].tolist() == [3, 3, 7, 7] and frame["seed"].tolist() == [1, 2, 1, 2]
    assert (frame["status"] == "ok").all() and frame["error"].isna().all()
    assert (out / "sweep.yaml").read_text() == SWEEP and (out / "base.yaml").read_text() == BASE
    again = run_sweep(load_sweep(path), workers=0, out=out)
    assert (again.ran, again.done_before) == (0, 4)
    assert pd.read_parquet(out / RESULTS).equals(frame)
    # A value added to the grid runs only its own runs.
    path.write_text(SWEEP.replace("[3, 7]", "[3, 7, 9]"))
    grown = run_sweep(load_sweep(path), workers=0, out=out)
    assert (grown.ran, grown.done_before) == (2, 4)
    assert len(pd.read_parquet(out / RESULTS)) == 6


def test_a_changed_base_config_runs_everything_again_and_keeps_the_old_rows_aside(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SWEEP)
    out = tmp_path / "out"
    run_sweep(load_sweep(path), workers=0, out=out)
    (tmp_path / "base.yaml").write_text(BASE.replace("duration: 30s", "duration: 20s"))
    report = run_sweep(load_sweep(path), workers=0, out=out)
    assert (report.ran, report.done_before) == (4, 0)
    assert len(pd.read_parquet(out / RESULTS)) == 4 and len(pd.read_parquet(out / SUPERSEDED)) == 4


def test_a_failed_run_does_not_stop_the_sweep_and_runs_again_next_time(tmp_path: Path) -> None:
    text = f"""\
base: base.yaml
grid:
  traders[1]: [{yaml_text({"type": "noise", "count": 2})}, {yaml_text(EXPLODER)}]
seeds: [1, 2]
"""
    path = write_sweep(tmp_path, text)
    out = tmp_path / "out"
    stdout = io.StringIO()
    status = sweep_command(path, workers=0, scheduler=None, out=out, progress=False, stdout=stdout)
    assert status == 1
    frame = pd.read_parquet(out / RESULTS)
    assert frame["status"].tolist() == ["ok", "ok", "failed", "failed"]
    assert frame["error"].fillna("").str.contains("ZeroDivisionError: the user's bug").tolist() == [
        False,
        False,
        True,
        True,
    ]
    assert frame["traders[1]"].tolist()[2] == '{"type": "tests.custom_traders:Exploder"}'  # mappings as YAML
    assert "2 ok, 2 failed" in stdout.getvalue() and "ZeroDivisionError" in stdout.getvalue()
    stdout = io.StringIO()
    assert sweep_command(path, workers=0, scheduler=None, out=out, progress=False, stdout=stdout) == 1
    assert "2 done before, 2 to run" in stdout.getvalue()
    assert pd.read_parquet(out / RESULTS)["traders[1]"].equals(frame["traders[1]"])  # not YAML of YAML


def test_an_interrupted_sweep_keeps_the_runs_that_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    execute = lob.sweep.execute.execute_run

    def interrupted_on_the_third(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return execute(*args, **kwargs)

    monkeypatch.setattr(lob.sweep.execute, "execute_run", interrupted_on_the_third)
    path = write_sweep(tmp_path, SWEEP)
    stdout = io.StringIO()
    status = sweep_command(
        path, workers=0, scheduler=None, out=tmp_path / "out", progress=False, stdout=stdout
    )
    assert status == 130 and "interrupted" in stdout.getvalue()
    assert len(pd.read_parquet(tmp_path / "out" / RESULTS)) == 2
    monkeypatch.setattr(lob.sweep.execute, "execute_run", execute)
    report = run_sweep(load_sweep(path), workers=0, out=tmp_path / "out")
    assert (report.ran, report.done_before) == (2, 2)


def test_the_output_directory_must_be_a_sweeps(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SWEEP)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "notes.txt").write_text("mine")
    with pytest.raises(lob.LobError, match="is not a sweep's output directory"):
        run_sweep(load_sweep(path), workers=0, out=tmp_path / "elsewhere")


def test_the_command_line_options() -> None:
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser)
    args = parser.parse_args(["s.yaml", "--workers", "3", "--scheduler", "tcp://h:8786", "--out", "o"])
    assert (args.sweep, args.workers, args.scheduler, args.out) == ("s.yaml", 3, "tcp://h:8786", "o")
    assert (args.write_runs, args.dry_run, args.no_progress) == (False, False, False)
    assert parser.parse_args(["s.yaml"]).workers >= 1


def test_a_dry_run_counts_the_runs_and_runs_nothing(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, SWEEP)
    stdout = io.StringIO()
    status = sweep_command(
        path, workers=0, scheduler=None, out=tmp_path / "out", progress=False, stdout=stdout, dry_run=True
    )
    assert status == 0 and "4 runs (2 parameter sets x 2 seeds)" in stdout.getvalue()
    assert not (tmp_path / "out").exists()


# -- on Dask -----------------------------------------------------------------------------------------------


def test_dask_two_workers_run_a_sweep_and_a_failure_crosses_back_as_a_row(tmp_path: Path) -> None:
    pytest.importorskip(
        "distributed", reason="Dask distributed is not installed: pip install 'dask[distributed]'"
    )
    text = SWEEP.replace(
        "grid:\n",
        f"grid:\n  traders[1]: [{yaml_text({'type': 'noise', 'count': 2})}, {yaml_text(EXPLODER)}]\n",
    )
    path = write_sweep(tmp_path, text.replace("seeds: [1, 2]", "seeds: [1]"))
    out = tmp_path / "out"
    stdout = io.StringIO()
    status = sweep_command(
        path, workers=2, scheduler=None, out=out, progress=False, stdout=stdout, write_runs=True
    )
    assert status == 1, stdout.getvalue()
    assert "on a local Dask cluster of 2 worker processes" in stdout.getvalue()
    frame = pd.read_parquet(out / RESULTS)
    assert frame["status"].tolist() == ["ok", "ok", "failed", "failed"]
    assert frame["error"][2].startswith("ZeroDivisionError: the user's bug")
    assert all(int(w.rpartition(":")[2]) > 0 for w in frame["worker"])
    ok = frame[frame["status"] == "ok"]
    assert all((out / "runs" / rid / "summary.json").is_file() for rid in ok["run_id"])
    assert not math.isnan(ok["spread_bps_median"].iloc[0])
