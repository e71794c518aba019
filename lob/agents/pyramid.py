"""The pyramider: adds to a winning leveraged position, and exits it all on a stop.

Behaviour
---------
At ``open_at`` it opens ``size`` lots on ``side`` at market. Every
``check_interval`` (with jitter, as the stop-loss follower) it looks at the
last trade price it has heard: each time the price has moved ``step_pct`` in
its favour since its last add, it adds ``add_size`` lots at market (at most
``max_adds`` times; the venue rejects an add its margin cannot carry), and
when the price is ``stop_pct`` against its average entry it closes everything
at market and stops. Adding to winners on leverage builds large positions
whose liquidation prices crowd just below the market: the fuel of a long
squeeze (Brunnermeier and Pedersen, "Market Liquidity and Funding
Liquidity", Review of Financial Studies 2009, on how margin-funded positions
amplify moves).

Parameters (:class:`PyramidTrader.Params`)
------------------------------------------
- ``side`` (``long`` or ``short``; default ``long``).
- ``size`` (lots; default 100): the opening position.
- ``add_size`` (lots; default 50): lots per add.
- ``step_pct`` (fraction; default 0.005): favourable move between adds.
- ``max_adds`` (count; default 5).
- ``stop_pct`` (fraction; default 0.02): stop distance from the average entry.
- ``open_at`` (Duration, ns; default 0); ``check_interval`` (Duration, ns; default 1s).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Literal

import simpy
from pydantic import Field

from lob.agents._draws import uniforms
from lob.agents.base import Fill, Trader, TraderParams
from lob.scenario.durations import Duration

_SECOND = 1_000_000_000


class PyramidTrader(Trader):
    """Adds to its position as the price moves its way; exits all at a stop against its average entry."""

    class Params(TraderParams):
        """Settings of a :class:`PyramidTrader`; units in each description."""

        side: Literal["long", "short"] = Field(default="long", description="the position it builds")
        size: int = Field(default=100, gt=0, description="lots it opens")
        add_size: int = Field(default=50, gt=0, description="lots per add")
        step_pct: float = Field(default=0.005, gt=0, lt=1, description="favourable move between adds")
        max_adds: int = Field(default=5, ge=0, description="most adds")
        stop_pct: float = Field(default=0.02, gt=0, lt=1, description="stop distance from average entry")
        open_at: Duration = Field(default=0, description="when it opens (ns)")
        check_interval: Duration = Field(default=_SECOND, gt=0, description="mean time between looks (ns)")

    params: PyramidTrader.Params

    def on_start(self) -> None:
        self._cost = 0  # ticks x lots of its buying (long) or selling (short) fills
        self._lots = 0
        self.adds = 0
        self.stopped_at: int | None = None

    @property
    def entry(self) -> float | None:
        """Average entry price (ticks) of the position it built."""
        return self._cost / self._lots if self._lots else None

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        sign = 1 if p.side == "long" else -1
        side, exit_side = ("buy", "sell") if sign > 0 else ("sell", "buy")
        u = uniforms(self.rng)
        yield self.wait_until(p.open_at)
        self.submit_market(side, p.size)
        anchor: float | None = None  # price of the last add (or of the entry)
        while True:
            yield self.wait(p.check_interval // 2 + int(next(u) * p.check_interval))
            entry, last = self.entry, self.last_price()
            if entry is None or not last or self.orders:
                continue
            if anchor is None:
                anchor = entry
            if sign * (last - entry) <= -p.stop_pct * entry:
                if self.position():
                    self.submit_market(exit_side, abs(self.position()))
                self.stopped_at = self.now
                return
            if self.adds < p.max_adds and sign * (last - anchor) >= p.step_pct * anchor:
                self.submit_market(side, p.add_size)
                self.adds += 1
                anchor = float(last)

    def on_fill(self, fill: Fill) -> None:
        if self.stopped_at is None:
            self._cost += fill.price * fill.qty
            self._lots += fill.qty
