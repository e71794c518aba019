"""The risk layer on random leveraged markets: money and positions exact, cascades consistent.

The random markets also turn on, in some examples, auto-deleveraging (every
policy, at the bankruptcy price or the mark, with or without the fund-drop
trigger) and circuit breakers (bands around the mark or recent trades, limit
up/limit down, market-wide levels; orders rejected or queued during a halt;
the liquidation engine waiting out halts or not), with thin insurance funds
and an optional fundamental shock so that ADL and halts actually happen.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from market_helpers import Scripted, scripted

from lob.eventlog.adl_summary import adl_summary
from lob.eventlog.schema import ADL, ADL_POLICIES, KIND_CODE, LIQUIDATION_MODES, REASON_CODE, STATUSES
from lob.market.breakers import BreakerRules, MarketWideRule
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.engine import LiquidationRules
from lob.risk.tiers import flat
from lob.scenario.loader import parse_config
from lob.scenario.runner import RunResult, build_world, run_config
from lob.scenario.world import LatencySpec, MarkSpec, World

MARKET = """
run: {{duration: 90s, seed: {seed}}}
instruments: [{{symbol: XYZ, tick_size: 0.01, price: 100.0, kind: perpetual, margin_tiers: binance_btcusdt}}]
venue:
  fees: {{maker_bps: -0.2, taker_bps: {taker_bps}}}
  mark: {{method: {method}, interval: 200ms, ma_window: 5}}
  liquidation: {{mode: {mode}, check_latency: 50ms, fee_bps: {fee_bps}, partial_fraction: 0.3, cooldown: 1s,
                 backstop_ratio: 1.2, vault_unwind_interval: 2s}}
  insurance_fund: {fund}
  funding: {{interval: {funding}}}
{venue_extra}traders:
  - type: noise
    count: 10
    params: {{mean_interval: 5s, market_prob: 0.3, offset_ticks: 150, size_min: 5, size_max: 20}}
  - {{type: market_maker, count: 2, params: {{refresh_interval: 1s, levels: 4, size: 20, withdraw_vol_bps: 30,
                                               reenter_vol_bps: 10, withdraw_for: 20s}}}}
  - type: execution
    name: seller
    params: {{side: sell, quantity: {sell}, start: 20s, end: 50s, mode: twap, slices: 30, order_type: market}}
  - type: stop_loss
    count: 5
    margin: {{collateral: 2000, leverage: 20}}
    params: {{size: 50, stop_pct: 0.01}}
