"""Contagion across instruments and venues: cross margin, liquidation order, venues, index, trace.

The scripted worlds use perpetuals with a tick of $1 and a lot of 1 unit, so
ticks are dollars and a notional unit is $1 = ``Q`` money units; a flat 1%
maintenance margin; the mark is the last trade, updated every 10 ms; a
breach is acted on 1 ms after the mark update that shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from market_helpers import scripted

from lob.eventlog.schema import KIND_CODE, LIQUIDATIONS
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.composite_index import weighted_median
from lob.risk.engine import LiquidationRules
from lob.risk.tiers import flat
from lob.scenario import ConfigError
from lob.scenario.loader import load_config, parse_config
from lob.scenario.runner import run_config
from lob.scenario.world import SECOND, LatencySpec, MarkSpec, World

ROOT = Path(__file__).resolve().parent.parent
MS = 1_000_000
Q = MONEY_PER_QUOTE
PRICE = 10_000


def liquidations(world: World) -> list[dict[str, Any]]:
    return [dict(zip(LIQUIDATIONS.names, r, strict=True)) for r in world.arrays()["liquidations"].tolist()]


def assert_exact(world: World) -> None:
    """Money held equals money deposited overall and on each venue; positions net to zero."""
    money = world.money()
    assert money["held"] == money["deposited"]
    for name, m in world.money_by_venue().items():
        assert m["held"] == m["deposited"], name
    for inst in world.instruments:
        assert sum(a.position[inst.index] for a in world.venue.accounts) == 0


# -- the liquidation order of a cross-margined account -------------------------------------------------------

# Account P holds 10 AAA and 20 BBB, both entered at $10,000, on $4,000 of collateral. A sale takes AAA's
# last trade to $9,800: equity 4,000 - 10 x 200 = $2,000 < maintenance 1% x (98,000 + 200,000) = $2,980.
# Largest first: BBB ($200,000) goes first; sold at $9,999 it leaves equity about $1,780 against a
# maintenance of $980 on AAA alone, so P keeps its AAA. Most liquid first: AAA's bids within 1% of the
# mark hold 100 x $9,800, BBB's 30 x $9,999, so AAA goes first; P is still short of margin, then BBB goes.


def cross_world(order: str, mode: str = "market") -> tuple[World, int]:
    insts = [Instrument("AAA", 1.0, 1, 0, perpetual=True), Instrument("BBB", 1.0, 1, 1, perpetual=True)]
    duration = 300 * MS
    world = World(
        insts,
        seed=1,
        duration_ns=duration,
        fundamentals=[FundamentalProcess.constant(float(PRICE), duration)] * 2,
        latency=LatencySpec(100_000, 0),
    )
    rules = LiquidationRules(mode=mode, check_latency_ns=MS, fee_rate=0.001, order=order,
                             partial_fraction=0.5, cooldown_ns=SECOND)  # fmt: skip
    mark = MarkSpec(method="last", interval_ns=10 * MS)
    world.enable_risk([flat(0.01, 50)] * 2, rules, insurance_fund=100_000 * Q, marks={0: mark, 1: mark})
    p = world.add_account("P", collateral=4_000 * Q, leverage=20,
                          positions={0: (10, -10 * PRICE), 1: (20, -20 * PRICE)})  # fmt: skip
    world.add_account("short-aaa", collateral=10**6 * Q, leverage=1, positions={0: (-10, 10 * PRICE)})
    world.add_account("short-bbb", collateral=10**6 * Q, leverage=1, positions={1: (-20, 20 * PRICE)})

    def book(t: Any) -> None:
        t.submit_limit("buy", 100, 9_800, instrument="AAA")
        t.submit_limit("sell", 1, 10_100, instrument="AAA")
        t.submit_limit("buy", 30, 9_999, instrument="BBB")
        t.submit_limit("sell", 1, 10_001, instrument="BBB")  # BBB's mark (its mid): $10,000

    scripted(world, "book", [(0, book)])
    scripted(world, "seller", [(50 * MS, lambda t: t.submit_market("sell", 5, instrument="AAA"))])
    world.run()
    return world, p


def test_largest_first_sells_the_other_book_and_stops_once_the_account_is_healthy() -> None:
    world, p = cross_world("largest_first")
    rows = liquidations(world)
    assert [(r["instrument"], r["qty_lots"], r["filled_lots"]) for r in rows] == [(1, 20, 20)]
    assert rows[0]["vwap_ticks"] == 9_999.0
    account = world.venue.accounts[p]
    assert account.position == [10, 0]  # it keeps the AAA that fell
    assert world.risk is not None and world.risk.equity(p) >= world.risk.maintenance(p)
    assert_exact(world)


def test_most_liquid_first_sells_the_deeper_book_first() -> None:
    world, p = cross_world("most_liquid_first")
    rows = liquidations(world)
    assert [(r["instrument"], r["qty_lots"]) for r in rows] == [(0, 10), (1, 20)]
    assert rows[0]["vwap_ticks"] == 9_800.0
    # one breach: the second forced order is the same cascade step, not a child of the first
    assert rows[0]["generation"] == rows[1]["generation"] == 0 and rows[1]["parent_id"] == 0
    assert world.venue.accounts[p].position == [0, 0]
    assert_exact(world)


def test_pro_rata_closes_every_position_at_once() -> None:
    world, p = cross_world("pro_rata")
    rows = liquidations(world)
    assert [(r["instrument"], r["qty_lots"]) for r in rows] == [(0, 10), (1, 20)]
    assert rows[0]["time_ns"] == rows[1]["time_ns"]
    assert world.venue.accounts[p].position == [0, 0]
    assert_exact(world)


def test_pro_rata_partial_steps_take_the_same_fraction_of_each_position() -> None:
    world, _ = cross_world("pro_rata", mode="partial")
    rows = liquidations(world)
    # the first step: half of each position (5 of 10 AAA, 10 of 20 BBB), at one instant
    assert [(r["instrument"], r["qty_lots"]) for r in rows[:2]] == [(0, 5), (1, 10)]
    assert rows[0]["time_ns"] == rows[1]["time_ns"]
    assert_exact(world)


# -- an index over venues, checked against a hand computation ------------------------------------------------


def test_the_marks_index_is_the_weighted_median_of_the_venues_mids_seen_late() -> None:
    # Three venues list one asset; mids $100, $101 and $104 at first, weights 1, 1 and 3: cumulative
    # weights 1, 2, 5 of 5 pass half (2.5) at $104. At 2.2 s venue c's book moves to a mid of $99:
    # sorted 99 (3), 100 (1), 101 (1): 3 >= 2.5 at $99. Sampled every second, seen 300 ms late.
    insts = [Instrument(f"X-{v}", 0.01, 1, k, perpetual=True, venue=k) for k, v in enumerate("abc")]
    duration = 4 * SECOND
    world = World(insts, seed=1, duration_ns=duration,
                  fundamentals=[FundamentalProcess.constant(100.0, duration)] * 3,
                  venue_names=["a", "b", "c"])  # fmt: skip
    index = world.add_index("X", [(0, 1.0), (1, 1.0), (2, 3.0)], interval_ns=SECOND,
                            latency_ns=300 * MS, start=100.0)  # fmt: skip
    for v in range(3):
        world.enable_risk([flat(0.01, 50) if k == v else None for k in range(3)], LiquidationRules(),
                          marks={v: MarkSpec(method="index_ma", interval_ns=100 * MS, ma_window=1)},
                          venue=v, indexes={v: index})  # fmt: skip

    def quotes(mids: dict[str, int]) -> Any:
        def step(t: Any) -> None:
            for sym, mid in mids.items():
                t.submit_limit("buy", 1, mid - 1, instrument=sym)
                t.submit_limit("sell", 1, mid + 1, instrument=sym)

        return step

    for k, sym in enumerate(s.symbol for s in insts):
        start = {"X-a": 10_000, "X-b": 10_100, "X-c": 10_400}[sym]
        script = [(0, quotes({sym: start}))]
        if sym == "X-c":
            script.append((2_200 * MS, lambda t: t.cancel_all()))
            script.append((2_200 * MS, quotes({sym: 9_900})))
        scripted(world, f"maker-{k}", script, instrument=sym)
    world.run()
    ev = world.arrays()["events"]
    rows = ev[(ev["kind"] == KIND_CODE["index"]) & (ev["instrument"] == 0)]
    pairs = zip(rows["time_ns"].tolist(), rows["value"].tolist(), strict=True)
    got = [(int(t), round(v, 6)) for t, v in pairs]
    hand = weighted_median([100.0, 101.0, 104.0], [1, 1, 3])
    assert hand == 104.0 and weighted_median([100.0, 101.0, 99.0], [1, 1, 3]) == 99.0
    # in ticks: 100.00 until the t = 0 sample is seen (the books fill 100 us after 0, so that sample
    # holds the start); the t = 1 s sample (104.00) from 1.3 s; the t = 3 s one (99.00) from 3.3 s
    assert got == [(0, 10_000.0), (1_300 * MS, 10_400.0), (3_300 * MS, 9_900.0)]
    assert_exact(world)


# -- the shipped configs -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def venues_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cfg = load_config(ROOT / "configs" / "contagion_venues.yaml")
    return run_config(cfg, tmp_path_factory.mktemp("cv") / "run", keep_world=True)


def test_money_is_conserved_on_each_venue_and_overall(venues_run: Any) -> None:
    world = venues_run.world
    assert_exact(world)
    conservation = venues_run.summary["conservation"]
    assert conservation["money"]["difference"] == 0
    assert set(conservation["money_by_venue"]) == {"thin", "deep"}
    assert all(m["difference"] == 0 for m in conservation["money_by_venue"].values())
    deposited = sum(m["deposited"] for m in conservation["money_by_venue"].values())
    assert deposited == conservation["money"]["deposited"]


def test_a_liquidation_on_the_deep_venue_has_a_parent_on_the_thin_one(venues_run: Any) -> None:
    liq = venues_run.data().liquidations
    symbol = liq["instrument"].astype(str)
    by_id = dict(zip(liq["liquidation_id"], symbol, strict=True))
    times = dict(zip(liq["liquidation_id"], liq["time_ns"], strict=True))
    crossing = liq[(symbol == "BTC-deep") & liq["parent_id"].map(lambda p: by_id.get(p) == "BTC-thin")]
    assert len(crossing) > 0
    first = crossing.iloc[0]
    assert times[first["parent_id"]] < first["time_ns"]
    links = venues_run.summary["contagion"]["links"]
    assert links["cross_venue"] == len(crossing)
    chain = venues_run.summary["contagion"]["first_crossings"]["cross_venue"]
    assert chain[0]["venue"] == "thin" and chain[-1]["venue"] == "deep"


# -- config mistakes -----------------------------------------------------------------------------------------

TWO_VENUES = """
run: {duration: 1m}
venues:
  a: {insurance_fund: 1000}
  b: {insurance_fund: 1000}
