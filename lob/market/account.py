"""Spot accounts kept by the venue: the ground truth of positions and cash."""

from __future__ import annotations


def fee(notional: int, rate_ppm: int) -> int:
    """The fee on ``notional`` (notional units) at ``rate_ppm`` millionths, truncated toward zero.

    The one rounding rule for fees: truncation toward zero means a trader never
    pays more than the rate nor receives more than the rebate, and the venue
    receives exactly what traders pay, so money is conserved to the unit.

    >>> fee(123_456, 250), fee(123_456, -100)
    (30, -12)
    """
    t = notional * rate_ppm
    return t // 1_000_000 if t >= 0 else -(-t // 1_000_000)


class SpotAccount:
    """One account's holdings per instrument, in integer units.

    ``position[i]`` lots of instrument ``i`` (negative: short) and ``cash[i]``
    notional units (``price_ticks * qty_lots``) that trading instrument ``i``
    brought in or paid out, fees included; ``fees[i]`` the fees alone.
    ``collateral`` is money (units of 1e-8 quote, see
    :data:`lob.market.instrument.MONEY_PER_QUOTE`) deposited for margin; 0 for
    a spot trader, who trades without credit limits. A margined account's
    equity at marks ``m_i`` (ticks) is ``collateral + sum_i (cash[i] +
    position[i] * m_i) * money_unit_i``: ``cash`` holds its realised PnL and
    the cost of its open positions at once, so every fill moves money exactly.
    """

    __slots__ = ("cash", "collateral", "fees", "position")

    def __init__(self, n_instruments: int, collateral: int = 0) -> None:
        self.position = [0] * n_instruments
        self.cash = [0] * n_instruments
        self.fees = [0] * n_instruments
        self.collateral = collateral
