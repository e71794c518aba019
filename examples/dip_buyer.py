"""An example custom trader: buys a dip, sells the bounce.

Run it from the repository root with the config beside it::

    lob run examples/dip_buyer.yaml --out runs/dip_buyer

The config names this class by import path, ``examples.dip_buyer:DipBuyer``;
``lob`` finds it because the working directory is on the import path.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

import simpy
from pydantic import BaseModel, Field

from lob.agents import Fill, Trader, TraderParams
from lob.scenario.durations import Duration


class DipBuyerParams(TraderParams):
    """What a config may set under ``params``; validated before the run starts."""

    check_every: Duration = Field(default=1_000_000_000, gt=0, description="time between looks (ns)")
    dip_bps: float = Field(
        default=50.0, gt=0, description="buy when the mid is this far below its high (bps)"
    )
    take_profit_bps: float = Field(default=30.0, gt=0, description="sell when this far above the buy (bps)")
    size: int = Field(default=100, gt=0, description="lots per trade")


class DipBuyer(Trader):
    """Watches the mid it hears; buys ``size`` lots after a dip, sells them on a bounce."""

    Params: ClassVar[type[BaseModel]] = DipBuyerParams
    params: DipBuyerParams

    def on_start(self) -> None:
        self.high = 0.0  # highest mid heard while flat, ticks
        self.entry = 0.0  # mid when it bought, ticks
        self.trades: list[tuple[int, str, int]] = []  # (time_ns, side, lots) of fills heard

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        while True:
            yield self.wait(p.check_every)
            mid = self.mid()
            if mid is None:  # one side of the book is empty: nothing to measure against
                continue
            if self.position() == 0 and not self.orders:
                self.high = max(self.high, mid)
                if mid < self.high * (1 - p.dip_bps / 1e4):
                    self.entry = mid
                    self.submit_market("buy", p.size)
            elif self.position() > 0 and not self.orders and mid > self.entry * (1 + p.take_profit_bps / 1e4):
                self.submit_market("sell", self.position())
                self.high = mid

    def on_fill(self, fill: Fill) -> None:
        self.trades.append((fill.time_ns, "buy" if fill.side > 0 else "sell", fill.qty))
