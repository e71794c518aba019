"""Traders: the :class:`Trader` base class users subclass, and the five built-in traders.

Built-ins (also named in configs by their short names, see
:data:`lob.agents.registry.BUILTIN_TRADERS`): :class:`NoiseTrader`,
:class:`ValueTrader`, :class:`MomentumTrader`, :class:`MarketMaker` and
:class:`ExecutionAgent`. Their modules are the worked examples of the API.
"""

from lob.agents.base import Fill, Order, Trader, TraderParams
from lob.agents.execution import ExecutionAgent
from lob.agents.market_maker import MarketMaker
from lob.agents.momentum import MomentumTrader
from lob.agents.noise import NoiseTrader
from lob.agents.pyramid import PyramidTrader
from lob.agents.stop_loss import StopLossTrader
from lob.agents.value import ValueTrader
from lob.market.feed import Quote

__all__ = [
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
