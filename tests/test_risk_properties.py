"""The risk layer on random leveraged markets: money and positions exact, cascades consistent."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lob.eventlog.schema import KIND_CODE, LIQUIDATION_MODES
from lob.scenario.loader import parse_config
from lob.scenario.runner import run_config

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
traders:
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
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    mode=st.sampled_from(LIQUIDATION_MODES),
    method=st.sampled_from(["last", "mid", "index_ma", "median"]),
    fund=st.sampled_from([0, 500, 100_000]),
    sell=st.integers(5_000, 30_000),
    longs=st.integers(20, 300),
    max_lev=st.sampled_from([20, 50, 100]),
    taker_bps=st.sampled_from([0, 2]),
    fee_bps=st.sampled_from([0, 50]),
    funding=st.sampled_from(["0s", "10s"]),
)
def test_random_leveraged_markets_keep_every_invariant(**kw: object) -> None:
    cfg = parse_config(MARKET.format(**kw), "random.yaml")
    result = run_config(cfg, write=False)
    world = result.world
    assert world is not None and world.risk is not None
    venue, risk = world.venue, world.risk
    # exact money and positions, whatever happened
    money = world.money()
    assert money["held"] == money["deposited"]
    assert sum(a.position[0] for a in venue.accounts) == 0
    liq = world.arrays()["liquidations"]
    event(f"liquidations: {'none' if not len(liq) else 'some'}; bad debt: {'yes' if risk.bad_debt else 'no'}")
    # bad debt is what liquidations could not cover, row by row
    assert money["bad_debt"] == risk.bad_debt == int(liq["bad_debt"].sum())
    if not len(liq):
        return
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
    ev = world.arrays()["events"]
    forced_fills = ev[(ev["kind"] == KIND_CODE["fill"]) & (ev["cause"] > 0)]
    assert set(forced_fills["cause"].tolist()) <= set(liq["liquidation_id"].tolist())
    assert int(forced_fills["qty_lots"].sum()) >= int(liq["filled_lots"].sum())
    # no account is left in liquidation, and no liquidated account holds a position in the index wrongly
    assert not any(m.busy for m in risk.accounts.values())
