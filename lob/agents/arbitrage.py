"""The cross-venue arbitrageur: keeps one asset's price on two venues in line, within its capital.

Behaviour
---------
The same asset trades on two venues as two instruments: the trader's own
instrument (the *home* leg) and ``other`` (the *other* leg, listed on another
venue). The trader has an account on each venue (its group lists the other
venue under ``venues``) and subscribes to both books. Every quote it hears of
either starts a *round*, decided on the quotes as heard, that is one feed
latency old: a slow arbitrageur acts on prices that may be gone. A round does
the first of these that applies, and nothing while an order of the previous
round is still unacknowledged or while the ``cooldown`` since the previous
round runs:

1. **Re-hedge.** Its legs can fill unevenly (a stale quote, a thin touch, a
   rejection), which leaves it with a net position ``home + other`` in lots.
   It trades that net back to zero with one IOC on the *lagging* leg (the one
   with the smaller absolute position: the leg that under-filled), priced
   ``hedge_slippage_bps`` through the heard touch so it fills, within that
   bound, even as the book moves. When the lagging leg has no capacity left,
   it reduces the other leg instead, which never needs margin.
2. **Enter.** If one venue's heard best bid exceeds the other's heard best ask
   by more than ``min_edge_bps`` of that ask (prices compared in quote
   currency, so the tick sizes may differ), it sends two IOCs at once: a buy
   on the cheap venue at its heard ask and a sell on the rich venue at its
   heard bid, ``min(clip, heard ask lots, heard bid lots, capacity of the
   buying leg, capacity of the selling leg)`` lots each. The heard touch
   lots are net of what it has already sent against that same heard quote:
   its own trades show in the feed only a feed latency later, and it does not
   take the same lots twice. The edge must pay both taker fees:
   ``on_start`` rejects a ``min_edge_bps`` below their sum.
3. **Unwind.** Holding a hedged position (long one venue, short the other),
   it watches the premium of the venue it is short over the one it is long,
   ``(mid short - mid long) / mid long`` in bps at the heard mids. Once the
   premium it entered on has closed to below ``exit_edge_bps``, it unwinds
   ``min(clip, hedged lots, heard touch lots)``: an IOC selling the long leg at
   its heard bid and one buying the short leg at its heard ask.

A round is also started just after each batch of replies leaves no order
unacknowledged, and at the end of a cooldown that held one back, so it does
not wait for the next quote to act on what it has learnt. A round that
would decide on exactly what its last orders were decided on (the same two
heard quotes, the same positions) sends nothing: an IOC that found nothing
would find nothing again, and a stale feed would otherwise have it resend
every round trip.

Capacity. Each leg's absolute position is capped by ``max_position`` lots,
and, on a margined account, by capital: it adds to a leg only while
``|position after| x price x money unit / leverage`` stays within
``capital_use`` of the account's equity (collateral plus the unrealised
profit of its positions on that venue at the heard mids, in money units),
less the margin of its other positions on that venue. That is the venue's own
initial-margin test with a ``1 - capital_use`` cushion for fees and adverse
moves, so a margin rejection is rare. The leverage is the one its group's
``margin`` gave the account (``Trader.leverage``); an account
without margin (spot) has no capital limit, only ``max_position``. Equity,
collateral and the cash of its positions are read from the venue's accounts
as an exchange's account endpoint reports them (no latency); positions for
sizing are the ones it has heard from its fills.

"Stops when its capital is spent": once a leg has no capacity, no order that
adds to that leg is sent (re-hedges go to the other leg, unwinds and
reductions are always allowed). :attr:`Arbitrageur.exhausted_ns` records the
first time a round it wanted to trade was stopped by capacity, None if never.
Should the venue still reject an order for ``insufficient_margin`` (equity
fell between the check and the order's arrival), that leg's cap is fixed at
its absolute position then, so each leg draws at most one such rejection
for each level its position reaches: no stream of rejected orders.

State: ``rounds`` (entries sent), ``rehedges``, ``unwinds``, ``rejects``
(orders the venue rejected) and ``reject_reasons`` (count by reason),
``exhausted_ns``.

Cost per quote heard: two quote lookups and a few comparisons; orders only
when it trades.

Parameters (:class:`Arbitrageur.Params`)
----------------------------------------
- ``other`` (symbol): the same asset on the other venue.
- ``min_edge_bps`` (bps of the ask; default 10.0): the cross that makes it enter.
- ``exit_edge_bps`` (bps; default 0.0): unwind once the premium is below this
  (at most ``min_edge_bps``; negative: wait for the premium to reverse).
- ``clip`` (lots; default 10): most lots per entry or unwind.
- ``max_position`` (lots; default 100): hard cap on each leg's absolute position.
- ``capital_use`` (fraction in (0, 1]; default 0.9): share of each account's
  equity its initial margin may use.
- ``hedge_slippage_bps`` (bps; default 10.0): how far through the heard touch a re-hedge is priced.
- ``cooldown`` (Duration, ns; default 0): least time between rounds.
"""

