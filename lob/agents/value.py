"""The value trader: trades toward a filtered estimate of a noisy fundamental.

Behaviour
---------
After ABIDES' ValueAgent (Byrd, Hybinette and Balch 2019, "ABIDES: Towards
High-Fidelity Market Simulation for AI Research"). The trader wakes at Poisson
times (exponential waits of mean ``mean_interval``, the first one from time 0)
until ``end``. At each wake it:

1. observes the fundamental with Gaussian noise of std ``obs_noise_ticks``
   (:meth:`Trader.fundamental`);
2. updates its estimate (below);
3. cancels its previous order if that is still live;
4. compares the estimate with the heard mid: above, it buys; below, it sells;
   equal, it does nothing. With the heard book one-sided or empty it picks
   the side at random and prices from the estimate alone;
5. sends one limit order of a uniform integer size in ``[size_min, size_max]``
   lots (cut so that ``|position|`` as heard stays within ``max_position``):

   - with probability ``aggression`` at the opposite touch (a buy at the
     ask): it takes what rests there and the rest stays on the book;
   - otherwise passively, at a uniform integer distance ``k`` in
     ``[0, spread - 1 + depth_ticks]`` ticks from one tick inside the
     opposite touch (a buy at ``ask - 1 - k``): inside the spread, joining
     its own touch, or up to ``depth_ticks`` behind it; ABIDES draws the same
     kind of offset, in ``[0, depth_spread * spread)``;
   - with a one-sided book, a buy at ``floor(estimate) - k`` (a sell at
     ``ceil(estimate) + k``), ``k`` uniform in ``[0, depth_ticks]``;
   - never beyond the estimate: a buy is priced at most ``floor(estimate)``,
     a sell at least ``ceil(estimate)``, so no order has negative expected
     surplus (ABIDES does not cap this).

The estimate: a Kalman filter of an Ornstein-Uhlenbeck belief about the
fundamental ``X``, ``dX = kappa (m - X) dt + sigma dW`` with ``kappa`` =
``mean_reversion`` (1/s), ``sigma`` = ``fundamental_vol_ticks`` (ticks per
sqrt(s)) and ``m`` = ``prior_mean_ticks``. With ``dt`` seconds since the last
wake, ``a = exp(-kappa dt)`` and the observation variance ``n = obs_noise_ticks^2``::

    predict:  r' = m + (r - m) a,    v' = v a^2 + sigma^2 (1 - a^2) / (2 kappa)   (sigma^2 dt if kappa = 0)
    update:   K = v' / (v' + n),     r = r' + K (obs - r'),    v = (1 - K) v'

and the trader acts on ``m + (r - m) exp(-kappa horizon)``, its forecast of the
fundamental ``horizon`` later (ABIDES forecasts to the market close). This is
the update ABIDES' ValueAgent makes with ``r_bar``, ``kappa`` and ``sigma_s``
(its ``kappa`` a discrete rate per ns, ``sigma_n`` and ``sigma_s``
variances; its gain uses the predicted variance as here, but its posterior
variance is computed from the variance before the prediction, where the Kalman
filter uses ``(1 - K) v'``). The fundamental process's own parameters are
not read: they are not public, and a trader's belief may differ from the
truth. The prior is ``r = prior_mean_ticks`` with variance
``prior_std_ticks^2``; when
``prior_mean_ticks`` is None, the first observation is both the estimate (with
variance ``obs_noise_ticks^2``) and the long-run mean.

Cost per wake: one SimPy wait, one scalar normal draw (the noisy observation),
two to four uniforms from a block, one ``exp``, one quote lookup, a cancel and
an order.

Parameters (:class:`ValueTrader.Params`)
----------------------------------------
- ``mean_interval`` (Duration, ns; default 175s, about ABIDES' rmsc04 value
  agents' arrival rate): mean wait between wakes.
- ``end`` (Duration, ns, or None; default None): no wake at or after this time.
- ``obs_noise_ticks`` (ticks; default 10.0): std of each observation's noise.
- ``prior_mean_ticks`` (ticks, or None; default None): long-run mean ``m`` and
  first estimate; None takes the first observation.
- ``prior_std_ticks`` (ticks; default 0.0): std of the prior estimate.
- ``mean_reversion`` (1/s; default 0.0): ``kappa`` of the belief.
- ``fundamental_vol_ticks`` (ticks per sqrt(s); default 1.0): ``sigma`` of the belief.
- ``horizon`` (Duration, ns; default 0): forecast horizon.
- ``aggression`` (probability; default 0.1, ABIDES' ``percent_aggr``): share
  of orders priced at the opposite touch.
- ``depth_ticks`` (ticks; default 5): how far behind its own touch a passive
  order may rest.
- ``size_min``, ``size_max`` (lots; defaults 1, 10): order size range, inclusive.
- ``max_position`` (lots, or None; default None): largest absolute position
  it trades toward (None: no limit).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy
from pydantic import Field, model_validator

from lob.agents._draws import uniforms
from lob.agents.base import Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["ValueTrader"]

_SECOND = 1_000_000_000


class ValueTrader(Trader):
    """Trades toward a Kalman-filtered noisy fundamental; see the module docstring."""

    class Params(TraderParams):
        """Settings of a :class:`ValueTrader`; units in each description."""

        mean_interval: Duration = Field(
            default=175 * _SECOND, gt=0, description="mean wait between wakes (ns)"
        )
        end: Duration | None = Field(
            default=None, description="no wake at or after this time (ns); None: never stop"
        )
        obs_noise_ticks: float = Field(
            default=10.0, ge=0.0, description="std of the observation noise (ticks)"
        )
        prior_mean_ticks: float | None = Field(
            default=None,
            gt=0.0,
            description="long-run mean and first estimate (ticks); None: the first observation",
        )
        prior_std_ticks: float = Field(default=0.0, ge=0.0, description="std of the prior estimate (ticks)")
        mean_reversion: float = Field(
            default=0.0, ge=0.0, description="mean reversion kappa of the belief (1/s)"
        )
        fundamental_vol_ticks: float = Field(
            default=1.0, ge=0.0, description="volatility sigma of the belief (ticks per sqrt(s))"
        )
        horizon: Duration = Field(default=0, description="forecasts the fundamental this far ahead (ns)")
        aggression: float = Field(
            default=0.1, ge=0.0, le=1.0, description="probability of pricing at the far touch"
        )
        depth_ticks: int = Field(
            default=5, ge=0, description="farthest a passive order rests behind its touch (ticks)"
        )
        size_min: int = Field(default=1, gt=0, description="smallest order (lots)")
        size_max: int = Field(default=10, gt=0, description="largest order (lots)")
        max_position: int | None = Field(
            default=None, gt=0, description="largest |position| (lots); None: no limit"
        )

        @model_validator(mode="after")
        def _check_sizes(self) -> ValueTrader.Params:
            if self.size_min > self.size_max:
                raise ValueError(f"size_min ({self.size_min}) must be <= size_max ({self.size_max})")
            return self

    params: ValueTrader.Params

    def on_start(self) -> None:
        p = self.params
        #: The filtered estimate of the fundamental now (ticks; nan before the first wake) and its variance.
        self.estimate = math.nan if p.prior_mean_ticks is None else p.prior_mean_ticks
        self.variance = p.prior_std_ticks**2
        self._mean = self.estimate  # long-run mean m of the belief
        #: Observations of the fundamental made so far.
        self.observations = 0
        self._last_ns = 0
        self._oid = 0  # the live order this trader last sent, 0: none
        self._u = uniforms(self.rng)

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        u = self._u
        mean = p.mean_interval
        end = p.end
        while True:
            yield self.wait(int(-mean * math.log(1.0 - next(u))))
            if end is not None and self.now >= end:
                return
            self._update_estimate()
            self._trade()

    def _update_estimate(self) -> None:
        p = self.params
        now = self.now
        obs = self.fundamental(p.obs_noise_ticks)
        self.observations += 1
        n = p.obs_noise_ticks * p.obs_noise_ticks
        if self.estimate != self.estimate:  # nan: no prior, the first observation is the prior
            self.estimate = self._mean = obs
            self.variance = n
            self._last_ns = now
            return
        dt = (now - self._last_ns) / _SECOND
        self._last_ns = now
        kappa = p.mean_reversion
        sigma2 = p.fundamental_vol_ticks * p.fundamental_vol_ticks
        if kappa > 0.0:
            a = math.exp(-kappa * dt)
            prior = self._mean + (self.estimate - self._mean) * a
            v = self.variance * a * a + sigma2 * -math.expm1(-2.0 * kappa * dt) / (2.0 * kappa)
        else:
            prior = self.estimate
            v = self.variance + sigma2 * dt
        total = v + n
        gain = v / total if total > 0.0 else 1.0
        self.estimate = prior + gain * (obs - prior)
        self.variance = (1.0 - gain) * v

    def forecast(self) -> float:
        """The fundamental ``horizon`` from now as the trader expects it (ticks); nan before any estimate."""
        p = self.params
        if p.horizon and p.mean_reversion > 0.0:
            decay = math.exp(-p.mean_reversion * p.horizon / _SECOND)
            return self._mean + (self.estimate - self._mean) * decay
        return self.estimate

    def _trade(self) -> None:
        p = self.params
        u = self._u
        if self._oid in self.orders:
            self.cancel(self._oid)
        self._oid = 0
        est = self.forecast()
        q = self.quote()
        bid, ask = q.bid, q.ask
        two_sided = bool(bid and ask)
        if two_sided:
            twice_est = 2.0 * est
            if twice_est > bid + ask:
                side = 1
            elif twice_est < bid + ask:
                side = -1
            else:
                return
        else:
            side = 1 if next(u) < 0.5 else -1
        size = p.size_min + int(next(u) * (p.size_max - p.size_min + 1))
        if p.max_position is not None:
            room = p.max_position - side * self.position()
            if room <= 0:
                return
            if size > room:
                size = room
        if two_sided:
            if p.aggression and next(u) < p.aggression:
                price = ask if side > 0 else bid
            else:
                k = int(next(u) * (ask - bid + p.depth_ticks))
                price = ask - 1 - k if side > 0 else bid + 1 + k
        else:
            k = int(next(u) * (p.depth_ticks + 1))
            price = math.floor(est) - k if side > 0 else math.ceil(est) + k
        if side > 0:
            cap = math.floor(est)
            if price > cap:
                price = cap
        else:
            cap = math.ceil(est)
            if price < cap:
                price = cap
        self._oid = self.submit_limit(side, size, price if price > 0 else 1)
