"""Scenario configs that are right: defaults, resolution, helpers, dump round-trip, overrides, durations."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from lob.scenario import ConfigError, ScenarioConfig, dump_config, load_config, parse_config
from lob.scenario.config import FeesConfig, LatencyConfig
from lob.scenario.durations import MAX_NS, UNIT_NS, DurationError, format_duration, parse_duration
from lob.scenario.loader import format_path, parse_key_path
from tests.trader_fixtures import PlainTrader, SpreadParams, SpreadTrader

MINIMAL = """\
run:
  duration: 1h
instruments:
  - symbol: XYZ
    tick_size: 0.01
    price: 100.0
traders:
  - type: tests.trader_fixtures:SpreadTrader
    params: {spread: 4}
"""

FULL = """\
run:
  name: crash
  duration: 2h
  seed: 7
  start: "2026-01-05T09:30:00"
instruments:
  - symbol: XYZ
    tick_size: 0.01
    lot_size: 0.001
    price: 100.0
  - symbol: BRK.B
    tick_size: 0.05
    price: 400.0
venue:
  latency: {base: 50us, jitter: 20us, distribution: exponential}
  return_latency: {base: 80us}
  feed_latency: 1ms
  feed_depth: 5
  fees: {maker_bps: -0.25, taker_bps: 4.5}
fundamental:
  XYZ:
    mean_reversion: 0.01
    volatility: 0.05
    jump_rate: 0.001
    jump_mean: -0.01
    jump_std: 0.02
    step: 100ms
    shocks:
      - at: 30m
        jump: -0.05
      - {at: 1h, jump: 0.02, permanent: false}
traders:
  - type: tests.trader_fixtures:SpreadTrader
    name: makers
    count: 10
    instrument: BRK.B
    latency: {base: 10us}
    params: {spread: 2, size: 5, interval: 250ms}
  - type: tests.trader_fixtures:PlainTrader
    count: 100
outputs:
  snapshot_interval: 500ms
  depth: 20
  tables: [events, book]
