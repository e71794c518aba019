"""Risk: margin schedules and margin arithmetic (pure functions), accounts' liquidation and ADL.

Importing this package loads only the standard library: the margin
mathematics has no SimPy and no third-party dependency.
"""

from __future__ import annotations

from lob.risk.margin import (
    bankruptcy_price,
    equity,
    initial_margin,
    is_liquidatable,
    liquidation_price,
    liquidation_price_in_tier,
    margin_ratio,
    notional,
    unrealized_pnl,
)
from lob.risk.tiers import BINANCE_BTCUSDT, PRESETS, MarginTier, MarginTiers, flat

__all__ = [
    "BINANCE_BTCUSDT",
    "PRESETS",
    "MarginTier",
    "MarginTiers",
    "bankruptcy_price",
    "equity",
    "flat",
    "initial_margin",
    "is_liquidatable",
    "liquidation_price",
    "liquidation_price_in_tier",
    "margin_ratio",
    "notional",
    "unrealized_pnl",
]
