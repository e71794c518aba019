"""Margin mathematics: venue worked examples, closed forms, properties, validation.

Sources of the documented numbers:

* Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts",
  https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
  (the liquidation price formula, the maintenance amount recurrence and its
  level-3 example, the 264,000 and 500,000 USDT lookups, the cross-margin
  example with a BTCUSDT and an ETHUSDT position).
* Binance, "Updates to Leverage and Margin Tiers of Binance Futures Contracts
  (2021-03-18)", https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6
  (the BTCUSDT tier table of ``BINANCE_BTCUSDT``).
* Bybit, "Liquidation Price (USDT Contract)",
  https://help.bybit.com/hc/en-us/articles/900000181046-Liquidation-Price-USDT-Contract-
  (isolated examples; Bybit prices maintenance margin on the entry value).
"""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import lob.risk.margin as margin_module
import lob.risk.tiers as tiers_module
from lob.risk import (
    BINANCE_BTCUSDT,
    PRESETS,
    MarginTier,
    MarginTiers,
    bankruptcy_price,
    equity,
    flat,
    initial_margin,
    is_liquidatable,
    liquidation_price,
    liquidation_price_in_tier,
    margin_ratio,
    notional,
    unrealized_pnl,
)

BINANCE_LIQ_URL = (
    "https://www.binance.com/en/support/faq/"
    "how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93"
)

# ETHUSDT brackets as Binance listed them in 2021 (caps in USDT, MMR). Only the rates and
# caps matter here: the recurrence gives 135,365 for the 2M-5M bracket, the amount the
# cross example quotes for its ETHUSDT position. The max leverages are placeholders
# consistent with 1/L >= MMR; nothing below depends on them.
ETHUSDT_2021 = MarginTiers.from_brackets(
    [
        (10_000, 0.005, 100),
        (100_000, 0.0065, 75),
        (500_000, 0.01, 50),
        (1_000_000, 0.02, 25),
        (2_000_000, 0.05, 10),
        (5_000_000, 0.10, 5),
        (10_000_000, 0.125, 4),
        (20_000_000, 0.15, 3),
        (math.inf, 0.25, 2),
    ]
)

# --- the cross-margin example of Binance's liquidation price page ------------------------
# One account, cross margin, one-way mode, wallet balance 1,535,443.01 USDT, two longs:
WB = 1_535_443.01
BTC_QTY, BTC_ENTRY, BTC_MARK = 109.488, 32_481.98, 31_967.27
ETH_QTY, ETH_ENTRY, ETH_MARK = 3_683.979, 1_456.84, 1_335.18


# ------------------------------------------------------------------------------------------
# (a) documented examples
# ------------------------------------------------------------------------------------------


def test_binance_btcusdt_table_matches_announcement() -> None:
    """The preset is the 2021-03-18 BTCUSDT table: caps, maintenance rates, leverages."""
    assert [(t.floor, t.cap, t.mmr, t.max_leverage) for t in BINANCE_BTCUSDT] == [
        (0.0, 50_000.0, 0.004, 125.0),
        (50_000.0, 250_000.0, 0.005, 100.0),
        (250_000.0, 1_000_000.0, 0.01, 50.0),
        (1_000_000.0, 10_000_000.0, 0.025, 20.0),
        (10_000_000.0, 20_000_000.0, 0.05, 10.0),
        (20_000_000.0, 50_000_000.0, 0.10, 5.0),
        (50_000_000.0, 100_000_000.0, 0.125, 4.0),
        (100_000_000.0, 200_000_000.0, 0.15, 3.0),
        (200_000_000.0, 300_000_000.0, 0.25, 2.0),
        (300_000_000.0, 500_000_000.0, 0.50, 1.0),
    ]
    assert PRESETS["binance_btcusdt"] is BINANCE_BTCUSDT
    assert BINANCE_BTCUSDT.max_notional == 500_000_000.0


