"""Running scenarios: the shipped configs, determinism, the run directory, `lob run` and the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lob
from lob.eventlog.schema import KIND_CODE, TABLES
from lob.replay.own_run import replay_run
from lob.scenario.loader import load_config, parse_config
from lob.scenario.runner import run_config

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
# Shortened where a full run would slow the suite; the flash crash runs whole (its crash is at 10-14 min).
SHORTER = {"calm": "10m", "rmsc04_like": "1h"}
# Configs that replay recorded data from ../shared/data (never copied into the repository).
NEEDS_DATA = {"replay_binance_shock"}
SHARED_DATA = ROOT.parent / "shared" / "data"

SMALL = """
run: {duration: 2m, seed: 7}
instruments: [{symbol: XYZ, tick_size: 0.01, price: 100.0}]
venue:
  latency: {base: 50us, jitter: 100us, distribution: exponential}
  fees: {maker_bps: -0.5, taker_bps: 1.0}
fundamental: {XYZ: {mean_reversion: 0.01, volatility: 0.02}}
traders:
  - {type: market_maker, count: 2, params: {refresh_interval: 1s, levels: 3, size: 10}}
  - {type: noise, count: 30, params: {mean_interval: 5s, market_prob: 0.3}}
  - {type: value, count: 5, params: {mean_interval: 10s}}
