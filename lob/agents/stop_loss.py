"""The stop-loss follower: holds a leveraged position and sells it at market once the price hits its stop.

Behaviour
---------
At ``open_at`` it opens a ``side`` position of ``size`` lots with a market
order (on margin when its group has a ``margin`` section). Its entry is the
volume-weighted price of the fills it hears. Every ``check_interval`` (plus a
uniform jitter of up to ``check_interval``, so a crowd of them does not check
in lockstep) it looks at the last trade price it has heard; when that is
``stop_pct`` or more against its entry (below it for a long), it closes the
whole position with one market order and stops. Stop orders bunched at round
distances below the market are a classic accelerant of a sell-off (Osler,
"Currency Orders and Exchange-Rate Dynamics: Explaining the Success of
Technical Analysis", Journal of Finance 2003): forced selling by the
liquidation engine and voluntary selling by stops feed each other.

Cost: one SimPy wait per check, a quote lookup and a comparison.

Parameters (:class:`StopLossTrader.Params`)
-------------------------------------------
- ``side`` (``long`` or ``short``; default ``long``).
- ``size`` (lots; default 100): the position it opens.
- ``open_at`` (Duration, ns; default 0): when it opens it.
- ``stop_pct`` (fraction; default 0.02): how far against the entry its stop is.
- ``check_interval`` (Duration, ns; default 1s): mean time between looks.
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


class StopLossTrader(Trader):
    """Opens a position, then exits it all at market when the heard price passes its stop."""

    class Params(TraderParams):
        """Settings of a :class:`StopLossTrader`; units in each description."""

        side: Literal["long", "short"] = Field(default="long", description="the position it holds")
        size: int = Field(default=100, gt=0, description="lots it opens")
        open_at: Duration = Field(default=0, description="when it opens (ns)")
        stop_pct: float = Field(default=0.02, gt=0, lt=1, description="stop distance from entry (fraction)")
        check_interval: Duration = Field(default=_SECOND, gt=0, description="mean time between looks (ns)")

    params: StopLossTrader.Params

    def on_start(self) -> None:
        self._cost = 0  # ticks x lots of the opening fills
        self._opened = 0  # lots
        self.stopped_at: int | None = None  # ns, when the stop fired

    @property
    def entry(self) -> float | None:
        """Volume-weighted price of its opening fills (ticks), once it has any."""
        return self._cost / self._opened if self._opened else None

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        sign = 1 if p.side == "long" else -1
        u = uniforms(self.rng)
        yield self.wait_until(p.open_at)
        self.submit_market("buy" if sign > 0 else "sell", p.size)
        while True:
            yield self.wait(p.check_interval // 2 + int(next(u) * p.check_interval))
            entry, last = self.entry, self.last_price()
            if entry is None or not last or not self.position():
                continue
            if sign * (last - entry) <= -p.stop_pct * entry:
                self.submit_market("sell" if sign > 0 else "buy", abs(self.position()))
                self.stopped_at = self.now
                return

    def on_fill(self, fill: Fill) -> None:
        if self.stopped_at is None:
            self._cost += fill.price * fill.qty
            self._opened += fill.qty