from __future__ import annotations

import math

import simpy
from pydantic import Field, model_validator
from simpy.events import Timeout

from lob.agents.base import Order, Trader, TraderParams
from lob.market.feed import Quote
from lob.market.venue import Connection
from lob.scenario.durations import Duration

__all__ = ["Arbitrageur"]

_BPS = 1e-4


class Arbitrageur(Trader):
    """Buys the cheap venue and sells the rich one when they cross; see the module docstring."""

    class Params(TraderParams):
        """Settings of an :class:`Arbitrageur`; units in each description."""

        other: str = Field(min_length=1, description="symbol of the same asset on the other venue")
        min_edge_bps: float = Field(
            default=10.0, ge=0.0, description="enter when a bid exceeds the other venue's ask by this (bps)"
        )
        exit_edge_bps: float = Field(
            default=0.0, description="unwind a clip once the premium held is below this (bps)"
        )
        clip: int = Field(default=10, gt=0, description="most lots per entry or unwind")
        max_position: int = Field(default=100, gt=0, description="cap on each leg's absolute position (lots)")
        capital_use: float = Field(
            default=0.9, gt=0.0, le=1.0, description="share of each account's equity margin may use"
        )
        hedge_slippage_bps: float = Field(
            default=10.0, ge=0.0, description="a re-hedge's price beyond the heard touch (bps)"
        )
        cooldown: Duration = Field(default=0, description="least time between rounds (ns)")

        @model_validator(mode="after")
        def _check_edges(self) -> Arbitrageur.Params:
            if self.exit_edge_bps > self.min_edge_bps:
                # It would unwind at once what it had just entered, and pay both spreads each time.
                raise ValueError(
                    f"exit_edge_bps ({self.exit_edge_bps}) must be <= min_edge_bps ({self.min_edge_bps})"
                )
            return self

    params: Arbitrageur.Params

    def on_start(self) -> None:
        p = self.params
        home = self.instrument
        other = next((i for i in self.instruments if i.symbol == p.other), None)
        if other is None:
            known = ", ".join(i.symbol for i in self.instruments)
            raise ValueError(f"arbitrageur {self.name}: unknown instrument {p.other!r} (known: {known})")
        if other.venue == home.venue:
            raise ValueError(
                f"arbitrageur {self.name}: {p.other!r} is on the same venue as its own instrument "
                f"{home.symbol!r}; 'other' must be the asset on another venue"
            )
        if other.lot_size != home.lot_size:
            # Hedging lot for lot needs lots of one size: a lot of each leg is the same amount of the asset.
            raise ValueError(
                f"arbitrageur {self.name}: lot sizes differ ({home.symbol} {home.lot_size}, "
                f"{other.symbol} {other.lot_size}); the legs are hedged lot for lot"
            )
        self._legs = (home.index, other.index)
        conns: list[Connection] = []
        for ii in self._legs:
            conn = self._conn_of[ii]
            if conn is None:
                symbol = self.instruments[ii].symbol
                raise ValueError(
                    f"arbitrageur {self.name} has no account on the venue of {symbol!r}: "
                    "list that venue in its group's venues"
                )
            conns.append(conn)
        taker_ppm = sum(self.venue.fees_ppm[ii][1] for ii in self._legs)
        if p.min_edge_bps * 100 < taker_ppm:  # 1 bp = 100 ppm
            raise ValueError(
                f"arbitrageur {self.name}: min_edge_bps ({p.min_edge_bps}) does not cover the two taker "
                f"fees ({taker_ppm / 100:g} bps together)"
            )
        self._owner = {ii: conn.index for ii, conn in zip(self._legs, conns, strict=True)}
        self._leverage = {ii: self.leverage(ii) for ii in self._legs}
        #: Per leg, its cap (lots) fixed by an insufficient_margin rejection; absent: none.
        self._margin_cap: dict[int, int] = {}
        self._next_round_ns = 0
        self._poke_pending = False
        self._wake_at = -1  # time of the scheduled end-of-cooldown round, -1: none
        # What the last orders were decided on: both heard quotes (by identity) and both positions.
        self._acted_on: tuple[Quote, Quote, int, int] | None = None
        self._seen: tuple[Quote, Quote, int, int] | None = None
        #: Per (leg, side): the heard quote it last took from and the lots it sent against its touch.
        self._taken: dict[tuple[int, int], tuple[Quote, int]] = {}
        #: Entry rounds sent (pairs of IOCs).
        self.rounds = 0
        self.rehedges = 0
        self.unwinds = 0
        #: Orders the venue rejected, in all and by reason (e.g. ``insufficient_margin``).
        self.rejects = 0
        self.reject_reasons: dict[str, int] = {}
        #: The first time capacity (capital or max_position) stopped a trade it wanted; None: never.
        self.exhausted_ns: int | None = None
        for ii in self._legs:
            self.subscribe(ii)

    # -- HOOKS ---------------------------------------------------------------

    def on_market_data(self, quote: Quote) -> None:
        self._round()

    def on_order_update(self, order: Order) -> None:
        if order.status == "rejected":
            self.rejects += 1
            self.reject_reasons[order.reason] = self.reject_reasons.get(order.reason, 0) + 1
            if order.reason == "insufficient_margin":
                # The venue's equity is below what the estimate said: freeze the leg where it is.
                self._margin_cap[order.instrument] = abs(self.position(order.instrument))
                self._exhausted()
        if not self.orders and not self._poke_pending:
            # The acknowledgement comes before the fills of the same reply: decide once all are booked.
            self._poke_pending = True
            Timeout(self.env, 0).callbacks.append(self._poked)

    def _poked(self, _event: simpy.Event) -> None:
        self._poke_pending = False
        self._round()

    def _woken(self, _event: simpy.Event) -> None:
        self._wake_at = -1
        self._round()

    # -- ROUNDS --------------------------------------------------------------

    def _round(self) -> None:
        if self.orders:
            return  # the previous round's outcome is not known yet
        now = self.now
        if now < self._next_round_ns:
            if self._wake_at != self._next_round_ns:
                self._wake_at = self._next_round_ns
                Timeout(self.env, self._next_round_ns - now).callbacks.append(self._woken)
            return
        a, b = self._legs
        pa, pb = self.position(a), self.position(b)
        qa, qb = self.quote(a), self.quote(b)
        last = self._acted_on
        if last is not None and last[0] is qa and last[1] is qb and last[2] == pa and last[3] == pb:
            return  # nothing new since its last orders: sending them again would meet the same fate
        self._seen = (qa, qb, pa, pb)
        if pa + pb:
            self._rehedge(pa + pb)
        elif not self._enter() and pa:
            self._unwind(pa)

    def _sent(self) -> None:
        self._acted_on = self._seen
        self._next_round_ns = self.now + self.params.cooldown

    def _enter(self) -> bool:
        """Sends an entry pair if the heard books cross by more than the edge; True if they do."""
        p = self.params
        a, b = self._legs
        for buy, sell in ((a, b), (b, a)):
            q_buy, q_sell = self.quote(buy), self.quote(sell)
            if not q_buy.ask or not q_sell.bid:
                continue
            ask = q_buy.ask * self.instruments[buy].tick_size  # quote currency: the legs' ticks may differ
            bid = q_sell.bid * self.instruments[sell].tick_size
            if (bid - ask) / ask <= p.min_edge_bps * _BPS:
                continue
            room = min(self._room(buy, 1, q_buy.ask), self._room(sell, -1, q_sell.bid))
            if room < 1:
                self._exhausted()
                return True
            qty = min(p.clip, self._lots(q_buy, 1), self._lots(q_sell, -1), room)
            if qty < 1:
                return True  # it has taken what the heard touch showed: wait to hear what is left
            self._take(q_buy, 1, qty)
            self._take(q_sell, -1, qty)
            self.submit_ioc(1, qty, q_buy.ask, instrument=buy)
            self.submit_ioc(-1, qty, q_sell.bid, instrument=sell)
            self.rounds += 1
            self._sent()
            return True
        return False

    def _rehedge(self, net: int) -> None:
        """Trades the net position back to zero: on the lagging leg, or by reducing the other."""
        side = -1 if net > 0 else 1
        a, b = self._legs
        lagging = (a, b) if abs(self.position(a)) <= abs(self.position(b)) else (b, a)
        slip = self.params.hedge_slippage_bps * _BPS
        for ii in lagging:
            q = self.quote(ii)
            touch = q.bid if side < 0 else q.ask
            if not touch:
                continue  # nothing heard on that side: no price to bound the order by
            price = max(1, math.floor(touch * (1 - slip))) if side < 0 else math.ceil(touch * (1 + slip))
            qty = min(abs(net), self._room(ii, side, price))
            if qty < 1:
                self._exhausted()
                continue
            self.submit_ioc(side, qty, price, instrument=ii)
            self.rehedges += 1
            self._sent()
            return

    def _unwind(self, pa: int) -> None:
        """Closes a clip of the hedged position once the premium it holds is below the exit edge."""
        p = self.params
        a, b = self._legs
        long_leg, short_leg = (a, b) if pa > 0 else (b, a)
        ql, qs = self.quote(long_leg), self.quote(short_leg)
        if not (ql.bid and ql.ask and qs.bid and qs.ask):
            return
        mid_long = (ql.bid + ql.ask) / 2 * self.instruments[long_leg].tick_size
        mid_short = (qs.bid + qs.ask) / 2 * self.instruments[short_leg].tick_size
        if (mid_short - mid_long) / mid_long >= p.exit_edge_bps * _BPS:
            return
        qty = min(p.clip, abs(pa), self._lots(ql, -1), self._lots(qs, 1))
        if qty < 1:
            return
        self._take(ql, -1, qty)
        self._take(qs, 1, qty)
        self.submit_ioc(-1, qty, ql.bid, instrument=long_leg)
        self.submit_ioc(1, qty, qs.ask, instrument=short_leg)
        self.unwinds += 1
        self._sent()

    def _lots(self, q: Quote, side: int) -> int:
        """Lots a ``side`` order may take at ``q``'s touch: as heard, less what it sent there already.

        Its own trades reach it as fills a return latency after the match and
        as a new quote a feed latency after: until that quote, the heard touch
        still shows the lots it took.
        """
        heard = q.ask_lots if side > 0 else q.bid_lots
        taken = self._taken.get((q.instrument, side))
        return heard - taken[1] if taken is not None and taken[0] is q else heard

    def _take(self, q: Quote, side: int, lots: int) -> None:
        key = (q.instrument, side)
        taken = self._taken.get(key)
        self._taken[key] = (q, lots + (taken[1] if taken is not None and taken[0] is q else 0))

    # -- CAPACITY ------------------------------------------------------------

    def _exhausted(self) -> None:
        if self.exhausted_ns is None:
            self.exhausted_ns = self.now

    def _room(self, ii: int, side: int, price: int) -> int:
        """Lots it may trade on ``side`` in leg ``ii`` at ``price`` ticks without passing its cap."""
        cap = self.capacity(ii, price)
        frozen = self._margin_cap.get(ii)
        if frozen is not None and frozen < cap:
            cap = frozen
        # Up to |pos| of a reducing trade is free; beyond that, and any adding trade, counts against the cap.
        return max(0, cap - side * self.position(ii))

    def capacity(self, instrument: int, price: int) -> int:
        """Largest absolute position (lots) in leg ``instrument`` its capital allows at ``price`` ticks.

        ``max_position`` for an unmargined account; otherwise also
        ``floor((capital_use x equity - margin of its other positions on the
        venue) x leverage / (price x money unit))``.
        """
        p = self.params
        leverage = self._leverage[instrument]
        if leverage is None:
            return p.max_position
        account = self.venue.accounts[self._owner[instrument]]
        equity = float(account.collateral)
        others = 0.0
        venue = self.instruments[instrument].venue
        for inst in self.instruments:
            j = inst.index
            if inst.venue != venue or not (account.position[j] or account.cash[j]):
                continue
            mark = self._heard_price(j)
            if not mark and account.position[j]:
                mark = -account.cash[j] / account.position[j]  # no price heard yet: value it at cost
            equity += (account.cash[j] + account.position[j] * mark) * inst.money_unit
            if j != instrument:
                others += abs(account.position[j]) * mark * inst.money_unit / leverage
        budget = p.capital_use * equity - others
        if budget <= 0:
            return 0
        lots = math.floor(budget * leverage / (price * self.instruments[instrument].money_unit))
        return min(p.max_position, lots)

    def _heard_price(self, ii: int) -> float:
        """The heard mid in ticks; the heard last trade when a side is empty; 0 with neither."""
        q = self.quote(ii)
        mid = q.mid
        return mid if mid is not None else float(q.last)