instruments:
  - {symbol: X-a, venue: a, asset: X, index: X, tick_size: 0.01, price: 100, kind: perpetual}
  - {symbol: X-b, venue: b, asset: X, index: X, tick_size: 0.01, price: 100, kind: perpetual}
indexes:
  X: {components: {X-a: 1, X-b: 1}}
traders:
  - {type: noise, instrument: X-a, venues: [b], margin: {collateral: 1000, leverage: 5}}
"""


def test_a_two_venue_config_validates_and_names_its_venues() -> None:
    cfg = parse_config(TWO_VENUES, "two.yaml")
    assert cfg.venue_names == ["a", "b"] and cfg.assets == ["X"]
    assert cfg.venue_of("X-b") == "b"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("venue: b, asset", "venue: c, asset", "two.yaml:8: instruments[1].venue: expected the name of"),
        ("venue: b, asset", "asset", "instruments[1].venue: with several venues, each instrument names"),
        (
            "index: X, tick_size: 0.01, price: 100, kind: perpetual}\n  - {symbol: X-b",
            "index: Y, tick_size: 0.01, price: 100, kind: perpetual}\n  - {symbol: X-b",
            "instruments[0].index: unknown index 'Y'",
        ),
        ("X-b: 1}", "X-c: 1}", "indexes.X.components.X-c: unknown instrument 'X-c'"),
        ("venues: [b]", "venues: [c]", "traders[0].venues[0]: unknown venue 'c'"),
        (
            "  b: {insurance_fund: 1000}",
            "  b: {insurance_fund: 1000, circuit_breakers: {band: {limit: 0.1}}}",
            "venues.b.circuit_breakers: circuit breakers are not supported with several venues",
        ),
        ("indexes:", "venue: {insurance_fund: 5}\nindexes:", "venues: give either 'venue'"),
        (
            "traders:",
            "correlations:\n  - {assets: [X, Z], rho: 0.5}\ntraders:",
            "correlations[0].assets[1]: unknown asset 'Z'",
        ),
    ],
)
def test_venue_mistakes_name_the_file_line_and_key(old: str, new: str, expected: str) -> None:
    assert old in TWO_VENUES
    with pytest.raises(ConfigError) as err:
        parse_config(TWO_VENUES.replace(old, new, 1), "two.yaml")
    assert expected in str(err.value)


def test_a_portfolio_across_venues_and_impossible_correlations_are_refused() -> None:
    text = TWO_VENUES + (
        "open_interest:\n"
        "  - {instruments: {X-a: 1, X-b: 1}, longs: {count: 2, notional: {median: 100}},"
        " shorts: {count: 1}}\n"
    )
    with pytest.raises(ConfigError, match="a portfolio's instruments must be on one venue"):
        parse_config(text, "pf.yaml")
    three = """