def test_binance_btcusdt_maintenance_amounts() -> None:
    """Maintenance amounts of the BTCUSDT table, by Binance's recurrence (liquidation page).

    amount_n = floor_n x (MMR_n - MMR_(n-1)) + amount_(n-1). The first six
    (0 ... 1,266,300) are the values Binance's tables print. From the 7th tier
    on the recurrence gives 2,516,300, 5,016,300, 25,016,300 and 100,016,300:
    e.g. 50,000,000 x (12.5% - 10%) + 1,266,300 = 2,516,300. (Values such as
    3,766,300 or 163,766,300 do not satisfy the recurrence for these rates.)
    """
    expected = [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300]
    assert [t.amount for t in BINANCE_BTCUSDT] == expected  # exact: amounts are computed in decimal
    for prev, tier in zip(BINANCE_BTCUSDT.tiers, BINANCE_BTCUSDT.tiers[1:], strict=False):
        assert tier.amount == pytest.approx(tier.floor * (tier.mmr - prev.mmr) + prev.amount, rel=1e-12)


def test_binance_documented_lookups() -> None:
    """The page's worked lookups: level 3 amount, and the 264,000 / 500,000 USDT examples."""
    # "the Maintenance Amount on Level 3 = 250,000 * (1% - 0.5%) + 50 USDT = 1,300 USDT"
    assert BINANCE_BTCUSDT[2].amount == 250_000 * (0.01 - 0.005) + 50 == 1_300
    # "if the position size of a USDT-margined BTCUSDT contract is 264,000 USDT, then the
    # maintenance margin rate would be 1%"
    assert BINANCE_BTCUSDT.mmr(264_000) == 0.01
    # "if the position size ... is 500,000 USDT, then the maintenance amount would be 1,300 USDT"
    assert BINANCE_BTCUSDT.amount(500_000) == 1_300


def test_binance_cross_example_maintenance_margins() -> None:
    """The example's maintenance margins: notional at the mark x MMR - amount.

    BTCUSDT: 3,500,032.458 x 2.50% - 16,300 = 71,200.81144;
    ETHUSDT: 4,918,775.081 x 10.00% - 135,365 = 356,512.508.
    """
    btc_notional = notional(BTC_QTY, BTC_MARK)
    eth_notional = notional(ETH_QTY, ETH_MARK)
    assert btc_notional == pytest.approx(3_500_032.458, abs=1e-3)
    assert eth_notional == pytest.approx(4_918_775.081, abs=1e-3)
    assert (BINANCE_BTCUSDT.mmr(btc_notional), BINANCE_BTCUSDT.amount(btc_notional)) == (0.025, 16_300)
    assert (ETHUSDT_2021.mmr(eth_notional), ETHUSDT_2021.amount(eth_notional)) == (0.10, 135_365)
    assert BINANCE_BTCUSDT.maintenance_margin(btc_notional) == pytest.approx(71_200.81144, abs=1e-5)
    assert ETHUSDT_2021.maintenance_margin(eth_notional) == pytest.approx(356_512.508, abs=1e-3)


def test_binance_cross_example_ethusdt_liquidation_price() -> None:
    """Binance's cross example, Contract 1 = ETHUSDT: LP = 1,153.26 USDT.

    WB = 1,535,443.01; TMM1 = 71,200.81144 (the BTCUSDT position's MM);
    UPNL1 = -56,354.57 (its unrealized PnL); cumB = 135,365; Side1BOTH = 1;
    Position1BOTH = 3,683.979; EP1BOTH = 1,456.84; MMRB = 10%.
    """
    lp = liquidation_price_in_tier(
        ETH_QTY, ETH_ENTRY, WB, 0.10, 135_365.0, other_mm=71_200.81144, other_upnl=-56_354.57
    )
    assert round(lp, 2) == 1_153.26
    # The same from the tier ladder: the notional at 1,153.26 (4.25M) is still in the
    # 2M-5M bracket, so resolving the bracket changes nothing.
    tiered = liquidation_price(
        ETH_QTY, ETH_ENTRY, WB, ETHUSDT_2021, other_mm=71_200.81144, other_upnl=-56_354.57
    )
    assert tiered == lp
    # And from the example's own positions rather than its rounded figures.
    btc_mm = BINANCE_BTCUSDT.maintenance_margin(notional(BTC_QTY, BTC_MARK))
    btc_upnl = unrealized_pnl(BTC_QTY, BTC_ENTRY, BTC_MARK)
    assert btc_upnl == pytest.approx(-56_354.57, abs=0.005)
    derived = liquidation_price(ETH_QTY, ETH_ENTRY, WB, ETHUSDT_2021, other_mm=btc_mm, other_upnl=btc_upnl)
    assert round(derived, 2) == 1_153.26


