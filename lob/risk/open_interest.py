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
    short_holdings = _shorts(lots.tolist(), entry_ticks.tolist(), share.tolist(), short_lev.tolist(), inst)
    return long_holdings, short_holdings


def _shorts(
    lots: list[int], entries: list[int], share: list[int], leverage: list[float], inst: Instrument
) -> list[Holding]:
    """Shorts that take the long lots in order, at the longs' entry prices, ``share[k]`` lots each."""
    n_short = len(share)
    short_cash = [0] * n_short
    k, left = 0, int(share[0])
    for q, e in zip(lots, entries, strict=True):
        while q:
            take = min(q, left)
            short_cash[k] += take * e
            q -= take
            left -= take
            if not left and k + 1 < n_short:
                k += 1
                left = int(share[k])
    return [
        Holding(-int(s), c, _collateral(c, lev, inst), lev)
        for s, c, lev in zip(share, short_cash, leverage, strict=True)
    ]


@dataclass(frozen=True)
class Portfolio:
    """One account's opening positions in several instruments: ``positions[ii] = (lots, cash)``."""

    positions: dict[int, tuple[int, int]]
    collateral: int  # money units backing all of them (cross margin)
    leverage: float
    margins: dict[int, int]  # money units backing each alone (what isolated margin gives each)


def portfolio_interest(
    rng: np.random.Generator,
    insts: list[Instrument],
    prices: list[float],
    weights: list[float],
    longs: tuple[int, float, float, float, float, float],
    shorts: tuple[int, float | None, float, float, float],
) -> tuple[list[Portfolio], dict[int, list[Holding]]]:
    """Long portfolios over ``insts`` and, per instrument, the shorts on the other side.

    Each long account draws one notional (log-normal, quote) and one leverage
    (log-uniform), splits the notional by ``weights`` (normalised), and draws
    an entry per instrument within the spread of its price. Its collateral
    is the sum of each position's entry notional / leverage, rounded up per
    position, so isolated and cross variants hold the same money. Shorts
    (``shorts[0]`` accounts per instrument) take the other side of each
    instrument's lots as in :func:`open_interest`. O(accounts x instruments).
    """
    n_long, median, sigma, lev_lo, lev_hi, spread = longs
    total_w = float(sum(weights))
    notional = median * np.exp(sigma * rng.standard_normal(n_long))
    long_lev = _leverages(rng, n_long, lev_lo, lev_hi).tolist()
    n_short, s_median, s_sigma, s_lo, s_hi = shorts
    per_inst: list[tuple[list[int], list[int]]] = []
    for inst, price, w in zip(insts, prices, weights, strict=True):
        entries = price * (1 + rng.uniform(-spread, spread, n_long))
        entry_ticks = np.maximum(1, np.rint(entries / inst.tick_size)).astype(np.int64)
        size = notional * (w / total_w) / (entry_ticks * inst.tick_size) / inst.lot_size
        per_inst.append((np.maximum(1, np.rint(size)).astype(np.int64).tolist(), entry_ticks.tolist()))
    portfolios = []
    for k in range(n_long):
        positions: dict[int, tuple[int, int]] = {}
        margins: dict[int, int] = {}
        for inst, (held, paid) in zip(insts, per_inst, strict=True):
            cost = held[k] * paid[k]
            positions[inst.index] = (held[k], -cost)
            margins[inst.index] = _collateral(cost, long_lev[k], inst)
        portfolios.append(Portfolio(positions, sum(margins.values()), long_lev[k], margins))
    short_sides: dict[int, list[Holding]] = {}
    for inst, (held, paid) in zip(insts, per_inst, strict=True):
        w_short = np.exp(s_sigma * rng.standard_normal(n_short)) if s_median is not None else np.ones(n_short)
        total = sum(held)
        if n_short > total:
            raise LobError(f"open interest: {n_short} shorts cannot share {inst.symbol}'s {total} lots")
        share = 1 + np.floor(w_short / w_short.sum() * (total - n_short)).astype(np.int64)
        share[np.argmax(w_short)] += total - int(share.sum())
        short_lev = _leverages(rng, n_short, s_lo, s_hi).tolist()
        short_sides[inst.index] = _shorts(held, paid, share.tolist(), short_lev, inst)
    return portfolios, short_sides


def _collateral(cost: int, leverage: float, inst: Instrument) -> int:
    """Money units backing ``cost`` notional units at ``leverage`` (rounded up: never less than needed)."""
    return math.ceil(cost * inst.money_unit / leverage)
