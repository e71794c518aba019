"""The liquidation engine end to end, on small scripted worlds checked number by number.

Every world here has one perpetual, XYZ, with a tick of $1 and a lot of 1 unit,
so prices in ticks are dollars and a notional unit (ticks x lots) is $1 =
``Q`` = 1e8 money units. The fundamental (the index) is a constant $10,000,
the mark is the last trade price updated every 10 ms, a breach is acted on
1 ms after the mark update that shows it, the maintenance margin rate is a
flat 1% and the liquidation fee 0.1% of the closed notional. Orders take
100 us to reach the venue.

Passive margined longs are entered at $10,000 with cash ``-lots x 10,000``; a
passive ``shorts`` account with ample collateral holds the other side, so
positions net to zero. For a long of ``N`` lots at entry ``E`` with
collateral ``W`` (quote):

* bankruptcy price ``BP = E - W/N`` (equity zero),
* liquidation price ``LP = BP / (1 - MMR)``: equity ``W + N(P - E)`` equals
  the maintenance margin ``MMR x N x P`` there (Binance's formula, one flat tier).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, NamedTuple

import numpy as np
import pytest
from market_helpers import Scripted, scripted

from lob.eventlog.schema import EVENT_KINDS, KIND_CODE, LIQUIDATION_MODES, LIQUIDATIONS, REASONS, STATUSES
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.engine import LiquidationRules, RiskEngine
from lob.risk.tiers import flat
from lob.scenario import ConfigError
from lob.scenario.loader import parse_config
from lob.scenario.world import SECOND, LatencySpec, MarkSpec, World

US = 1_000
MS = 1_000_000
Q = MONEY_PER_QUOTE  # money units per $1
PRICE = 10_000  # ticks = dollars: the fundamental and every entry
MMR = 0.01
FEE_RATE = 0.001
PERP = Instrument("XYZ", 1.0, 1, perpetual=True)
MARK_EVERY = 10 * MS
CHECK = 1 * MS
ENTRY_LATENCY = 100 * US


# -- building small worlds -----------------------------------------------------------------------------------


def perp_world(
    mode: str = "market",
    *,
    fund: int,
    duration_ns: int = 200 * MS,
    vault: bool = False,
    taker_ppm: int = 0,
    partial_fraction: float = 0.2,
    cooldown_ns: int = SECOND,
) -> World:
    """XYZ perpetual, flat 1% MMR, mark = last every 10 ms, 1 ms check latency; ``fund`` in dollars."""
    world = World(
        [PERP],
        seed=1,
        duration_ns=duration_ns,
        fundamentals=[FundamentalProcess.constant(float(PRICE), duration_ns)],
        latency=LatencySpec(ENTRY_LATENCY, 0),
        taker_ppm=taker_ppm,
    )
    rules = LiquidationRules(
        mode=mode,
        check_latency_ns=CHECK,
        fee_rate=FEE_RATE,
        partial_fraction=partial_fraction,
        cooldown_ns=cooldown_ns,
        backstop_ratio=1.5,
    )
    world.enable_risk(
        [flat(MMR, 50)],
        rules,
        insurance_fund=fund * Q,
        marks={0: MarkSpec(method="last", interval_ns=MARK_EVERY)},
        vault=vault,
    )
    return world


def risk_of(world: World) -> RiskEngine:
    assert world.risk is not None
    return world.risk


def long_account(world: World, name: str, collateral: int, lots: int = 10) -> int:
    """A passive long of ``lots`` entered at $10,000 with ``collateral`` dollars; returns its owner id."""
    return world.add_account(
        name, collateral=collateral * Q, leverage=20, positions={0: (lots, -lots * PRICE)}
    )


def shorts(world: World, lots: int) -> int:
    """The other side of the longs: short at $10,000, with collateral no move here can exhaust."""
    return world.add_account(
        "shorts", collateral=1_000_000 * Q, leverage=1, positions={0: (-lots, lots * PRICE)}
    )


def resting(
    world: World,
    name: str,
    bids: list[tuple[int, int]],
    asks: tuple[tuple[int, int], ...] = ((10_100, 1),),
    later: list[tuple[int, list[tuple[int, int]]]] | None = None,
) -> Scripted:
    """A spot trader resting ``(price, lots)`` bids and asks at t = 0, and ``later`` bids at their times."""

    def post(book: list[tuple[int, int]], side: str) -> Any:
        def step(t: Scripted) -> None:
            for price, lots in book:
                t.submit_limit(side, lots, price)

        return step

    script = [(0, post(bids, "buy")), (0, post(list(asks), "sell"))]
    script += [(at, post(more, "buy")) for at, more in later or []]
    return scripted(world, name, script)


def market_sell(world: World, at: int, lots: int) -> Scripted:
    return scripted(world, "seller", [(at, lambda t: t.submit_market("sell", lots))])


def liquidations(world: World) -> list[dict[str, Any]]:
    return [dict(zip(LIQUIDATIONS.names, r, strict=True)) for r in world.arrays()["liquidations"].tolist()]


def events(world: World, kind: str) -> np.ndarray:
    ev = world.arrays()["events"]
    rows: np.ndarray = ev[ev["kind"] == KIND_CODE[kind]]
    return rows


def owner(world: World, name: str) -> int:
    return world.agent_names.index(name)


def assert_exact_money(world: World) -> None:
    """Money held equals money deposited to the unit, positions net to zero, fees add up."""
    money = world.money()
    assert money["held"] == money["deposited"]
    accounts = world.venue.accounts
    for inst in world.instruments:
        ii = inst.index
        assert sum(a.position[ii] for a in accounts) == 0
        assert sum(a.fees[ii] for a in accounts) == world.venue.fee_income[ii]
    # bad debt is exactly the negative collateral left behind
    assert money["bad_debt"] == -sum(min(a.collateral, 0) for a in accounts)


def approx(x: Fraction | float) -> Any:
    return pytest.approx(float(x), rel=1e-12, abs=1e-9)


# -- 1. a two-generation cascade, by hand --------------------------------------------------------------------

# A: long 10 at $10,000 with $5,000:  BP_A = 10,000 - 5,000/10 = 9,500;  LP_A = 9,500/0.99 = 9,595.9596
# B: long 10 at $10,000 with $5,600:  BP_B = 10,000 - 5,600/10 = 9,440;  LP_B = 9,440/0.99 = 9,535.3535
BP_A, LP_A = Fraction(9_500), Fraction(9_500) / Fraction(99, 100)
BP_B, LP_B = Fraction(9_440), Fraction(9_440) / Fraction(99, 100)
# The ladder: the seller takes the first two levels, A's forced sell the next two
# (9,460 is below A's limit 9,500), B's forced sell the two after (9,300 is below B's limit 9,440).
LADDER = [(9_700, 3), (9_590, 2), (9_560, 4), (9_520, 3), (9_460, 5), (9_440, 2), (9_300, 10)]
FUND = 1_000  # dollars


class Cascade(NamedTuple):
    world: World
    a: int
    b: int
    fund: int
    ladder: int


@pytest.fixture(scope="module")
def cascade() -> Cascade:
    world = perp_world("market", fund=FUND)
    a = long_account(world, "A", 5_000)
    b = long_account(world, "B", 5_600)
    shorts(world, 20)
    resting(world, "ladder", LADDER)
    market_sell(world, 50 * MS, 5)
    risk = risk_of(world)
    # The index files each account under the liquidation price worked out above.
    assert risk.prices(a, 0) == (approx(LP_A), approx(BP_A))
    assert risk.prices(b, 0) == (approx(LP_B), approx(BP_B))
    world.run()
    return Cascade(world, a, b, risk.fund_owner, owner(world, "ladder"))


def test_cascade_liquidations_table_by_hand(cascade: Cascade) -> None:
    world = cascade.world
    first, second = liquidations(world)  # and nothing else: the 80 ms mark (9,440) crosses nobody

    # t = 50.1 ms: the seller's market sell of 5 takes 3 @ 9,700 and 2 @ 9,590; last = 9,590.
    # Mark at 60 ms = 9,590 <= LP_A (9,595.96) but > LP_B (9,535.35): A alone, moved by no forced order.
    # Check at 61 ms: A's equity 5,000 + 10 x (9,590 - 10,000) = 900 < MM 0.01 x 10 x 9,590 = 959.
    # A's IOC sells 10 limited at ceil(BP_A) = 9,500 into bids 9,560 x 4, 9,520 x 3 (9,460 < 9,500 stays).
    # Arrival mid = (9,560 + 10,100) / 2 = 9,830. Filled 7, notional 38,240 + 28,560 = 66,800,
    # VWAP = 66,800 / 7 = 9,542.857. Takeover of the other 3 by the fund at 9,500 (28,500).
    # A's cash: -100,000 + 66,800 + 28,500 = -4,700, so $300 of the $5,000 is left and goes to the fund
    # (the fund gains 7 x (VWAP - BP) = 66,800 - 66,500 = $300). Fee 0.1% x (66,800 + 28,500) = $95.30,
    # inside the $300. Fund: 1,000 + 300 = $1,300.
    vwap_a = Fraction(66_800, 7)
    assert first["liquidation_id"] == 1
    assert (first["time_ns"], first["exec_ns"], first["latency_ns"]) == (60 * MS, 61 * MS, 1 * MS)
    assert (first["agent"], first["side"], first["qty_lots"]) == (cascade.a, -1, 10)
    assert (first["filled_lots"], first["takeover_lots"], first["levels"], first["fills"]) == (7, 3, 2, 2)
    assert first["trigger_mark_ticks"] == 9_590.0
    assert first["liquidation_price_ticks"] == approx(LP_A)
    assert first["bankruptcy_price_ticks"] == approx(BP_A)
    assert first["arrival_mid_ticks"] == 9_830.0
    assert first["vwap_ticks"] == approx(vwap_a)
    # slippage, positive = worse for a sell: (9,830 - VWAP)/9,830 = 2,010/68,810 -> 292.109 bps;
    # (9,590 - VWAP)/9,590 = 330/67,130 -> 49.158 bps
    assert first["slippage_mid_bps"] == approx((9_830 - vwap_a) / 9_830 * 10_000)
    assert first["slippage_mid_bps"] == approx(Fraction(2_010, 68_810) * 10_000)
    assert first["slippage_mark_bps"] == approx(Fraction(330, 67_130) * 10_000)
    assert (first["shortfall"], first["fee"], first["bad_debt"]) == (300 * Q, 9_530_000_000, 0)
    assert first["fund_balance"] == 1_300 * Q
    assert LIQUIDATION_MODES[first["mode"]] == "market"
    assert (first["generation"], first["parent_id"]) == (0, 0)

    # Mark at 70 ms = 9,520, A's last fill, and it carries A's id: LP_B (9,535.35) >= 9,520.
    # Check at 71 ms: B's equity 5,600 + 10 x (9,520 - 10,000) = 800 < MM 952. Generation 1, parent 1.
    # B's IOC sells 10 limited at 9,440 into 9,460 x 5, 9,440 x 2 (9,300 < 9,440 stays).
    # Arrival mid = (9,460 + 10,100) / 2 = 9,780. Filled 7, notional 47,300 + 18,880 = 66,180,
    # VWAP = 66,180 / 7 = 9,454.286. Takeover of 3 at 9,440 (28,320). B's cash: -100,000 + 66,180 +
    # 28,320 = -5,500; $100 left goes to the fund (66,180 - 7 x 9,440 = 100). Fee 0.1% x 94,500 = $94.50.
    # Fund: 1,300 + 100 = $1,400.
    vwap_b = Fraction(66_180, 7)
    assert second["liquidation_id"] == 2
    assert (second["time_ns"], second["exec_ns"], second["latency_ns"]) == (70 * MS, 71 * MS, 1 * MS)
    assert (second["agent"], second["side"], second["qty_lots"]) == (cascade.b, -1, 10)
    assert (second["filled_lots"], second["takeover_lots"], second["levels"], second["fills"]) == (7, 3, 2, 2)
    assert second["trigger_mark_ticks"] == 9_520.0
    assert second["liquidation_price_ticks"] == approx(LP_B)
    assert second["bankruptcy_price_ticks"] == approx(BP_B)
    assert second["arrival_mid_ticks"] == 9_780.0
    assert second["vwap_ticks"] == approx(vwap_b)
    # (9,780 - VWAP)/9,780 = 2,280/68,460 -> 333.041 bps; (9,520 - VWAP)/9,520 = 460/66,640 -> 69.028 bps
    assert second["slippage_mid_bps"] == approx(Fraction(2_280, 68_460) * 10_000)
    assert second["slippage_mark_bps"] == approx(Fraction(460, 66_640) * 10_000)
    assert (second["shortfall"], second["fee"], second["bad_debt"]) == (100 * Q, 9_450_000_000, 0)
    assert second["fund_balance"] == 1_400 * Q
    assert LIQUIDATION_MODES[second["mode"]] == "market"
    assert (second["generation"], second["parent_id"]) == (1, 1)

    marks = events(world, "mark")
    seq_at = {int(t): int(s) for t, s in zip(marks["time_ns"], marks["seq"], strict=True)}
    assert first["trigger_seq"] == seq_at[60 * MS]
    assert second["trigger_seq"] == seq_at[70 * MS]


def test_cascade_events_carry_the_cause(cascade: Cascade) -> None:
    world, a, b, fund, ladder = cascade
    liq = events(world, "liquidation")
    # a liquidation row: order_id is the liquidation id, value the trigger mark, cause the parent
    assert [
        (r["agent"], r["order_id"], r["price_ticks"], r["qty_lots"], r["value"], r["cause"], r["time_ns"])
        for r in liq
    ] == [(a, 1, 9_590, 10, 9_590.0, 0, 61 * MS), (b, 2, 9_520, 10, 9_520.0, 1, 71 * MS)]

    ev = world.arrays()["events"]
    caused = ev[ev["cause"] != 0]
    kinds = " ".join(EVENT_KINDS[k] for k in caused["kind"])
    # in sequence: the breach, its forced order, its fills, the fund's takeover, the mark it moved, ...
    assert kinds == "ioc fill fill takeover mark liquidation ioc fill fill takeover mark"
    forced = events(world, "ioc")
    assert [
        (r["agent"], r["side"], r["price_ticks"], r["qty_lots"], r["leaves_lots"], r["cause"]) for r in forced
    ] == [(a, -1, 9_500, 10, 0, 1), (b, -1, 9_440, 10, 0, 2)]
    assert [STATUSES[s] for s in forced["status"]] == ["expired", "expired"]
    assert liq["seq"][0] < forced["seq"][0] < liq["seq"][1] < forced["seq"][1]

    fills = events(world, "fill")
    forced_fills = fills[fills["cause"] != 0]
    assert [
        (r["agent"], r["counterparty"], r["side"], r["price_ticks"], r["qty_lots"], r["cause"])
        for r in forced_fills
    ] == [
        (a, ladder, -1, 9_560, 4, 1),
        (a, ladder, -1, 9_520, 3, 1),
        (b, ladder, -1, 9_460, 5, 2),
        (b, ladder, -1, 9_440, 2, 2),
    ]
    trades = world.arrays()["trades"]
    assert trades["cause"].tolist() == [0, 0, 1, 1, 2, 2]  # the seller's two fills caused by nobody

    takeovers = events(world, "takeover")
    assert [
        (r["agent"], r["counterparty"], r["side"], r["price_ticks"], r["qty_lots"], r["cause"])
        for r in takeovers
    ] == [(a, fund, 1, 9_500, 3, 1), (b, fund, 1, 9_440, 3, 2)]

    # Each mark inherits the cause of the forced trades since the last one, then forgets it.
    marks = events(world, "mark")
    by_time = {
        int(t): (float(v), int(c))
        for t, v, c in zip(marks["time_ns"], marks["value"], marks["cause"], strict=True)
    }
    assert by_time[60 * MS] == (9_590.0, 0)
    assert by_time[70 * MS] == (9_520.0, 1)
    assert by_time[80 * MS] == (9_440.0, 2)
    assert by_time[90 * MS] == (9_440.0, 0)
    assert world.venue.cause_generation == {1: 0, 2: 1}


def test_cascade_leaves_exact_accounts(cascade: Cascade) -> None:
    world, a, b, fund, ladder = cascade
    risk = risk_of(world)
    accounts = world.venue.accounts
    for liquidated in (a, b):
        acct = accounts[liquidated]
        assert (acct.position[0], acct.cash[0], acct.collateral) == (0, 0, 0)
        assert liquidated not in risk.indexes[0]
        assert not risk.accounts[liquidated].busy
    # the fund holds what it took over: 3 @ 9,500 + 3 @ 9,440
    assert (accounts[fund].position[0], accounts[fund].cash[0]) == (6, -(3 * 9_500 + 3 * 9_440))
    assert accounts[fund].collateral == risk.fund_balance == 1_400 * Q
    assert accounts[ladder].position[0] == 3 + 2 + 4 + 3 + 5 + 2
    assert (risk.liquidations, risk.bad_debt, risk.fund_min) == (2, 0, FUND * Q)
    assert world.money()["insurance_fund"] == 1_400 * Q
    # what the fund holds is what it started with plus what each liquidation left it
    assert risk.fund_balance == FUND * Q + sum(row["shortfall"] for row in liquidations(world))
    assert_exact_money(world)


# -- 2. gaps past bankruptcy: who pays -----------------------------------------------------------------------

# D: long 10 at $10,000 with $5,000: BP 9,500, LP 9,595.96. The seller's 2 lots take 9,700 x 1 and
# 9,000 x 1: the mark jumps from 9,900 (the mid) to 9,000, past bankruptcy in one update.
# At the check D's equity is 5,000 + 10 x (9,000 - 10,000) = -5,000.
GAP_BIDS = [(9_700, 1), (9_000, 20)]


def gap_world(mode: str, fund: int) -> tuple[World, int]:
    world = perp_world(mode, fund=fund, vault=mode == "backstop")
    d = long_account(world, "D", 5_000)
    shorts(world, 10)
    resting(world, "ladder", GAP_BIDS)
    market_sell(world, 50 * MS, 2)
    world.run()
    return world, d


@pytest.mark.parametrize(
    ("fund", "paid", "bad"),
    [
        (8_000, 5_000, 0),  # the fund covers the whole $5,000 hole
        (2_000, 2_000, 3_000),  # it pays all it has; $3,000 is bad debt
    ],
)
def test_a_bankrupt_account_taken_over_at_the_mark_is_paid_for_by_the_fund(
    fund: int, paid: int, bad: int
) -> None:
    # Backstop mode: equity -5,000 is past any ratio, so the vault takes the 10 lots at the mark, 9,000.
    # D's cash: -100,000 + 90,000 = -10,000 against $5,000 of collateral: a $5,000 hole the fund covers.
    world, d = gap_world("backstop", fund)
    risk = risk_of(world)
    (row,) = liquidations(world)
    assert LIQUIDATION_MODES[row["mode"]] == "backstop"
    assert row["trigger_mark_ticks"] == 9_000.0
    assert (row["filled_lots"], row["takeover_lots"], row["fee"]) == (0, 10, 0)
    assert (row["shortfall"], row["bad_debt"]) == (-paid * Q, bad * Q)
    assert row["fund_balance"] == (fund - paid) * Q == risk.fund_balance
    accounts = world.venue.accounts
    assert (accounts[d].position[0], accounts[d].cash[0]) == (0, 0)
    assert accounts[d].collateral == -bad * Q  # the bad debt stays with the account
    assert risk.vault_owner is not None
    vault = accounts[risk.vault_owner]
    assert (vault.position[0], vault.cash[0], vault.collateral) == (10, -90_000, 0)
    money = world.money()
    assert (money["bad_debt"], money["insurance_fund"]) == (bad * Q, (fund - paid) * Q)
    assert money["held"] == money["deposited"]
    assert_exact_money(world)


def test_a_gap_in_market_mode_is_taken_over_at_bankruptcy_and_the_loss_stays_in_the_funds_position() -> None:
    # Market mode: the IOC limited at 9,500 finds nothing at or above it (best bid 9,000) and the fund
    # takes all 10 lots at BP = 9,500. D ends at exactly zero, so the fund's balance does not move:
    # its loss is its position, 10 lots bought at 9,500 and marked at 9,000 (-$5,000).
    world, d = gap_world("market", 8_000)
    risk = risk_of(world)
    (row,) = liquidations(world)
    assert (row["filled_lots"], row["takeover_lots"], row["levels"], row["fills"]) == (0, 10, 0, 0)
    assert np.isnan(row["vwap_ticks"]) and np.isnan(row["slippage_mid_bps"])
    assert (row["shortfall"], row["fee"], row["bad_debt"]) == (0, 0, 0)
    assert row["fund_balance"] == 8_000 * Q
    accounts = world.venue.accounts
    assert (accounts[d].position[0], accounts[d].cash[0], accounts[d].collateral) == (0, 0, 0)
    fund = accounts[risk.fund_owner]
    assert (fund.position[0], fund.cash[0]) == (10, -95_000)
    assert fund.cash[0] + fund.position[0] * risk.marks[0] == -5_000  # the fund's loss at the mark
    assert_exact_money(world)


@pytest.mark.parametrize("mode", ["market", "partial", "backstop"])
def test_a_gap_past_bankruptcy_keeps_money_exact_in_every_mode(mode: str) -> None:
    world, _ = gap_world(mode, 2_000)
    assert liquidations(world)
    assert_exact_money(world)


@pytest.mark.parametrize(("fund", "paid", "bad"), [(200, 95, 0), (50, 50, 45)])
def test_taker_fees_on_forced_fills_at_bankruptcy_are_paid_by_the_fund(
    fund: int, paid: int, bad: int
) -> None:
    # Taker fee 10 bps. D (BP 9,500) is breached by a sale at 9,590; its IOC fills all 10 at exactly
    # 9,500, paying a taker fee of 95,000 x 0.001 = $95: D's cash -100,000 + 95,000 - 95 = -5,095
    # against $5,000 -> a $95 hole. The fund pays it, or what it has.
    world = perp_world("market", fund=fund, taker_ppm=1_000)
    d = long_account(world, "D", 5_000)
    shorts(world, 10)
    resting(world, "ladder", [(9_590, 1), (9_500, 10)])
    market_sell(world, 50 * MS, 1)
    world.run()
    (row,) = liquidations(world)
    assert (row["filled_lots"], row["takeover_lots"], row["vwap_ticks"]) == (10, 0, 9_500.0)
    assert (row["shortfall"], row["fee"], row["bad_debt"]) == (-paid * Q, 0, bad * Q)
    assert row["fund_balance"] == (fund - paid) * Q
    assert world.venue.accounts[d].collateral == -bad * Q
    assert world.venue.accounts[d].fees[0] == 95
    assert_exact_money(world)


# -- 3. partial mode -----------------------------------------------------------------------------------------


def test_partial_steps_by_fraction_after_each_cooldown_until_back_above_maintenance() -> None:
    world = perp_world("partial", fund=FUND, duration_ns=2_500 * MS, partial_fraction=0.5, cooldown_ns=SECOND)
    p = long_account(world, "P", 5_000)  # BP 9,500, LP 9,595.96
    shorts(world, 10)
    # 9,510 x 5 for the first step; a bid at 9,700 arrives at 500.1 ms for the second
    resting(world, "ladder", [(9_590, 1), (9_510, 5)], later=[(500 * MS, [(9_700, 10)])])
    market_sell(world, 50 * MS, 1)
    world.run()
    risk = risk_of(world)
    first, second = liquidations(world)

    # Step 1 at 61 ms (mark 9,590; equity 900 < MM 959): close ceil(10 x 0.5) = 5 lots, IOC limited at
    # 9,500: 5 @ 9,510. Fee 0.1% x 47,550 = $47.55 from collateral to the fund: collateral 4,952.45.
    # P: long 5, cash -100,000 + 47,550 = -52,450.
    assert (first["liquidation_id"], first["time_ns"], first["exec_ns"]) == (1, 60 * MS, 61 * MS)
    assert (first["qty_lots"], first["filled_lots"], first["takeover_lots"]) == (5, 5, 0)
    assert first["trigger_mark_ticks"] == 9_590.0
    assert first["bankruptcy_price_ticks"] == approx(BP_A)
    assert first["liquidation_price_ticks"] == approx(LP_A)
    assert first["vwap_ticks"] == 9_510.0
    assert (first["shortfall"], first["fee"], first["bad_debt"]) == (0, 4_755_000_000, 0)
    assert first["fund_balance"] == FUND * Q + 4_755_000_000

    # Step 2 one cooldown later, 1.061 s. The mark is still 9,510 (nothing traded since): equity
    # 4,952.45 + (-52,450 + 5 x 9,510) = 52.45 < MM 475.50. Entry is now 52,450/5 = 10,490:
    # BP = 10,490 - 4,952.45/5 = 9,499.51, LP = 9,499.51/0.99 = 9,595.4646. Close ceil(5 x 0.5) = 3 lots,
    # limited at ceil(9,499.51) = 9,500: 3 @ 9,700 (arrival mid (9,700 + 10,100)/2 = 9,900).
    # Fee 0.1% x 29,100 = $29.10: collateral 4,923.35. P: long 2, cash -52,450 + 29,100 = -23,350.
    bp2 = Fraction(10_490) - Fraction(495_245, 100) / 5
    assert (second["liquidation_id"], second["time_ns"]) == (2, 61 * MS + SECOND)
    assert second["time_ns"] - first["exec_ns"] == SECOND  # the cooldown, from the first step
    assert (second["qty_lots"], second["filled_lots"], second["takeover_lots"]) == (3, 3, 0)
    assert second["trigger_mark_ticks"] == 9_510.0
    assert bp2 == Fraction(949_951, 100)
    assert second["bankruptcy_price_ticks"] == approx(bp2)
    assert second["liquidation_price_ticks"] == approx(bp2 / Fraction(99, 100))
    assert (second["arrival_mid_ticks"], second["vwap_ticks"]) == (9_900.0, 9_700.0)
    assert second["slippage_mid_bps"] == approx(Fraction(200, 9_900) * 10_000)
    assert second["slippage_mark_bps"] == approx(Fraction(-190, 9_510) * 10_000)  # better than the mark
    assert (second["shortfall"], second["fee"]) == (0, 2_910_000_000)
    assert second["fund_balance"] == FUND * Q + 4_755_000_000 + 2_910_000_000
    for row in (first, second):
        assert LIQUIDATION_MODES[row["mode"]] == "partial"
        assert (row["generation"], row["parent_id"], row["side"]) == (0, 0, -1)

    # At 2.061 s the mark is 9,700: equity 4,923.35 + (-23,350 + 2 x 9,700) = 973.35 >= MM 194.
    # No third step: P keeps 2 lots, is free again, and is re-filed under its new liquidation price
    # (entry 11,675, BP = 11,675 - 4,923.35/2 = 9,213.325, LP = 9,306.3889).
    acct = world.venue.accounts[p]
    assert (acct.position[0], acct.cash[0], acct.collateral) == (2, -23_350, 492_335_000_000)
    assert not risk.accounts[p].busy
    bp3 = Fraction(11_675) - Fraction(492_335, 100) / 2
    assert risk.indexes[0].price_of(p) == approx(bp3 / Fraction(99, 100))
    assert risk.liquidations == 2
    assert_exact_money(world)


def test_partial_mode_takes_a_bankrupt_account_over_at_once() -> None:
    # D (BP 9,500) gaps to a mark of 9,000: equity -5,000 at the check. No stepping down: one forced
    # IOC for all 10 lots limited at 9,500 finds no bid (best 9,000), and the fund takes the 10 lots at
    # 9,500, leaving D at exactly zero. Nothing more happens in the three cooldowns that follow.
    world = perp_world("partial", fund=8_000, duration_ns=3_500 * MS, cooldown_ns=SECOND)
    d = long_account(world, "D", 5_000)
    shorts(world, 10)
    resting(world, "ladder", GAP_BIDS)
    market_sell(world, 50 * MS, 2)
    world.run()
    (row,) = liquidations(world)
    assert LIQUIDATION_MODES[row["mode"]] == "partial"
    assert (row["time_ns"], row["qty_lots"], row["filled_lots"], row["takeover_lots"]) == (60 * MS, 10, 0, 10)
    assert (row["shortfall"], row["fee"], row["bad_debt"], row["fund_balance"]) == (0, 0, 0, 8_000 * Q)
    ((forced_qty, forced_limit),) = [(r["qty_lots"], r["price_ticks"]) for r in events(world, "ioc")]
    assert (forced_qty, forced_limit) == (10, 9_500)
    accounts = world.venue.accounts
    assert (accounts[d].position[0], accounts[d].cash[0], accounts[d].collateral) == (0, 0, 0)
    fund = accounts[risk_of(world).fund_owner]
    assert (fund.position[0], fund.cash[0]) == (10, -95_000)
    assert not risk_of(world).accounts[d].busy
    assert_exact_money(world)


def test_a_partial_step_that_fills_nothing_hands_the_rest_to_the_fund_at_once() -> None:
    # P (BP 9,500, LP 9,595.96) is breached at 9,590 with equity 900 > 0, so it is stepped: 2 lots
    # (20%) limited at 9,500. The only bid left is 9,400: nothing fills, and stepping again would find
    # the same, so at the same instant the fund takes all 10 lots over at 9,500: one row for the
    # breach. P's cash -100,000 + 95,000 = -5,000 uses its $5,000 exactly: shortfall 0; the fund
    # holds 10 lots worth $900 more than it paid at the mark.
    world = perp_world("partial", fund=FUND, duration_ns=3_500 * MS, cooldown_ns=SECOND)
    p = long_account(world, "P", 5_000)
    shorts(world, 10)
    resting(world, "ladder", [(9_590, 1), (9_400, 10)])
    market_sell(world, 50 * MS, 1)
    world.run()
    (row,) = liquidations(world)
    assert (row["liquidation_id"], row["time_ns"], row["agent"]) == (1, 60 * MS, p)
    assert LIQUIDATION_MODES[row["mode"]] == "partial"
    assert (row["shortfall"], row["fee"], row["bad_debt"], row["fund_balance"]) == (0, 0, 0, FUND * Q)
    assert (row["qty_lots"], row["filled_lots"], row["takeover_lots"]) == (10, 0, 10)
    assert [(r["qty_lots"], r["price_ticks"], r["cause"]) for r in events(world, "ioc")] == [(2, 9_500, 1)]
    accounts = world.venue.accounts
    assert (accounts[p].position[0], accounts[p].cash[0], accounts[p].collateral) == (0, 0, 0)
    fund = accounts[risk_of(world).fund_owner]
    assert (fund.position[0], fund.cash[0]) == (10, -95_000)
    assert_exact_money(world)


def test_a_partial_step_is_the_exact_fraction_of_the_position() -> None:
    # 7% of 100 lots is 7 lots (in floats 100 x 0.07 = 7.000000000000001, whose ceiling is 8).
    world = perp_world("partial", fund=FUND, partial_fraction=0.07)
    long_account(world, "P", 50_000, lots=100)  # BP 9,500, LP 9,595.96, as A's
    shorts(world, 100)
    resting(world, "ladder", [(9_590, 1), (9_580, 100)])
    market_sell(world, 50 * MS, 1)
    world.run()
    first = liquidations(world)[0]
    assert (first["time_ns"], first["qty_lots"], first["filled_lots"], first["vwap_ticks"]) == (
        60 * MS,
        7,
        7,
        9_580.0,
    )
    assert_exact_money(world)


# -- 4. backstop mode ----------------------------------------------------------------------------------------


def test_backstop_vault_takes_accounts_past_the_ratio_the_book_takes_the_others() -> None:
    world = perp_world("backstop", fund=FUND, vault=True)
    risk = risk_of(world)
    x = long_account(world, "X", 4_500)  # BP 9,550, LP 9,646.46
    y = long_account(world, "Y", 5_000)  # BP 9,500, LP 9,595.96
    shorts(world, 20)
    resting(world, "ladder", [(9_590, 1), (9_560, 10)])
    market_sell(world, 50 * MS, 1)
    world.run()
    x_row, y_row = liquidations(world)  # X first: the higher liquidation price is reached first
    assert risk.vault_owner is not None
    vault = world.venue.accounts[risk.vault_owner]

    # Mark 9,590. X: equity 4,500 - 4,100 = 400, MM 959: margin ratio 959/400 = 2.40 > 1.5 -> the
    # vault takes 10 lots at the mark, 9,590, with what is left: cash -100,000 + 95,900 = -4,100,
    # so $400 of collateral goes to the vault. No fill, no fee, the fund untouched.
    assert x_row["agent"] == x and LIQUIDATION_MODES[x_row["mode"]] == "backstop"
    assert (x_row["qty_lots"], x_row["filled_lots"], x_row["takeover_lots"]) == (10, 0, 10)
    assert x_row["bankruptcy_price_ticks"] == 9_550.0
    assert x_row["liquidation_price_ticks"] == approx(Fraction(9_550) / Fraction(99, 100))
    assert np.isnan(x_row["vwap_ticks"]) and np.isnan(x_row["arrival_mid_ticks"])
    assert (x_row["shortfall"], x_row["fee"], x_row["bad_debt"], x_row["fund_balance"]) == (0, 0, 0, FUND * Q)
    assert (vault.position[0], vault.cash[0], vault.collateral) == (10, -95_900, 400 * Q)
    (takeover,) = events(world, "takeover")
    assert (
        takeover["agent"],
        takeover["counterparty"],
        takeover["price_ticks"],
        takeover["qty_lots"],
        takeover["cause"],
    ) == (x, risk.vault_owner, 9_590, 10, 1)

    # Y: equity 900, MM 959: ratio 1.066 <= 1.5 -> liquidated in the book: 10 @ 9,560 (limit 9,500),
    # cash -100,000 + 95,600 = -4,400, $600 left to the fund. Fee 0.1% x 95,600 = $95.60.
    assert y_row["agent"] == y and LIQUIDATION_MODES[y_row["mode"]] == "market"
    assert (y_row["filled_lots"], y_row["takeover_lots"], y_row["vwap_ticks"]) == (10, 0, 9_560.0)
    assert y_row["arrival_mid_ticks"] == (9_560 + 10_100) / 2
    assert (y_row["shortfall"], y_row["fee"], y_row["fund_balance"]) == (600 * Q, 9_560_000_000, 1_600 * Q)
    for acct in (world.venue.accounts[x], world.venue.accounts[y]):
        assert (acct.position[0], acct.cash[0], acct.collateral) == (0, 0, 0)
    assert_exact_money(world)


# -- 5. the order-entry margin check -------------------------------------------------------------------------


def test_orders_beyond_leverage_are_rejected_and_reducing_orders_always_pass() -> None:
    world = perp_world("market", fund=FUND)
    # $24,000 at 5x: 12 lots at $10,000 (need exactly $24,000) fit, 13 do not.
    # Its own BP is 10,000 - 24,000/12 = 8,000 (LP 8,080.81): nothing here liquidates it.
    script = [
        (10 * MS, lambda t: t.submit_limit("buy", 13, 10_000)),  # 130,000 / 5 = 26,000 > 24,000
        (20 * MS, lambda t: t.submit_limit("buy", 12, 10_000)),  # 120,000 / 5 = 24,000: filled
        (30 * MS, lambda t: t.submit_market("buy", 1)),  # at the mark 10,000: 26,000 > 24,000
        # the dumper moves the mark to 9,000: equity 24,000 - 12,000 = 12,000, while 12 lots need 21,600
        (60 * MS, lambda t: t.submit_limit("buy", 1, 8_000)),  # 13 x 8,000 / 5 = 20,800 > 12,000
        (70 * MS, lambda t: t.submit_limit("sell", 5, 9_000)),  # reduces: accepted though over-levered
        (80 * MS, lambda t: t.submit_limit("sell", 30, 11_000)),  # turns short 23: 50,600 > 12,000
    ]
    lev = scripted(world, "lev", script, margin=(24_000 * Q, 5.0))
    resting(world, "maker", [(9_990, 1), (9_000, 50)], asks=((10_000, 20),))
    scripted(world, "dumper", [(40 * MS, lambda t: t.submit_market("sell", 2))])
    world.run()

    sent = [10, 30, 60, 80]
    assert [(r[0], r[2], r[3]) for r in lev.heard_rejects] == [
        (t * MS + 2 * ENTRY_LATENCY, kind, "insufficient_margin")
        for t, kind in zip(sent, ["limit", "market", "limit", "limit"], strict=True)
    ]
    ev = world.arrays()["events"]
    mine = ev[(ev["agent"] == owner(world, "lev")) & (ev["kind"] < KIND_CODE["fill"])]
    assert [
        (EVENT_KINDS[r["kind"]], STATUSES[r["status"]], REASONS[r["reason"]], r["qty_lots"]) for r in mine
    ] == [
        ("limit", "rejected", "insufficient_margin", 13),
        ("limit", "filled", "none", 12),
        ("market", "rejected", "insufficient_margin", 1),
        ("limit", "rejected", "insufficient_margin", 1),
        ("limit", "filled", "none", 5),
        ("limit", "rejected", "insufficient_margin", 30),
    ]
    assert world.venue.accounts[owner(world, "lev")].position[0] == 12 - 5 == lev.position()
    assert liquidations(world) == []
    assert_exact_money(world)


def test_a_liquidated_traders_resting_orders_are_cancelled_and_it_hears_the_cancels() -> None:
    world = perp_world("market", fund=FUND)
    victim = scripted(
        world,
        "victim",
        [
            (10 * MS, lambda t: t.submit_limit("buy", 10, 10_000)),  # 100,000/20 = 5,000: just fits
            (20 * MS, lambda t: t.submit_limit("sell", 2, 10_500)),  # reduces: rests
            (20 * MS, lambda t: t.submit_limit("buy", 1, 9_000)),  # 11 x 9,000/20 = 4,950 <= 5,000: rests
        ],
        margin=(5_000 * Q, 20.0),
    )
    v = owner(world, "victim")
    resting(world, "ladder", [(9_590, 1), (9_560, 10)], asks=((10_000, 10),))
    market_sell(world, 50 * MS, 1)
    world.run()

    # The victim is A again: long 10 at 10,000 with $5,000, LP 9,595.96, breached at the 60 ms mark.
    (row,) = liquidations(world)
    assert (row["agent"], row["time_ns"], row["filled_lots"], row["vwap_ticks"]) == (v, 60 * MS, 10, 9_560.0)
    cancels = events(world, "cancel")
    assert [
        (r["agent"], r["order_id"], r["cause"], r["time_ns"], STATUSES[r["status"]]) for r in cancels
    ] == [
        (v, victim.ids[1], 1, 61 * MS, "cancelled"),
        (v, victim.ids[2], 1, 61 * MS, "cancelled"),
    ]
    assert events(world, "liquidation")["seq"][0] < cancels["seq"][0] < events(world, "ioc")["seq"][0]
    heard_at = 61 * MS + ENTRY_LATENCY  # the return latency is the entry latency
    assert [u for u in victim.heard_updates if u[1] == "cancelled"] == [
        (heard_at, "cancelled", "none"),
        (heard_at, "cancelled", "none"),
    ]
    assert victim.orders == {}
    assert world.venue.connections[v].live == set()
    # it hears the forced fill too: 10 @ 9,560, as taker
    ((when, fill),) = [(t, f) for t, f in victim.heard_fills if f.time_ns == 61 * MS]
    assert (when, fill.price, fill.qty, fill.side, fill.maker) == (heard_at, 9_560, 10, -1, False)
    acct = world.venue.accounts[v]
    assert (acct.position[0], acct.cash[0], acct.collateral) == (0, 0, 0)  # $600 left went to the fund
    assert risk_of(world).fund_balance == (FUND + 600) * Q
    assert_exact_money(world)


# -- 6. exact conservation: assert_exact_money ends every scenario above.

# -- 7. bad values in configs --------------------------------------------------------------------------------

CONFIG = """\
run:
  duration: 1m
  seed: 1
