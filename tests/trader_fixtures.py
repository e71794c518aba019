"""Trader classes with their own Params models, for the config tests.

Referenced from test configs by import path, e.g. ``tests.trader_fixtures:SpreadTrader``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from lob.agents.base import Trader
from lob.scenario.durations import Duration


class SpreadParams(BaseModel):
    """Quotes ``spread`` ticks wide, ``size`` lots a side, refreshed every ``interval`` ns."""

    model_config = ConfigDict(extra="forbid")

    spread: int = Field(gt=0)
    size: int = Field(default=1, ge=1)
    interval: Duration = 1_000_000
    skew: float = 0.0


class SpreadTrader(Trader):
    """A trader whose params need a positive ``spread``."""

    Params: ClassVar[type[BaseModel]] = SpreadParams


class PlainTrader(Trader):
    """A trader that takes no params."""


class NotATrader:
    """A class that is not a Trader subclass."""


def not_a_class() -> None:
    """A function, not a class."""
