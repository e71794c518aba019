"""The leveraged trader types in isolation: the stop-loss follower and the pyramider, on margin."""

from __future__ import annotations

from market_helpers import Scripted, assert_views_match, scripted

from lob.agents import PyramidTrader, StopLossTrader
from lob.eventlog.schema import KIND_CODE, REASON_CODE
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.engine import LiquidationRules
from lob.risk.tiers import flat
from lob.scenario.world import SECOND, LatencySpec, MarkSpec, World

PERP = Instrument("XYZ", 0.01, 1, perpetual=True)


def leveraged_world(duration_s: int = 120) -> World:
    w = World(
        [PERP],
        seed=3,
        duration_ns=duration_s * SECOND,
        fundamentals=[FundamentalProcess.constant(100.0, duration_s * SECOND)],
        latency=LatencySpec(100_000),
    )
    w.enable_risk([flat(0.005, 100)], LiquidationRules(), insurance_fund=10**6 * MONEY_PER_QUOTE,
                  marks={0: MarkSpec(method="last", interval_ns=SECOND // 2)})  # fmt: skip
    return w


def ladder(t: Scripted, side: str, start: int, step: int, lots: int, levels: int = 20) -> None:
    for k in range(levels):
        t.submit_limit(side, lots, start + step * k)


def test_stop_loss_follower_exits_all_at_its_stop() -> None:
    w = leveraged_world()
    # asks from 100.00 up (20 levels), bids from 99.99 down (40 levels), 1 tick apart, 50 lots each
    scripted(
        w,
        "lp",
        [(0, lambda t: ladder(t, "sell", 10_000, 1, 50)), (0, lambda t: ladder(t, "buy", 9_999, -1, 50, 40))],
    )
    params = StopLossTrader.Params(size=40, open_at=1 * SECOND, stop_pct=0.001, check_interval=SECOND // 2)
    stopper = w.add_trader(StopLossTrader, "stop", params, margin=(1_000 * MONEY_PER_QUOTE, 10.0))
    # a seller walks the bid down 5 ticks (0.05%), then 15 more (0.2% in all) at 30 s
    scripted(w, "seller", [(20 * SECOND, lambda t: t.submit_market("sell", 250)),
                           (30 * SECOND, lambda t: t.submit_market("sell", 750))])  # fmt: skip
    w.run()
    assert isinstance(stopper, StopLossTrader)
    assert stopper.entry == 10_000.0  # 40 lots at the best ask
    assert stopper.stopped_at is not None and 30 * SECOND < stopper.stopped_at < 32 * SECOND
    ev = w.arrays()["events"]
    mine = ev[(ev["agent"] == w.agent_names.index("stop")) & (ev["kind"] == KIND_CODE["market"])]
    assert mine["side"].tolist() == [1, -1] and mine["qty_lots"].tolist() == [40, 40]
    assert stopper.position() == 0
    assert_views_match(w)
    assert w.money()["held"] == w.money()["deposited"]


def test_pyramider_adds_as_the_price_rises_and_stops_out_on_the_way_down() -> None:
    w = leveraged_world()
    scripted(w, "lp", [(0, lambda t: ladder(t, "sell", 10_000, 10, 100, 40)),
                       (0, lambda t: ladder(t, "buy", 9_999, -10, 200, 40))])  # fmt: skip
    params = PyramidTrader.Params(size=10, add_size=10, step_pct=0.003, max_adds=3, stop_pct=0.01,
                                  open_at=SECOND, check_interval=SECOND // 2)  # fmt: skip
    pyr = w.add_trader(PyramidTrader, "pyr", params, margin=(5_000 * MONEY_PER_QUOTE, 20.0))
    # buyers lift the offer step by step (the last price climbs 0.1 per lot bought through a level)
    buys = [(k * 3 * SECOND, lambda t: t.submit_market("buy", 100)) for k in range(3, 15)]
    scripted(w, "buyer", buys)
    # then a seller dumps through 30 of the 40 bid levels, 3% below its average entry
    scripted(w, "seller", [(60 * SECOND, lambda t: t.submit_market("sell", 6_000))])
    w.run()
    assert isinstance(pyr, PyramidTrader)
    assert pyr.adds == 3
    assert pyr.stopped_at is not None and pyr.stopped_at > 60 * SECOND
    assert pyr.position() == 0
    assert_views_match(w)
    assert w.money()["held"] == w.money()["deposited"]


def test_an_add_the_margin_cannot_carry_is_rejected() -> None:
    w = leveraged_world()
    scripted(w, "lp", [(0, lambda t: ladder(t, "sell", 10_000, 1, 1_000))])
    # 100 x 100.00 = 10,000 of notional on 200 of collateral at 20x leverage needs 500: rejected
    params = StopLossTrader.Params(size=100, open_at=SECOND)
    w.add_trader(StopLossTrader, "thin", params, margin=(200 * MONEY_PER_QUOTE, 20.0))
    w.run()
    ev = w.arrays()["events"]
    (row,) = ev[ev["kind"] == KIND_CODE["market"]]
    assert (int(row["status"]), int(row["reason"])) == (0, REASON_CODE["insufficient_margin"])
