"""The cross-venue traders in two-venue worlds: the arbitrageur and the cross-venue holder.

Each world lists one asset twice, BTC-a on venue ``a`` and BTC-b on venue
``b``, both perpetuals on a constant fundamental of 100.00, each venue with
its own risk engine and insurance fund. Liquidity is scripted resting orders
of spot (unmargined) accounts, so every price path is known in advance.
"""

from __future__ import annotations

import numpy as np
import pytest
from market_helpers import Scripted, Step, scripted
from pydantic import ValidationError

from lob.agents.arbitrage import Arbitrageur
from lob.agents.cross_venue import CrossVenueHolder
from lob.agents.registry import resolve_trader
from lob.eventlog.schema import KIND_CODE, REASON_CODE
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.engine import LiquidationRules
from lob.risk.tiers import flat
from lob.scenario.world import SECOND, LatencySpec, MarkSpec, World

MS = 1_000_000
A, B = 0, 1  # instrument indexes (and venue indexes: one instrument per venue)
QUOTE = MONEY_PER_QUOTE


def two_venues(
    duration_s: int = 20, *, feed_a_ns: int = MS, feed_b_ns: int = MS, taker_ppm: int = 0
) -> World:
    insts = [
        Instrument("BTC-a", 0.01, 1, A, perpetual=True, venue=A),
        Instrument("BTC-b", 0.01, 1, B, perpetual=True, venue=B),
    ]
    duration = duration_s * SECOND
    fundamental = FundamentalProcess.constant(100.0, duration)
    w = World(insts, seed=7, duration_ns=duration, fundamentals=[fundamental, fundamental],
              venue_names=["a", "b"], latency=LatencySpec(100_000))  # fmt: skip
    for v, feed in ((A, feed_a_ns), (B, feed_b_ns)):
        link = LatencySpec(100_000)
        w.configure_venue(v, latency=link, return_latency=link, feed_latency_ns=feed, maker_ppm=0,
                          taker_ppm=taker_ppm)  # fmt: skip
        w.enable_risk([flat(0.005, 100) if i.venue == v else None for i in insts], LiquidationRules(),
                      insurance_fund=10**6 * QUOTE, venue=v,
                      marks={v: MarkSpec(method="last", interval_ns=SECOND // 2)})  # fmt: skip
    return w


def ladder(t: Scripted, side: str, start: int, step: int, lots: int, levels: int, inst: int) -> None:
    for k in range(levels):
        t.submit_limit(side, lots, start + step * k, instrument=inst)


def lp(w: World, name: str, inst: int, script: list[tuple[int, Step]]) -> Scripted:
    """A spot liquidity provider on ``inst``'s venue running ``script``."""
    return scripted(w, name, script, instrument=w.instruments[inst])


def add_arb(
    w: World, params: Arbitrageur.Params, margin: tuple[int, float] | None, name: str = "arb"
) -> Arbitrageur:
    arb = w.add_trader(Arbitrageur, name, params, instrument="BTC-a", venues=[B], margin=margin)
    assert isinstance(arb, Arbitrageur)
    return arb


def owners(w: World, name: str) -> tuple[int, int]:
    """A two-account trader's owner ids on venue a and venue b."""
    return w.agent_names.index(name), w.agent_names.index(f"{name}@b")


def assert_conserved(w: World) -> None:
    """Money exact overall and per venue; every instrument's positions sum to zero."""
    money = w.money()
    assert money["held"] == money["deposited"]
    for venue, m in w.money_by_venue().items():
        assert m["held"] == m["deposited"], venue
    for ii in range(len(w.instruments)):
        assert sum(acc.position[ii] for acc in w.venue.accounts) == 0


def heard_cross(arb: Arbitrageur) -> int:
    """Venue b's best bid less venue a's best ask, ticks, as the venue has them now."""
    return arb.feed.latest(B).bid - arb.feed.latest(A).ask


# -- THE ARBITRAGEUR ---------------------------------------------------------------------------------------


def test_arbitrageur_buys_the_cheap_venue_sells_the_rich_one_and_closes_the_cross() -> None:
    w = two_venues()
    # venue a: asks from 100.00 up by a tick (10 lots each); venue b: bids from 100.50 down by 5 ticks
    lp(w, "lp-a", A, [(0, lambda t: ladder(t, "sell", 10_000, 1, 10, 20, A)),
                      (0, lambda t: t.submit_limit("buy", 100, 9_990, instrument=A))])  # fmt: skip
    lp(w, "lp-b", B, [(0, lambda t: ladder(t, "buy", 10_050, -5, 10, 10, B)),
                      (0, lambda t: t.submit_limit("sell", 100, 10_060, instrument=B))])  # fmt: skip
    params = Arbitrageur.Params(other="BTC-b", min_edge_bps=10.0, clip=5, max_position=1_000)
    arb = add_arb(w, params, (10_000 * QUOTE, 10.0))
    w.run()
    assert arb.rounds > 1 and arb.rehedges == 0 and arb.unwinds == 0 and arb.rejects == 0
    pa, pb = arb.position(A), arb.position(B)
    assert pa > 0 and pb == -pa  # long the cheap venue, short the rich one, hedged lot for lot
    # the cross was 50 ticks (50 bps); what is left is within the edge (10 bps of a 100.0x ask)
    assert heard_cross(arb) <= 10
    owner_a, owner_b = owners(w, "arb")
    assert w.venue.accounts[owner_a].position[A] == pa and w.venue.accounts[owner_b].position[B] == pb
    assert arb.exhausted_ns is None
    assert_conserved(w)


def test_arbitrageur_with_little_capital_stops_at_capacity_without_margin_rejections() -> None:
    w = two_venues()
    lp(w, "lp-a", A, [(0, lambda t: t.submit_limit("sell", 1_000, 10_000, instrument=A)),
                      (0, lambda t: t.submit_limit("buy", 1_000, 9_990, instrument=A))])  # fmt: skip
    lp(w, "lp-b", B, [(0, lambda t: t.submit_limit("buy", 1_000, 10_050, instrument=B)),
                      (0, lambda t: t.submit_limit("sell", 1_000, 10_060, instrument=B))])  # fmt: skip
    # 100 of collateral at 10x: 1,000 of notional per venue, 0.9 of it usable: 9 lots at 100.00
    params = Arbitrageur.Params(other="BTC-b", min_edge_bps=10.0, clip=5, max_position=1_000)
    arb = add_arb(w, params, (100 * QUOTE, 10.0))
    w.run()
    pa, pb = arb.position(A), arb.position(B)
    assert 0 < pa <= 9 and pb == -pa
    assert arb.exhausted_ns is not None and arb.exhausted_ns < SECOND
    # still crossed (the books had 1,000 lots each), yet nothing was sent after capacity ran out
    assert heard_cross(arb) == 50
    assert arb.rounds == 2 and arb.sent == 4
    assert arb.rejects == 0
    ev = w.arrays()["events"]
    mine = np.isin(ev["agent"], owners(w, "arb"))
    assert not (mine & (ev["reason"] == REASON_CODE["insufficient_margin"])).any()
    assert arb.capacity(A, 10_000) <= 9
    assert_conserved(w)


def test_arbitrageur_cooldown_spaces_its_rounds() -> None:
    w = two_venues(10)
    lp(w, "lp-a", A, [(0, lambda t: t.submit_limit("sell", 1_000, 10_000, instrument=A)),
                      (0, lambda t: t.submit_limit("buy", 1_000, 9_990, instrument=A))])  # fmt: skip
    lp(w, "lp-b", B, [(0, lambda t: t.submit_limit("buy", 1_000, 10_050, instrument=B)),
                      (0, lambda t: t.submit_limit("sell", 1_000, 10_060, instrument=B))])  # fmt: skip
    params = Arbitrageur.Params(other="BTC-b", clip=5, max_position=1_000, cooldown="2s")
    arb = add_arb(w, params, (10_000 * QUOTE, 10.0))
    w.run()
    ev = w.arrays()["events"]
    sent = ev[(ev["kind"] == KIND_CODE["ioc"]) & np.isin(ev["agent"], owners(w, "arb"))]["sent_ns"]
    times = np.unique(sent)
    # the cross never closes (1,000 lots each side): one pair every 2 s, woken by the cooldown's end
    assert len(times) == arb.rounds == 5 and (np.diff(times) == 2 * SECOND).all()
    assert arb.position(A) == 25 and arb.position(B) == -25
    assert_conserved(w)


def latency_race(feed_b_ns: int) -> tuple[World, Arbitrageur]:
    """Venue b's bid jumps to 100.50 at 1 s (crossing a's 100.00 ask); a sniper sells into it at 1.01 s."""
    w = two_venues(5, feed_b_ns=feed_b_ns)
    lp(w, "lp-a", A, [(0, lambda t: t.submit_limit("sell", 20, 10_000, instrument=A)),
                      (0, lambda t: t.submit_limit("buy", 100, 9_990, instrument=A))])  # fmt: skip
    lp(w, "lp-b", B, [(0, lambda t: t.submit_limit("buy", 100, 9_990, instrument=B)),
                      (0, lambda t: t.submit_limit("sell", 100, 10_060, instrument=B)),
                      (SECOND, lambda t: t.submit_limit("buy", 20, 10_050, instrument=B))])  # fmt: skip
    scripted(w, "sniper", [(SECOND + 10 * MS, lambda t: t.submit_market("sell", 20, instrument=B))],
             instrument=w.instruments[B])  # fmt: skip
    params = Arbitrageur.Params(other="BTC-b", min_edge_bps=10.0, clip=10, max_position=100)
    return w, add_arb(w, params, (10_000 * QUOTE, 10.0))


def first_fill_ns(w: World, name: str) -> int:
    ev = w.arrays()["events"]
    fills = ev[(ev["kind"] == KIND_CODE["fill"]) & np.isin(ev["agent"], owners(w, name))]
    return int(fills["time_ns"].min())


def test_a_slower_feed_makes_the_arbitrageur_late_and_its_stale_legs_are_rehedged() -> None:
    fast_w, fast = latency_race(MS)
    fast_w.run()
    slow_w, slow = latency_race(30 * MS)
    slow_w.run()
    t_fast, t_slow = first_fill_ns(fast_w, "arb"), first_fill_ns(slow_w, "arb")
    # fast: the cross is heard 1 ms after the bid arrives (1.0001 s), plus the entry latency
    assert SECOND < t_fast < SECOND + 2 * MS
    assert t_slow - t_fast >= 28 * MS
    # fast: both legs filled before the sniper came (two rounds of 10 lots take the 20-lot bid)
    assert (fast.position(A), fast.position(B)) == (20, -20) and fast.rehedges == 0
    # slow: it acted on a bid the sniper had taken; the buy filled, the sell missed: it re-hedged on b
    assert slow.rehedges >= 1
    assert slow.position(A) == 10 and slow.position(B) == -10
    assert_conserved(fast_w)
    assert_conserved(slow_w)


def test_arbitrageur_unwinds_once_the_premium_has_gone() -> None:
    w = two_venues(10)
    lp(w, "lp-a", A, [(0, lambda t: t.submit_limit("sell", 10, 10_000, instrument=A)),
                      (0, lambda t: t.submit_limit("buy", 100, 9_990, instrument=A)),
                      (2 * SECOND, lambda t: t.submit_limit("buy", 100, 10_030, instrument=A)),
                      (2 * SECOND, lambda t: t.submit_limit("sell", 100, 10_035, instrument=A))])  # fmt: skip
    lp(w, "lp-b", B, [(0, lambda t: t.submit_limit("buy", 10, 10_050, instrument=B)),
                      (0, lambda t: t.submit_limit("sell", 100, 10_060, instrument=B)),
                      (2 * SECOND, lambda t: t.submit_limit("buy", 100, 10_025, instrument=B)),
                      (2 * SECOND, lambda t: t.submit_limit("sell", 100, 10_030, instrument=B))])  # fmt: skip
    params = Arbitrageur.Params(other="BTC-b", min_edge_bps=10.0, clip=10, max_position=100)
    arb = add_arb(w, params, (10_000 * QUOTE, 10.0))
    w.run()
    # it bought 10 at 100.00 on a and sold 10 at 100.50 on b; at 2 s b's mid is below a's (no cross the
    # other way: b's ask 100.30 is a's bid): the premium has gone, it closes both legs
    assert arb.rounds == 1 and arb.unwinds == 1
    assert arb.position(A) == 0 and arb.position(B) == 0
    assert arb.cash(A) + arb.cash(B) == 10 * (10_050 - 10_000) + 10 * (10_030 - 10_030)
    assert_conserved(w)


def test_arbitrageur_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="exit_edge_bps"):
        Arbitrageur.Params(other="BTC-b", min_edge_bps=5.0, exit_edge_bps=6.0)
    with pytest.raises(ValidationError, match="capital_use"):
        Arbitrageur.Params(other="BTC-b", capital_use=1.5)
    with pytest.raises(ValidationError):
        Arbitrageur.Params(other="")
    assert Arbitrageur.Params.model_validate({"other": "BTC-b", "cooldown": "500ms"}).cooldown == 500 * MS
    assert resolve_trader("arbitrageur") is Arbitrageur
    assert resolve_trader("cross_venue_holder") is CrossVenueHolder


@pytest.mark.parametrize(
    ("other", "venues", "taker_ppm", "message"),
    [
        ("BTC-c", [B], 0, "unknown instrument 'BTC-c'"),
        ("BTC-a", [B], 0, "same venue"),
        ("BTC-b", [], 0, "no account on the venue of 'BTC-b'"),
        ("BTC-b", [B], 600, "does not cover the two taker fees"),
    ],
)
def test_arbitrageur_refuses_a_leg_it_cannot_trade(
    other: str, venues: list[int], taker_ppm: int, message: str
) -> None:
    w = two_venues(1, taker_ppm=taker_ppm)
    params = Arbitrageur.Params(other=other, min_edge_bps=10.0)
    w.add_trader(Arbitrageur, "arb", params, instrument="BTC-a", venues=venues, margin=(100 * QUOTE, 10.0))
    with pytest.raises(ValueError, match=message):
        w.run()


# -- THE CROSS-VENUE HOLDER --------------------------------------------------------------------------------


def requote_lower(t: Scripted) -> None:
    """Venue a's liquidity provider pulls its ladders and quotes 94.00 / 94.10: a gap down, no trade."""
    t.cancel_all()
    t.submit_limit("buy", 500, 9_400, instrument=A)
    t.submit_limit("sell", 500, 9_410, instrument=A)


def cascade_world(
    holder_params: CrossVenueHolder.Params,
    margin: tuple[int, float],
    *,
    gap: bool = False,
    block_lots: int = 2_100,
) -> tuple[World, CrossVenueHolder]:
    """Both books from 100.00, venue b's bids thin; at 5 s a block seller crashes venue a (or, with
    ``gap``, venue a's liquidity provider requotes 6% lower)."""
    w = two_venues(10)
    lp_a: list[tuple[int, Step]] = [(0, lambda t: ladder(t, "sell", 10_000, 1, 20, 10, A)),
                                    (0, lambda t: ladder(t, "buy", 9_999, -1, 20, 300, A))]  # fmt: skip
    lp(w, "lp-a", A, [*lp_a, (5 * SECOND, requote_lower)] if gap else lp_a)
    lp(w, "lp-b", B, [(0, lambda t: ladder(t, "sell", 10_000, 1, 20, 10, B)),
                      (0, lambda t: ladder(t, "buy", 9_999, -1, 5, 100, B))])  # fmt: skip
    holder = w.add_trader(CrossVenueHolder, "holder", holder_params, instrument="BTC-a", venues=[B],
                          margin=margin)  # fmt: skip
    assert isinstance(holder, CrossVenueHolder)
    if not gap:
        sale: list[tuple[int, Step]] = [
            (5 * SECOND, lambda t: t.submit_market("sell", block_lots, instrument=A))
        ]
        scripted(w, "block", sale, instrument=w.instruments[A])
    return w, holder


def test_a_liquidation_on_one_venue_makes_the_holder_sell_on_the_other_and_the_trace_follows() -> None:
    params = CrossVenueHolder.Params(targets={"BTC-a": 100, "BTC-b": 100}, build_over=2 * SECOND,
                                     build_slices=4, build_slippage_ticks=5)  # fmt: skip
    w, holder = cascade_world(params, (150 * QUOTE, 100.0))
    # Venue b: a thinly margined long (liquidated below about 99.90) and the short it faces.
    weak, _strong = w.add_accounts(
        ["weak-long", "strong-short"],
        [(6 * QUOTE, 100.0, {B: (10, -10 * 10_000)}), (1_000 * QUOTE, 100.0, {B: (-10, 10 * 10_000)})],
    )
    w.run()
    owner_a, owner_b = owners(w, "holder")
    liq = w.arrays()["liquidations"]
    ev = w.arrays()["events"]
    # hop 1: the crash liquidates the holder on venue a (a forced sell it hears as a fill)
    (first,) = liq[liq["agent"] == owner_a]
    lid = int(first["liquidation_id"])
    assert int(first["instrument"]) == A and int(first["generation"]) == 0 and int(first["filled_lots"]) > 0
    # its own rule: sell all of its venue-b position at market, answering that liquidation
    assert len(holder.cuts) == 1
    t_cut, cause, inst, lots = holder.cuts[0]
    assert (cause, inst, lots) == (lid, B, 100) and t_cut > int(first["exec_ns"])
    assert w.venue.accounts[owner_b].position[B] == 0
    sold = ev[(ev["kind"] == KIND_CODE["fill"]) & (ev["agent"] == owner_b) & (ev["side"] == -1)]
    assert sold["qty_lots"].sum() == 100 and (sold["time_ns"] > t_cut).all()
    # the next mark of venue b after those trades carries the liquidation that forced them
    marks_b = ev[
        (ev["kind"] == KIND_CODE["mark"]) & (ev["instrument"] == B) & (ev["seq"] > sold["seq"].min())
    ]
    assert int(marks_b[0]["cause"]) == lid
    # hop 2: that mark move liquidates the weak long on venue b, as the first liquidation's child
    (second,) = liq[liq["agent"] == weak]
    assert int(second["parent_id"]) == lid and int(second["generation"]) == 1
    assert holder.stopped_ns is None
    assert_conserved(w)


def test_a_liquidation_taken_over_without_a_fill_is_heard_and_answered() -> None:
    params = CrossVenueHolder.Params(targets={"BTC-a": 100, "BTC-b": 100}, build_over=2 * SECOND,
                                     build_slices=4, check_interval=SECOND)  # fmt: skip
    # a bigger block sale leaves no bid above the holder's bankruptcy price (98.52) on venue a
    w, holder = cascade_world(params, (150 * QUOTE, 100.0), block_lots=5_900)
    w.run()
    owner_a, owner_b = owners(w, "holder")
    liq = w.arrays()["liquidations"]
    (row,) = liq[liq["agent"] == owner_a]
    assert (int(row["filled_lots"]), int(row["takeover_lots"])) == (0, 100)  # the fund took it all: no fill
    # the takeover reaches the trader as a fill of order 0 carrying the liquidation id
    assert holder.position(A) == 0 == w.venue.accounts[owner_a].position[A]
    lid = int(row["liquidation_id"])
    assert [(c[1], c[2], c[3]) for c in holder.cuts] == [(lid, B, 100)]
    assert w.venue.accounts[owner_b].position[B] == 0
    assert_conserved(w)


def test_cut_fraction_closes_a_share_once_per_liquidation() -> None:
    params = CrossVenueHolder.Params(targets={"BTC-a": 100, "BTC-b": -40}, build_over=2 * SECOND,
                                     build_slices=4, cut_fraction=0.25)  # fmt: skip
    w, holder = cascade_world(params, (150 * QUOTE, 100.0))
    w.run()
    # short 40 on b: a quarter is 10 lots, bought back once for the one liquidation on a
    assert [(c[1] > 0, c[2], c[3]) for c in holder.cuts] == [(True, B, 10)]
    _, owner_b = owners(w, "holder")
    assert w.venue.accounts[owner_b].position[B] == -30
    assert_conserved(w)


def test_drawdown_stop_closes_everything_on_every_venue() -> None:
    params = CrossVenueHolder.Params(
        targets={"BTC-a": 100, "BTC-b": 100},
        build_over=2 * SECOND,
        build_slices=4,
        drawdown_stop=0.2,
        check_interval=SECOND // 4,
    )
    # 1,000 per venue at 20x: the gap (about 6% on 100 lots at a's new mid, 600 of 2,000) trips the stop;
    # no trade moved a's mark ("last"), and 400 of equity is above maintenance anyway: no liquidation
    w, holder = cascade_world(params, (1_000 * QUOTE, 20.0), gap=True)
    w.run()
    assert holder.stopped_ns is not None and holder.stopped_ns > 5 * SECOND
    assert sorted((c[1], c[2]) for c in holder.cuts) == [(0, A), (0, B)]
    owner_a, owner_b = owners(w, "holder")
    assert w.venue.accounts[owner_a].position[A] == 0 and w.venue.accounts[owner_b].position[B] == 0
    assert len(w.arrays()["liquidations"]) == 0
    assert holder.deposit == 2_000 * QUOTE
    assert_conserved(w)


def test_holder_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="non-zero"):
        CrossVenueHolder.Params(targets={"BTC-a": 0})
    with pytest.raises(ValidationError):
        CrossVenueHolder.Params(targets={})
    with pytest.raises(ValidationError, match="cut_fraction"):
        CrossVenueHolder.Params(targets={"BTC-a": 1}, cut_fraction=0.0)
    w = two_venues(1)
    w.add_trader(CrossVenueHolder, "h", CrossVenueHolder.Params(targets={"BTC-b": 5}), instrument="BTC-a",
                 margin=(100 * QUOTE, 10.0))  # fmt: skip
    with pytest.raises(ValueError, match="no account on the venue of 'BTC-b'"):
        w.run()
