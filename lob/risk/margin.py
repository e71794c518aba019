"""Margin arithmetic of a linear (USDⓈ-M style) perpetual: PnL, equity, bankruptcy and liquidation prices.

Plain functions on floats, no state and no SimPy. Prices and money are in
quote currency (USDT for BTCUSDT), ``qty`` in base units and signed: positive
long, negative short. Fees, funding and the liquidation fee are not included:
the caller folds what it has paid or owes into ``wallet_balance``.

Margin modes follow Binance USD-M one-way mode:

* isolated: ``wallet_balance`` is the margin allocated to the position;
  ``other_mm = other_upnl = 0``.
* cross: ``wallet_balance`` is the account's cross wallet balance, and
  ``other_mm``/``other_upnl`` the maintenance margin and unrealized PnL of the
  account's other cross positions (Binance's TMM1 and UPNL1).

A position is liquidatable when its equity is at or below its maintenance
margin, i.e. when the margin ratio ``MM / equity`` reaches 100%.

Reference: Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures
Contracts",
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
"""

from __future__ import annotations

import math

from lob.risk.tiers import MarginTiers

__all__ = [
    "bankruptcy_price",
    "equity",
    "initial_margin",
    "is_liquidatable",
    "liquidation_price",
    "liquidation_price_in_tier",
    "margin_ratio",
    "notional",
    "unrealized_pnl",
]


def unrealized_pnl(qty: float, entry: float, mark: float) -> float:
    """``qty x (mark - entry)`` (quote): the profit of closing at ``mark``, signed ``qty``. O(1).

    >>> unrealized_pnl(2.0, 100.0, 90.0), unrealized_pnl(-2.0, 100.0, 90.0)
    (-20.0, 20.0)
    """
    return qty * (mark - entry)


def notional(qty: float, price: float) -> float:
    """``|qty| x price`` (quote): the position's value, whatever its side. O(1)."""
    return abs(qty) * price


def initial_margin(qty: float, price: float, leverage: float) -> float:
    """``|qty| x price / leverage`` (quote): the margin to open at ``leverage``. O(1).

    Raises ``ValueError`` unless ``leverage`` is a finite number > 0.

    >>> initial_margin(-0.5, 30_000.0, 20.0)
    750.0
    """
    if not (leverage > 0.0 and math.isfinite(leverage)):
        raise ValueError(f"leverage must be a finite number > 0, got {leverage!r}")
    return notional(qty, price) / leverage


def equity(wallet_balance: float, upnl: float) -> float:
    """``wallet_balance + upnl`` (quote): Binance's margin balance. O(1)."""
    return wallet_balance + upnl


def margin_ratio(maint_margin: float, equity: float) -> float:
    """``maint_margin / equity``: Binance's margin ratio; liquidation when it reaches 1 (100%). O(1).

    ``inf`` when ``equity <= 0``: an account with nothing left is past any threshold.

    >>> margin_ratio(50.0, 200.0), margin_ratio(50.0, 0.0)
    (0.25, inf)
    """
    if equity <= 0.0:
        return math.inf
    return maint_margin / equity


def bankruptcy_price(qty: float, entry: float, wallet_balance: float, *, other_upnl: float = 0.0) -> float:
    """The mark (quote) at which equity ``wallet_balance + other_upnl + qty x (P - entry)`` is zero. O(1).

    ``P = entry - (wallet_balance + other_upnl) / qty``. For an isolated long
    opened at leverage ``L`` with ``wallet_balance = |qty| x entry / L`` this is
    ``entry x (1 - 1/L)``, for a short ``entry x (1 + 1/L)``. A long whose
    equity stays positive down to a price of 0 returns ``0.0``; so does a short
    already bankrupt at every price. Raises ``ValueError`` for ``qty == 0``
    (a flat position never goes bankrupt) or ``entry <= 0``.

    >>> bankruptcy_price(1.0, 10_000.0, 1_000.0), bankruptcy_price(-1.0, 10_000.0, 1_000.0)
    (9000.0, 11000.0)
    """
    _check_position(qty, entry)
    return max(entry - (wallet_balance + other_upnl) / qty, 0.0)


def liquidation_price_in_tier(
    qty: float,
    entry: float,
    wallet_balance: float,
    mmr: float,
    amount: float,
    *,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
) -> float:
    """Binance's one-way-mode liquidation price with the margin rate and amount of one bracket given. O(1).

    With ``side = sign(qty)``, ``Q = |qty|``, ``EP = entry``, ``WB = wallet_balance``,
    ``TMM1 = other_mm``, ``UPNL1 = other_upnl``, ``MMR = mmr``, ``cum = amount``::

        LP = (WB - TMM1 + UPNL1 + cum - side x Q x EP) / (Q x MMR - side x Q)

    the price at which equity equals ``Q x LP x MMR - cum``, the bracket's
    maintenance margin line (Binance, "How to Calculate Liquidation Price of
    USDⓈ-M Futures Contracts", formula for cross margin; isolated: TMM1 =
    UPNL1 = 0). The result is not clamped and not checked against the
    bracket: :func:`liquidation_price` does both. A long in a bracket with
    ``mmr == 1`` has equity minus maintenance margin constant in price: the
    result is then ``inf`` (liquidated at every price) if that constant is
    <= 0, else ``-inf`` (never). Raises ``ValueError`` for ``qty == 0`` or
    ``entry <= 0``.

    >>> round(liquidation_price_in_tier(1.0, 10_000.0, 1_000.0, 0.005, 0.0), 6)
    9045.226131
    """
    _check_position(qty, entry)
    side = 1.0 if qty > 0 else -1.0
    q = abs(qty)
    num = wallet_balance - other_mm + other_upnl + amount - side * q * entry
    den = q * mmr - side * q
    if den == 0.0:  # long with mmr == 1: equity - MM == num at every price
        return math.inf if num <= 0.0 else -math.inf
    return num / den