run: {duration: 1m}
instruments:
  - {symbol: A, tick_size: 0.01, price: 100}
  - {symbol: B, tick_size: 0.01, price: 100}
  - {symbol: C, tick_size: 0.01, price: 100}
correlations:
  - {assets: [A, B], rho: 0.9}
  - {assets: [B, C], rho: 0.9}
  - {assets: [A, C], rho: -0.9}
traders:
  - {type: noise}
"""
    with pytest.raises(ConfigError, match=r"correlations: .*positive semi-definite"):
        parse_config(three, "corr.yaml")


# -- cross margin spreads a crash; isolated margin does not --------------------------------------------------


@pytest.fixture(scope="module")
def assets_runs() -> dict[str, Any]:
    path = ROOT / "configs" / "contagion_assets.yaml"
    return {
        margin: run_config(load_config(path, [f"open_interest[0].margin={margin}"]), write=False)
        for margin in ("cross", "isolated")
    }


def test_isolated_margin_keeps_the_crash_in_its_own_book(assets_runs: dict[str, Any]) -> None:
    isolated = assets_runs["isolated"]
    world = isolated.world
    arrays = world.arrays()
    bbb = world.instruments[1]
    assert bbb.symbol == "BBB"
    # not one forced order, nor one trade of a forced order, in BBB
    assert not (arrays["liquidations"]["instrument"] == bbb.index).any()
    trades = arrays["trades"]
    assert not (trades[trades["instrument"] == bbb.index]["cause"] != 0).any()
    contagion = isolated.summary["contagion"]
    assert contagion["links"]["cross_instrument"] == 0
    assert contagion["by_instrument"]["AAA"]["liquidations"] > 500  # AAA did crash
    assert isolated.summary["instruments"]["BBB"]["peak_drop_pct"] < 0.5
    assert_exact(world)


def test_cross_margin_carries_the_crash_into_the_other_book(assets_runs: dict[str, Any]) -> None:
    cross = assets_runs["cross"]
    contagion = cross.summary["contagion"]
    assert contagion["by_instrument"]["BBB"]["liquidations"] > 500
    assert contagion["by_instrument"]["BBB"]["forced_from_other_instruments"] > 0
    assert contagion["links"]["cross_instrument"] > 0
    chain = contagion["first_crossings"]["cross_instrument"]
    assert chain[0]["instrument"] == "AAA" and chain[-1]["instrument"] == "BBB"
    assert cross.summary["instruments"]["BBB"]["peak_drop_pct"] > 2.0
    assert_exact(cross.world)


def test_the_readme_figures_of_both_configs(assets_runs: dict[str, Any], venues_run: Any) -> None:
    cross, isolated = assets_runs["cross"].summary, assets_runs["isolated"].summary
    assert cross["contagion"]["by_instrument"]["BBB"]["liquidations"] == 943
    assert cross["contagion"]["by_instrument"]["AAA"]["liquidations"] == 899
    assert cross["contagion"]["links"]["cross_instrument"] == 291
    assert isolated["contagion"]["by_instrument"]["AAA"]["liquidations"] == 1_364
    assert isolated["contagion"]["by_instrument"]["BBB"]["liquidations"] == 0
    venues = venues_run.summary["contagion"]
    assert venues["by_venue"]["thin"]["liquidations"] == 164
    assert venues["by_venue"]["deep"]["liquidations"] == 311
    assert round(venues["by_venue"]["deep"]["liquidated_notional_quote"]) == 2_630_255
    assert venues["links"]["cross_venue"] == 245
    assert venues_run.summary["instruments"]["BTC-deep"]["low"] == 98.64


def test_the_index_carries_a_forced_trade_on_one_venue_into_a_liquidation_on_the_other() -> None:
    # Venue a marks at its last trade, venue b at the index (an index_ma mark whose premium average
    # stays at 0): the midpoint of the two venues' mids, sampled every 10 ms with no latency.
    # A (long 10 on a, $1,500: bankruptcy 9,850, liquidation 9,949.49) is breached by a sale to 9,940;
    # its forced sale fills at 9,900 and leaves a's mid at 9,900, so the index falls to 9,950 and
    # crosses B (long 10 on b, $1,200: liquidation 9,979.80). B's parent is A, one generation deeper.
    insts = [
        Instrument("X-a", 1.0, 1, 0, perpetual=True, venue=0),
        Instrument("X-b", 1.0, 1, 1, perpetual=True, venue=1),
    ]
    duration = 300 * MS
    world = World(insts, seed=1, duration_ns=duration,
                  fundamentals=[FundamentalProcess.constant(float(PRICE), duration)] * 2,
                  latency=LatencySpec(100_000, 0), venue_names=["a", "b"])  # fmt: skip
    index = world.add_index("X", [(0, 1.0), (1, 1.0)], interval_ns=10 * MS, latency_ns=0, start=PRICE)
    rules = LiquidationRules(check_latency_ns=MS, fee_rate=0.001)
    world.enable_risk([flat(0.01, 50), None], rules, insurance_fund=10**5 * Q,
                      marks={0: MarkSpec(method="last", interval_ns=10 * MS)}, venue=0)  # fmt: skip
    world.enable_risk([None, flat(0.01, 50)], rules, insurance_fund=10**5 * Q,
                      marks={1: MarkSpec(method="index_ma", interval_ns=10 * MS, ma_window=100_000)},
                      venue=1, indexes={1: index})  # fmt: skip
    a = world.add_account("A", collateral=1_500 * Q, leverage=20, positions={0: (10, -10 * PRICE)})
    b = world.add_account("B", collateral=1_200 * Q, leverage=20, positions={1: (10, -10 * PRICE)})
    world.add_account("short-a", collateral=10**6 * Q, leverage=1, positions={0: (-10, 10 * PRICE)})
    world.add_account("short-b", collateral=10**6 * Q, leverage=1, positions={1: (-10, 10 * PRICE)})

    def book_a(t: Any) -> None:
        for price, lots in ((9_940, 5), (9_900, 10), (9_700, 20)):
            t.submit_limit("buy", lots, price)
        t.submit_limit("sell", 1, 10_100)

    def book_b(t: Any) -> None:
        t.submit_limit("buy", 50, 9_999)
        t.submit_limit("sell", 1, 10_001)

    scripted(world, "book-a", [(0, book_a)], instrument="X-a")
    scripted(world, "book-b", [(0, book_b)], instrument="X-b")
    scripted(world, "seller", [(50 * MS, lambda t: t.submit_market("sell", 5, instrument="X-a"))])
    world.run()
    rows = {r["agent"]: r for r in liquidations(world)}
    assert set(rows) == {a, b}
    assert rows[a]["vwap_ticks"] == 9_900.0 and rows[a]["generation"] == 0
    assert rows[b]["parent_id"] == rows[a]["liquidation_id"] and rows[b]["generation"] == 1
    assert_exact(world)