open_interest:
  - longs: {{count: {longs}, notional: {{median: 3000, sigma: 0.8}}, leverage: {{min: 5, max: {max_lev}}}}}
    shorts: {{count: 5, leverage: {{min: 1, max: 3}}}}
{fundamental}"""

FILL = KIND_CODE["fill"]
TAKEOVER = KIND_CODE["takeover"]
ADL_CLOSE = KIND_CODE["adl"]
LIQUIDATION = KIND_CODE["liquidation"]
HALT = KIND_CODE["halt"]
RESUME = KIND_CODE["resume"]
#: Client commands that would reach the book: new orders and replaces (cancels and reduces pass halts).
NEW_ORDERS = frozenset(KIND_CODE[k] for k in ("limit", "ioc", "fok", "post_only", "market", "replace"))
#: What the liquidation engine logs when it acts (a ``liquidation`` row's ``cause`` is its parent, maybe 0).
ENGINE_KINDS = NEW_ORDERS | {
    KIND_CODE[k] for k in ("cancel", "fill", "takeover", "adl", "clawback", "liquidation")
}
REJECTED = STATUSES.index("rejected")
HALTED = REASON_CODE["halted"]


def market_text(
    *,
    adl: dict[str, Any] | None = None,
    breakers: dict[str, Any] | None = None,
    shock: float | None = None,
    **kw: object,
) -> str:
    """MARKET with the optional ``venue.adl``, ``venue.circuit_breakers`` and a fundamental shock at 30 s."""
    extra = ""
    if adl is not None:
        extra += f"  adl: {json.dumps(adl)}\n"
    if breakers is not None:
        extra += f"  circuit_breakers: {json.dumps(breakers)}\n"
    fundamental = ""
    if shock is not None:
        fundamental = f"fundamental: {{XYZ: {{shocks: [{{at: 30s, jump: {shock}}}]}}}}\n"
    return MARKET.format(venue_extra=extra, fundamental=fundamental, **kw)


def run_market(**kw: Any) -> RunResult:
    cfg = parse_config(market_text(**kw), "random.yaml")
    return run_config(cfg, write=False)


# -- invariants ----------------------------------------------------------------------------------------------


def check_run(result: RunResult) -> tuple[int, int]:
    """Asserts every invariant of a finished run; returns (adl rows, halt rows) for the statistics."""
    cfg = result.config
    world = result.world
    assert world is not None and world.risk is not None
    venue, risk = world.venue, world.risk
    arrays = world.arrays()
    # exact money and positions, whatever happened
    money = world.money()
    assert money["held"] == money["deposited"]
    assert sum(a.position[0] for a in venue.accounts) == 0
    liq = arrays["liquidations"]
    # bad debt is what liquidations could not cover, row by row
    assert money["bad_debt"] == risk.bad_debt == int(liq["bad_debt"].sum())
    ev = arrays["events"]
    check_halts(
        ev, cfg.venue.circuit_breakers.during_halt, len(world.instruments), risk.vault_owner, risk.halt_wait
    )
    breakers = world.breakers
    if breakers is not None and cfg.venue.circuit_breakers.during_halt == "reject":
        commands = ev[np.isin(ev["kind"], list(NEW_ORDERS)) & (ev["cause"] == 0)]
        assert int((commands["reason"] == HALTED).sum()) == sum(breakers.halt_rejections)
    halts = int((ev["kind"] == HALT).sum())
    if breakers is not None:
        assert halts == sum(breakers.halts)
    else:
        assert halts == 0
    if risk.adl is None:
        assert not len(arrays["adl"]) and not liq["adl_lots"].any() and not liq["deficit"].any()
    if not len(liq):
        return 0, halts
    # ids are 1, 2, ... without gaps or repeats; generations follow their parents
    assert liq["liquidation_id"].tolist() == list(range(1, len(liq) + 1))
    generation = dict(zip(liq["liquidation_id"].tolist(), liq["generation"].tolist(), strict=True))
    for g, parent in zip(liq["generation"].tolist(), liq["parent_id"].tolist(), strict=True):
        assert (g == 0) == (parent == 0)
        if parent:
            assert generation[parent] == g - 1
    # a forced order never closes more than the position and never trades through bankruptcy
    assert np.all(
        liq["filled_lots"] + liq["takeover_lots"] <= np.maximum(liq["qty_lots"], liq["takeover_lots"])
    )
    sells = (liq["side"] < 0) & (liq["filled_lots"] > 0)
    assert np.all(liq["vwap_ticks"][sells] >= np.floor(liq["bankruptcy_price_ticks"][sells]) - 1e-9)
    buys = (liq["side"] > 0) & (liq["filled_lots"] > 0)
    assert np.all(liq["vwap_ticks"][buys] <= np.ceil(liq["bankruptcy_price_ticks"][buys]) + 1e-9)
    # every forced order's fills carry its liquidation id, and the log agrees with the table
    forced_fills = ev[(ev["kind"] == FILL) & (ev["cause"] > 0)]
    assert set(forced_fills["cause"].tolist()) <= set(liq["liquidation_id"].tolist())
    assert int(forced_fills["qty_lots"].sum()) >= int(liq["filled_lots"].sum())
    # no account is left in liquidation, unless the run ended within a partial step's cooldown or in a
    # halt that a waiting engine waits out
    last_exec = dict(zip(liq["agent"].tolist(), liq["exec_ns"].tolist(), strict=False))  # each one's last
    cooldown = cfg.venue.liquidation.cooldown if cfg.venue.liquidation.mode == "partial" else 0
    waiting = breakers is not None and risk.halt_wait and breakers.halted(0)
    for owner, m in risk.accounts.items():
        assert not m.busy or waiting or last_exec[owner] + cooldown > world.duration_ns, owner
    check_positions(result, ev)
    if risk.adl is not None:
        check_adl(result, liq, arrays["adl"], ev)
    return len(arrays["adl"]) if risk.adl is not None else 0, halts


def check_adl(result: RunResult, liq: np.ndarray, adl: np.ndarray, ev: np.ndarray) -> None:
    """The adl table against the liquidations table, the event log and the summary."""
    world = result.world
    assert world is not None and world.risk is not None
    rules = result.config.venue.adl
    risk = world.risk
    row_of = {lid: k for k, lid in enumerate(liq["liquidation_id"].tolist())}
    closes = adl["qty_lots"] > 0
    # nothing without a liquidation to cover; the liquidations table counts exactly the closed lots
    assert set(adl["liquidation_id"].tolist()) <= set(row_of)
    closed: dict[int, int] = {}
    for lid, q in zip(adl["liquidation_id"].tolist(), adl["qty_lots"].tolist(), strict=True):
        closed[lid] = closed.get(lid, 0) + q
    for lid, k in row_of.items():
        assert closed.get(lid, 0) == int(liq["adl_lots"][k])
        assert int(liq["adl_lots"][k]) <= int(liq["qty_lots"][k] - liq["filled_lots"][k])
    assert (liq["deficit"] >= 0).all()
    passive = {risk.fund_owner, risk.vault_owner}
    for r in adl.tolist():
        row = dict(zip(ADL.names, r, strict=True))
        k = row_of[row["liquidation_id"]]
        assert row["bankrupt"] == liq["agent"][k] and row["instrument"] == liq["instrument"][k]
        assert row["counterparty"] != row["bankrupt"] and row["counterparty"] not in passive
        assert row["equity_after"] >= 0  # no close or clawback pushes an account below zero
        assert ADL_POLICIES[row["policy"]] == (rules.policy if rules.policy in ADL_POLICIES else "custom")
        if row["qty_lots"] > 0:
            # the counterparty holds the other side: a long bankrupt (forced sell, -1) is closed against a
            # short buying back (+1), and the reverse
            assert row["side"] == -int(liq["side"][k])
            if rules.price == "mark":
                assert row["price_ticks"] == max(1, round(row["mark_ticks"]))
            else:  # the forced order's limit: the bankruptcy price rounded in the bankrupt's favour
                bp = float(liq["bankruptcy_price_ticks"][k])
                limit = math.ceil(bp) if liq["side"][k] < 0 else math.floor(bp)
                assert row["price_ticks"] == max(1, limit)
        else:
            assert rules.policy == "socialized_loss"
            assert row["side"] == 0 and math.isnan(row["price_ticks"])
            assert row["pnl_after"] < row["pnl_before"]
    if rules.policy == "socialized_loss":
        assert not closes.any()
    # one events row per close (adl) or clawback, in the same order
    logged = ev[np.isin(ev["kind"], [KIND_CODE["adl"], KIND_CODE["clawback"]])]
    assert logged["seq"].tolist() == adl["seq"].tolist()
    assert (logged["cause"] == adl["liquidation_id"]).all()
    # waves are numbered 1, 2, ... in time order
    waves = adl["wave"].tolist()
    assert waves == sorted(waves) and (
        not waves or (waves[0] == 1 and set(waves) == set(range(1, waves[-1] + 1)))
    )
    s = adl_summary(world.arrays(), world.instruments, rules.horizon)
    assert s["closes"] == int(closes.sum()) and s["lots_closed"] == int(liq["adl_lots"].sum())
    assert s["accounts_hit"] == len(set(adl["counterparty"].tolist()))


def check_positions(result: RunResult, ev: np.ndarray) -> None:
    """Replays the log's position moves from the opening positions: it ends where the accounts are.

    Fills move lots from the maker to the taker, takeovers and ADL closes from ``agent`` to
    ``counterparty`` (``side`` +1: a long moved). At each ADL close the bankrupt account holds the side
    it gives up, and the counterparty the opposite side, at least as many lots as it takes: ADL closes
    positions, it never opens or flips one.
    """
    world = result.world
    assert world is not None
    opening = build_world(result.config)  # the same accounts, in the same order, before any event
    pos = [a.position[0] for a in opening.venue.accounts]
    moves = ev[np.isin(ev["kind"], [FILL, TAKEOVER, ADL_CLOSE])]
    for kind, agent, cp, side, qty in zip(
        moves["kind"].tolist(),
        moves["agent"].tolist(),
        moves["counterparty"].tolist(),
        moves["side"].tolist(),
        moves["qty_lots"].tolist(),
        strict=True,
    ):
        if kind == FILL:  # agent is the taker, side its side
            pos[agent] += side * qty
            pos[cp] -= side * qty
            continue
        if kind == ADL_CLOSE:
            assert side * pos[agent] >= qty > 0, (agent, pos[agent], side, qty)
            assert -side * pos[cp] >= qty, (cp, pos[cp], side, qty)
        pos[agent] -= side * qty
        pos[cp] += side * qty
    assert pos == [a.position[0] for a in world.venue.accounts]


def check_halts(ev: np.ndarray, during_halt: str, n: int, vault: int | None, engine_waits: bool) -> None:
    """No client order reaches the book between a halt row and the next resume row of its instrument.

    With ``reject`` every new order or replace of that time is logged rejected (reason ``halted``); with
    ``queue`` none is logged then (held orders are logged when entered, after the resume row). No client
    fill lies inside a halt either. The engine's rows (forced orders and their fills and cancels, which
    carry a liquidation id as ``cause``; liquidation, takeover and ADL rows; the backstop vault's
    unwinding) are exempt; but an engine that waits out halts (``liquidations: wait``) logs none inside
    a halt, except at the instant of the halt row itself: the liquidation whose forced order set off the
    halt completes (its takeover or ADL rows), and the next waits (see
    test_a_waiting_engine_sends_no_forced_order_after_a_forced_fill_halts_the_market).
    """
    halted = [False] * n
    start = [0] * n
    last_halt = [0] * n
    intervals: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    engine = (ev["cause"] > 0) | (ev["kind"] == LIQUIDATION)
    if vault is not None:
        engine |= ev["agent"] == vault
    engine &= np.isin(ev["kind"], list(ENGINE_KINDS))
    kinds, inst, by_engine = ev["kind"].tolist(), ev["instrument"].tolist(), engine.tolist()
    status, reason, times = ev["status"].tolist(), ev["reason"].tolist(), ev["time_ns"].tolist()
    for k, kind in enumerate(kinds):
        ii = inst[k]
        if kind == HALT:
            if not halted[ii]:
                start[ii] = times[k]
            halted[ii] = True
            last_halt[ii] = times[k]
        elif kind == RESUME:
            assert halted[ii]
            halted[ii] = False
            intervals[ii].append((start[ii], times[k]))
        elif not halted[ii]:
            continue
        elif by_engine[k]:
            assert not engine_waits or times[k] == last_halt[ii], (
                f"the engine acted at {times[k]} ns in a halt"
            )
        elif kind == FILL:
            raise AssertionError(f"a client fill at {times[k]} ns during a halt")
        elif kind in NEW_ORDERS:
            assert during_halt == "reject", f"an order logged at {times[k]} ns while held orders wait"
            assert (status[k], reason[k]) == (REJECTED, HALTED)
    for ii in range(n):
        if halted[ii]:
            intervals[ii].append((start[ii], math.inf))
    # the same by time: a client fill is never strictly inside a halt (at its resumption time it may be)
    fills = (ev["kind"] == FILL) & ~engine
    for ii in range(n):
        t = ev["time_ns"][fills & (ev["instrument"] == ii)]
        for lo, hi in intervals[ii]:
            assert not ((t > lo) & (t < hi)).any()


# -- random markets ------------------------------------------------------------------------------------------

#: The built-in policies, and a user's own by import path (labelled ``custom`` in the adl table).
POLICIES = [*(p for p in ADL_POLICIES if p != "custom"), "tests.custom_policies:LargestFirst"]
ADL_RULES = st.fixed_dictionaries(
    {"policy": st.sampled_from(POLICIES), "price": st.sampled_from(["bankruptcy", "mark"])},
    optional={"fund_drop": st.sampled_from([0.1, 0.5, 1.0]), "wave_gap": st.sampled_from(["500ms", "5s"])},
)
#: (venue.adl, insurance fund): with ADL on the fund is thin (0 or 500), so that ADL has work to do.
ADL_AND_FUND = st.one_of(
    st.tuples(ADL_RULES, st.sampled_from([0, 500])),
    st.tuples(st.none(), st.sampled_from([0, 500, 100_000])),
    st.tuples(ADL_RULES, st.sampled_from([0, 500])),
)
BREAKER_PARTS = {
    "band": st.fixed_dictionaries(
        {
            "limit": st.sampled_from([0.003, 0.01, 0.03]),
            "reference": st.sampled_from(["mark", "trades"]),
            "window": st.sampled_from(["1s", "10s"]),
        }
    ),
    "luld": st.fixed_dictionaries(
        {
            "band": st.sampled_from([0.002, 0.005, 0.02]),
            "reference_window": st.sampled_from(["5s", "30s"]),
            "limit_state": st.sampled_from(["200ms", "2s"]),
            "halt": st.sampled_from(["1s", "5s"]),
        }
    ),
    "market_wide": st.sampled_from(
        [[[0.01, "2s"]], [[0.005, "1s"], [0.02, "5s"], [0.05, "0s"]], [[0.03, "0s"]]]
    ).map(lambda levels: {"levels": levels}),
}
#: At least one breaker on; orders rejected or queued during a halt; the engine waiting or not.
SUBSETS = [("band",), ("luld",), ("market_wide",), ("band", "luld"), ("band", "market_wide"),
           ("luld", "market_wide"), ("band", "luld", "market_wide")]  # fmt: skip
BREAKERS = st.sampled_from(SUBSETS).flatmap(
    lambda parts: st.fixed_dictionaries(
        {
            "during_halt": st.sampled_from(["reject", "queue"]),
            "liquidations": st.sampled_from(["wait", "continue"]),
            **{part: BREAKER_PARTS[part] for part in parts},
        }
    )
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(LIQUIDATION_MODES),
    method=st.sampled_from(["last", "mid", "index_ma", "median"]),
    sell=st.integers(5_000, 30_000),
    longs=st.integers(20, 300),
    max_lev=st.sampled_from([100, 50, 20]),
    taker_bps=st.sampled_from([0, 2]),
    fee_bps=st.sampled_from([0, 50]),
    funding=st.sampled_from(["0s", "10s"]),
    adl_and_fund=ADL_AND_FUND,
    breakers=st.one_of(st.none(), BREAKERS, BREAKERS),
    shock=st.sampled_from([-0.05, -0.02, None]),
)
def test_random_leveraged_markets_keep_every_invariant(
    adl_and_fund: tuple[dict[str, Any] | None, int], **kw: Any
) -> None:
    kw["adl"], kw["fund"] = adl_and_fund
    result = run_market(**kw)
    assert result.world is not None and result.world.risk is not None
    adl_rows, halts = check_run(result)
    liq = result.world.arrays()["liquidations"]
    event(
        f"liquidations: {'none' if not len(liq) else 'some'}; "
        f"bad debt: {'yes' if result.world.risk.bad_debt else 'no'}"
    )
    event(f"adl: {'off' if kw['adl'] is None else 'fired' if adl_rows else 'quiet'}")
    event(f"breakers: {'off' if kw['breakers'] is None else 'halted' if halts else 'no halt'}")


# -- the generator reaches ADL and halts ---------------------------------------------------------------------

# A thin market hit by a 5% fall of the fundamental at 30 s: highly leveraged longs go past bankruptcy
# before the engine sees them, and an empty fund leaves the remainders to ADL.
CRASH = {
    "mode": "market",
    "method": "median",
    "fund": 0,
    "sell": 20_000,
    "longs": 200,
    "max_lev": 100,
    "taker_bps": 0,
    "fee_bps": 0,
    "funding": "0s",
    "shock": -0.05,
}


def test_every_adl_policy_fires_on_seeded_crashes() -> None:
    """Seeded worlds of the generator's kind: each policy deleverages in at least one, every run exact."""
    fired: dict[str, int] = {}
    for policy in POLICIES:
        for seed, price in ((1, "bankruptcy"), (2, "mark"), (3, "bankruptcy")):
            result = run_market(**{**CRASH, "seed": seed}, adl={"policy": policy, "price": price})
            adl_rows, _ = check_run(result)
            fired[policy] = fired.get(policy, 0) + (adl_rows > 0)
    assert all(fired.values()), fired


