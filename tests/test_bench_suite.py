"""``lob bench`` (lob.benchsuite): the suite's table, its files, and what --compare flags.

Two shipped configs run once through the quick suite; everything else runs
on a one-config directory of a tiny market (a few milliseconds a run) with
a constant baseline, so the file takes a few seconds.
"""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import lob.benchsuite.command as command
from lob.benchsuite import (
    OUTCOME_METRICS,
    QUICK_DURATIONS,
    SPEED_THRESHOLD,
    ConfigResult,
    SuiteResult,
    bench_command,
    compare_results,
    format_table,
    read_result,
    run_suite,
    write_result,
)
from lob.benchsuite.command import COLUMNS
from lob.benchsuite.measure import git_state, measure_run, outcome_metrics
from lob.benchsuite.suites import default_config_dir, suite_cases
from lob.errors import LobError
from lob.scenario.durations import parse_duration
from lob.scenario.loader import load_config

CONFIGS = default_config_dir()

TINY = """\
run: {duration: 2m, seed: 1}
instruments:
  - {symbol: XYZ, tick_size: 0.01, lot_size: 1, price: 100.0}
traders:
  - {type: market_maker, count: 1}
  - {type: noise, count: 10, params: {mean_interval: 5s}}
"""


def _constant_baseline() -> tuple[float, float]:
    return 0.05, 0.05


