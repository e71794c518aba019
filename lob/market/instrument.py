"""Instruments: the conversion between prices and quantities and the core's integers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

#: Money (collateral, insurance fund, bad debt, funding) is kept in integer
#: units of 1e-8 quote currency, so that each instrument's notional unit
#: (``tick_size * lot_size``) is a whole number of them and every transfer is exact.
MONEY_PER_QUOTE = 10**8


@dataclass(frozen=True, slots=True)
class Instrument:
    """A traded instrument.

    ``tick_size`` is the price increment in quote currency, ``lot_size`` the
    quantity increment in base units. The core sees only int64 ticks and lots;
    conversion happens here, at the edges. A notional ``price_ticks * qty_lots``
    is worth ``tick_size * lot_size`` quote units (``notional_unit``); cash
    is kept in those integer units so that trades conserve it exactly.
    """

    symbol: str
    tick_size: float
    lot_size: float
    index: int = 0  # position among the run's instruments; the venue's book key
    perpetual: bool = False  # a perpetual future: margined, with mark and index prices
    venue: int = 0  # index of the venue that lists it, among the run's venues
    #: Money units per notional unit (``tick_size * lot_size * MONEY_PER_QUOTE``), exact.
    money_unit: int = field(init=False, repr=False, compare=False)
    #: Quote currency per unit of ``price_ticks * qty_lots`` (computed once: it is read per account).
    notional_unit: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact = Decimal(repr(self.tick_size)) * Decimal(repr(self.lot_size)) * MONEY_PER_QUOTE
        if exact != exact.to_integral_value() or exact <= 0:
            raise ValueError(
                f"{self.symbol}: tick_size x lot_size = {exact / MONEY_PER_QUOTE} must be a positive "
                "multiple of 1e-8 (the money unit)"
            )
        object.__setattr__(self, "money_unit", int(exact))
        object.__setattr__(self, "notional_unit", float(exact / MONEY_PER_QUOTE))

    def to_ticks(self, price: float) -> int:
        """Nearest tick to ``price`` (quote currency)."""
        return round(price / self.tick_size)

    def to_price(self, ticks: float) -> float:
        """Quote-currency price of ``ticks``."""
        return ticks * self.tick_size

    def to_lots(self, qty: float) -> int:
        """Nearest lot count to ``qty`` (base units)."""
        return round(qty / self.lot_size)

    def to_qty(self, lots: float) -> float:
        """Base-unit quantity of ``lots``."""
        return lots * self.lot_size
