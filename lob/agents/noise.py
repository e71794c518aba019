"""The noise trader: zero-intelligence orders at Poisson times.

Behaviour
---------
A zero-intelligence trader in the sense of Gode and Sunder (1993, "Allocative
efficiency of markets with zero-intelligence traders", J. Political Economy
101(1)): it has no view of value and draws each order at random, its limit
price constrained around a reference price (their ZI-C trader bids uniformly
at random below its redemption value; here the bound is the heard mid). With
``max_orders=1`` and a ``start_window`` over the day it is ABIDES' noise agent
(Byrd, Hybinette and Balch 2019, "ABIDES: Towards High-Fidelity Market
Simulation for AI Research"), which trades once per day at a random time.

Arrivals are a Poisson process: the first order comes at ``start`` plus an
exponential wait of mean ``mean_interval`` (or, when ``start_window`` is set,
at a time uniform in ``[start, start + start_window]``), and every later one an
independent exponential wait of mean ``mean_interval`` after the previous. It
stops after ``max_orders`` orders, or at ``end``.

Each order:

- side: buy or sell with probability 1/2 each;
- size: uniform integer in ``[size_min, size_max]`` lots;
- with probability ``market_prob`` a market order (no price protection);
- otherwise a good-till-cancelled limit order. The reference is the heard mid,
  or the fundamental (noise-free) when the heard book is one-sided or empty.
  A distance ``d`` is drawn uniformly from the integers in
  ``[-cross_ticks, offset_ticks]`` and the order is priced ``d`` ticks on its
  passive side of the reference: a buy at ``floor(ref) - d``, a sell at
  ``ceil(ref) + d`` (at least 1 tick). So ``d >= 0`` rests at or behind the
  mid, and a negative ``d`` (only when ``cross_ticks > 0``) prices the order
  through the mid, where it takes if it reaches the opposite touch. This is
  ZI-C's uniform price draw with the reference playing the budget constraint:
  a noise buyer never bids more than ``cross_ticks`` above the mid.
- if ``cancel_after`` is set, the limit order is cancelled that long after it
  was sent (one SimPy event per order; a request for an order that has filled
  meanwhile is rejected by the venue, harmlessly).

Cost per order: one SimPy wait, three or four uniforms from a block (see
:mod:`lob.agents._draws`), one quote lookup.

Parameters (:class:`NoiseTrader.Params`)
----------------------------------------
- ``mean_interval`` (Duration, ns; default 60s): mean wait between orders.
- ``start`` (Duration, ns; default 0): no order before this time.
- ``start_window`` (Duration, ns, or None; default None): when set, the first
  order comes uniformly in ``[start, start + start_window]``.
- ``end`` (Duration, ns, or None; default None): no order at or after this time.
- ``max_orders`` (int or None; default None): stop after this many orders
  (None: no limit).
- ``size_min``, ``size_max`` (lots; defaults 1, 10): order size range, inclusive.
- ``market_prob`` (probability; default 0.2): share of market orders.
- ``offset_ticks`` (ticks; default 10): the farthest a limit order rests
  behind the reference.
- ``cross_ticks`` (ticks; default 0): the farthest a limit order is priced
  through the reference.
- ``cancel_after`` (Duration, ns, or None; default None): lifetime of a limit
  order (None: good till cancelled).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Annotated, Any

import simpy
from pydantic import Field, model_validator
from simpy.events import Timeout

from lob.agents._draws import uniforms
from lob.agents.base import Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["NoiseTrader"]

_SECOND = 1_000_000_000


class NoiseTrader(Trader):
    """Zero-intelligence orders at Poisson times; see the module docstring."""

    class Params(TraderParams):
        """Settings of a :class:`NoiseTrader`; units in each description."""

        mean_interval: Duration = Field(
            default=60 * _SECOND, gt=0, description="mean wait between orders (ns)"
        )
        start: Duration = Field(default=0, description="no order before this time (ns from the run start)")
        start_window: Duration | None = Field(
            default=None,
            description="first order uniform in [start, start + start_window] (ns); None: exponential",
        )
        end: Duration | None = Field(
            default=None, description="no order at or after this time (ns); None: no end"
        )
        max_orders: int | None = Field(
            default=None, gt=0, description="stop after this many orders; None: no limit"
        )
        size_min: int = Field(default=1, gt=0, description="smallest order (lots)")
        size_max: int = Field(default=10, gt=0, description="largest order (lots)")
        market_prob: float = Field(
            default=0.2, ge=0.0, le=1.0, description="probability an order is a market order"
        )
        offset_ticks: int = Field(
            default=10, ge=0, description="farthest a limit rests behind the reference (ticks)"
        )
        cross_ticks: int = Field(
            default=0, ge=0, description="farthest a limit is priced through the reference (ticks)"
        )
        cancel_after: Annotated[Duration, Field(gt=0)] | None = Field(
            default=None, description="cancel a limit order this long after sending it (ns); None: never"
        )

        @model_validator(mode="after")
        def _check_ranges(self) -> NoiseTrader.Params:
            if self.size_min > self.size_max:
                raise ValueError(f"size_min ({self.size_min}) must be <= size_max ({self.size_max})")
            if self.end is not None and self.end <= self.start:
                raise ValueError(f"end ({self.end} ns) must be after start ({self.start} ns)")
            return self

    params: NoiseTrader.Params

    def on_start(self) -> None:
        #: Orders sent so far.
        self.n_orders = 0
        self._u = uniforms(self.rng)

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        u = self._u
        mean = p.mean_interval
        end = p.end
        limit = p.max_orders
        if p.start_window is not None:
            first = p.start + int(next(u) * (p.start_window + 1))
        else:
            first = p.start + int(-mean * math.log(1.0 - next(u)))
        yield self.wait(first)
        while end is None or self.now < end:
            self._send_one()
            if limit is not None and self.n_orders >= limit:
                return
            yield self.wait(int(-mean * math.log(1.0 - next(u))))

    def _send_one(self) -> None:
        p = self.params
        u = self._u
        self.n_orders += 1
        side = 1 if next(u) < 0.5 else -1
        size = p.size_min + int(next(u) * (p.size_max - p.size_min + 1))
        if p.market_prob and next(u) < p.market_prob:
            self.submit_market(side, size)
            return
        d = int(next(u) * (p.offset_ticks + p.cross_ticks + 1)) - p.cross_ticks
        q = self.quote()
        bid, ask = q.bid, q.ask
        if bid and ask:
            twice_mid = bid + ask
            price = twice_mid // 2 - d if side > 0 else -(-twice_mid // 2) + d
        else:
            ref = self.fundamental()
            price = math.floor(ref) - d if side > 0 else math.ceil(ref) + d
        oid = self.submit_limit(side, size, price if price > 0 else 1)
        if p.cancel_after is not None:
            ev = Timeout(self.env, p.cancel_after, oid)
            ev.callbacks.append(self._expire)

    def _expire(self, event: simpy.Event) -> None:
        if event.value in self.orders:
            self.cancel(event.value)
