"""Auto-deleveraging end to end, on one small scripted world checked number by number.

XYZ is a perpetual with a tick of $1 and a lot of 1 unit, so prices in ticks
are dollars; the mark is the last trade every 10 ms, breaches are acted on
1 ms after the mark that shows them, maintenance margin is a flat 1% and the
liquidation fee 0.1%. The insurance fund holds $1,000.

* A: long 10 at $10,000 with $5,000: bankruptcy price 9,500.
* B: long 5 (entry 9,360) with $1,000,000: never in danger; it makes the
  shorts 15 lots, more than A's 10, so ADL has to choose.
* S1: short 6 at 10,000 with $100,000; S2: short 5 at 10,000 with $1,000;
  S3: short 4 at 9,200 with $4,000, of which it moves $3,900 to B at 55 ms.
* A ladder rests one bid at 9,590 and one at 9,000; at 50 ms a seller's
  market sell of 2 takes both: last 9,000. The 60 ms mark (9,000) is below
  A's bankruptcy price. At 61 ms A's IOC limited at 9,500 finds no bid, so
  all 10 lots remain; the fund would lose 10 x (9,500 - 9,000) = $5,000 at
  the mark and has $1,000: ADL closes the 10 lots against the shorts.

At 9,500 a short buying back loses $500 a lot against the mark, so each
can give at most ``floor(equity / 500)`` lots: S1 (equity 106,000) all 6,
S2 (6,000) all 5, S3 (100 + 4 x 200 = 900) only 1.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import pytest
from market_helpers import Scripted, scripted

from lob.eventlog.adl_summary import adl_summary
from lob.eventlog.schema import ADL, ADL_POLICIES, KIND_CODE, LIQUIDATIONS
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.deleveraging import AdlRules
from lob.risk.engine import LiquidationRules
from lob.risk.tiers import flat
from lob.scenario.world import LatencySpec, MarkSpec, World

MS = 1_000_000
Q = MONEY_PER_QUOTE
PERP = Instrument("XYZ", 1.0, 1, perpetual=True)
FUND = 1_000


class Adl(NamedTuple):
    world: World
    a: int
    b: int
    s1: int
    s2: int
    s3: int
    fund: int


def build(policy: str, price: str = "bankruptcy", fund_drop: float | None = None) -> Adl:
    duration = 100 * MS
    world = World(
        [PERP],
        seed=1,
        duration_ns=duration,
        fundamentals=[FundamentalProcess.constant(10_000.0, duration)],
        latency=LatencySpec(100_000, 0),
    )
    world.enable_risk(
        [flat(0.01, 50)],
        LiquidationRules(mode="market", check_latency_ns=1 * MS, fee_rate=0.001),
        insurance_fund=FUND * Q,
        marks={0: MarkSpec(method="last", interval_ns=10 * MS)},
        adl=AdlRules(policy, price=price, fund_drop=fund_drop),
    )

    def account(name: str, collateral: int, lots: int, entry: int) -> int:
        return world.add_account(
            name, collateral=collateral * Q, leverage=100, positions={0: (lots, -lots * entry)}
        )

    a = account("A", 5_000, 10, 10_000)
    b = account("B", 1_000_000, 5, 9_360)
    s1 = account("S1", 100_000, -6, 10_000)
    s2 = account("S2", 1_000, -5, 10_000)
    s3 = account("S3", 4_000, -4, 9_200)  # at the opening mark, 10,000: equity 800 >= MM 400

    def withdraw(_ev: Any) -> None:
        # S3 moves all but $100 of its collateral to B (money stays exact): at 9,000 its equity is
        # then 100 + 4 x 200 = 900, and the no-negative-equity cap binds.
        world.venue.accounts[s3].collateral -= 3_900 * Q
        world.venue.accounts[b].collateral += 3_900 * Q

    world.env.timeout(55 * MS).callbacks.append(withdraw)

    def ladder(t: Scripted) -> None:
        t.submit_limit("buy", 1, 9_590)
        t.submit_limit("buy", 1, 9_000)
        t.submit_limit("sell", 1, 10_100)

    scripted(world, "ladder", [(0, ladder)])
    scripted(world, "seller", [(50 * MS, lambda t: t.submit_market("sell", 2))])
    world.run()
    assert world.risk is not None
    return Adl(world, a, b, s1, s2, s3, world.risk.fund_owner)


def rows(world: World, table: str) -> list[dict[str, Any]]:
    names = {"adl": ADL.names, "liquidations": LIQUIDATIONS.names}[table]
    return [dict(zip(names, r, strict=True)) for r in world.arrays()[table].tolist()]


def positions(run: Adl) -> dict[str, int]:
    acc = run.world.venue.accounts
    return {n: acc[o].position[0] for n, o in zip(["A", "B", "S1", "S2", "S3"], run[1:6], strict=True)}


def assert_exact(world: World) -> None:
    money = world.money()
    assert money["held"] == money["deposited"]
    assert sum(a.position[0] for a in world.venue.accounts) == 0
    # Bad debt is the negative collateral of the accounts closed out (a clawback may leave a live
    # account's collateral negative against its trading cash: that is not debt).
    flat_accounts = [a for a in world.venue.accounts if not any(a.position) and not any(a.cash)]
    assert money["bad_debt"] == -sum(min(a.collateral, 0) for a in flat_accounts)


# -- BitMEX, by hand -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bitmex() -> Adl:
    return build("bitmex")


def test_bitmex_closes_the_remainder_in_rank_order(bitmex: Adl) -> None:
    world = bitmex.world
    (liq,) = rows(world, "liquidations")
    assert (liq["agent"], liq["filled_lots"], liq["takeover_lots"], liq["adl_lots"]) == (bitmex.a, 0, 0, 10)
    assert liq["deficit"] == 5_000 * Q  # 10 x (9,500 - 9,000)
    assert liq["bad_debt"] == 0

    # BitMEX score, PnL% x effective leverage, with effective leverage mark / (bankruptcy - mark) for a short:
    # S3: PnL% 800 / 36,800; bankruptcy 9,200 + 100/4 = 9,225; leverage 9,000 / 225 = 40     -> 0.869565
    # S2: PnL% 0.1; bankruptcy 10,000 + 1,000/5 = 10,200; leverage 9,000 / 1,200 = 7.5        -> 0.75
    # S1: PnL% 0.1; bankruptcy 10,000 + 100,000/6; leverage 9,000 / 17,666.67 = 0.509434    -> 0.0509434
    adl = rows(world, "adl")
    assert [(r["counterparty"], r["qty_lots"]) for r in adl] == [
        (bitmex.s3, 1),
        (bitmex.s2, 5),
        (bitmex.s1, 4),
    ]
    scores = [r["rank_score"] for r in adl]
    assert scores == pytest.approx([800 / 36_800 * 40, 0.1 * 7.5, 0.1 * 9_000 / (100_000 / 6 + 1_000)])
    for r in adl:
        assert (r["bankrupt"], r["side"], r["price_ticks"], r["mark_ticks"]) == (
            bitmex.a,
            1,
            9_500.0,
            9_000.0,
        )
        assert (r["liquidation_id"], r["wave"], ADL_POLICIES[r["policy"]]) == (1, 1, "bitmex")
        assert r["time_ns"] == 61 * MS
    # PnL in the instrument at the mark, before and after: each lot closed at 9,500 gives up $500.
    assert [(r["pnl_before"], r["pnl_after"]) for r in adl] == [
        (800 * Q, 300 * Q),
        (5_000 * Q, 2_500 * Q),
        (6_000 * Q, 4_000 * Q),
    ]
    # S3 keeps 900 - 500 = 400 of equity: the cap of one lot kept it above zero.
    assert [r["equity_after"] for r in adl] == [400 * Q, 3_500 * Q, 104_000 * Q]
    assert positions(bitmex) == {"A": 0, "B": 5, "S1": -2, "S2": 0, "S3": -3}


def test_bitmex_events_and_money(bitmex: Adl) -> None:
    world = bitmex.world
    ev = world.arrays()["events"]
    closes = ev[ev["kind"] == KIND_CODE["adl"]]
    assert [(r["agent"], r["counterparty"], r["qty_lots"], r["price_ticks"], r["cause"]) for r in closes] == [
        (bitmex.a, bitmex.s3, 1, 9_500, 1),
        (bitmex.a, bitmex.s2, 5, 9_500, 1),
        (bitmex.a, bitmex.s1, 4, 9_500, 1),
    ]
    assert list(world.arrays()["adl"]["seq"]) == list(closes["seq"])
    assert not (ev["kind"] == KIND_CODE["takeover"]).any()  # the fund took nothing
    acc = world.venue.accounts
    assert acc[bitmex.a].collateral == 0 and acc[bitmex.a].cash[0] == 0  # closed at zero equity
    assert acc[bitmex.fund].collateral == FUND * Q
    assert_exact(world)


def test_bitmex_summary(bitmex: Adl) -> None:
    world = bitmex.world
    s = adl_summary(world.arrays(), world.instruments, horizon_ns=0)
    # Haircuts at the wave-end mark (9,000): 1 x 500 + 5 x 500 + 4 x 500 = the $5,000 deficit.
    assert (s["deficit_quote"], s["haircut_quote"], s["overshoot_quote"]) == (5_000.0, 5_000.0, 0.0)
    assert (s["closes"], s["lots_closed"], s["waves"], s["accounts_hit"]) == (3, 10, 1, 3)
    assert s["largest_haircut_share"] == pytest.approx(500 / 800)  # S3 gave 500 of its 800
    assert s["share_in_profit"] == 1.0
    assert s["policy"] == "bitmex"


# -- the other policies: the same rules hold -----------------------------------------------------------------


@pytest.mark.parametrize("policy", [p for p in ADL_POLICIES if p not in ("socialized_loss", "custom")])
def test_every_policy_closes_only_the_opposite_side_within_caps(policy: str) -> None:
    run = build(policy)
    world = run.world
    adl = rows(world, "adl")
    assert sum(r["qty_lots"] for r in adl) == 10  # the caps leave 11 lots: enough for the 10
    shorts = {run.s1: 6, run.s2: 5, run.s3: 1}  # the most each may give
    for r in adl:
        assert r["counterparty"] in shorts  # never a long, the fund or A itself
        assert 0 < r["qty_lots"] <= shorts[r["counterparty"]]
        assert r["equity_after"] >= 0
    assert len({r["counterparty"] for r in adl}) == len(adl)
    pos = positions(run)
    assert pos["A"] == 0 and pos["B"] == 5  # the other long is untouched
    assert all(p <= 0 for n, p in pos.items() if n.startswith("S"))  # no short is turned long
    assert_exact(world)


def test_binance_ranks_by_profit_and_margin_ratio() -> None:
    run = build("binance")
    # [max(0, upnl) / max(1, wallet)] x [maintenance / (wallet + upnl)], maintenance 1% of 9,000 a lot:
    # S3: 800/100 x 360/900 = 3.2; S2: 5,000/1,000 x 450/6,000 = 0.375; S1: 6,000/100,000 x 540/106,000
    adl = rows(run.world, "adl")
    assert [(r["counterparty"], r["qty_lots"]) for r in adl] == [(run.s3, 1), (run.s2, 5), (run.s1, 4)]
    assert [r["rank_score"] for r in adl] == pytest.approx([3.2, 0.375, 0.06 * 540 / 106_000])


def test_pro_rata_size_shares_by_position() -> None:
    run = build("pro_rata_size")
    got = {r["counterparty"]: r["qty_lots"] for r in rows(run.world, "adl")}
    # 10 lots by size 6:5:4 would be 4, 3.33, 2.67; S3 can give only 1, so the other 9 go 6:5 -> 4.91, 4.09.
    assert got == {run.s3: 1, run.s1: 5, run.s2: 4}


def test_close_at_the_mark_leaves_the_loss_to_the_fund() -> None:
    run = build("bitmex", price="mark")
    world = run.world
    adl = rows(world, "adl")
    # At the mark nobody loses on the close, so no cap binds: S3 gives all 4, then S2 5, then S1 1.
    assert [(r["counterparty"], r["qty_lots"], r["price_ticks"]) for r in adl] == [
        (run.s3, 4, 9_000.0),
        (run.s2, 5, 9_000.0),
        (run.s1, 1, 9_000.0),
    ]
    assert all(r["pnl_before"] == r["pnl_after"] for r in adl)
    (liq,) = rows(world, "liquidations")
    # A sold at 9,000: 5,000 - 10,000 = -5,000; the fund pays its 1,000, the other 4,000 is bad debt.
    assert (liq["shortfall"], liq["bad_debt"]) == (-1_000 * Q, 4_000 * Q)
    assert world.venue.accounts[run.fund].collateral == 0
    assert_exact(world)


def test_socialized_loss_claws_back_profit_pro_rata() -> None:
    run = build("socialized_loss")
    world = run.world
    acc = world.venue.accounts
    # Nothing is closed: the fund takes A's 10 lots at the mark, 9,000, leaving A $5,000 short,
    # which comes from the profitable: S1 6,000, S2 5,000, S3 800 (11,800 in all) -> 6/11.8 of it, ...
    adl = rows(world, "adl")
    assert all(r["qty_lots"] == 0 and math.isnan(r["price_ticks"]) for r in adl)
    taken = {r["counterparty"]: r["pnl_before"] - r["pnl_after"] for r in adl}
    assert set(taken) == {run.s1, run.s2, run.s3}
    profit = {run.s1: 6_000, run.s2: 5_000, run.s3: 800}
    for owner, amount in taken.items():
        assert amount == pytest.approx(5_000 * Q * profit[owner] / 11_800, abs=1)
        assert amount <= profit[owner] * Q
    assert 5_000 * Q - 3 <= sum(taken.values()) <= 5_000 * Q
    assert positions(run)["S1"] == -6 and acc[run.fund].position[0] == 10
    # The units the rounding left are the fund's; nothing is bad debt.
    (liq,) = rows(world, "liquidations")
    assert liq["bad_debt"] == 0 and liq["takeover_lots"] == 10
    assert FUND * Q - 3 <= acc[run.fund].collateral <= FUND * Q
    ev = world.arrays()["events"]
    assert (ev["kind"] == KIND_CODE["clawback"]).sum() == 3
    s = adl_summary(world.arrays(), world.instruments, horizon_ns=0)
    assert s["haircut_quote"] == pytest.approx(5_000, abs=1e-7)
    assert_exact(world)


def test_no_adl_while_the_fund_can_pay() -> None:
    """With a fund larger than the deficit the fund takes the remainder, as without ADL."""
    run = build("bitmex")
    assert rows(run.world, "adl")  # the fixture's fund is too small ...
    world = World(
        [PERP],
        seed=1,
        duration_ns=10 * MS,
        fundamentals=[FundamentalProcess.constant(10_000.0, 10 * MS)],
    )
    risk = world.enable_risk(
        [flat(0.01, 50)],
        LiquidationRules(),
        insurance_fund=10_000 * Q,
        adl=AdlRules("bitmex"),
    )
    assert risk.adl is not None
    assert not risk.adl.triggered(5_000 * Q)  # ... a $10,000 fund covers $5,000
    assert risk.adl.triggered(10_001 * Q)
    assert not risk.adl.triggered(0)


def test_fund_drop_trigger() -> None:
    world = World(
        [PERP],
        seed=1,
        duration_ns=10 * MS,
        fundamentals=[FundamentalProcess.constant(10_000.0, 10 * MS)],
    )
    risk = world.enable_risk(
        [flat(0.01, 50)], LiquidationRules(), insurance_fund=10_000 * Q, adl=AdlRules("bitmex", fund_drop=0.5)
    )
    assert risk.adl is not None
    risk.adl.sample_fund()
    assert not risk.adl.triggered(0)
    world.venue.accounts[risk.fund_owner].collateral = 4_000 * Q  # a 60% fall within the window
    assert risk.adl.triggered(0)


def test_adl_rows_are_deterministic() -> None:
    one, two = build("dydx"), build("dydx")
    assert one.world.arrays()["adl"].tobytes() == two.world.arrays()["adl"].tobytes()


def test_a_users_own_policy_by_import_path() -> None:
    run = build("tests.custom_policies:LargestFirst")
    adl = rows(run.world, "adl")
    # By size: S1 (6 lots) closes all 6, then S2 (5) the other 4; S3 (4) is not reached.
    assert [(r["counterparty"], r["qty_lots"], r["rank_score"]) for r in adl] == [
        (run.s1, 6, 6.0),
        (run.s2, 4, 5.0),
    ]
    assert {ADL_POLICIES[r["policy"]] for r in adl} == {"custom"}
    assert_exact(run.world)


def test_a_policy_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not a subclass of lob\.risk\.adl\.AdlPolicy"):
        AdlRules("tests.custom_policies:Candidate")
    with pytest.raises(ValueError, match="did you mean 'bitmex'"):
        AdlRules("bitmx")
