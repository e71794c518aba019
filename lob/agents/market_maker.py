"""The market maker: ladders of quotes around the mid, skewed by inventory, withdrawn when volatile.

Behaviour
---------
Every ``refresh_interval`` from ``start`` (and, with ``requote_on_fill``, just
after each batch of its own fills is heard) the maker re-quotes ``levels``
levels per side around a reference price:

- reference ``ref`` (ticks): the heard mid, or the fundamental (noise-free)
  when the heard book is one-sided or empty; with ``fundamental_weight`` ``w``
  > 0, ``(1 - w) mid + w fundamental``;
- centre ``c = ref - skew_ticks_per_lot * position``: a long inventory lowers
  both quotes (it sells more readily and buys less), a short one raises them;
- half-spread ``h = half_spread_ticks + vol_widen * ref * sigma``, ``sigma``
  the volatility estimate below (so ``ref * sigma`` is the std of the mid's
  move over one refresh, in ticks);
- level ``i`` (0 at the touch): a bid at ``floor(c - h - i * level_spacing_ticks)``
  and an ask at ``ceil(c + h + i * level_spacing_ticks)``, ``size`` lots each
  (a level priced below 1 tick is left out);
- inventory limit: with ``|position| >= max_inventory`` it quotes no bids
  (long) or no asks (short), the side that would add to the inventory.

Quotes are replaced in place: a level whose order is live keeps it untouched
while its price is within ``tolerance_ticks`` of the target and it is unfilled,
else it is modified (price to the target and size back to ``size``, which
costs its queue priority); a level whose order is gone
(filled or cancelled) gets a new good-till-cancelled limit order. So a quiet
refresh sends nothing. When the centre moves up the asks are moved first
(down: the bids first), so a moving quote never crosses its own other side.

Volatility: at each periodic refresh the log-return ``r = ln(ref / ref_prev)``
of the reference since the previous refresh updates an exponentially
weighted mean of ``r^2``, ``var += alpha (r^2 - var)``, with ``alpha = 1 -
2^(-refresh_interval / vol_halflife)`` (so a sample's weight halves every
``vol_halflife``); ``sigma = sqrt(var)`` and :attr:`MarketMaker.vol_bps` is
``sigma`` in basis points per refresh interval. Re-quotes on fills do not
sample, so the samples are evenly spaced.

Withdrawal, the market maker's part in a flash crash (Kirilenko, Kyle, Samadi
and Tuzun 2017, "The Flash Crash: High-Frequency Trading in an Electronic
Market", J. Finance 72(3): intermediaries cut their inventories and their
liquidity provision as prices fell; CFTC-SEC 2010, "Findings regarding the
market events of May 6, 2010": some market makers widened their quotes or
left the market). At a refresh, a quoting maker withdraws when

- ``vol_bps > withdraw_vol_bps`` (reason ``"volatility"``), or
- its mark-to-reference PnL, ``(cash + position * ref) * notional_unit`` in
  quote currency, has fallen more than ``max_loss`` below its running peak
  (reason ``"loss"``).

It then cancels all its quotes and stays out at least ``withdraw_for``; it
comes back at the first refresh after that at which ``vol_bps`` is below
``reenter_vol_bps`` (reason ``"return"``), and its PnL peak restarts from
the PnL then. While out it keeps waking, so the volatility estimate keeps
tracking the market. Each change is appended to :attr:`MarketMaker.withdrawals`
as ``(time_ns, reason)``. At ``end`` it cancels its quotes and stops.

Cost per refresh: one SimPy wait, one quote lookup, a ``log`` and a ``sqrt``,
and one loop over ``2 * levels`` slots that sends only the changes.

Parameters (:class:`MarketMaker.Params`)
----------------------------------------
- ``refresh_interval`` (Duration, ns; default 10s): time between re-quotes.
- ``start`` (Duration, ns; default 0): time of the first quote.
- ``requote_on_fill`` (bool; default False): also re-quote when fills are heard.
- ``end`` (Duration, ns, or None; default None): cancel all quotes and stop then.
- ``levels`` (count; default 3): levels quoted per side.
- ``half_spread_ticks`` (ticks; default 5.0): half the quoted spread before widening.
- ``level_spacing_ticks`` (ticks; default 2): distance between levels.
- ``size`` (lots; default 10): size of each level.
- ``tolerance_ticks`` (ticks; default 0): how far a live level may be from its
  target before it is moved (fewer messages; keep it below the half-spread).
- ``skew_ticks_per_lot`` (ticks per lot; default 0.0): centre shift per lot of inventory.
- ``fundamental_weight`` (0 to 1; default 0.0): weight of the fundamental in the reference.
- ``vol_widen`` (multiples of the per-refresh std, in ticks; default 0.0):
  half-spread added per unit of volatility.
- ``vol_halflife`` (Duration, ns; default 60s): half-life of the volatility estimate.
- ``max_inventory`` (lots, or None; default None): inventory limit.
- ``withdraw_vol_bps`` (bps, or None; default None): volatility above which
  it withdraws (None: never for volatility).
- ``reenter_vol_bps`` (bps, or None; default None): volatility below which it
  comes back (None: half of ``withdraw_vol_bps``; no condition without one).
- ``max_loss`` (quote currency, or None; default None): drawdown from the
  PnL peak at which it withdraws (None: never for losses).
- ``withdraw_for`` (Duration, ns; default 60s): least time out after a withdrawal.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Annotated, Any

import simpy
from pydantic import Field, model_validator
from simpy.events import Timeout

from lob.agents.base import Fill, Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["MarketMaker"]

_SECOND = 1_000_000_000

#: Reasons recorded in :attr:`MarketMaker.withdrawals`.
VOLATILITY, LOSS, RETURN = "volatility", "loss", "return"


class MarketMaker(Trader):
    """Quotes around the mid, skews by inventory, withdraws when volatile; see the module docstring."""

    class Params(TraderParams):
        """Settings of a :class:`MarketMaker`; units in each description."""

        refresh_interval: Duration = Field(
            default=10 * _SECOND, gt=0, description="time between re-quotes (ns)"
        )
        start: Duration = Field(default=0, description="time of the first quote (ns from the run start)")
        requote_on_fill: bool = Field(
            default=False, description="also re-quote as soon as its own fills are heard"
        )
        end: Duration | None = Field(
            default=None, description="cancel all quotes and stop then (ns); None: never"
        )
        levels: int = Field(default=3, gt=0, description="levels quoted per side")
        half_spread_ticks: float = Field(
            default=5.0, gt=0.0, description="half-spread before widening (ticks)"
        )
        level_spacing_ticks: int = Field(default=2, gt=0, description="distance between levels (ticks)")
        size: int = Field(default=10, gt=0, description="size of each level (lots)")
        tolerance_ticks: int = Field(
            default=0, ge=0, description="leave a level this close to its target (ticks)"
        )
        skew_ticks_per_lot: float = Field(
            default=0.0, ge=0.0, description="centre shift per lot held (ticks/lot)"
        )
        fundamental_weight: float = Field(
            default=0.0, ge=0.0, le=1.0, description="weight of the fundamental in the reference price"
        )
        vol_widen: float = Field(
            default=0.0, ge=0.0, description="half-spread added per per-refresh mid std in ticks (multiple)"
        )
        vol_halflife: Duration = Field(
            default=60 * _SECOND, gt=0, description="half-life of the volatility EWMA (ns)"
        )
        max_inventory: int | None = Field(
            default=None, gt=0, description="inventory limit (lots); None: none"
        )
        withdraw_vol_bps: float | None = Field(
            default=None, gt=0.0, description="withdraw above this volatility (bps per refresh); None: never"
        )
        reenter_vol_bps: float | None = Field(
            default=None,
            gt=0.0,
            description="return below this volatility (bps); None: half of withdraw_vol_bps",
        )
        max_loss: float | None = Field(
            default=None,
            gt=0.0,
            description="withdraw at this drawdown from peak PnL (quote currency); None: never",
        )
        withdraw_for: Annotated[Duration, Field(gt=0)] = Field(
            default=60 * _SECOND, description="least time out after a withdrawal (ns)"
        )

        @model_validator(mode="after")
        def _check_vol_band(self) -> MarketMaker.Params:
            hi, lo = self.withdraw_vol_bps, self.reenter_vol_bps
            if hi is not None and lo is not None and lo > hi:
                raise ValueError(f"reenter_vol_bps ({lo}) must be <= withdraw_vol_bps ({hi})")
            if self.end is not None and self.end <= self.start:
                raise ValueError(f"end ({self.end} ns) must be after start ({self.start} ns)")
            return self

    params: MarketMaker.Params

    def on_start(self) -> None:
        p = self.params
        n = p.levels
        self._bid_ids = [0] * n  # order id quoting each level, 0: none
        self._ask_ids = [0] * n
        self._bid_px = [0] * n  # price last requested for each level
        self._ask_px = [0] * n
        self._center = math.nan
        self._prev_ref = math.nan
        self._var = 0.0
        self._alpha = 1.0 - 0.5 ** (p.refresh_interval / p.vol_halflife)
        self._unit = self.instrument.notional_unit
        self._peak = 0.0
        self._out_until = -1  # while withdrawn: the earliest time it may return; -1 when quoting
        self._reenter = p.reenter_vol_bps
        if self._reenter is None and p.withdraw_vol_bps is not None:
            self._reenter = p.withdraw_vol_bps / 2
        self._requote_pending = False
        self._done = False
        #: ``(time_ns, reason)`` of each withdrawal (``"volatility"``, ``"loss"``) and each ``"return"``.
        self.withdrawals: list[tuple[int, str]] = []

    # -- STATE ---------------------------------------------------------------

    @property
    def vol_bps(self) -> float:
        """The volatility estimate: std of the reference's log-return per refresh interval, in bps."""
        return math.sqrt(self._var) * 1e4

    @property
    def withdrawn(self) -> bool:
        """True while the maker is out of the market."""
        return self._out_until >= 0

    # -- PROCESS -------------------------------------------------------------

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        end = p.end
        interval = p.refresh_interval
        yield self.wait(p.start)
        while end is None or self.now < end:
            self._refresh(sample=True)
            yield self.wait(interval)
        self._done = True
        self.cancel_all()

    def on_fill(self, fill: Fill) -> None:
        if self.params.requote_on_fill and not self._requote_pending and not self._done:
            # One re-quote per batch of fills heard at one instant, after all of them are booked.
            self._requote_pending = True
            ev = Timeout(self.env, 0)
            ev.callbacks.append(self._requote_after_fill)

    def _requote_after_fill(self, _event: simpy.Event) -> None:
        self._requote_pending = False
        if not self._done:
            self._refresh(sample=False)

    # -- DECISIONS -----------------------------------------------------------

    def _reference(self) -> float:
        q = self.quote()
        w = self.params.fundamental_weight
        if q.bid and q.ask:
            mid = (q.bid + q.ask) / 2
            return mid if not w else (1.0 - w) * mid + w * self.fundamental()
        return self.fundamental()

    def _refresh(self, sample: bool) -> None:
        p = self.params
        ref = self._reference()
        if sample:
            prev = self._prev_ref
            self._prev_ref = ref
            if prev == prev:  # not nan: there is a previous sample
                r = math.log(ref / prev)
                self._var += self._alpha * (r * r - self._var)
        vol = math.sqrt(self._var) * 1e4
        pnl = self.pnl(ref) * self._unit
        now = self.now
        if self._out_until < 0:
            if p.withdraw_vol_bps is not None and vol > p.withdraw_vol_bps:
                self._withdraw(now, VOLATILITY)
                return
            if p.max_loss is not None and self._peak - pnl > p.max_loss:
                self._withdraw(now, LOSS)
                return
            if pnl > self._peak:
                self._peak = pnl
        elif now >= self._out_until and (self._reenter is None or vol < self._reenter):
            self._out_until = -1
            self._peak = pnl
            self.withdrawals.append((now, RETURN))
        else:
            return
        self._quote(ref, vol)

    def _withdraw(self, now: int, reason: str) -> None:
        self._out_until = now + self.params.withdraw_for
        self.withdrawals.append((now, reason))
        self.cancel_all()
        n = self.params.levels
        self._bid_ids = [0] * n
        self._ask_ids = [0] * n
        self._center = math.nan

    def _quote(self, ref: float, vol_bps: float) -> None:
        p = self.params
        position = self.position()
        center = ref - p.skew_ticks_per_lot * position
        half = p.half_spread_ticks + p.vol_widen * ref * vol_bps * 1e-4
        limit = p.max_inventory
        bids_on = limit is None or position < limit
        asks_on = limit is None or position > -limit
        rising = not center < self._center  # also True on the first quote (nan compares False)
        self._center = center
        if rising:
            self._side(-1, asks_on, center, half, self._ask_ids, self._ask_px)
            self._side(1, bids_on, center, half, self._bid_ids, self._bid_px)
        else:
            self._side(1, bids_on, center, half, self._bid_ids, self._bid_px)
            self._side(-1, asks_on, center, half, self._ask_ids, self._ask_px)

    def _side(self, side: int, on: bool, center: float, half: float, ids: list[int], pxs: list[int]) -> None:
        """Brings one side's levels to their targets, sending only what changed."""
        orders = self.orders
        size = self.params.size
        spacing = self.params.level_spacing_ticks
        tolerance = self.params.tolerance_ticks
        for i in range(len(ids)):
            oid = ids[i]
            order = orders.get(oid) if oid else None
            off = half + i * spacing
            price = math.floor(center - off) if side > 0 else math.ceil(center + off)
            if not on or price < 1:
                if order is not None:
                    self.cancel(oid)
                ids[i] = 0
                continue
            if order is None:
                ids[i] = self.submit_limit(side, size, price)
                pxs[i] = price
            elif order.leaves != size or not -tolerance <= pxs[i] - price <= tolerance:
                self.modify(oid, price=price, qty=size)
                pxs[i] = price
