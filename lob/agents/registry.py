"""Trader types by name: the built-in short names and ``package.module:ClassName`` import paths."""

from __future__ import annotations

from lob.agents.base import Trader
from lob.errors import LobError
from lob.imports import resolve_class

#: Short name -> import path of every built-in trader.
BUILTIN_TRADERS: dict[str, str] = {
    "noise": "lob.agents.noise:NoiseTrader",
    "value": "lob.agents.value:ValueTrader",
    "momentum": "lob.agents.momentum:MomentumTrader",
    "market_maker": "lob.agents.market_maker:MarketMaker",
    "execution": "lob.agents.execution:ExecutionAgent",
    "stop_loss": "lob.agents.stop_loss:StopLossTrader",
    "pyramid": "lob.agents.pyramid:PyramidTrader",
    "arbitrageur": "lob.agents.arbitrage:Arbitrageur",
    "cross_venue_holder": "lob.agents.cross_venue:CrossVenueHolder",
}


class TraderLookupError(LobError, LookupError):
    """A trader spec that names no usable Trader class; the message says why and what was expected."""


def resolve_trader(spec: str) -> type[Trader]:
    """The Trader subclass named by ``spec``: a short name from :data:`BUILTIN_TRADERS` or an import path.

    An import path is ``package.module:ClassName`` (``ClassName`` may be dotted,
    for a class nested in another). Imports the module (Python caches it, so a
    repeated call costs a dict lookup). Raises :class:`TraderLookupError` for an
    unknown short name, a malformed path, a module that fails to import, a
    missing attribute, or an object that is not a Trader subclass.
    """
    return resolve_class(spec, BUILTIN_TRADERS, Trader, "trader", TraderLookupError)
