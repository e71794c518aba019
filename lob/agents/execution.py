"""The execution agent: works a parent order by TWAP or by participation in volume.

Behaviour
---------
The agent must buy or sell ``quantity`` lots (``side``) between ``start`` and
``end``. It sends child orders, each a ``market`` order (carrying a
protection price ``protection_ticks`` beyond the heard touch when that is
set) or an ``ioc`` priced ``limit_ticks`` beyond the heard touch (a sell at
``bid - limit_ticks``). The heard touch falls back to the last trade price
when that side of the book is empty; an IOC with neither is not sent.

- ``mode: twap``: ``slices`` children at ``start + k (end - start) // slices``,
  ``k = 0 .. slices - 1``. Child ``k`` brings the lots filled or in flight up
  to ``(k + 1) quantity // slices``, so when each child fills the sizes differ
  by at most one lot and add up to ``quantity`` exactly; a child that did not
  fill (an IOC that found no price) is made up by the next.
- ``mode: pov``: every ``interval`` after ``start``, up to and including
  ``end``, a child of ``participation`` times the volume other traders traded
  since the previous check, and at least ``min_child`` lots. That volume is
  the change in the heard quote's cumulative ``volume`` less the agent's own
  fills heard meanwhile; because fills and market data arrive with different
  latencies the two can disagree for a moment, so the fractional and negative
  parts are carried to the next check rather than dropped. This is the kind
  of algorithm behind the 6 May 2010 flash crash: a sell program of 75,000
  E-mini contracts "executed at a rate of 9% of the trading volume calculated
  over the previous minute, but without regard to price or time" (CFTC-SEC
  2010, "Findings regarding the market events of May 6, 2010", p. 2; its role
  in the crash: Kirilenko, Kyle, Samadi and Tuzun 2017, "The Flash Crash:
  High-Frequency Trading in an Electronic Market", J. Finance 72(3)).

It never trades more than ``quantity``: a child is at most ``quantity`` less
the lots filled and the lots still in flight (sent, not yet acknowledged). It
counts fills as it hears them (:attr:`ExecutionAgent.filled`,
:attr:`ExecutionAgent.remaining`) and stops once nothing remains, or at
``end``; lots not filled by then stay in ``remaining``.

Cost: one SimPy wait per child or check, one quote lookup, one order.

Parameters (:class:`ExecutionAgent.Params`)
-------------------------------------------
- ``side`` (``buy`` or ``sell``; default ``sell``): the parent order's side.
- ``quantity`` (lots; default 100): the parent order's size.
- ``start``, ``end`` (Duration, ns; defaults 0 and 1h): the execution window.
- ``mode`` (``twap`` or ``pov``; default ``twap``).
- ``slices`` (count; default 10): TWAP children.
- ``interval`` (Duration, ns; default 60s, the 2010 algorithm's minute):
  time between POV checks.
- ``participation`` (fraction of others' volume; default 0.09, the 2010
  algorithm's 9%): POV rate.
- ``min_child`` (lots; default 1): smallest POV child (0 lets a check send nothing).
- ``order_type`` (``market`` or ``ioc``; default ``market``): child order type.
- ``limit_ticks`` (ticks; default 0): an IOC child's price beyond the heard touch.
- ``protection_ticks`` (ticks, or None; default None): a market child's worst
  price beyond the heard touch (None: no protection).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Literal

import simpy
from pydantic import Field, model_validator

from lob.agents.base import Fill, Trader, TraderParams
from lob.scenario.durations import Duration

__all__ = ["ExecutionAgent"]

_SECOND = 1_000_000_000


class ExecutionAgent(Trader):
    """Works a parent order by TWAP or POV; see the module docstring."""

    class Params(TraderParams):
        """Settings of an :class:`ExecutionAgent`; units in each description."""

        side: Literal["buy", "sell"] = Field(default="sell", description="side of the parent order")
        quantity: int = Field(default=100, gt=0, description="size of the parent order (lots)")
        start: Duration = Field(
            default=0, description="start of the execution window (ns from the run start)"
        )
        end: Duration = Field(
            default=3600 * _SECOND, description="end of the execution window (ns from the run start)"
        )
        mode: Literal["twap", "pov"] = Field(
            default="twap", description="twap: even slices; pov: share of volume"
        )
        slices: int = Field(default=10, gt=0, description="number of TWAP children")
        interval: Duration = Field(default=60 * _SECOND, gt=0, description="time between POV checks (ns)")
        participation: float = Field(default=0.09, gt=0.0, le=1.0, description="POV share of others' volume")
        min_child: int = Field(default=1, ge=0, description="smallest POV child (lots)")
        order_type: Literal["market", "ioc"] = Field(default="market", description="child order type")
        limit_ticks: int = Field(
            default=0, ge=0, description="IOC child price beyond the heard touch (ticks)"
        )
        protection_ticks: int | None = Field(
            default=None, ge=0, description="market child's worst price beyond the touch (ticks); None: none"
        )

        @model_validator(mode="after")
        def _check_window(self) -> ExecutionAgent.Params:
            if self.end <= self.start:
                raise ValueError(f"end ({self.end} ns) must be after start ({self.start} ns)")
            return self

    params: ExecutionAgent.Params

    def on_start(self) -> None:
        self._side = 1 if self.params.side == "buy" else -1
        #: Lots filled so far, as heard.
        self.filled = 0
        #: ``(time_ns, lots)`` of each child order sent.
        self.children: list[tuple[int, int]] = []
        self._carry = 0.0  # POV: target lots not yet sent (fraction, or negative after an overcount)
        self._others = 0  # POV: others' cumulative volume at the previous check

    @property
    def remaining(self) -> int:
        """Lots of the parent order not yet filled (as heard)."""
        return self.params.quantity - self.filled

    def on_fill(self, fill: Fill) -> None:
        self.filled += fill.qty

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        yield self.wait_until(p.start)
        if p.mode == "twap":
            span = p.end - p.start
            for k in range(p.slices):
                yield self.wait_until(p.start + k * span // p.slices)
                self._send_child((k + 1) * p.quantity // p.slices - self.filled - self._in_flight())
            return
        self._others = self.quote().volume - self.filled
        while self.remaining > 0:
            yield self.wait(p.interval)
            if self.now > p.end:
                return
            others = self.quote().volume - self.filled
            want = self._carry + p.participation * (others - self._others)
            self._others = others
            child = int(want) if want > 0.0 else 0
            self._carry = want - child
            if not self._send_child(max(child, p.min_child)):
                self._carry += child  # nothing was sent: the target stays owed

    def _in_flight(self) -> int:
        return sum(order.leaves for order in self.orders.values())

    def _send_child(self, lots: int) -> bool:
        """Sends a child of ``lots`` (cut to what is neither filled nor in flight); False if none went."""
        lots = min(lots, self.params.quantity - self.filled - self._in_flight())
        if lots <= 0:
            return False
        p = self.params
        side = self._side
        q = self.quote()
        touch = (q.ask if side > 0 else q.bid) or q.last
        if p.order_type == "ioc":
            if not touch:
                return False
            price = touch + side * p.limit_ticks
            self.submit_ioc(side, lots, price if price > 0 else 1)
        else:
            protection = 0
            if p.protection_ticks is not None and touch:
                protection = max(1, touch + side * p.protection_ticks)
            self.submit_market(side, lots, protection=protection)
        self.children.append((self.now, lots))
        return True
