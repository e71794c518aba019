"""An open-interest profile: positions open at the start, so that a cascade has fuel.

Longs draw their notional (log-normal, quote), leverage (log-uniform) and
entry price (uniform within ``entry_spread`` of the price); shorts split the
longs' total lots (their own log-normal weights, or equally) and take the
other side of each long lot at that long's entry price. Every lot is matched
at one price, so positions net to zero and the cash of all accounts sums to
zero exactly: the profile creates no money. Collateral is each account's
entry notional divided by its leverage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lob.errors import LobError
from lob.market.instrument import Instrument


@dataclass(frozen=True)
class Holding:
    """One account's opening position: ``lots`` (signed), ``cash`` (notional units), collateral (money)."""

    lots: int
    cash: int
    collateral: int
    leverage: float


def _leverages(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return np.exp(rng.uniform(math.log(low), math.log(high), n)) if high > low else np.full(n, low)


def open_interest(
    rng: np.random.Generator,
    inst: Instrument,
    price: float,
    longs: tuple[int, float, float, float, float, float],
    shorts: tuple[int, float | None, float, float, float],
) -> tuple[list[Holding], list[Holding]]:
    """Long and short holdings.

    ``longs`` is ``(count, median notional, sigma, leverage min, leverage max,
    entry spread)``; ``shorts`` is ``(count, median notional or None, sigma,
    leverage min, leverage max)``. Prices in quote currency. O(count log count).
    """
    n_long, median, sigma, lev_lo, lev_hi, spread = longs
    notional = median * np.exp(sigma * rng.standard_normal(n_long))
    entries = price * (1 + rng.uniform(-spread, spread, n_long))
    entry_ticks = np.maximum(1, np.rint(entries / inst.tick_size)).astype(np.int64)
    lots = np.maximum(1, np.rint(notional / (entry_ticks * inst.tick_size) / inst.lot_size)).astype(np.int64)
    long_lev = _leverages(rng, n_long, lev_lo, lev_hi)
    n_short, s_median, s_sigma, s_lo, s_hi = shorts
    weights = np.exp(s_sigma * rng.standard_normal(n_short)) if s_median is not None else np.ones(n_short)
    total = int(lots.sum())
    if n_short > total:
        raise LobError(f"open interest: {n_short} short accounts cannot share the longs' {total} lots")
    # Every short holds at least one lot; the rest is split by weight, rounding down, and what
    # rounding leaves goes to the largest, so the shares are positive and sum to the longs' total.
    share = 1 + np.floor(weights / weights.sum() * (total - n_short)).astype(np.int64)
    share[np.argmax(weights)] += total - int(share.sum())
    short_lev = _leverages(rng, n_short, s_lo, s_hi)

    long_holdings = []
    for q, e, lev in zip(lots.tolist(), entry_ticks.tolist(), long_lev.tolist(), strict=True):
        cost = q * e  # notional units
        long_holdings.append(Holding(q, -cost, _collateral(cost, lev, inst), lev))
    # Shorts take the long lots in order, at the longs' entry prices.
    short_cash = [0] * n_short
    k, left = 0, int(share[0])
    for q, e in zip(lots.tolist(), entry_ticks.tolist(), strict=True):
        while q:
            take = min(q, left)
            short_cash[k] += take * e
            q -= take
            left -= take
            if not left and k + 1 < n_short:
                k += 1
                left = int(share[k])
    short_holdings = [
        Holding(-int(s), c, _collateral(c, lev, inst), lev)
        for s, c, lev in zip(share.tolist(), short_cash, short_lev.tolist(), strict=True)
    ]
    return long_holdings, short_holdings


def _collateral(cost: int, leverage: float, inst: Instrument) -> int:
    """Money units backing ``cost`` notional units at ``leverage`` (rounded up: never less than needed)."""
    return math.ceil(cost * inst.money_unit / leverage)