def test_binance_cross_example_btcusdt_liquidation_price() -> None:
    """The example's other leg, Contract 1 = BTCUSDT (TMM1 = 356,512.508, cumB = 16,300, MMR 2.5%).

    UPNL1 is the ETHUSDT position's PnL at its mark, 3,683.979 x (1,335.18 -
    1,456.84) = -448,192.885, which gives LP = 26,316.89 (the figure other
    implementations of this example, e.g. freqtrade's tests, use). Not every
    copy of the page agrees on UPNL1 for this leg, so this test derives it
    from the positions; the ETHUSDT leg above is the one checked against the
    page's stated inputs.
    """
    eth_mm = ETHUSDT_2021.maintenance_margin(notional(ETH_QTY, ETH_MARK))
    eth_upnl = unrealized_pnl(ETH_QTY, ETH_ENTRY, ETH_MARK)
    assert eth_mm == pytest.approx(356_512.508, abs=1e-3)
    lp = liquidation_price(BTC_QTY, BTC_ENTRY, WB, BINANCE_BTCUSDT, other_mm=eth_mm, other_upnl=eth_upnl)
    assert round(lp, 2) == 26_316.89
    assert BINANCE_BTCUSDT.mmr(notional(BTC_QTY, lp)) == 0.025  # still the 1M-10M bracket
    # At that mark the account's equity equals its total maintenance margin.
    eq = WB + eth_upnl + unrealized_pnl(BTC_QTY, BTC_ENTRY, lp)
    assert eq == pytest.approx(eth_mm + BINANCE_BTCUSDT.maintenance_margin(notional(BTC_QTY, lp)), rel=1e-12)


@pytest.mark.parametrize(
    ("qty", "entry", "leverage", "bybit_lp"),
    [
        (1.0, 10_000.0, 50.0, 9_850.0),  # long 1 BTC at 10,000 USDT, 50x, MMR 0.5%
        (-1.0, 8_000.0, 40.0, 8_160.0),  # short 1 BTC at 8,000 USDT, 40x, MMR 0.5%
    ],
)
def test_bybit_isolated_examples(qty: float, entry: float, leverage: float, bybit_lp: float) -> None:
    """Bybit's isolated examples ("Liquidation Price (USDT Contract)"): LP = entry x (1 -/+ 1/L +/- MMR).

    Bybit's maintenance margin is the rate times the position value at entry,
    Binance's the rate times the notional at the mark. At Bybit's LP our
    equity equals Bybit's (entry-priced) maintenance margin. Binance's rule
    prices the margin at the (lower, for a long; higher, for a short) LP, so
    its LP is a little lower in both cases: further out for a long, nearer
    for a short.
    """
    mmr = 0.005
    wallet = initial_margin(qty, entry, leverage)
    assert equity(wallet, unrealized_pnl(qty, entry, bybit_lp)) == pytest.approx(mmr * notional(qty, entry))
    binance_lp = liquidation_price(qty, entry, wallet, flat(mmr, 100))
    assert bybit_lp - 1.0 < binance_lp < bybit_lp
    side = 1.0 if qty > 0 else -1.0
    assert binance_lp == pytest.approx(entry * (1 - side / leverage) / (1 - side * mmr), rel=1e-12)


# ------------------------------------------------------------------------------------------
# (b) closed forms
# ------------------------------------------------------------------------------------------

LEVERAGES = [1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 125.0]


@pytest.mark.parametrize("leverage", LEVERAGES)
@pytest.mark.parametrize("qty", [0.25, 3.0, -0.25, -3.0])
def test_bankruptcy_price_isolated(qty: float, leverage: float) -> None:
    """Wallet = notional / L: BP = entry x (1 - 1/L) for a long, entry x (1 + 1/L) for a short."""
    entry = 20_000.0
    wallet = initial_margin(qty, entry, leverage)
    expected = entry * (1 - 1 / leverage) if qty > 0 else entry * (1 + 1 / leverage)
    assert bankruptcy_price(qty, entry, wallet) == pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("leverage", [2.0, 5.0, 10.0, 20.0, 50.0, 100.0])
