"""Traders: the :class:`Trader` base class users subclass, and the built-in traders.

Built-ins (also named in configs by their short names, see
:data:`lob.agents.registry.BUILTIN_TRADERS`): :class:`NoiseTrader`,
:class:`ValueTrader`, :class:`MomentumTrader`, :class:`MarketMaker`,
:class:`ExecutionAgent`, the margined :class:`StopLossTrader` and
:class:`PyramidTrader`, and the cross-venue :class:`Arbitrageur` and
:class:`CrossVenueHolder`. Their modules are the worked examples of the API.
"""

from lob.agents.arbitrage import Arbitrageur
from lob.agents.base import Fill, Order, Trader, TraderParams
from lob.agents.cross_venue import CrossVenueHolder
from lob.agents.execution import ExecutionAgent
from lob.agents.market_maker import MarketMaker
from lob.agents.momentum import MomentumTrader
from lob.agents.noise import NoiseTrader
from lob.agents.pyramid import PyramidTrader
from lob.agents.stop_loss import StopLossTrader
from lob.agents.value import ValueTrader
from lob.market.feed import Quote

__all__ = [
    "Arbitrageur",
    "CrossVenueHolder",
    "ExecutionAgent",
    "Fill",
    "MarketMaker",
    "MomentumTrader",
    "NoiseTrader",
    "Order",
    "PyramidTrader",
    "Quote",
    "StopLossTrader",
    "Trader",
    "TraderParams",
    "ValueTrader",
]