@pytest.fixture
def tiny_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config directory holding one tiny spot market; the baseline workload replaced by a constant."""
    monkeypatch.setattr(command, "bare_simpy_seconds", _constant_baseline)
    directory = tmp_path / "configs"
    directory.mkdir()
    (directory / "tiny.yaml").write_text(TINY)
    return directory


def _bench(directory: Path, **kwargs: Any) -> tuple[int, str]:
    out = io.StringIO()
    args: dict[str, Any] = {"suite": "quick", "out": None, "compare": None, "repeat": 1}
    args.update(kwargs)
    status = bench_command(stdout=out, config_dir=directory, **args)
    return status, out.getvalue()


def _result(*rows: ConfigResult, repeat: int = 3) -> SuiteResult:
    return SuiteResult(
        suite="quick",
        date="2026-01-01T00:00:00+00:00",
        lob_version="0.1.0",
        git_commit=None,
        git_dirty=None,
        machine={"python": "3.11.7", "simpy": "4.1.1", "cpu": "test"},
        repeat=repeat,
        baseline_workload="test",
        baseline_cpu_s=0.1,
        baseline_wall_s=0.1,
        baseline_samples=[[0.1, 0.1]],
        speed_threshold=SPEED_THRESHOLD,
        rows=list(rows),
    )


# -- the suites --------------------------------------------------------------------------------------------


def test_quick_suite_decides_a_length_for_every_shipped_config() -> None:
    shipped = {p.stem for p in CONFIGS.glob("*.yaml")}
    assert set(QUICK_DURATIONS) == shipped, "a new config needs its quick-suite length in QUICK_DURATIONS"
    for case in suite_cases("quick", CONFIGS):
        full = load_config(case.path) if case.name != "replay_binance_shock" else None
        quick = parse_duration(QUICK_DURATIONS[case.name][0])
        if full is not None:
            assert quick <= full.run.duration, case.name


def test_full_suite_runs_every_config_at_its_own_length() -> None:
    cases = suite_cases("full", CONFIGS)
    assert [c.name for c in cases] == sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert all(c.overrides == () for c in cases)


def test_unknown_suite_and_bad_repeat_are_errors(tiny_dir: Path) -> None:
    with pytest.raises(LobError, match="unknown suite 'nightly' \\(expected one of: quick, full\\)"):
        _bench(tiny_dir, suite="nightly")
    with pytest.raises(LobError, match="--repeat must be at least 1, got 0"):
        _bench(tiny_dir, repeat=0)
    with pytest.raises(LobError, match="no such directory"):
        _bench(tiny_dir / "absent")


# -- the shipped configs, run -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> SuiteResult:
    return run_suite("quick", only=("calm", "leverage_cascade"), repeat=1)


def test_table_has_every_column_and_a_row_per_config(shipped: SuiteResult) -> None:
    lines = format_table(shipped).splitlines()
    for title, _, _ in COLUMNS:
        assert title in lines[0]
    assert [line.split()[0] for line in lines[1:3]] == ["calm", "leverage_cascade"]
    assert lines[3] == f"2 configs in {sum(r.wall_s or 0 for r in shipped.rows):.1f} s of runs"
    widths = {len(line) for line in lines[:3]}
    assert len(widths) == 1, "the table's lines are aligned"


def test_rows_hold_the_summary_metrics(shipped: SuiteResult) -> None:
    calm, cascade = shipped.rows
    assert calm.status == cascade.status == "ok"
    assert calm.liquidated_notional_quote is None and calm.generations is None  # spot: no such section
    # leverage_cascade, as in the README: 4 generations, a 5.63% peak drop (the quick run keeps them all).
    assert cascade.generations == 4
    assert cascade.peak_drop_pct is not None and round(cascade.peak_drop_pct, 2) == 5.63
    assert cascade.insurance_fund_min_quote == 100_000.0
    assert cascade.adl_overshoot_quote is None  # no ADL in this config
    for row in shipped.rows:
        assert row.wall_s is not None and row.cpu_s is not None and row.events is not None
        assert row.simulate_s is not None and row.events_per_s == pytest.approx(row.events / row.simulate_s)
        assert row.cpu_over_baseline == pytest.approx(row.cpu_s / shipped.baseline_cpu_s)
        assert row.duration_ns == parse_duration(QUICK_DURATIONS[row.config][0])
    assert len(shipped.baseline_samples) == 3 + 2 + 3  # before, after each run, after
    assert shipped.lob_version and shipped.machine["python"]


def test_outcome_metrics_take_none_where_a_section_is_missing() -> None:
    spot = {"instruments": {"A": {"peak_drop_pct": 1.5}, "B": {"peak_drop_pct": 2.5}}, "liquidations": {}}
    assert outcome_metrics(spot) == dict.fromkeys(OUTCOME_METRICS) | {"peak_drop_pct": 2.5}
    calm_perp = {
        "instruments": {"A": {"peak_drop_pct": None}},
        "liquidations": {"liquidated_notional_quote": 0.0, "deepest_generation": None},
        "adl": {"overshoot_quote": -3.5},
    }
    metrics = outcome_metrics(calm_perp)
    assert metrics["peak_drop_pct"] is None
    assert metrics["generations"] == 0 and metrics["liquidated_notional_quote"] == 0.0
    assert metrics["adl_overshoot_quote"] == -3.5


# -- files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".json", ".parquet"])
def test_result_round_trips(shipped: SuiteResult, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "deeper" / f"bench{suffix}"
    write_result(shipped, path)
    assert read_result(path) == shipped


def test_parquet_keeps_the_type_of_an_all_null_column(tmp_path: Path) -> None:
    result = _result(ConfigResult("a", status="skipped", note="needs data"), ConfigResult("b", wall_s=1.0))
    path = tmp_path / "r.parquet"
    write_result(result, path)
    assert read_result(path) == result


def test_out_must_be_json_or_parquet(tiny_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(LobError, match=r"bench\.csv: expected a file name ending in \.json or \.parquet"):
        _bench(tiny_dir, out=tmp_path / "bench.csv")


# -- compare ------------------------------------------------------------------------------------------------


def test_compare_flags_an_edited_outcome(tiny_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    status, _ = _bench(tiny_dir, out=old)
    assert status == 0
    data = json.loads(old.read_text())
    was = data["configs"][0]["peak_drop_pct"]
    data["configs"][0]["peak_drop_pct"] = was + 0.01
    old.write_text(json.dumps(data))
    status, text = _bench(tiny_dir, compare=old)
    assert status == 1
    assert f"tiny  peak_drop_pct: {was + 0.01} -> {was}" in text
    assert "FAILED: 0 speed regression(s), 1 outcome change(s)" in text


def test_compare_with_the_same_code_is_clean(tiny_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.parquet"
    _bench(tiny_dir, out=old)
    status, text = _bench(tiny_dir, compare=old)
    assert "outcomes: identical in 1 configs" in text
    # Speed itself is noise here (a tiny run); the outcomes are not.
    assert ("ok: no speed regression, no outcome change" in text) == (status == 0)


def test_compare_flags_a_speed_regression_and_runs_it_again_first(tiny_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    _bench(tiny_dir, out=old)
    data = json.loads(old.read_text())
    data["configs"][0]["cpu_over_baseline"] /= 10  # the earlier run was ten times faster
    old.write_text(json.dumps(data))
    status, text = _bench(tiny_dir, compare=old, repeat=2)
    assert status == 1
    assert "REGRESSION" in text and "FAILED: 2 speed regression(s), 0 outcome change(s)" in text
    assert "looked slower, so ran 2 more times before judging: tiny" in text


def test_compare_is_not_troubled_by_a_faster_run(tiny_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    _bench(tiny_dir, out=old)
    data = json.loads(old.read_text())
    data["configs"][0]["cpu_over_baseline"] *= 10
    old.write_text(json.dumps(data))
    status, text = _bench(tiny_dir, compare=old)
    assert status == 0, text
    assert "REGRESSION" not in text and "looked slower" not in text


@pytest.mark.parametrize(
    ("growth", "flagged"), [(SPEED_THRESHOLD - 0.01, False), (SPEED_THRESHOLD + 0.01, True)]
)
def test_speed_threshold(growth: float, flagged: bool) -> None:
    old = _result(ConfigResult("a", cpu_over_baseline=4.0), ConfigResult("b", cpu_over_baseline=2.0))
    new = _result(
        ConfigResult("a", cpu_over_baseline=4.0 * (1 + growth)), ConfigResult("b", cpu_over_baseline=2.0)
    )
    cmp = compare_results(old, new)
    assert [s.config for s in cmp.regressions] == (["a"] if flagged else [])
    total = next(s for s in cmp.speed if s.config == "total")
    assert total.change == pytest.approx(4.0 * growth / 6.0)
    assert cmp.failed == flagged and not cmp.outcome_changes


def test_compare_lists_every_changed_metric_and_notes_the_rest() -> None:
    old = _result(
        ConfigResult("a", generations=3, slippage_bps_p95=9.5, config_sha256="x"),
        ConfigResult("gone"),
        ConfigResult("s", status="skipped"),
        repeat=1,
    )
    new = _result(
        ConfigResult("a", generations=4, slippage_bps_p95=None, config_sha256="y"),
        ConfigResult("s"),
        ConfigResult("added"),
    )
    cmp = compare_results(old, new)
    assert [(o.config, o.metric, o.old, o.new, o.config_changed) for o in cmp.outcome_changes] == [
        ("a", "generations", 3, 4, True),
        ("a", "slippage_bps_p95", 9.5, None, True),
    ]
    text = "\n".join(cmp.notes)
    for part in ("not in this run: gone", "not in the earlier result: added", "s: not compared, skipped"):
        assert part in text
    assert "fewer than 3 runs" in text and "a: the resolved config differs" in text


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_bad_compare_files(tiny_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    _bench(tiny_dir, out=good)
    data = json.loads(good.read_text())

    def edited(**changes: Any) -> str:
        return json.dumps({**data, **changes})

    row = data["configs"][0]
    cases: list[tuple[Path, str]] = [
        (tmp_path / "absent.json", "absent.json: no such file \\(expected a result written by `lob bench"),
        (
            _write(tmp_path / "a.csv", "x"),
            "a.csv: expected a file name ending in .json or .parquet, got '.csv'",
        ),
        (_write(tmp_path / "b.json", "{oops"), "b.json: cannot read it as JSON"),
        (_write(tmp_path / "c.json", "[1, 2]"), "c.json: expected a JSON object .*got list"),
        (_write(tmp_path / "d.json", edited(format="other")), "d.json: not a lob bench result"),
        (
            _write(tmp_path / "e.json", edited(format_version=99)),
            "e.json: lob bench result format version 99",
        ),
        (
            _write(tmp_path / "f.json", edited(baseline_cpu_s=0)),
            "f.json: baseline_cpu_s: expected a positive",
        ),
        (_write(tmp_path / "g.json", edited(configs={})), "g.json: expected a list of configs, got dict"),
        (
            _write(tmp_path / "h.json", edited(configs=[{k: v for k, v in row.items() if k != "wall_s"}])),
            r"h.json: configs\[0\] \(tiny\) has no wall_s",
        ),
        (
            _write(tmp_path / "i.json", edited(configs=[{**row, "generations": "four"}])),
            r"i.json: configs\[0\] \(tiny\).generations: expected int or null, got 'four'",
        ),
        (_write(tmp_path / "j.parquet", b"not parquet"), "j.parquet: cannot read it as Parquet"),
        (_write(tmp_path / "k.json", edited(suite="full")), "k.json: a result of suite 'full', this run is"),
    ]
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"x": [1]}), plain)
    cases.append((plain, "plain.parquet: a Parquet file without lob bench's header metadata"))
    for path, message in cases:
        with pytest.raises(LobError, match=message):
            _bench(tiny_dir, compare=path)


# -- what cannot run here, and what must not change --------------------------------------------------------


def test_config_needing_absent_data_is_skipped_with_a_note(tiny_dir: Path, tmp_path: Path) -> None:
    # The real replay config, out of its place: ../../shared/data is not next to it any more.
    shutil.copy(CONFIGS / "replay_binance_shock.yaml", tiny_dir)
    out = tmp_path / "r.json"
    status, text = _bench(tiny_dir, out=out)
    assert status == 0
    assert "lob bench: suite quick, 1 config, best of 1 runs each" in text
    assert "skipped replay_binance_shock: needs data that is not here: no such file:" in text
    rows = {r.config: r for r in read_result(out).rows}
    assert rows["replay_binance_shock"].status == "skipped" and rows["replay_binance_shock"].wall_s is None
    assert rows["tiny"].status == "ok"


def test_other_config_errors_are_raised(tiny_dir: Path) -> None:
    (tiny_dir / "broken.yaml").write_text(TINY.replace("count: 10", "count: ten"))
    with pytest.raises(LobError, match=r"broken\.yaml:6: traders"):
        _bench(tiny_dir)


def test_outcomes_that_differ_between_runs_fail_the_command(
    tiny_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lob.scenario.runner as runner

    real = runner.run_config
    calls = iter(range(100))

    def drifting(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        result.summary["instruments"]["XYZ"]["peak_drop_pct"] += next(calls)
        return result

    monkeypatch.setattr(runner, "run_config", drifting)
    status, text = _bench(tiny_dir, repeat=2)
    assert status == 1
    assert "NOT DETERMINISTIC tiny: peak_drop_pct differed between its runs" in text


def test_measure_run_keeps_the_fastest_times(tiny_dir: Path) -> None:
    cfg = load_config(tiny_dir / "tiny.yaml")
    row = ConfigResult("tiny")
    measure_run(row, cfg)
    first = dataclasses.replace(row)
    measure_run(row, cfg)
    assert row.wall_s is not None and first.wall_s is not None and row.wall_s <= first.wall_s
    assert row.cpu_s is not None and first.cpu_s is not None and row.cpu_s <= first.cpu_s
    assert row.outcomes() == first.outcomes() and not row.unstable


def test_git_state_tolerates_no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert git_state(tmp_path) == (None, None)  # not a checkout

    def no_git(*args: Any, **kwargs: Any) -> Any:
        raise FileNotFoundError("git")

    monkeypatch.setattr("subprocess.run", no_git)
    assert git_state(CONFIGS) == (None, None)