@pytest.mark.parametrize("side", [1.0, -1.0])
def test_liquidation_price_isolated_flat_rate(side: float, leverage: float) -> None:
    """Isolated, no fees, one rate m: LP = entry x (1 - side/L) / (1 - side x m); BP beyond it."""
    entry, qty, mmr = 30_000.0, 2.0 * side, 0.005
    wallet = initial_margin(qty, entry, leverage)
    lp = liquidation_price(qty, entry, wallet, flat(mmr, 100))
    assert lp == pytest.approx(entry * (1 - side / leverage) / (1 - side * mmr), rel=1e-12)
    bp = bankruptcy_price(qty, entry, wallet)
    assert (bp < lp < entry) if side > 0 else (entry < lp < bp)


def test_liquidation_price_moves_to_a_lower_bracket() -> None:
    """26 BTC long at 40,000 USDT (1.04M, the 2.5% bracket) at 10x: the LP's notional is in the 1% bracket.

    With the entry bracket (2.5%, 16,300) the formula gives 36,280.08, whose
    notional 943,282 is in the 1% bracket; solving again with (1%, 1,300)
    gives 36,313.13, inside that bracket: the answer.
    """
    qty, entry = 26.0, 40_000.0
    wallet = initial_margin(qty, entry, 10.0)
    first = liquidation_price_in_tier(qty, entry, wallet, 0.025, 16_300.0)
    assert round(first, 2) == 36_280.08
    assert BINANCE_BTCUSDT.mmr(notional(qty, first)) == 0.01
    lp = liquidation_price(qty, entry, wallet, BINANCE_BTCUSDT)
    assert lp == liquidation_price_in_tier(qty, entry, wallet, 0.01, 1_300.0)
    assert round(lp, 2) == 36_313.13
    assert equity(wallet, unrealized_pnl(qty, entry, lp)) == pytest.approx(
        BINANCE_BTCUSDT.maintenance_margin(notional(qty, lp)), rel=1e-12
    )


def test_liquidation_price_edges() -> None:
    """Overcollateralised long -> 0.0; short under water at every price -> 0.0; mmr = 1 -> inf or 0.0."""
    assert liquidation_price(1.0, 100.0, 150.0, flat(0.01, 50)) == 0.0
    assert bankruptcy_price(1.0, 100.0, 150.0) == 0.0
    assert liquidation_price(-1.0, 100.0, -200.0, flat(0.01, 50)) == 0.0
    assert not is_liquidatable(1.0, 1e-9, 150.0, 100.0, flat(0.01, 50))
    # A 100% maintenance rate: equity - MM does not depend on the price.
    assert liquidation_price(1.0, 100.0, 50.0, flat(1.0, 1)) == math.inf
    assert liquidation_price(1.0, 100.0, 150.0, flat(1.0, 1)) == 0.0
    assert is_liquidatable(1.0, 1e6, 50.0, 100.0, flat(1.0, 1))
    assert not is_liquidatable(1.0, 1e6, 150.0, 100.0, flat(1.0, 1))
    # Entry in a 100% bracket that never triggers; the liquidation is found in the bracket below:
    # amount_2 = 1,000 x 99% = 990; LP = (1,100 - 2,000) / (20 x 1% - 20) = 45.45..., notional 909.
    two = MarginTiers.from_brackets([(1_000, 0.01, 50), (math.inf, 1.0, 1)])
    lp = liquidation_price(20.0, 100.0, 1_100.0, two)
    assert lp == pytest.approx(900 / 19.8, rel=1e-12)
    assert equity(1_100.0, unrealized_pnl(20.0, 100.0, lp)) == pytest.approx(two.maintenance_margin(20 * lp))
    # Above the last cap the last bracket's line is used (no error).
    big = 1e9
    assert BINANCE_BTCUSDT.maintenance_margin(big) == big * 0.5 - 100_016_300


def test_small_functions() -> None:
    assert unrealized_pnl(-3.0, 100.0, 110.0) == -30.0
    assert notional(-3.0, 100.0) == 300.0
    assert initial_margin(2.0, 100.0, 4.0) == 50.0
    assert equity(100.0, -30.0) == 70.0
    assert margin_ratio(10.0, 40.0) == 0.25
    assert margin_ratio(10.0, 0.0) == math.inf
    assert margin_ratio(10.0, -5.0) == math.inf
    # A flat account with nothing open is never liquidatable, even with no money.
    assert not is_liquidatable(0.0, 100.0, 0.0, 100.0, BINANCE_BTCUSDT)
    # ... but its other cross positions can make it so.
    assert is_liquidatable(0.0, 100.0, 10.0, 100.0, BINANCE_BTCUSDT, other_mm=20.0)


