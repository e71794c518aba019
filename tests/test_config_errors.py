"""Config mistakes: each is reported with its file, line, key path and what was expected.

Most cases edit one line of BASE (a valid config) or append a section after its
last line (line 13), so every expected line number can be read off BASE.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from lob.agents.registry import TraderLookupError, resolve_trader
from lob.scenario import ConfigError, load_config
from lob.scenario.loader import Problem

BASE = """\
run:
  duration: 1h
  seed: 1
instruments:
  - symbol: XYZ
    tick_size: 0.01
    price: 100.0
traders:
  - type: tests.trader_fixtures:SpreadTrader
    count: 2
    params:
      spread: 4
  - type: tests.trader_fixtures:PlainTrader
"""


def edit(old: str, new: str) -> str:
    """BASE with its one line ``old`` replaced by ``new`` (which may add lines)."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


#: BASE with XYZ a perpetual (one line more: a section appended after it starts at line 15).
PERPETUAL = edit("    price: 100.0\n", "    price: 100.0\n    kind: perpetual\n")


def problems_in(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> tuple[Path, list[Problem]]:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    err = info.value
    assert str(err) == "\n".join(str(p) for p in err.problems)
    return path, err.problems


def the_problem(problems: list[Problem], path: str) -> Problem:
    matching = [p for p in problems if p.path == path]
    assert len(matching) == 1, f"{path!r} not reported once in {[str(p) for p in problems]}"
    return matching[0]


# (id, config text, line, key path, words the message must contain)
CASES = [
    (
        "yaml-syntax",
        edit("  seed: 1\n", "  seed: [1, 2\n"),
        4,
        "",
        ["invalid YAML", "flow sequence", "line 3"],
    ),
    ("yaml-tab", edit("  seed: 1\n", "\tseed: 1\n"), 3, "", ["invalid YAML", "spaces, not tabs"]),
    ("yaml-indent", edit("  seed: 1\n", " seed: 1\n"), 3, "", ["invalid YAML", "indentation"]),
    (
        "duplicate-key",
        edit("  seed: 1\n", "  seed: 1\n  seed: 2\n"),
        4,
        "run.seed",
        ["duplicate key 'seed'", "line 3"],
    ),
    ("missing-duration", edit("  duration: 1h\n", ""), 1, "run.duration", ["required key missing"]),
    ("run-null", edit("  duration: 1h\n  seed: 1\n", ""), 1, "run", ["expected a mapping, got null"]),
    (
        "unknown-top-level-key",
        BASE + "outptus:\n  depth: 5\n",
        14,
        "outptus",
        ["unknown key 'outptus'", "expected one of: run, instruments", "did you mean 'outputs'?"],
    ),
    (
        "unknown-nested-key",
        edit("  seed: 1\n", "  sed: 1\n"),
        3,
        "run.sed",
        ["unknown key 'sed'", "expected one of: name, duration, seed, start", "did you mean 'seed'?"],
    ),
    (
        "wrong-type-int",
        edit("    count: 2\n", "    count: many\n"),
        10,
        "traders[0].count",
        ["expected an integer, got 'many'"],
    ),
    ("bool-for-int", edit("  seed: 1\n", "  seed: yes\n"), 3, "run.seed", ["expected an integer, got true"]),
    (
        "wrong-type-number",
        edit("    tick_size: 0.01\n", "    tick_size: cheap\n"),
        6,
        "instruments[0].tick_size",
        ["expected a number, got 'cheap'"],
    ),
    (
        "number-for-string",
        edit("  - symbol: XYZ\n", "  - symbol: 1234\n"),
        5,
        "instruments[0].symbol",
        ["expected a string, got 1234", "quote it"],
    ),
    (
        "bad-symbol",
        edit("  - symbol: XYZ\n", "  - symbol: X Y\n"),
        5,
        "instruments[0].symbol",
        ["letters, digits", "got 'X Y'"],
    ),
    (
        "negative-duration",
        edit("  duration: 1h\n", "  duration: -1h\n"),
        2,
        "run.duration",
        ["must be >= 0", "got '-1h'"],
    ),
    (
        "bad-duration-unit",
        edit("  duration: 1h\n", "  duration: 5 parsecs\n"),
        2,
        "run.duration",
        ["expected a duration such as 500us, 2s, 1h, 6h30m or an integer of nanoseconds, got '5 parsecs'"],
    ),
    (
        "zero-duration",
        edit("  duration: 1h\n", "  duration: 0s\n"),
        2,
        "run.duration",
        ["expected a duration > 0, got 0s"],
    ),
    (
        "bad-run-name",
        edit("  seed: 1\n", "  seed: 1\n  name: a/b\n"),
        4,
        "run.name",
        ["directory name", "got 'a/b'"],
    ),
    (
        "bad-start",
        edit("  seed: 1\n", "  seed: 1\n  start: soon\n"),
        4,
        "run.start",
        ["ISO date-time", "got 'soon'"],
    ),
    (
        "tick-size-zero",
        edit("    tick_size: 0.01\n", "    tick_size: 0\n"),
        6,
        "instruments[0].tick_size",
        ["greater than 0", "(got 0)"],
    ),
    (
        "price-under-a-tick",
        edit("    price: 100.0\n", "    price: 0.001\n"),
        7,
        "instruments[0].price",
        ["ticks of 0.01", "got 0.001"],
    ),
    (
        "empty-instruments",
        edit("  - symbol: XYZ\n    tick_size: 0.01\n    price: 100.0\n", "  []\n").replace(
            "instruments:\n  []", "instruments: []"
        ),
        4,
        "instruments",
        ["expected at least 1 item, got 0"],
    ),
    (
        "duplicate-symbol",
        edit("    price: 100.0\n", "    price: 100.0\n  - {symbol: XYZ, tick_size: 0.5, price: 1}\n"),
        8,
        "instruments[1].symbol",
        ["duplicate symbol 'XYZ'", "instruments[0]"],
    ),
    (
        "unknown-instrument-in-group",
        edit("    count: 2\n", "    count: 2\n    instrument: XYY\n"),
        11,
        "traders[0].instrument",
        ["unknown instrument 'XYY'", "declared instruments: XYZ", "did you mean 'XYZ'?"],
    ),
    (
        "fundamental-for-undeclared-symbol",
        BASE + "fundamental:\n  ABC:\n    volatility: 0.1\n",
        15,
        "fundamental.ABC",
        ["undeclared instrument 'ABC'", "declared instruments: XYZ"],
    ),
    (
        "shock-after-duration",
        BASE + "fundamental:\n  XYZ:\n    shocks:\n      - {at: 2h, jump: -0.1}\n",
        17,
        "fundamental.XYZ.shocks[0].at",
        ["shock at 2h is after the end of the run", "run.duration is 1h"],
    ),
    (
        "zero-shock",
        BASE + "fundamental:\n  XYZ:\n    shocks:\n      - at: 1m\n        jump: 0\n",
        18,
        "fundamental.XYZ.shocks[0].jump",
        ["non-zero", "got 0"],
    ),
    (
        "negative-volatility",
        BASE + "fundamental:\n  XYZ:\n    volatility: -1\n",
        16,
        "fundamental.XYZ.volatility",
        ["greater than or equal to 0", "(got -1)"],
    ),
    (
        "unknown-trader-type",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "  - type: nosie\n"),
        13,
        "traders[1].type",
        [
            "unknown trader type 'nosie'",
            "built-in types: arbitrageur, cross_venue_holder, execution, market_maker, momentum, noise, "
            "pyramid, stop_loss, value",
            "did you mean 'noise'?",
        ],
    ),
    (
        "dotted-instead-of-colon",
        edit(
            "  - type: tests.trader_fixtures:PlainTrader\n", "  - type: tests.trader_fixtures.PlainTrader\n"
        ),
        13,
        "traders[1].type",
        ["unknown trader type", "did you mean 'tests.trader_fixtures:PlainTrader'?"],
    ),
    (
        "malformed-import-path",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "  - type: 'tests.trader_fixtures:'\n"),
        13,
        "traders[1].type",
        ["malformed trader path", "expected 'package.module:ClassName'"],
    ),
    (
        "module-missing",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "  - type: tests.no_such_module:Dumper\n"),
        13,
        "traders[1].type",
        ["cannot import module 'tests.no_such_module'", "No module named 'tests.no_such_module'"],
    ),
    (
        "class-missing",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "  - type: tests.trader_fixtures:Dumper\n"),
        13,
        "traders[1].type",
        ["has no attribute 'Dumper'", "Trader classes there: PlainTrader, SpreadTrader"],
    ),
    (
        "class-not-a-trader",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "  - type: tests.trader_fixtures:NotATrader\n"),
        13,
        "traders[1].type",
        ["is a class, not a subclass of lob.agents.base.Trader"],
    ),
    (
        "function-not-a-trader",
        edit(
            "  - type: tests.trader_fixtures:PlainTrader\n", "  - type: tests.trader_fixtures:not_a_class\n"
        ),
        13,
        "traders[1].type",
        ["is a function, not a subclass"],
    ),
    (
        "unknown-param",
        edit("      spread: 4\n", "      spread: 4\n      sise: 3\n"),
        13,
        "traders[0].params.sise",
        ["unknown key 'sise'", "expected one of: spread, size, interval, skew", "did you mean 'size'?"],
    ),
    (
        "param-out-of-range",
        edit("      spread: 4\n", "      spread: -1\n"),
        12,
        "traders[0].params.spread",
        ["Input should be greater than 0 (got -1)"],
    ),
    (
        "param-missing",
        edit("      spread: 4\n", "      size: 3\n"),
        11,
        "traders[0].params.spread",
        ["required key missing"],
    ),
    (
        "param-bad-duration",
        edit("      spread: 4\n", "      spread: 4\n      interval: soon\n"),
        13,
        "traders[0].params.interval",
        ["expected a duration", "got 'soon'"],
    ),
    (
        "params-for-a-trader-without-params",
        BASE + "    params: {spread: 4}\n",
        14,
        "traders[1].params.spread",
        ["unknown key 'spread'", "takes no params"],
    ),
    (
        "params-not-a-mapping",
        edit("    params:\n      spread: 4\n", "    params: 4\n"),
        11,
        "traders[0].params",
        ["expected a mapping, got 4"],
    ),
    (
        "count-zero",
        edit("    count: 2\n", "    count: 0\n"),
        10,
        "traders[0].count",
        ["greater than or equal to 1", "(got 0)"],
    ),
    (
        "count-too-large",
        edit("    count: 2\n", "    count: 2000000\n"),
        10,
        "traders[0].count",
        ["less than or equal to 1000000"],
    ),
    (
        "duplicate-group-name",
        BASE + "  - type: tests.trader_fixtures:PlainTrader\n",
        14,
        "traders[2].name",
        ["duplicate group name 'plaintrader'", "traders[1]", "its own 'name'"],
    ),
    (
        "no-trader-groups",
        edit("  - type: tests.trader_fixtures:PlainTrader\n", "").split("traders:")[0] + "traders: []\n",
        8,
        "traders",
        ["expected at least 1 item"],
    ),
    (
        "bad-latency-distribution",
        BASE + "venue:\n  latency:\n    distribution: gaussian\n",
        16,
        "venue.latency.distribution",
        ["expected one of: uniform, exponential; got 'gaussian'"],
    ),
    (
        "feed-depth-out-of-range",
        BASE + "venue:\n  feed_depth: 101\n",
        15,
        "venue.feed_depth",
        ["less than or equal to 100", "(got 101)"],
    ),
    (
        "fee-not-whole-ppm",
        BASE + "venue:\n  fees:\n    maker_bps: 0.015\n",
        16,
        "venue.fees.maker_bps",
        ["multiple of 0.01 bps", "got 0.015"],
    ),
    (
        "fee-too-large",
        BASE + "venue:\n  fees:\n    taker_bps: 2000\n",
        16,
        "venue.fees.taker_bps",
        ["less than or equal to 1000"],
    ),
    (
        "unknown-table",
        BASE + "outputs:\n  tables: [events, trade]\n",
        15,
        "outputs.tables[1]",
        ["expected one of: events, trades, book, liquidations, adl; got 'trade'", "did you mean 'trades'?"],
    ),
    (
        "duplicate-table",
        BASE + "outputs:\n  tables: [events, book, events]\n",
        15,
        "outputs.tables",
        ["each table once", "events twice"],
    ),
    (
        "depth-out-of-range",
        BASE + "outputs:\n  depth: 0\n",
        15,
        "outputs.depth",
        ["greater than or equal to 1", "(got 0)"],
    ),
    (
        "depth-too-large",
        BASE + "outputs:\n  depth: 1001\n",
        15,
        "outputs.depth",
        ["less than or equal to 1000"],
    ),
    # -- auto-deleveraging and circuit breakers --
    (
        "unknown-adl-policy",
        PERPETUAL + "venue:\n  adl:\n    policy: bitmax\n",
        17,
        "venue.adl.policy",
        [
            "unknown ADL policy 'bitmax'",
            "expected one of none, binance, bitmex, dydx, hyperliquid, pro_rata_profit, pro_rata_size, "
            "socialized_loss",
            "or an import path 'package.module:ClassName'",
            "did you mean 'bitmex'?",
        ],
    ),
    (
        "adl-policy-not-an-adl-policy",
        PERPETUAL + "venue:\n  adl:\n    policy: tests.trader_fixtures:PlainTrader\n",
        17,
        "venue.adl.policy",
        ["is a class, not a subclass of lob.risk.adl.AdlPolicy"],
    ),
    (
        "adl-on-spot",
        BASE + "venue:\n  adl:\n    policy: bitmex\n",
        16,
        "venue.adl.policy",
        ["auto-deleveraging needs a perpetual instrument", "kind: perpetual"],
    ),
    (
        "adl-fund-drop-zero",
        PERPETUAL + "venue:\n  adl:\n    policy: bitmex\n    fund_drop: 0\n",
        18,
        "venue.adl.fund_drop",
        ["greater than 0", "(got 0)"],
    ),
    (
        "band-around-the-mark-on-spot",
        BASE + "venue:\n  circuit_breakers:\n    band:\n      limit: 0.05\n      reference: mark\n",
        18,
        "venue.circuit_breakers.band.reference",
        ["a band around the mark needs a perpetual instrument", "on spot use reference: trades"],
    ),
    (
        "band-default-reference-on-spot",  # the mark by default: reported on the band's line
        BASE + "venue:\n  circuit_breakers:\n    band:\n      limit: 0.05\n",
        16,
        "venue.circuit_breakers.band.reference",
        ["a band around the mark needs a perpetual instrument", "reference: trades"],
    ),
    (
        "market-wide-levels-not-increasing",
        BASE + "venue:\n  circuit_breakers:\n    market_wide:\n      levels: [[0.13, 15m], [0.07, 15m]]\n",
        17,
        "venue.circuit_breakers.market_wide.levels",
        ["expected drops in increasing order", "got [0.13, 0.07]"],
    ),
    (
        "market-wide-level-repeated",
        BASE + "venue:\n  circuit_breakers:\n    market_wide:\n      levels: [[0.07, 15m], [0.07, 1h]]\n",
        17,
        "venue.circuit_breakers.market_wide.levels",
        ["each once", "got [0.07, 0.07]"],
    ),
    (
        "luld-band-zero",
        BASE + "venue:\n  circuit_breakers:\n    luld:\n      band: 0\n",
        17,
        "venue.circuit_breakers.luld.band",
        ["greater than 0", "(got 0)"],
    ),
    (
        "luld-band-one",
        BASE + "venue:\n  circuit_breakers:\n    luld:\n      band: 1\n",
        17,
        "venue.circuit_breakers.luld.band",
        ["less than 1", "(got 1)"],
    ),
    (
        "during-halt-pause",
        BASE + "venue:\n  circuit_breakers:\n    during_halt: pause\n",
        16,
        "venue.circuit_breakers.during_halt",
        ["expected one of: reject, queue; got 'pause'"],
    ),
    (
        "unknown-circuit-breaker-key",
        BASE + "venue:\n  circuit_breakers:\n    markt_wide:\n      levels: [[0.07, 15m]]\n",
        16,
        "venue.circuit_breakers.markt_wide",
        [
            "unknown key 'markt_wide'",
            "expected one of: band, luld, market_wide, during_halt, liquidations",
            "did you mean 'market_wide'?",
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "key", "words"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_mistake_is_reported_with_file_line_and_path(
    tmp_path: Path, text: str, line: int, key: str, words: list[str]
) -> None:
    path, problems = problems_in(tmp_path, text)
    problem = the_problem(problems, key)
    assert (problem.source, problem.line) == (str(path), line), str(problem)
    for word in words:
        assert word in problem.message, str(problem)
    prefix = f"{path}:{line}: {key}: " if key else f"{path}:{line}: "
    assert str(problem).startswith(prefix)


def test_at_least_25_kinds_of_mistake() -> None:
    assert len({case[0] for case in CASES}) == len(CASES) >= 25


# -- whole-file problems -----------------------------------------------------------------------------------


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: no such file"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(info.value) == f"{tmp_path}: is a directory, expected a YAML config file"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    path, problems = problems_in(tmp_path, text)
    assert [(p.source, p.line, p.path) for p in problems] == [(str(path), None, "")]
    assert "the file is empty" in problems[0].message


@pytest.mark.parametrize(
    ("text", "kind"), [("- run\n- traders\n", "a list"), ("hello\n", "the value 'hello'")]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    _, (problem,) = problems_in(tmp_path, text)
    assert (problem.line, problem.path) == (1, "")
    assert "expected a mapping with the sections run, instruments" in problem.message
    assert problem.message.endswith(f"at the top level, got {kind}")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("run: {name: caf\u00e9}\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_missing_top_level_sections_name_each_one(tmp_path: Path) -> None:
    path, problems = problems_in(tmp_path, "run: {duration: 1h}\n")
    assert [str(p) for p in problems] == [
        f"{path}: instruments: required key missing",
        f"{path}: traders: required key missing",
    ]


def test_every_problem_is_reported_at_once_sorted_by_line(tmp_path: Path) -> None:
    text = (
        edit("      spread: 4\n", "      spread: -1\n")
        .replace("seed: 1", "seed: -1")
        .replace("count: 2", "count: 0")
    )
    text += "outputs: {depth: 0}\nfundamental: {ABC: {}}\n"
    _, problems = problems_in(tmp_path, text)
    assert [(p.line, p.path) for p in problems] == [
        (3, "run.seed"),
        (10, "traders[0].count"),
        (12, "traders[0].params.spread"),
        (14, "outputs.depth"),
        (15, "fundamental.ABC"),
    ]


def test_cross_checks_run_even_when_fields_are_wrong(tmp_path: Path) -> None:
    text = edit("    count: 2\n", "    count: x\n    instrument: ABC\n")
    _, problems = problems_in(tmp_path, text)
    assert {p.path for p in problems} == {"traders[0].count", "traders[0].instrument"}


def test_config_error_survives_pickling(tmp_path: Path) -> None:
    _, problems = problems_in(tmp_path, edit("  seed: 1\n", "  seed: -1\n"))
    err = pickle.loads(pickle.dumps(ConfigError(problems)))
    assert err.problems == problems and str(err) == str(ConfigError(problems))


# -- overrides ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "path", "words"),
    [
        ("run.seed", "", ["malformed override 'run.seed'", "no '='", "KEY.PATH=VALUE"]),
        ("traders[x].count=1", "", ["malformed override", "bad index [x]", "such as [0]"]),
        ("traders[-1].count=1", "", ["bad index [-1]"]),
        ("run..seed=1", "", ["malformed override", "empty key"]),
        ("traders[5].count=1", "traders[5].count", ["index [5] is out of range", "traders has 2 item(s)"]),
        ("run[0]=1", "run[0]", ["cannot index run with [0]", "it is a mapping, not a list"]),
        (
            "run.seed.x=1",
            "run.seed.x",
            ["cannot set key 'x' in run.seed", "it is the value 1, not a mapping"],
        ),
        ("run.seed=[1, 2", "run.seed", ["cannot read the value '[1, 2' as YAML"]),
    ],
)
def test_malformed_override(tmp_path: Path, override: str, path: str, words: list[str]) -> None:
    _, problems = problems_in(tmp_path, BASE, (override,))
    (problem,) = problems
    assert (problem.source, problem.line, problem.path) == ("--set", None, path)
    for word in words:
        assert word in problem.message, str(problem)


def test_override_on_an_unknown_key_fails_as_unknown_key_from_set(tmp_path: Path) -> None:
    _, (problem,) = problems_in(tmp_path, BASE, ("venue.latency.bsae=1ms",))
    assert str(problem) == (
        "--set: venue.latency.bsae: unknown key 'bsae' (expected one of: base, jitter, distribution; "
        "did you mean 'base'?)"
    )


def test_override_with_a_bad_value_names_set_not_the_file(tmp_path: Path) -> None:
    _, (problem,) = problems_in(tmp_path, BASE, ("traders[0].params.spread=-3",))
    assert str(problem) == "--set: traders[0].params.spread: Input should be greater than 0 (got -3)"


def test_override_problems_come_after_the_files(tmp_path: Path) -> None:
    path, problems = problems_in(
        tmp_path, edit("  seed: 1\n", "  seed: -1\n"), ("outputs.depth=0", "nonsense")
    )
    assert [p.source for p in problems] == [str(path), "--set", "--set"]


# -- the trader registry on its own ------------------------------------------------------------------------


def test_resolve_trader_errors_are_lookup_errors() -> None:
    with pytest.raises(LookupError, match="did you mean 'market_maker'"):
        resolve_trader("market-maker")
    with pytest.raises(TraderLookupError, match="malformed trader path"):
        resolve_trader("a:b:c")


def test_resolve_trader_by_path() -> None:
    from tests.trader_fixtures import SpreadTrader

    assert resolve_trader("tests.trader_fixtures:SpreadTrader") is SpreadTrader