instruments:
  - symbol: XYZ
    tick_size: 0.01
    price: 100.0
    kind: perpetual
    margin_tiers: [[100000, 0.01, 50], [1000000, 0.02, 25]]
venue:
  liquidation: {mode: partial, partial_fraction: 0.5, backstop_ratio: 2.0}
traders:
  - type: tests.trader_fixtures:PlainTrader
    margin: {collateral: 1000, leverage: 10}
"""
TIERS = "[[100000, 0.01, 50], [1000000, 0.02, 25]]"


def test_the_risk_config_is_valid() -> None:
    cfg = parse_config(CONFIG)
    assert cfg.venue.liquidation.partial_fraction == 0.5
    margin = cfg.traders[0].margin
    assert margin is not None and (margin.collateral, margin.leverage) == (1000, 10)


@pytest.mark.parametrize(
    ("old", "new", "line", "path", "words"),
    [
        (
            "leverage: 10}",
            "leverage: -5}",
            14,
            "traders[0].margin.leverage",
            ["greater than or equal to 1", "-5"],
        ),
        (
            TIERS,
            "[[1000000, 0.01, 50], [100000, 0.02, 25]]",
            9,
            "instruments[0].margin_tiers",
            ["tiers[1].cap", "must be greater than tiers[0].cap", "strictly increasing"],
        ),
        (TIERS, "[[100000, 1.5, 1]]", 9, "instruments[0].margin_tiers", ["tiers[0].mmr", "(0, 1]", "1.5"]),
        (
            TIERS,
            "[[100000, 0.05, 50]]",
            9,
            "instruments[0].margin_tiers",
            ["1/max_leverage = 0.02", "below mmr = 0.05", "initial margin must cover maintenance margin"],
        ),
        (
            TIERS,
            "binance_ethusdt",
            9,
            "instruments[0].margin_tiers",
            ["expected a preset (binance_btcusdt)", "'binance_ethusdt'"],
        ),
        (
            "partial_fraction: 0.5",
            "partial_fraction: 0",
            11,
            "venue.liquidation.partial_fraction",
            ["greater than 0", "got 0"],
        ),
        (
            "backstop_ratio: 2.0",
            "backstop_ratio: 1",
            11,
            "venue.liquidation.backstop_ratio",
            ["greater than 1", "got 1"],
        ),
        (
            "collateral: 1000",
            "collateral: 0",
            14,
            "traders[0].margin.collateral",
            ["greater than 0", "got 0"],
        ),
    ],
    ids=[
        "negative-leverage",
        "tiers-out-of-order",
        "mmr-above-1",
        "mmr-above-1-over-leverage",
        "unknown-preset",
        "partial-fraction-0",
        "backstop-ratio-1",
        "zero-collateral",
    ],
)
def test_bad_risk_values_are_rejected_with_clear_messages(
    old: str, new: str, line: int, path: str, words: list[str]
) -> None:
    assert CONFIG.count(old) == 1
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG.replace(old, new), source="risk.yaml")
    (problem,) = info.value.problems
    assert (problem.source, problem.line, problem.path) == ("risk.yaml", line, path)
    for word in words:
        assert word in problem.message


def test_the_backstop_vault_unwinds_what_it_took_a_slice_at_a_time() -> None:
    # As above, but run for 3.5 s: the vault (unwind every 10 s by default) is told to sell 30% a
    # second; X's 10 lots go ceil(3), then ceil(2.1), ceil(1.5) into the 100-lot bid at 9,000.
    world = World(
        [PERP],
        seed=1,
        duration_ns=3_500 * MS,
        fundamentals=[FundamentalProcess.constant(float(PRICE), 3_500 * MS)],
        latency=LatencySpec(ENTRY_LATENCY, 0),
    )
    rules = LiquidationRules(
        mode="backstop", check_latency_ns=CHECK, fee_rate=FEE_RATE, backstop_ratio=1.5,
        vault_unwind_interval_ns=SECOND, vault_unwind_fraction=0.3,
    )  # fmt: skip
    world.enable_risk([flat(MMR, 50)], rules, insurance_fund=FUND * Q, vault=True,
                      marks={0: MarkSpec(method="last", interval_ns=10 * MS)})  # fmt: skip
    long_account(world, "X", 4_500)
    shorts(world, 10)
    resting(world, "ladder", [(9_590, 1), (9_000, 100)])
    market_sell(world, 50 * MS, 1)
    world.run()
    risk = risk_of(world)
    assert risk.vault_owner is not None
    vault_orders = [
        (int(r["time_ns"]), int(r["side"]), int(r["qty_lots"]), int(r["cause"]))
        for r in events(world, "market")
        if r["agent"] == risk.vault_owner
    ]
    assert vault_orders == [(1 * SECOND, -1, 3, 0), (2 * SECOND, -1, 3, 0), (3 * SECOND, -1, 2, 0)]
    assert world.venue.accounts[risk.vault_owner].position[0] == 2
    assert_exact_money(world)