def test_docstring_examples() -> None:
    for module in (tiers_module, margin_module):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__


# ------------------------------------------------------------------------------------------
# (c) properties
# ------------------------------------------------------------------------------------------


@st.composite
def ladders(draw: st.DrawFn) -> MarginTiers:
    """Random valid ladders: 1-8 brackets, rising caps (last one open or not), rising rates."""
    n = draw(st.integers(1, 8))
    cap = draw(st.floats(1e3, 1e6))
    imr = draw(st.floats(1 / 125, 0.2))  # initial margin rate 1/max_leverage, non-decreasing
    mmr = 0.0
    rows = []
    for i in range(n):
        imr = min(1.0, imr * draw(st.floats(1.0, 2.0)))
        mmr = draw(st.floats(max(mmr, 1e-4), min(0.5, 0.999 * imr)))
        last = i == n - 1
        rows.append((math.inf if last and draw(st.booleans()) else cap, mmr, 1.0 / imr))
        cap *= draw(st.floats(1.1, 20.0))
    return MarginTiers.from_brackets(rows)


@st.composite
def positions(draw: st.DrawFn, *, cross: bool) -> tuple[MarginTiers, float, float, float, float, float]:
    """(tiers, qty, entry, wallet, other_mm, other_upnl) for an opened position at an allowed leverage."""
    tiers = draw(ladders())
    size = draw(st.floats(1e-3, 1e3))
    qty = size if draw(st.booleans()) else -size
    entry = draw(st.floats(1.0, 1e5))
    n = notional(qty, entry)
    leverage = draw(st.floats(1.0, tiers.max_leverage(n)))
    wallet = initial_margin(qty, entry, leverage)
    other_mm = other_upnl = 0.0
    if cross:
        other_mm = draw(st.floats(0.0, n))
        other_upnl = draw(st.floats(-n, n))
        wallet += draw(st.floats(0.0, 2.0 * n))
    return tiers, qty, entry, wallet, other_mm, other_upnl


def _gap(
    tiers: MarginTiers, qty: float, entry: float, wallet: float, omm: float, oupnl: float, p: float
) -> float:
    """Equity minus total maintenance margin at mark ``p``."""
    eq = wallet + oupnl + unrealized_pnl(qty, entry, p)
    return eq - omm - tiers.maintenance_margin(notional(qty, p))


def _scale(qty: float, entry: float, wallet: float, omm: float, oupnl: float) -> float:
    """The size of the money that cancels in equity - MM: the yardstick for rounding."""
    return abs(wallet) + notional(qty, entry) + abs(omm) + abs(oupnl)


@given(positions(cross=False) | positions(cross=True))
def test_equity_equals_maintenance_margin_at_liquidation_price(
    pos: tuple[MarginTiers, float, float, float, float, float],
) -> None:
    tiers, qty, entry, wallet, omm, oupnl = pos
    lp = liquidation_price(qty, entry, wallet, tiers, other_mm=omm, other_upnl=oupnl)
    assume(0.0 < lp < math.inf)
    mm = omm + tiers.maintenance_margin(notional(qty, lp))
    eq = wallet + oupnl + unrealized_pnl(qty, entry, lp)
    assert math.isclose(eq, mm, rel_tol=1e-9, abs_tol=1e-12 * _scale(qty, entry, wallet, omm, oupnl))


@given(positions(cross=False) | positions(cross=True))
def test_liquidation_price_is_the_envelope_of_bracket_roots(
    pos: tuple[MarginTiers, float, float, float, float, float],
) -> None:
    """The iteration's answer is the largest (long) / smallest (short) per-bracket root, clamped at 0."""
    tiers, qty, entry, wallet, omm, oupnl = pos
    roots = [
        liquidation_price_in_tier(qty, entry, wallet, t.mmr, t.amount, other_mm=omm, other_upnl=oupnl)
        for t in tiers
    ]
    oracle = max(max(roots) if qty > 0 else min(roots), 0.0)
    lp = liquidation_price(qty, entry, wallet, tiers, other_mm=omm, other_upnl=oupnl)
    assert lp == pytest.approx(oracle, rel=1e-12, abs=1e-12 * entry)