"""


def parse(text: str = MINIMAL, overrides: tuple[str, ...] = ()) -> ScenarioConfig:
    return parse_config(text, overrides=overrides)


# -- defaults and resolution -------------------------------------------------------------------------------


def test_minimal_config_gets_every_default() -> None:
    cfg = parse()
    assert cfg.run.name == "run"  # a "<string>" source
    assert (cfg.run.duration, cfg.run.seed, cfg.run.start) == (3_600_000_000_000, 0, None)
    assert cfg.instruments[0].lot_size == 1.0
    assert cfg.venue.latency == LatencyConfig(base=100_000, jitter=0, distribution="uniform")
    assert cfg.venue.return_latency is None
    assert (cfg.venue.feed_latency, cfg.venue.feed_depth) == (200_000, 0)
    assert cfg.venue.fees == FeesConfig(maker_bps=0.0, taker_bps=0.0)
    assert cfg.outputs.snapshot_interval == 1_000_000_000
    assert (cfg.outputs.depth, cfg.outputs.tables) == (
        10,
        ["events", "trades", "book", "liquidations", "adl"],
    )
    group = cfg.traders[0]
    assert (group.name, group.count, group.instrument, group.latency) == ("spreadtrader", 1, "XYZ", None)


def test_a_missing_fundamental_is_constant_at_the_instrument_price() -> None:
    fundamental = parse().fundamental_for("XYZ")
    assert (fundamental.mean, fundamental.start) == (100.0, 100.0)
    assert (fundamental.volatility, fundamental.jump_rate, fundamental.shocks) == (0.0, 0.0, [])
    assert fundamental.step == 1_000_000_000


def test_full_config_reads_every_field() -> None:
    cfg = parse(FULL)
    assert cfg.run.name == "crash" and cfg.run.seed == 7
    assert cfg.run.start == dt.datetime(2026, 1, 5, 9, 30)
    assert cfg.symbols == ["XYZ", "BRK.B"]
    assert cfg.instrument("BRK.B").price_ticks == 8000
    assert cfg.venue.latency == LatencyConfig(base=50_000, jitter=20_000, distribution="exponential")
    assert cfg.venue.effective_return_latency == LatencyConfig(base=80_000)
    assert (cfg.venue.feed_latency, cfg.venue.feed_depth) == (1_000_000, 5)
    assert (cfg.venue.fees.maker_ppm, cfg.venue.fees.taker_ppm) == (-25, 450)
    xyz = cfg.fundamental_for("XYZ")
    assert (xyz.mean, xyz.start, xyz.step) == (100.0, 100.0, 100_000_000)
    assert [(s.at, s.jump, s.permanent) for s in xyz.shocks] == [
        (1_800_000_000_000, -0.05, True),
        (3_600_000_000_000, 0.02, False),
    ]
    assert cfg.fundamental_for("BRK.B").mean == 400.0  # filled in for the instrument the file left out
    makers, plain = cfg.traders
    assert (makers.name, makers.instrument, makers.count) == ("makers", "BRK.B", 10)
    assert cfg.latency_for(makers) == LatencyConfig(base=10_000)
    assert cfg.latency_for(plain) == cfg.venue.latency
    assert (plain.name, plain.instrument) == ("plaintrader", "XYZ")
    assert cfg.trader_count == 110
    assert cfg.outputs.tables == ["events", "book"]


def test_trader_class_and_validated_params() -> None:
    makers, plain = parse(FULL).traders
    assert makers.trader_class is SpreadTrader and plain.trader_class is PlainTrader
    assert makers.params_model == SpreadParams(spread=2, size=5, interval=250_000_000)
    assert makers.params == {
        "spread": 2,
        "size": 5,
        "interval": 250_000_000,
        "skew": 0.0,
    }  # defaults filled in


def test_instrument_lookup_names_the_declared_symbols() -> None:
    with pytest.raises(KeyError, match="declared: XYZ"):
        parse().instrument("ABC")


def test_run_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "calm.yaml"
    path.write_text(MINIMAL)
    assert load_config(path).run.name == "calm"


def test_empty_sections_mean_defaults() -> None:
    cfg = parse(MINIMAL + "venue:\noutputs:\nfundamental:\n")
    assert cfg.venue.feed_latency == 200_000 and cfg.outputs.depth == 10


def test_shock_exactly_at_the_end_is_allowed() -> None:
    cfg = parse(MINIMAL + "fundamental:\n  XYZ:\n    shocks: [{at: 1h, jump: 0.1}]\n")
    assert cfg.fundamental_for("XYZ").shocks[0].at == cfg.run.duration


def test_unquoted_timestamp_and_date_start() -> None:
    cfg = parse(MINIMAL.replace("duration: 1h", "duration: 1h\n  start: 2026-01-05T09:30:00"))
    assert cfg.run.start == dt.datetime(2026, 1, 5, 9, 30)
    cfg = parse(MINIMAL.replace("duration: 1h", "duration: 1h\n  start: 2026-01-05"))
    assert cfg.run.start == dt.datetime(2026, 1, 5)


@pytest.mark.parametrize(
    ("bps", "ppm"), [(0.0, 0), (0.01, 1), (-0.25, -25), (4.5, 450), (1000, 100_000), (0.07, 7)]
)
def test_fee_rates_in_millionths(bps: float, ppm: int) -> None:
    fees = FeesConfig(maker_bps=bps, taker_bps=bps)
    assert fees.maker_ppm == fees.taker_ppm == ppm


# -- dump --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [MINIMAL, FULL], ids=["minimal", "full"])
def test_dump_round_trips_to_an_equal_config(text: str) -> None:
    cfg = parse(text)
    dumped = dump_config(cfg)
    again = parse_config(dumped)
    assert again == cfg
    assert dump_config(again) == dumped


def test_dump_is_resolved_and_readable() -> None:
    dumped = dump_config(parse(FULL))
    data = yaml.safe_load(dumped)
    assert list(data) == [
        "run",
        "instruments",
        "venue",
        "fundamental",
        "traders",
        "open_interest",
        "background",
        "outputs",
    ]
    assert data["run"] == {"name": "crash", "duration": "2h", "seed": 7, "start": "2026-01-05T09:30:00"}
    assert data["venue"]["latency"] == {"base": "50us", "jitter": "20us", "distribution": "exponential"}
    assert data["venue"]["return_latency"] == {"base": "80us", "jitter": "0s", "distribution": "uniform"}
    assert data["fundamental"]["XYZ"]["shocks"][0] == {"at": "30m", "jump": -0.05, "permanent": True}
    assert data["traders"][0]["params"] == {"spread": 2, "size": 5, "interval": "250ms", "skew": 0.0}
    assert data["traders"][1]["name"] == "plaintrader"
    assert data["traders"][1]["params"] == {}
    assert list(data["fundamental"]) == ["XYZ", "BRK.B"]


# -- overrides ---------------------------------------------------------------------------------------------


def test_overrides_set_values_before_validation() -> None:
    cfg = parse(
        FULL,
        (
            "run.seed=3",
            "traders[0].params.spread=9",
            "venue.latency.base=1ms",
            "outputs.tables=[events]",
            "traders[1].latency={base: 5us, jitter: 1us}",
            "fundamental['BRK.B'].volatility=0.25",
            "run.start=",
        ),
    )
    assert cfg.run.seed == 3
    assert cfg.traders[0].params_model == SpreadParams(spread=9, size=5, interval=250_000_000)
    assert cfg.venue.latency.base == 1_000_000
    assert cfg.outputs.tables == ["events"]
    assert cfg.traders[1].latency == LatencyConfig(base=5_000, jitter=1_000)
    assert cfg.fundamental_for("BRK.B").volatility == 0.25
    assert cfg.run.start is None


def test_override_creates_missing_sections() -> None:
    cfg = parse(MINIMAL, ("venue.fees.maker_bps=-0.5", "run.name=calm"))
    assert cfg.venue.fees.maker_ppm == -50
    assert cfg.run.name == "calm"


def test_override_of_the_name_wins_over_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "calm.yaml"
    path.write_text(MINIMAL)
    assert load_config(path, ["run.name=stormy"]).run.name == "stormy"


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ("run.seed", ("run", "seed")),
        ("traders[0].params.spread", ("traders", 0, "params", "spread")),
        ("a[1][2].b", ("a", 1, 2, "b")),
        ("fundamental['BRK.B'].mean", ("fundamental", "BRK.B", "mean")),
        ('fundamental["X.Y"]', ("fundamental", "X.Y")),
    ],
)
def test_key_paths(text: str, loc: tuple[str | int, ...]) -> None:
    assert parse_key_path(text) == loc
    assert parse_key_path(format_path(loc)) == loc


@pytest.mark.parametrize("text", ["", "a..b", ".a", "a.", "a[", "a[x]", "a[-1]", "a]b", "a[0]b"])
def test_malformed_key_paths(text: str) -> None:
    with pytest.raises(ValueError):
        parse_key_path(text)


def test_a_failed_override_changes_nothing() -> None:
    with pytest.raises(ConfigError) as info:
        parse(MINIMAL, ("newsection.items[0]=1",))
    (problem,) = info.value.problems  # no "unknown key 'newsection'" left behind by a half-done override
    assert problem.path == "newsection.items[0]"
    assert "cannot index into newsection.items: it is not in the config" in problem.message


# -- durations ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("1h", 3_600_000_000_000),
        ("30m", 1_800_000_000_000),
        ("1.5s", 1_500_000_000),
        ("50us", 50_000),
        ("50µs", 50_000),
        ("250ms", 250_000_000),
        ("7ns", 7),
        ("0.1s", 100_000_000),
        ("1e3ns", 1000),
        (" 2 ms ", 2_000_000),
        ("0", 0),
        ("123", 123),
        (0, 0),
        (42, 42),
    ],
)
def test_parse_duration(text: str | int, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (
            "5 parsecs",
            "expected a duration such as 500us, 2s, 1h, 6h30m or an integer of nanoseconds, got '5 parsecs'",
        ),
        ("-5s", "must be >= 0"),
        (-1, "must be >= 0"),
        ("0.5ns", "whole number of nanoseconds"),
        ("1.0000000000000000000000000001s", "whole number of nanoseconds"),
        ("1e999999h", "at most"),
        (1.5, "add a unit"),
        (True, "got true"),
        (None, "got null"),
        ("s", "expected a duration"),
        ("1 d", "expected a duration"),
        ("30m6h", "expected a duration"),  # a compound goes largest unit first
        ("1.5h30m", "expected a duration"),  # and in whole numbers
    ],
)
def test_bad_durations(value: object, words: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1_500_000, "1500us"),
        (250_000_000, "250ms"),
        (3_600_000_000_000, "1h"),
        (5_400_000_000_000, "90m"),
        (90_000_000_000, "90s"),
    ],
)
def test_format_duration(ns: int, text: str) -> None:
    assert format_duration(ns) == text


@given(st.integers(min_value=0, max_value=MAX_NS))
def test_format_then_parse_is_the_identity(ns: int) -> None:
    text = format_duration(ns)
    assert parse_duration(text) == ns
    number = int(text.rstrip("hmnsu"))
    unit = text[len(str(number)) :]
    # Shortest: no larger unit divides ns exactly.
    assert all(ns % size for u, size in UNIT_NS.items() if size > UNIT_NS[unit]) or ns == 0


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(UNIT_NS)))
def test_parse_then_format_then_parse(amount: int, unit: str) -> None:
    ns = parse_duration(f"{amount}{unit}")
    assert ns == amount * UNIT_NS[unit]
    assert parse_duration(format_duration(ns)) == ns


def test_yaml_reads_durations_inside_lists_and_flow_mappings() -> None:
    text = textwrap.dedent(
        """\
        run: {duration: 90m}
        instruments: [{symbol: A, tick_size: 1, price: 10}]
        fundamental: {A: {shocks: [{at: 1500us, jump: 0.5}]}}
        traders: [{type: "tests.trader_fixtures:PlainTrader"}]
        """
    )
    cfg = parse(text)
    assert cfg.run.duration == 5_400_000_000_000
    assert cfg.fundamental_for("A").shocks[0].at == 1_500_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("6h30m", 23_400 * 10**9),
        ("1m30s", 90 * 10**9),
        ("1h1ns", 3_600 * 10**9 + 1),
        ("2s500ms", 2_500_000_000),
    ],
)
def test_compound_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


def test_trader_names_that_would_clash_are_a_config_error() -> None:
    text = """
run: {duration: 1m}
instruments: [{symbol: XYZ, tick_size: 0.01, price: 100.0}]
traders:
  - {type: noise, count: 2}
  - {type: noise, name: noise-1}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "clash.yaml")
    assert "clash.yaml:6: traders[1].name: trader name 'noise-1' of this group clashes" in str(info.value)


@pytest.mark.parametrize(
    ("param", "value", "words"),
    [
        ("size_max", "true", "expected an integer, got true"),
        ("size_max", '"7"', "expected an integer, got '7'"),
        ("market_prob", ".inf", "finite number"),
        ("market_prob", "yes", "got true"),
    ],
)
def test_built_in_params_are_as_strict_as_the_config(param: str, value: str, words: str) -> None:
    text = f"""
run: {{duration: 1m}}
instruments: [{{symbol: XYZ, tick_size: 0.01, price: 100.0}}]
traders:
  - type: noise
    params:
      {param}: {value}
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "strict.yaml")
    assert f"strict.yaml:7: traders[0].params.{param}:" in str(info.value)
    assert words in str(info.value)