def liquidation_price(
    qty: float,
    entry: float,
    wallet_balance: float,
    tiers: MarginTiers,
    *,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
) -> float:
    """The mark (quote) at which the position's equity falls to its tiered maintenance margin.

    A long is liquidatable at marks at or below the result, a short at or
    above it. Returns ``0.0`` for a long that stays above its maintenance
    margin at every positive price (and for a short below it at every price);
    ``inf`` for a position no price can liquidate (only a long whose last
    bracket has ``mmr == 1`` can get there). Raises ``ValueError`` for
    ``qty == 0`` or ``entry <= 0``.

    Binance's formula (:func:`liquidation_price_in_tier`) needs the bracket of
    the notional ``|qty| x LP`` at the very price being solved for. As
    Binance's page prescribes, the bracket is resolved by iteration: solve
    with the bracket of the entry notional; if the notional at the result
    falls in another bracket, solve again with that one; repeat until the
    bracket is stable.

    Why this terminates, at the true answer: write ``g(P)`` for equity minus
    maintenance margin at mark ``P`` and ``g_n`` for the same with bracket
    ``n``'s line in place of the tiered margin. The tiered margin is the
    largest of the lines (it is convex), so ``g = min_n g_n``. Each ``g_n`` is
    a line, increasing for a long and decreasing for a short. If ``r`` solves
    ``g_n(r) = 0`` and ``r`` lies in bracket ``m``, then
    ``g_m(r) = g(r) <= g_n(r) = 0``, so the root of ``g_m`` is at or above
    ``r`` for a long (at or below for a short): the iterates move in one
    direction, the bracket index with them, and each bracket is visited at
    most once, so there are at most ``len(tiers)`` rounds. The fixed point is
    the root of ``g`` itself, which is also the largest (long) or smallest
    (short) of the per-bracket roots. Runtime O(k log tiers) for k rounds;
    k is 1 when the liquidation price is in the entry's bracket.

    >>> from lob.risk.tiers import BINANCE_BTCUSDT
    >>> round(liquidation_price(1.0, 10_000.0, 1_000.0, BINANCE_BTCUSDT), 2)
    9036.14
    """
    _check_position(qty, entry)
    is_long = qty > 0
    q = abs(qty)
    index = tiers.index_for(q * entry)
    tier = tiers[index]
    lp = liquidation_price_in_tier(
        qty, entry, wallet_balance, tier.mmr, tier.amount, other_mm=other_mm, other_upnl=other_upnl
    )
    for _ in range(len(tiers)):
        if lp == math.inf:  # a long liquidated at every price: nothing can raise the root
            break
        next_index = tiers.index_for(q * max(lp, 0.0))
        if next_index == index:
            break
        tier = tiers[next_index]
        next_lp = liquidation_price_in_tier(
            qty, entry, wallet_balance, tier.mmr, tier.amount, other_mm=other_mm, other_upnl=other_upnl
        )
        # In exact arithmetic the iterates are monotone; a step the wrong way is rounding
        # at a bracket boundary, where both brackets give the same price.
        if (next_lp <= lp) if is_long else (next_lp >= lp):
            break
        index, lp = next_index, next_lp
    return max(lp, 0.0)


def is_liquidatable(
    qty: float,
    mark: float,
    wallet_balance: float,
    entry: float,
    tiers: MarginTiers,
    *,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
) -> bool:
    """Whether equity is at or below maintenance margin at ``mark`` (margin ratio >= 100%). O(log tiers).

    Equity is ``wallet_balance + other_upnl + qty x (mark - entry)`` and the
    maintenance margin ``other_mm`` plus the tiered margin of ``|qty| x mark``.
    An account with no maintenance margin at all (flat, nothing else open) is
    never liquidatable. ``qty`` may be 0 (a cross account's other positions
    alone decide).

    >>> from lob.risk.tiers import flat
    >>> is_liquidatable(1.0, 9_050.0, 1_000.0, 10_000.0, flat(0.005, 100))
    False
    >>> is_liquidatable(1.0, 9_040.0, 1_000.0, 10_000.0, flat(0.005, 100))
    True
    """
    mm = other_mm + tiers.maintenance_margin(notional(qty, mark))
    if mm <= 0.0:
        return False
    return equity(wallet_balance + other_upnl, unrealized_pnl(qty, entry, mark)) <= mm


def _check_position(qty: float, entry: float) -> None:
    """``ValueError`` unless ``qty`` is non-zero and ``entry`` positive. O(1)."""
    if qty == 0.0 or qty != qty:
        raise ValueError(f"qty must be non-zero, got {qty!r}")
    if not entry > 0.0:
        raise ValueError(f"entry price must be > 0, got {entry!r}")