@given(positions(cross=False) | positions(cross=True))
def test_equity_is_zero_at_bankruptcy_price(
    pos: tuple[MarginTiers, float, float, float, float, float],
) -> None:
    _, qty, entry, wallet, omm, oupnl = pos
    bp = bankruptcy_price(qty, entry, wallet, other_upnl=oupnl)
    assume(bp > 0.0)
    eq = wallet + oupnl + unrealized_pnl(qty, entry, bp)
    assert abs(eq) <= 1e-12 * _scale(qty, entry, wallet, omm, oupnl)


@given(positions(cross=False))
def test_liquidation_price_between_entry_and_bankruptcy(
    pos: tuple[MarginTiers, float, float, float, float, float],
) -> None:
    """Isolated, within the bracket's max leverage: BP <= LP <= entry for a long, mirrored for a short."""
    tiers, qty, entry, wallet, _, _ = pos
    lp = liquidation_price(qty, entry, wallet, tiers)
    bp = bankruptcy_price(qty, entry, wallet)
    eps = 1e-12 * entry
    if qty > 0:
        assert bp - eps <= lp <= entry + eps
    else:
        assert entry - eps <= lp <= bp + eps


@given(ladders(), st.data())
def test_maintenance_margin_continuous_and_convex(tiers: MarginTiers, data: st.DataObject) -> None:
    """MM is continuous at every cap and equals the largest bracket line (so it is convex).

    At a cap the upper line is ``cap x MMR_upper - amount``, a difference of
    two numbers of the size of the cap: equal to the lower line to rounding
    of that size.
    """
    for lower, upper in zip(tiers.tiers, tiers.tiers[1:], strict=False):
        cap = lower.cap
        tol = 1e-13 * cap
        assert upper.maintenance_margin(cap) == pytest.approx(
            lower.maintenance_margin(cap), rel=1e-12, abs=tol
        )
        just_above = math.nextafter(cap, math.inf)
        assert tiers.maintenance_margin(just_above) == pytest.approx(
            tiers.maintenance_margin(cap), rel=1e-12, abs=tol
        )
    n = data.draw(st.floats(0.0, 2.0 * tiers[-1].floor + 1e7))
    assert tiers.maintenance_margin(n) == pytest.approx(
        max(t.maintenance_margin(n) for t in tiers), rel=1e-12, abs=1e-9
    )


@given(positions(cross=False) | positions(cross=True))
def test_is_liquidatable_flips_at_liquidation_price(
    pos: tuple[MarginTiers, float, float, float, float, float],
) -> None:
    tiers, qty, entry, wallet, omm, oupnl = pos
    lp = liquidation_price(qty, entry, wallet, tiers, other_mm=omm, other_upnl=oupnl)
    assume(1e-3 * entry < lp < math.inf)
    delta = 1e-8
    closer, beyond = (lp * (1 + delta), lp * (1 - delta)) if qty > 0 else (lp * (1 - delta), lp * (1 + delta))
    kw = {"other_mm": omm, "other_upnl": oupnl}
    assert not is_liquidatable(qty, closer, wallet, entry, tiers, **kw)
    assert is_liquidatable(qty, beyond, wallet, entry, tiers, **kw)
    assert (
        _gap(tiers, qty, entry, wallet, omm, oupnl, closer)
        > 0
        > _gap(tiers, qty, entry, wallet, omm, oupnl, beyond)
    )


