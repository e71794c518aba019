"""The cross-venue holder: leveraged positions on several venues, cut everywhere when one is liquidated.

Behaviour
---------
The trader has a margined account on each venue its group lists (its own
instrument's, plus ``venues``). From t = 0 it builds ``targets``, lots per
instrument (positive long, negative short), in ``build_slices`` rounds spread
evenly over ``build_over``: round ``k`` (at ``k * build_over // build_slices``)
sends, for each instrument, one IOC that brings the heard position up to
``k + 1`` slices of its target, priced ``build_slippage_ticks`` through the
heard touch (a buy at ``ask + build_slippage_ticks``). A round with no heard
touch on that side skips the instrument; the next round makes up what it
missed. It never trades beyond the target, nor back toward zero while
building.

Its own risk rule is what links venues. Each venue margins its account there
alone (collateral does not move between venues), but the trader treats the
accounts as one book: when it hears a fill whose ``liquidation_id`` is not
0, the venue of that instrument has liquidated its account there, and it
de-risks everywhere else. For every instrument on a *different* venue where
it holds a position, it sends a market order closing ``cut_fraction`` of it
(rounded up, at least 1 lot), declared with ``cause=liquidation_id``: the
venue then carries that liquidation into the next mark update of the
instrument the sale moved, so a liquidation this sale sets off on the other
venue is traced as the first one's child. A fund that is liquidated on one
exchange and sells its holdings on another to meet the loss is the channel
(Brunnermeier and Pedersen 2009, "Market Liquidity and Funding Liquidity",
Review of Financial Studies: losses on one position force sales of others).
Each liquidation id is answered once (one liquidation sends several forced
fills); building stops at the first cut. The position cut is the account's
less the lots of closing orders still in flight, so a second liquidation id
heard before the first cut's fills does not sell the same lots twice.

A liquidation whose forced order found nothing to fill (the insurance fund
or a backstop vault takes the position over off the book), and an
auto-deleveraging close, are heard as fills of order 0 carrying the
liquidation id too, and answered the same way.

Drawdown stop (``drawdown_stop``, off when None): every ``check_interval`` it
values its accounts, collateral plus cash plus positions at the heard mids
(the heard last trade where a side is empty), all in money units, and when
the total has fallen ``drawdown_stop`` or more below what it deposited, it
closes every position on every venue at market (cause 0), stops building and
stops checking.

Collateral, cash and the positions it values or closes are read from the
venue's accounts, as an exchange's account endpoint reports them (no
latency): a liquidation folds an account's cash into its collateral and may
move positions to the insurance fund off the book, which the trader's own
fill-by-fill view would miss (closing a position the heard view still shows
would open a new one). Building sizes its orders from the heard position.

State: ``cuts`` (``(time_ns, liquidation_id, instrument index, lots)`` per
order sent; liquidation_id 0 for a drawdown stop), ``stopped_ns`` (the
drawdown stop's time, or None), ``deposit`` (money units).

Cost: one SimPy wait per build round or check (a pass over its instruments);
on a liquidation, one order per position cut.

Parameters (:class:`CrossVenueHolder.Params`)
---------------------------------------------
- ``targets`` (symbol -> lots, non-zero): the positions it builds.
- ``build_over`` (Duration, ns; default 10s): the building window from t = 0.
- ``build_slices`` (count; default 10): IOC rounds over the window.
- ``build_slippage_ticks`` (ticks; default 5): a building IOC's price beyond the heard touch.
- ``cut_fraction`` (fraction in (0, 1]; default 1.0): share of each other-venue position a cut closes.
- ``drawdown_stop`` (fraction in (0, 1), or None; default None): total drawdown that closes everything.
- ``check_interval`` (Duration, ns; default 1s): time between account checks (off-book moves, drawdown).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy
from pydantic import Field, field_validator

from lob.agents.base import Fill, Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["CrossVenueHolder"]

_SECOND = 1_000_000_000


class CrossVenueHolder(Trader):
    """Holds leveraged positions on several venues; a liquidation on one makes it sell on the others."""

    class Params(TraderParams):
        """Settings of a :class:`CrossVenueHolder`; units in each description."""

        targets: dict[str, int] = Field(
            min_length=1, description="lots to build per instrument symbol (negative: short)"
        )
        build_over: Duration = Field(default=10 * _SECOND, description="building window from t = 0 (ns)")
        build_slices: int = Field(default=10, gt=0, description="IOC rounds over the building window")
        build_slippage_ticks: int = Field(
            default=5, ge=0, description="a building IOC's price beyond the heard touch (ticks)"
        )
        cut_fraction: float = Field(
            default=1.0, gt=0.0, le=1.0, description="share of each other-venue position a cut closes"
        )
        drawdown_stop: float | None = Field(
            default=None, gt=0.0, lt=1.0, description="drawdown of total equity that closes all; None: off"
        )
        check_interval: Duration = Field(
            default=_SECOND, gt=0, description="time between account checks (ns)"
        )

        @field_validator("targets")
        @classmethod
        def _no_zero_target(cls, targets: dict[str, int]) -> dict[str, int]:
            zero = [symbol for symbol, lots in targets.items() if lots == 0]
            if zero:
                raise ValueError(f"targets must be non-zero lots; {', '.join(map(repr, zero))} is 0")
            return targets

    params: CrossVenueHolder.Params

    def on_start(self) -> None:
        symbols = {inst.symbol: inst.index for inst in self.instruments}
        self._targets: list[tuple[int, int]] = []  # (instrument index, signed lots)
        for symbol, lots in self.params.targets.items():
            ii = symbols.get(symbol)
            if ii is None:
                raise ValueError(
                    f"cross_venue_holder {self.name}: unknown instrument {symbol!r} in targets "
                    f"(known: {', '.join(symbols)})"
                )
            if self._conn_of[ii] is None:
                raise ValueError(
                    f"cross_venue_holder {self.name} has no account on the venue of {symbol!r}: "
                    "list that venue in its group's venues"
                )
            self._targets.append((ii, lots))
        #: Money units deposited across its accounts (their collateral at the start).
        self.deposit = sum(self.venue.accounts[c.index].collateral for c in self.connections)
        self.cuts: list[tuple[int, int, int, int]] = []
        self.stopped_ns: int | None = None
        self._answered: set[int] = set()  # liquidation ids already answered
        self._building = True

    # -- BUILDING AND CHECKING -----------------------------------------------

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        k = 0
        next_check = p.check_interval
        while self.stopped_ns is None:
            next_slice = k * p.build_over // p.build_slices if self._building and k < p.build_slices else None
            yield self.wait_until(next_check if next_slice is None else min(next_slice, next_check))
            if next_slice is not None and self.now >= next_slice and self._building:
                self._build(k)
                k += 1
            if self.now >= next_check:
                self._check_drawdown()
                next_check = self.now + p.check_interval

    def _build(self, k: int) -> None:
        """Round ``k``: tops each heard position up to ``k + 1`` slices of its target."""
        p = self.params
        for ii, target in self._targets:
            sign = 1 if target > 0 else -1
            want = sign * (abs(target) * (k + 1) // p.build_slices)
            missing = want - self._projected(ii)
            if sign * missing <= 0:
                continue  # at or past this slice already: never trade back toward zero while building
            q = self.quote(ii)
            touch = q.ask if sign > 0 else q.bid
            if not touch:
                continue
            price = touch + p.build_slippage_ticks if sign > 0 else max(1, touch - p.build_slippage_ticks)
            self.submit_ioc(sign, abs(missing), price, instrument=ii)

    def _projected(self, ii: int) -> int:
        """The heard position plus what its live orders in ``ii`` would add or remove if they all filled."""
        return self.position(ii) + sum(o.side * o.leaves for o in self.orders.values() if o.instrument == ii)

    def _closable(self, ii: int) -> int:
        """Its account's position in ``ii`` less the lots of live orders that would reduce it (signed lots).

        The position is the venue account's (see the module docstring): a
        liquidation's takeover moves lots off the book without a fill, so the
        heard position can overstate what is held, and closing that would open
        a new position instead.
        """
        conn = self._conn_of[ii]
        pos = self.venue.accounts[conn.index].position[ii] if conn is not None else 0
        if not pos:
            return 0
        sign = 1 if pos > 0 else -1
        closing = sum(o.leaves for o in self.orders.values() if o.instrument == ii and o.side == -sign)
        left = abs(pos) - closing
        return sign * left if left > 0 else 0

    # -- THE RISK RULE -------------------------------------------------------

    def on_fill(self, fill: Fill) -> None:
        lid = fill.liquidation_id
        if not lid or lid in self._answered:
            return
        self._answered.add(lid)
        self._cut(self.instruments[fill.instrument].venue, lid)

    def _cut(self, venue: int, lid: int) -> None:
        """Closes ``cut_fraction`` of every position on venues other than ``venue``, answering ``lid``."""
        self._building = False
        for inst in self.instruments:
            if inst.venue == venue:
                continue  # the liquidated venue's own engine deals with its positions there
            pos = self._closable(inst.index)
            if not pos:
                continue
            # round() first: 100 x 0.07 is 7.000000000000001 in floats, and 7% of 100 lots is 7 lots.
            lots = min(abs(pos), max(1, math.ceil(round(abs(pos) * self.params.cut_fraction, 9))))
            self.submit_market(-1 if pos > 0 else 1, lots, instrument=inst.index, cause=lid)
            self.cuts.append((self.now, lid, inst.index, lots))

    def equity(self) -> float | None:
        """Money units across its accounts at the heard mids; None while a position has no price heard."""
        total = 0.0
        for conn in self.connections:
            account = self.venue.accounts[conn.index]
            total += account.collateral
            for inst in self.instruments:
                ii = inst.index
                if self._conn_of[ii] is not conn or not (account.position[ii] or account.cash[ii]):
                    continue
                q = self.quote(ii)
                mid = q.mid
                price = mid if mid is not None else float(q.last)
                if account.position[ii] and not price:
                    return None
                total += (account.cash[ii] + account.position[ii] * price) * inst.money_unit
        return total

    def _check_drawdown(self) -> None:
        """Closes everything (and stops) if equity is ``drawdown_stop`` or more below the deposit."""
        stop = self.params.drawdown_stop
        if stop is None:
            return
        equity = self.equity()
        if equity is None or equity > self.deposit * (1.0 - stop):
            return
        self._building = False
        self.stopped_ns = self.now
        for inst in self.instruments:
            pos = self._closable(inst.index)
            if pos:
                self.submit_market(-1 if pos > 0 else 1, abs(pos), instrument=inst.index)
                self.cuts.append((self.now, 0, inst.index, abs(pos)))
