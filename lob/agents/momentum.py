"""The momentum trader: follows a crossover of two moving averages of the heard mid.

Behaviour
---------
After ABIDES' MomentumAgent (Byrd, Hybinette and Balch 2019, "ABIDES: Towards
High-Fidelity Market Simulation for AI Research"), which compares 20- and
50-sample moving averages of the mid and buys when the short one is above.

The trader wakes every ``interval`` (each wait uniform in ``[interval - jitter,
interval + jitter]``; the first wake uniform in ``[0, interval)`` so a group of
them does not wake in lockstep) until ``end``. At each wake it samples the
heard mid; a wake whose heard book is one-sided or empty adds no sample and
sends nothing. It keeps the last ``long_window`` samples in a fixed ring and
the running sums of the last ``short_window`` and ``long_window`` of them, so a
wake costs O(1) whatever the windows (sums are of ``bid + ask``, integers, so
they never drift). Once it has ``long_window`` samples, with ``S`` and ``L``
the short and long averages and ``h = threshold_bps / 10_000``:

- ``S > L (1 + h)``: buys;
- ``S < L (1 - h)``: sells;
- otherwise does nothing.

Each order is ``order_type`` ``market`` (no price protection) or ``ioc`` priced
``slippage_ticks`` through the heard opposite touch (a buy at ``ask +
slippage_ticks``), of a uniform integer size in ``[size_min, size_max]`` lots,
cut so that ``|position|`` as heard stays within ``max_position``. It trades
at every wake the signal holds, as ABIDES' agent does.

Cost per wake: one SimPy wait, one quote lookup, a few integer operations; an
order costs two uniforms from a block.

Parameters (:class:`MomentumTrader.Params`)
-------------------------------------------
- ``interval`` (Duration, ns; default 30s): time between wakes.
- ``jitter`` (Duration, ns; default 0): each wait is ``interval`` plus a uniform
  integer in ``[-jitter, jitter]``; must be below ``interval``.
- ``end`` (Duration, ns, or None; default None): no wake at or after this time.
- ``short_window``, ``long_window`` (samples; defaults 20, 50): the windows of
  the two averages; short must be below long.
- ``threshold_bps`` (basis points; default 0.0): how far apart the averages
  must be for a trade.
- ``order_type`` (``market`` or ``ioc``; default ``ioc``).
- ``slippage_ticks`` (ticks; default 0): how far through the touch an IOC is priced.
- ``size_min``, ``size_max`` (lots; defaults 1, 10): order size range, inclusive.
- ``max_position`` (lots, or None; default None): largest absolute position it
  trades toward (None: no limit).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Literal

import simpy
from pydantic import Field, model_validator

from lob.agents._draws import uniforms
from lob.agents.base import Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["MomentumTrader"]

_SECOND = 1_000_000_000


class MomentumTrader(Trader):
    """Buys when a short moving average of the mid is above a long one; see the module docstring."""

    class Params(TraderParams):
        """Settings of a :class:`MomentumTrader`; units in each description."""

        interval: Duration = Field(default=30 * _SECOND, gt=0, description="time between wakes (ns)")
        jitter: Duration = Field(
            default=0, description="waits are interval + uniform in [-jitter, jitter] (ns)"
        )
        end: Duration | None = Field(
            default=None, description="no wake at or after this time (ns); None: never stop"
        )
        short_window: int = Field(default=20, gt=0, description="samples in the short moving average")
        long_window: int = Field(default=50, gt=1, description="samples in the long moving average")
        threshold_bps: float = Field(
            default=0.0, ge=0.0, description="gap of the averages that triggers a trade (bps)"
        )
        order_type: Literal["market", "ioc"] = Field(
            default="ioc", description="market order, or IOC at the touch"
        )
        slippage_ticks: int = Field(
            default=0, ge=0, description="IOC price beyond the opposite touch (ticks)"
        )
        size_min: int = Field(default=1, gt=0, description="smallest order (lots)")
        size_max: int = Field(default=10, gt=0, description="largest order (lots)")
        max_position: int | None = Field(
            default=None, gt=0, description="largest |position| (lots); None: no limit"
        )

        @model_validator(mode="after")
        def _check_ranges(self) -> MomentumTrader.Params:
            if self.size_min > self.size_max:
                raise ValueError(f"size_min ({self.size_min}) must be <= size_max ({self.size_max})")
            if self.short_window >= self.long_window:
                raise ValueError(
                    f"short_window ({self.short_window}) must be below long_window ({self.long_window})"
                )
            if self.jitter >= self.interval:
                raise ValueError(f"jitter ({self.jitter} ns) must be below interval ({self.interval} ns)")
            return self

    params: MomentumTrader.Params

    def on_start(self) -> None:
        p = self.params
        self._ring = [0] * p.long_window  # the last long_window samples of bid + ask (twice the mid)
        self._pos = 0  # ring slot of the next sample
        #: Samples taken so far.
        self.samples = 0
        self._short_sum = 0
        self._long_sum = 0
        self._u = uniforms(self.rng)

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        u = self._u
        interval, jitter, end = p.interval, p.jitter, p.end
        span = 2 * jitter + 1
        yield self.wait(int(next(u) * interval))
        while end is None or self.now < end:
            self._wake()
            wait = interval + int(next(u) * span) - jitter if jitter else interval
            yield self.wait(wait)

    def moving_averages(self) -> tuple[float, float] | None:
        """The short and long averages of the heard mid (ticks), or None before ``long_window`` samples."""
        p = self.params
        if self.samples < p.long_window:
            return None
        return self._short_sum / (2 * p.short_window), self._long_sum / (2 * p.long_window)

    def _wake(self) -> None:
        q = self.quote()
        bid, ask = q.bid, q.ask
        if not (bid and ask):
            return
        p = self.params
        x = bid + ask
        ring, pos = self._ring, self._pos
        short, long = p.short_window, p.long_window
        n = self.samples
        if n >= short:
            self._short_sum -= ring[pos - short]  # the sample leaving the short window (negative index wraps)
        if n >= long:
            self._long_sum -= ring[pos]
        ring[pos] = x
        self._short_sum += x
        self._long_sum += x
        self._pos = pos + 1 if pos + 1 < long else 0
        self.samples = n + 1
        if n + 1 < long:
            return
        # S > L (1 + h) as S_sum L > L_sum S (1 + h): the averages' denominators moved across.
        lhs = self._short_sum * long
        rhs = self._long_sum * short
        h = p.threshold_bps * 1e-4
        if lhs > rhs * (1.0 + h):
            self._take(1, ask)
        elif lhs < rhs * (1.0 - h):
            self._take(-1, bid)

    def _take(self, side: int, touch: int) -> None:
        p = self.params
        u = self._u
        size = p.size_min + int(next(u) * (p.size_max - p.size_min + 1))
        if p.max_position is not None:
            room = p.max_position - side * self.position()
            if room <= 0:
                return
            if size > room:
                size = room
        if p.order_type == "market":
            self.submit_market(side, size)
        else:
            price = touch + side * p.slippage_ticks
            self.submit_ioc(side, size, price if price > 0 else 1)