# ------------------------------------------------------------------------------------------
# (d) validation
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("brackets", "message"),
    [
        ([], "at least one tier"),
        ([(1e6, 0.01, -5)], r"tiers\[0\]\.max_leverage must be a finite number >= 1, got -5\.0"),
        ([(1e6, 0.01, 0.5)], r"tiers\[0\]\.max_leverage must be a finite number >= 1"),
        (
            [(250_000, 0.005, 100), (50_000, 0.004, 125)],
            r"tiers\[1\]\.cap = 50000\.0 must be greater than tiers\[0\]\.cap = 250000\.0",
        ),
        ([(0, 0.01, 50)], r"tiers\[0\]\.cap must be > 0, got 0\.0"),
        ([(math.inf, 1.5, 1)], r"tiers\[0\]\.mmr must be in \(0, 1\], got 1\.5"),
        ([(math.inf, 0.0, 1)], r"tiers\[0\]\.mmr must be in \(0, 1\], got 0\.0"),
        (
            [(math.inf, 0.02, 100)],
            r"tiers\[0\]: initial margin rate 1/max_leverage = 0\.01 is below mmr = 0\.02",
        ),
        (
            [(50_000, 0.01, 50), (math.inf, 0.005, 50)],
            r"tiers\[1\]\.mmr = 0\.005 is below tiers\[0\]\.mmr = 0\.01",
        ),
        (
            [(50_000, 0.01, 20), (math.inf, 0.01, 50)],
            r"tiers\[1\]\.max_leverage = 50\.0 is above tiers\[0\]\.max_leverage = 20\.0",
        ),
    ],
)
def test_bracket_validation(brackets: list[tuple[float, float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MarginTiers.from_brackets(brackets)


def test_tier_validation_of_complete_tiers() -> None:
    good = MarginTier(floor=0.0, cap=50_000.0, mmr=0.004, max_leverage=125.0)
    with pytest.raises(ValueError, match=r"tiers\[0\]\.floor must be 0"):
        MarginTiers([MarginTier(floor=10.0, cap=50_000.0, mmr=0.004, max_leverage=125.0)])
    with pytest.raises(
        ValueError, match=r"tiers\[1\]\.floor = 60000\.0 must equal tiers\[0\]\.cap = 50000\.0"
    ):
        MarginTiers([good, MarginTier(floor=60_000.0, cap=1e6, mmr=0.005, max_leverage=100.0, amount=60.0)])
    with pytest.raises(ValueError, match=r"tiers\[1\]\.amount = 0\.0 does not follow the recurrence"):
        MarginTiers([good, MarginTier(floor=50_000.0, cap=1e6, mmr=0.005, max_leverage=100.0)])
    ok = MarginTiers([good, MarginTier(floor=50_000.0, cap=1e6, mmr=0.005, max_leverage=100.0, amount=50.0)])
    assert ok == MarginTiers.from_brackets([(50_000, 0.004, 125), (1e6, 0.005, 100)])


def test_argument_validation() -> None:
    with pytest.raises(ValueError, match=r"leverage must be a finite number > 0, got -2\.0"):
        initial_margin(1.0, 100.0, -2.0)
    with pytest.raises(ValueError, match="leverage must be a finite number > 0"):
        initial_margin(1.0, 100.0, 0.0)
    with pytest.raises(ValueError, match="qty must be non-zero"):
        liquidation_price(0.0, 100.0, 10.0, BINANCE_BTCUSDT)
    with pytest.raises(ValueError, match="qty must be non-zero"):
        bankruptcy_price(0.0, 100.0, 10.0)
    with pytest.raises(ValueError, match="entry price must be > 0"):
        liquidation_price(1.0, 0.0, 10.0, BINANCE_BTCUSDT)
    with pytest.raises(ValueError, match=r"notional must be >= 0, got -1\.0"):
        BINANCE_BTCUSDT.tier_for(-1.0)
    with pytest.raises(ValueError, match="notional must be >= 0"):
        BINANCE_BTCUSDT.maintenance_margin(math.nan)


def test_bracket_boundaries_belong_to_the_lower_tier() -> None:
    """Binance's brackets are ``floor < notional <= cap``."""
    assert BINANCE_BTCUSDT.tier_for(0.0) is BINANCE_BTCUSDT[0]
    assert BINANCE_BTCUSDT.tier_for(50_000.0) is BINANCE_BTCUSDT[0]
    assert BINANCE_BTCUSDT.tier_for(50_000.01) is BINANCE_BTCUSDT[1]
    assert BINANCE_BTCUSDT.max_leverage(50_000.01) == 100.0
    assert BINANCE_BTCUSDT.tier_for(5e8) is BINANCE_BTCUSDT[-1]
    assert BINANCE_BTCUSDT.tier_for(6e8) is BINANCE_BTCUSDT[-1]