"""


def lob_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lob", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_shipped_config_runs_conserves_and_replays(config: Path, tmp_path: Path) -> None:
    if config.stem in NEEDS_DATA and not SHARED_DATA.is_dir():
        pytest.skip(f"{config.name} replays recorded data from {SHARED_DATA}, absent on this machine")
    overrides = [f"run.duration={SHORTER[config.stem]}"] if config.stem in SHORTER else []
    result = run_config(load_config(config, overrides), tmp_path / "run", keep_world=True)
    assert result.world is not None
    world = result.world
    venue = world.venue
    assert venue.commands > 1000
    # Exact, in integers: positions net to zero; all collateral (the insurance fund's, bankrupt
    # accounts' negative balances included) + trading cash + fees = what was deposited.
    deposited = sum(world.deposits_by_owner.values())
    held = sum(a.collateral for a in venue.accounts) + sum(
        (sum(a.cash[i.index] for a in venue.accounts) + venue.fee_income[i.index]) * i.money_unit
        for i in world.instruments
    )
    assert held == deposited == world.deposits
    assert result.summary["conservation"]["money"]["difference"] == 0
    for inst in world.instruments:
        assert sum(a.position[inst.index] for a in venue.accounts) == 0
        assert result.summary["conservation"]["position_sum_lots"][inst.symbol] == 0
        assert result.summary["instruments"][inst.symbol]["fills"] > 100
    # The event log is complete: its commands, re-executed through fresh books, give every fill again.
    replay = replay_run(tmp_path / "run")
    fills = sum(m["fills"] for m in result.summary["instruments"].values())
    assert replay.complete and replay.reproduced == replay.fills == fills


def test_the_flash_crash_config_crashes_and_recovers() -> None:
    result = run_config(load_config(ROOT / "configs" / "flash_crash_spot.yaml"), write=False)
    m = result.summary["instruments"]["XYZ"]
    # the seller works 10:10-10:14 (600-840 s): the fall is there, deep, and mostly undone by the end
    assert m["peak_drop_pct"] > 2.0
    assert 600e9 <= m["trough_time_ns"] <= 900e9
    assert m["recovered_share"] > 0.5
    assert result.world is not None
    makers = [t for t in result.world.traders if t.group == "market_maker"]
    assert all(any(reason != "return" for _, reason in t.withdrawals) for t in makers)  # type: ignore[attr-defined]
    # The figures the README quotes for seed 1 (the run is deterministic, so they must stay true).
    assert (round(m["peak_drop_pct"], 1), m["low"], round(m["recovered_share"], 2)) == (2.9, 95.9, 0.86)
    assert m["trough_time_ns"] == 697 * 10**9
    book = result.world.arrays()["book"]
    top10 = {t: book[book["time_ns"] == t * 10**9] for t in (540, 720, 900)}
    assert [int(top10[t]["bid_lots"].sum()) for t in (540, 720, 900)] == [677, 0, 436]


def test_a_scripted_shock_moves_the_fundamental_and_is_logged() -> None:
    text = SMALL.replace(
        "fundamental: {XYZ: {mean_reversion: 0.01, volatility: 0.02}}",
        "fundamental: {XYZ: {shocks: [{at: 60500ms, jump: -0.05}]}}",
    )
    result = run_config(parse_config(text, "shock.yaml"), write=False)
    assert result.world is not None
    arrays = result.world.arrays()
    ev = arrays["events"]
    (shock,) = ev[ev["kind"] == KIND_CODE["shock"]]
    assert (shock["time_ns"], shock["value"]) == (61 * 10**9, -0.05)  # the first 1 s grid time >= 60.5 s
    book = arrays["book"]
    level0 = book[book["level"] == 0]
    fundamental = dict(zip(level0["time_ns"] // 10**9, level0["fundamental"], strict=True))
    assert (fundamental[60], fundamental[61]) == (100.0, pytest.approx(95.0))


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    cfg = parse_config(SMALL, "small.yaml")
    a = run_config(cfg, tmp_path / "a").path
    b = run_config(cfg, tmp_path / "b").path
    c = run_config(parse_config(SMALL, "small.yaml", ["run.seed=8"]), tmp_path / "c").path
    assert a is not None and b is not None and c is not None
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(
        ["config.yaml", "manifest.json", "summary.json", *(f"{t}.parquet" for t in TABLES)]
    )
    for name in files:
        if name != "manifest.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    ma.pop("wall_s"), mb.pop("wall_s")  # the only field that may differ: how long it took
    assert ma == mb
    assert (a / "events.parquet").read_bytes() != (c / "events.parquet").read_bytes()
    assert (a / "summary.json").read_bytes() != (c / "summary.json").read_bytes()


def test_latency_is_respected_in_the_log(tmp_path: Path) -> None:
    result = run_config(parse_config(SMALL, "small.yaml"), tmp_path / "run")
    data = result.data()
    ev = data.events
    commands = ev[
        ev["kind"].isin(["limit", "ioc", "fok", "post_only", "market", "cancel", "replace", "reduce"])
    ]
    # no command reaches the venue before its entry latency (50 us base) has passed
    assert ((commands["time_ns"] - commands["sent_ns"]) >= 50_000).all()
    # every fill happens at the instant a command of its taker order arrived, not before
    fills = ev[ev["kind"] == "fill"]
    arrivals = set(zip(commands["order_id"], commands["time_ns"], strict=True))
    assert all(pair in arrivals for pair in zip(fills["order_id"], fills["time_ns"], strict=True))
    assert len(fills) == len(data.trades) > 50


def test_the_python_api_runs_a_config_and_gives_dataframes(tmp_path: Path) -> None:
    config = tmp_path / "small.yaml"
    config.write_text(SMALL)
    result = lob.run(config, tmp_path / "out", seed=11)
    assert result.summary["run"]["seed"] == 11
    data = result.data()
    assert data.manifest["seed"] == 11
    trades = data.trades
    assert len(trades) > 0
    assert np.allclose(trades["price"], trades["price_ticks"] * 0.01)
    assert str(data.events["kind"].dtype) == "category"
    book = data.book
    assert set(book["level"]) == set(range(10))
    assert (book.loc[book["level"] == 0, "mid"].dropna() > 90).all()


def test_a_custom_trader_by_import_path(tmp_path: Path) -> None:
    text = SMALL + "  - {type: 'custom_traders:Dumper', name: dumper, params: {at: 60s, qty: 25}}\n"
    result = run_config(parse_config(text, "custom.yaml"), write=False)
    assert result.world is not None
    dumper = result.world.traders[-1]
    assert type(dumper).__name__ == "Dumper" and dumper.sold_at == 60 * 10**9  # type: ignore[attr-defined]
    ev = result.world.arrays()["events"]
    mine = ev[(ev["agent"] == len(result.world.traders) - 1) & (ev["kind"] == KIND_CODE["market"])]
    assert len(mine) == 1 and mine["qty_lots"][0] == 25
    assert result.world.venue.accounts[-1].position[0] < 0


class TestCli:
    def test_run_writes_the_directory_and_prints_a_summary(self, tmp_path: Path) -> None:
        config = tmp_path / "small.yaml"
        config.write_text(SMALL)
        done = lob_cli("run", str(config), "--out", str(tmp_path / "out"), "--set", "run.duration=30s")
        assert done.returncode == 0, done.stderr
        assert "run small seed 7" in done.stdout and "XYZ:" in done.stdout
        assert (tmp_path / "out" / "manifest.json").is_file()
        again = lob_cli("run", str(config), "--out", str(tmp_path / "out"))
        assert again.returncode == 1
        assert "already exists; use --force" in again.stderr and "Traceback" not in again.stderr
        forced = lob_cli(
            "run", str(config), "--out", str(tmp_path / "out"), "--force", "--seed", "3", "--quiet"
        )
        assert forced.returncode == 0 and forced.stdout == ""
        assert json.loads((tmp_path / "out" / "manifest.json").read_text())["seed"] == 3

    def test_a_bad_config_exits_2_with_the_file_and_key(self, tmp_path: Path) -> None:
        config = tmp_path / "bad.yaml"
        config.write_text(SMALL.replace("count: 30", "count: -30"))
        done = lob_cli("run", str(config), "--out", str(tmp_path / "out"))
        assert done.returncode == 2
        assert f"{config}:10: traders[1].count: Input should be greater than or equal to 1" in done.stderr
        assert "Traceback" not in done.stderr
        assert not (tmp_path / "out").exists()

    def test_a_failing_trader_ends_the_run_without_a_traceback_or_output(self, tmp_path: Path) -> None:
        config = tmp_path / "boom.yaml"
        config.write_text(SMALL + "  - {type: 'tests.custom_traders:Exploder'}\n")
        done = lob_cli("run", str(config), "--out", str(tmp_path / "out"))
        assert done.returncode == 1
        assert "ZeroDivisionError: the user's bug" in done.stderr and "custom_traders.py" in done.stderr
        assert "Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == [config]

    def test_an_interrupted_run_leaves_nothing_that_looks_complete(self, tmp_path: Path) -> None:
        config = tmp_path / "stop.yaml"
        config.write_text(SMALL + "  - {type: 'tests.custom_traders:Interrupter'}\n")
        done = lob_cli("run", str(config), "--out", str(tmp_path / "out"))
        assert done.returncode == 130
        assert "interrupted" in done.stderr and "Traceback" not in done.stderr
        assert list(tmp_path.iterdir()) == [config]

    def test_the_console_script_and_python_m_agree(self, tmp_path: Path) -> None:
        exe = Path(sys.executable).with_name("lob")
        if not exe.exists():
            pytest.skip("the lob console script is not installed next to this python")
        done = subprocess.run(
            [str(exe), "validate", str(ROOT / "configs" / "calm.yaml")], capture_output=True, text=True
        )
        assert done.returncode == 0 and done.stdout.startswith("ok: ")


def test_the_venue_return_latency_applies_to_every_group_without_its_own() -> None:
    text = SMALL.replace("  fees: {maker_bps", "  return_latency: {base: 5ms}\n  fees: {maker_bps") + (
        "  - {type: 'custom_traders:Dumper', name: dumper, params: {at: 60s, qty: 5}}\n"
        "  - {type: 'custom_traders:Dumper', name: linked, params: {at: 61s, qty: 5}, latency: {base: 1ms}}\n"
    )
    cfg = parse_config(text, "ret.yaml")
    world = run_config(cfg, write=False).world
    assert world is not None
    by_name = {t.name: t._conn for t in world.traders}
    # the venue's return latency for a group that sets none; a group's own latency both ways otherwise
    assert by_name["dumper"] is not None and by_name["dumper"].ret.base_ns == 5_000_000
    assert by_name["noise-0"] is not None and by_name["noise-0"].ret.base_ns == 5_000_000
    assert by_name["linked"] is not None and by_name["linked"].ret.base_ns == 5_000_000


def test_a_groups_latency_is_its_link_both_ways_when_the_venue_sets_no_return_latency() -> None:
    text = (
        SMALL
        + "  - {type: 'custom_traders:Dumper', name: far, params: {at: 60s, qty: 5}, latency: {base: 3ms}}\n"
    )
    world = run_config(parse_config(text, "far.yaml"), write=False).world
    assert world is not None
    far = world.traders[-1]._conn
    assert far is not None and (far.entry.base_ns, far.ret.base_ns) == (3_000_000, 3_000_000)


def test_the_progress_bar_counts_simulated_seconds_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import time

    from lob.scenario.terminal import progress_bar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with progress_bar(120 * 10**9) as progress:
        assert progress is not None
        time.sleep(0.15)  # the bar redraws at most every 0.1 s
        progress(60 * 10**9)
    assert "60.0/120.0" in screen.getvalue() and "sim s" in screen.getvalue()
    with progress_bar(10**9, disable=True) as off:
        assert off is None


def test_the_leveraged_flash_crash_cascades_as_the_readme_says() -> None:
    result = run_config(load_config(ROOT / "configs" / "flash_crash.yaml"), write=False)
    liq = result.summary["liquidations"]
    assert liq["liquidations"] == 1212 and liq["deepest_generation"] == 25
    assert [g["count"] for g in liq["by_generation"][:6]] == [238, 177, 70, 71, 32, 38]
    assert (round(liq["slippage_mid_bps_median"], 1), round(liq["slippage_mid_bps_p95"], 1)) == (8.6, 14.2)
    assert round(liq["filled_share"], 2) == 0.05
    assert liq["bad_debt_quote"] == 0.0
    assert result.summary["conservation"]["money"]["difference"] == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [([], (1756, 3, 5.63, 93.92)), (["open_interest[0].longs.leverage.max=5"], (0, None, 1.54, 98.45))],
)
def test_leverage_is_what_makes_the_small_shock_cascade(
    overrides: list[str], expected: tuple[int, int | None, float, float]
) -> None:
    result = run_config(load_config(ROOT / "configs" / "leverage_cascade.yaml", overrides), write=False)
    liq, m = result.summary["liquidations"], result.summary["instruments"]["XYZ"]
    got = (liq["liquidations"], liq["deepest_generation"], round(m["peak_drop_pct"], 2), m["low"])
    assert got == expected


def test_adl_waves_deleverages_as_the_readme_says() -> None:
    result = run_config(load_config(ROOT / "configs" / "adl_waves.yaml"), write=False)
    adl, liq = result.summary["adl"], result.summary["liquidations"]
    assert (liq["liquidations"], liq["deepest_generation"], liq["bad_debt_quote"]) == (2140, 8, 0.0)
    assert (adl["policy"], adl["waves"], adl["closes"], adl["accounts_hit"]) == ("bitmex", 4, 326, 55)
    assert round(adl["deficit_quote"]) == round(adl["haircut_at_close_quote"]) == 5363
    assert (round(adl["haircut_quote"]), round(adl["overshoot_quote"])) == (-12314, -17677)
    assert round(adl["largest_haircut_share"], 2) == 0.09 and adl["share_in_profit"] == 1.0
    assert result.summary["conservation"]["money"]["difference"] == 0


def test_circuit_breakers_halt_the_flash_crash_as_the_readme_says() -> None:
    result = run_config(load_config(ROOT / "configs" / "circuit_breaker.yaml"), write=False)
    liq, m = result.summary["liquidations"], result.summary["instruments"]["XYZ"]
    cb = result.summary["circuit_breakers"]["instruments"]["XYZ"]
    assert (cb["halts"], cb["halts_luld"], cb["halts_market_wide"], cb["halted_seconds"]) == (2, 1, 1, 420.0)
    assert (liq["liquidations"], liq["deepest_generation"]) == (1203, 17)
    assert (round(m["peak_drop_pct"], 2), m["low"], m["close"]) == (4.34, 97.0, 98.4)
    assert result.summary["conservation"]["money"]["difference"] == 0


def test_the_binance_replay_shock_as_the_readme_says() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"replay_binance_shock.yaml replays recorded data from {SHARED_DATA}, absent here")
    result = run_config(load_config(ROOT / "configs" / "replay_binance_shock.yaml"), write=False)
    s = result.summary
    ex = s["traders"]["block_seller"]["execution"]
    assert (ex["filled_lots"], round(ex["slippage_bps"], 1), ex["arrival_mid"]) == (1_000_000, 26.5, 61739.75)
    liq = s["liquidations"]
    assert (liq["liquidations"], [g["count"] for g in liq["by_generation"]]) == (450, [282, 164, 4])
    (bg,) = s["background"]
    assert (bg["level_updates"], bg["conflicts"], bg["cut_lots"]) == (397_716, 6_749, 1_631_545)
    assert s["conservation"]["money"]["difference"] == 0