def test_halts_fire_on_seeded_crashes_in_every_mode() -> None:
    """Seeded crashes under each during_halt and liquidations setting: halts happen, orders wait or bounce."""
    for during_halt in ("reject", "queue"):
        for liquidations in ("wait", "continue"):
            result = run_market(
                **{**CRASH, "seed": 4, "mode": "partial", "fund": 500},
                adl={"policy": "bitmex"},
                breakers={
                    "during_halt": during_halt,
                    "liquidations": liquidations,
                    "band": {"limit": 0.01, "reference": "mark"},
                    "luld": {"band": 0.005, "reference_window": "5s", "limit_state": "200ms", "halt": "2s"},
                    "market_wide": {"levels": [[0.02, "5s"], [0.04, "3s"]]},
                },
            )
            _, halts = check_run(result)
            world = result.world
            assert world is not None and world.breakers is not None
            assert halts >= 2, (during_halt, liquidations)
            if during_halt == "reject":
                assert sum(world.breakers.halt_rejections) > 0
            else:
                assert sum(world.breakers.held_orders) > 0


# -- waiting out a halt the engine's own order started ------------------------------------------------------

MS = 1_000_000


def test_a_waiting_engine_sends_no_forced_order_after_a_forced_fill_halts_the_market() -> None:
    """docs/risk.md: with ``liquidations: wait`` no forced order is sent while the instrument is halted.

    XYZ: tick $1, lot 1, maintenance 1%, mark = the mid every 10 ms. A and B are each long 1 at 10,000 with
    $700: bankruptcy 9,300, breached below 9,393.9. At 20 ms a ladder bids 9,360 and 9,350 and asks 9,380:
    the 30 ms mark (mid 9,370) shows both breaches, acted on at 31 ms. A's forced sell (limit 9,300) takes
    the 9,360 bid, 3.6% below the 10,000 reference: the market-wide level of 3% halts XYZ for 20 ms, at
    31 ms. B's liquidation should wait for the resumption at 51 ms; instead it sells into the halted book
    at 31 ms, right after the halt row.
    """
    duration = 100 * MS
    world = World(
        [Instrument("XYZ", 1.0, 1, perpetual=True)],
        seed=1,
        duration_ns=duration,
        fundamentals=[FundamentalProcess.constant(10_000.0, duration)],
        latency=LatencySpec(100_000, 0),
    )
    world.enable_risk(
        [flat(0.01, 50)],
        LiquidationRules(mode="market", check_latency_ns=1 * MS, fee_rate=0.0),
        insurance_fund=1_000_000 * MONEY_PER_QUOTE,
        marks={0: MarkSpec(method="mid", interval_ns=10 * MS)},
        halt_wait=True,
    )
    world.enable_breakers(BreakerRules(market_wide=MarketWideRule(((0.03, 20 * MS),))), [10_000])
    money = 700 * MONEY_PER_QUOTE
    a = world.add_account("A", collateral=money, leverage=100, positions={0: (1, -10_000)})
    b = world.add_account("B", collateral=money, leverage=100, positions={0: (1, -10_000)})
    world.add_account("S", collateral=100 * money, leverage=100, positions={0: (-2, 20_000)})

    def ladder(t: Scripted) -> None:
        t.submit_limit("buy", 1, 9_360)
        t.submit_limit("buy", 1, 9_350)
        t.submit_limit("sell", 5, 9_380)

    scripted(world, "ladder", [(20 * MS, ladder)])
    world.run()
    ev = world.arrays()["events"]
    (halt,) = ev[ev["kind"] == HALT]
    (resume,) = ev[ev["kind"] == RESUME]
    assert (halt["time_ns"], halt["cause"], resume["time_ns"]) == (31 * MS, 1, 51 * MS)
    forced = ev[(ev["kind"] == KIND_CODE["ioc"]) & (ev["cause"] > 0)]
    assert forced["agent"].tolist() == [a, b]
    assert forced["time_ns"].tolist() == [31 * MS, 51 * MS]  # B's after the resumption (fails: 31 ms)
