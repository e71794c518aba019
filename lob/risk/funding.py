"""Funding payments of a perpetual future between longs and shorts (off unless configured).

Every ``interval_ns`` the rate is set from the average premium of the mark
over the index during the interval, by Binance USD-M's rule
(https://www.binance.com/en/support/faq/introduction-to-binance-futures-funding-rates-360033525031):
``F = P + clamp(I - P, -clamp, +clamp)`` with ``P`` the average premium
(mark / index - 1) and ``I`` the interest rate per interval, then capped at
``+-cap``. Each account with a position pays ``position x mark x F`` (longs
pay shorts when ``F > 0``), in money units rounded toward zero; what rounding
leaves over goes to the insurance fund, so the payments sum to zero exactly.
One ``funding`` events row per payment round carries the rate in ``value``.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from lob.eventlog.schema import KIND_CODE
from lob.market.venue import Venue

_FUNDING = KIND_CODE["funding"]


class Funding:
    """Funding of one perpetual; sample the premium with :meth:`sample` at each mark update."""

    def __init__(
        self,
        env: simpy.Environment,
        venue: Venue,
        instrument: int,
        fund_owner: int,
        *,
        interval_ns: int,
        interest: float = 0.0001,
        clamp: float = 0.0005,
        cap: float = 0.0075,
    ) -> None:
        if interval_ns <= 0 or clamp < 0 or cap < 0:
            raise ValueError("funding interval must be > 0, clamp and cap >= 0")
        self.env = env
        self.venue = venue
        self.ii = instrument
        self.fund_owner = fund_owner
        self.interval_ns = interval_ns
        self.interest = interest
        self.clamp = clamp
        self.cap = cap
        self._premium_sum = 0.0
        self._samples = 0
        self._mark = math.nan
        self.rates: list[tuple[int, float]] = []  # (time_ns, rate) of every round
        env.process(self._run())

    def sample(self, mark: float, index: float) -> None:
        """One premium sample (mark and index in ticks)."""
        if index > 0:
            self._premium_sum += mark / index - 1.0
            self._samples += 1
        self._mark = mark

    def rate(self) -> float:
        """The funding rate of the interval now ending, by the rule in the module docstring."""
        premium = self._premium_sum / self._samples if self._samples else 0.0
        rate = premium + min(max(self.interest - premium, -self.clamp), self.clamp)
        return min(max(rate, -self.cap), self.cap)

    def _run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            yield self.env.timeout(self.interval_ns)
            self.pay(self.rate())
            self._premium_sum, self._samples = 0.0, 0

    def pay(self, rate: float) -> int:
        """Moves ``position x mark x rate`` from each holder's collateral; returns the total paid by longs."""
        venue, ii = self.venue, self.ii
        if math.isnan(self._mark) or not rate:
            return 0
        unit = venue.instruments[ii].money_unit
        net = 0
        longs_paid = 0
        for account in venue.accounts:
            pos = account.position[ii]
            if not pos:
                continue
            exact = pos * self._mark * unit * rate
            payment = math.floor(exact) if exact >= 0 else -math.floor(-exact)  # toward zero
            account.collateral -= payment
            net += payment
            if pos > 0:
                longs_paid += payment
        venue.accounts[self.fund_owner].collateral += net  # the rounding remainder: sums are exact
        if venue.risk is not None:  # collateral moved: liquidation prices moved with it
            venue.risk.positions_changed([(k, ii) for k, a in enumerate(venue.accounts) if a.position[ii]])
        self.rates.append((self.env._now, rate))  # type: ignore[arg-type]
        venue.log_row(_FUNDING, -1, ii, 0, 0, 0, rate)
        return longs_paid
