"""A user's trader class, loaded by the tests by import path (``custom_traders:Dumper``)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import simpy
from pydantic import BaseModel, ConfigDict, Field

from lob.agents import Trader
from lob.scenario.durations import Duration


class DumperParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Duration = Field(gt=0, description="when to sell (ns)")
    qty: int = Field(gt=0, description="lots to sell")


class Dumper(Trader):
    """Sells ``qty`` lots at market at time ``at``, once (DESIGN.md's extension example, simplified)."""

    Params: ClassVar[type[BaseModel]] = DumperParams
    params: DumperParams

    def on_start(self) -> None:
        self.sold_at: int | None = None

    def run(self) -> Generator[simpy.Event, Any, None]:
        yield self.wait_until(self.params.at)
        self.submit_market("sell", self.params.qty)
        self.sold_at = self.now


class Exploder(Trader):
    """Raises in its process: a bug in a user's trader."""

    def run(self) -> Generator[simpy.Event, Any, None]:
        yield self.wait(1_000_000)
        raise ZeroDivisionError("the user's bug")


class Interrupter(Trader):
    """Stands for Ctrl-C arriving in the middle of a run."""

    def run(self) -> Generator[simpy.Event, Any, None]:
        yield self.wait(1_000_000)
        raise KeyboardInterrupt
