"""The Trader base class: a SimPy process that trades through the venue's latency.

A trader subclass writes ``run()`` as a generator that yields waits, and calls
the ``submit_*`` / ``cancel`` / ``modify`` methods. Everything it learns comes
back through latency: acknowledgements and fills arrive after the venue's
return latency (and update :attr:`orders`, :meth:`position`, :meth:`cash`
then, not before), market data after the feed latency. Prices are int ticks,
quantities int lots; ``self.instrument`` converts.

Override hooks (all optional): ``on_start()`` at time 0 before ``run`` starts;
``on_fill(fill)``; ``on_order_update(order)`` when an acknowledgement changes
an order's state; ``on_reject(order_id, kind, reason)`` when the venue turns a
command down; ``on_market_data(quote)`` for each quote of a subscribed
instrument (see :meth:`subscribe`). Do not override ``__init__``: set state up
in ``on_start``.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from numbers import Integral
from typing import Any, ClassVar, cast

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict

from lob.core.codes import STP, Kind, Status
from lob.eventlog.schema import EVENT_KINDS, REASONS
from lob.market.feed import MarketDataFeed, Quote
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import Instrument
from lob.market.venue import ACK, FILL, STP_CANCELLED, Connection, Venue


class TraderParams(BaseModel):
    """Base of a trader's ``Params``: what a config's ``params`` may set.

    Unknown keys are errors, values are read-only, and types are strict, as in
    the rest of the config: ``true`` or ``"7"`` is not a number, and no number
    may be infinite or NaN.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class EmptyParams(TraderParams):
    """Params of a trader that takes none: any key is an error."""


_SIDES: dict[object, int] = {"buy": 1, "sell": -1, 1: 1, -1: -1}
_LIMIT, _IOC, _FOK, _POST_ONLY, _MARKET = (
    int(k) for k in (Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET)
)
_CANCEL, _REDUCE, _REPLACE = int(Kind.CANCEL), int(Kind.REDUCE), int(Kind.REPLACE)
_STATUS_NAMES = {
    int(Status.RESTING): "open",
    int(Status.FILLED): "filled",
    int(Status.EXPIRED): "expired",
    int(Status.CANCELLED): "cancelled",
    int(Status.REJECTED): "rejected",
}


def parse_side(side: object) -> int:
    """``"buy"``/``"sell"``, ``Side.BUY``/``Side.SELL`` or +1/-1 as +1/-1."""
    try:
        return _SIDES[side]
    except (KeyError, TypeError):
        raise ValueError(f"side must be 'buy', 'sell', +1 or -1, got {side!r}") from None


def _whole(value: object, what: str) -> int:
    if type(value) is int:
        return value
    if isinstance(value, Integral):  # numpy integers; bool is excluded by the type check above
        return int(value)
    raise TypeError(
        f"{what} must be a whole number of {'ticks' if 'price' in what else 'lots'}, got {value!r} "
        "(convert with self.instrument.to_ticks() / to_lots())"
    )


class Order:
    """A trader's own view of one of its orders, as acknowledgements have told it.

    ``status`` is ``pending`` (sent, not yet acknowledged), ``open`` (resting),
    ``filled``, ``cancelled``, ``expired`` or ``rejected``; ``reason`` names
    why an order was rejected or stopped early. ``leaves`` lots rest on the
    book; ``filled`` lots have traded.
    """

    __slots__ = (
        "filled",
        "instrument",
        "kind",
        "leaves",
        "order_id",
        "price",
        "qty",
        "reason",
        "sent_ns",
        "side",
        "status",
    )

    def __init__(
        self, order_id: int, instrument: int, kind: int, side: int, price: int, qty: int, sent_ns: int
    ):
        self.order_id = order_id
        self.instrument = instrument
        self.kind = EVENT_KINDS[kind]
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = qty
        self.filled = 0
        self.status = "pending"
        self.reason = "none"
        self.sent_ns = sent_ns

    @property
    def is_live(self) -> bool:
        """True while the order is pending or resting."""
        return self.status == "pending" or self.status == "open"

    def __repr__(self) -> str:
        side = "buy" if self.side > 0 else "sell"
        lots = f"{self.leaves}/{self.qty}"
        return f"Order({self.order_id}, {self.kind} {side} {lots} @ {self.price}, {self.status})"


class Fill:
    """One fill of one of the trader's orders, as delivered to it.

    ``price`` ticks, ``qty`` lots, ``side`` the trader's side, ``fee`` in
    notional units (negative: a rebate), ``maker`` whether the order rested,
    ``time_ns`` when the venue matched it (earlier than when it was heard).
    ``liquidation_id`` is non-zero for a fill of a forced order the venue's
    liquidation engine sent for this account: the trader was liquidated.
    """

    __slots__ = (
        "fee",
        "instrument",
        "liquidation_id",
        "maker",
        "order_id",
        "price",
        "qty",
        "side",
        "time_ns",
    )

    def __init__(
        self,
        order_id: int,
        instrument: int,
        price: int,
        qty: int,
        side: int,
        fee: int,
        maker: bool,
        time_ns: int,
        liquidation_id: int = 0,
    ) -> None:
        self.order_id = order_id
        self.instrument = instrument
        self.price = price
        self.qty = qty
        self.side = side
        self.fee = fee
        self.maker = maker
        self.time_ns = time_ns
        self.liquidation_id = liquidation_id

    def __repr__(self) -> str:
        side = "buy" if self.side > 0 else "sell"
        role = "maker" if self.maker else "taker"
        return f"Fill(order {self.order_id}: {side} {self.qty} @ {self.price}, {role}, t={self.time_ns})"


class Trader:
    """Base class of every trader process; see the module docstring for the hooks."""

    #: The pydantic model a config's ``params`` are validated against.
    Params: ClassVar[type[BaseModel]] = EmptyParams

    def __init__(
        self,
        name: str,
        params: Any,
        *,
        env: simpy.Environment,
        venue: Venue,
        instrument: Instrument,
        fundamentals: Sequence[FundamentalProcess],
        rng: np.random.Generator,
        group: str = "",
    ) -> None:
        self.name = name
        self.group = group or name
        self.params = params
        self.env = env
        self.venue = venue
        self.feed: MarketDataFeed = venue.feed
        self.instrument = instrument
        self.instruments = venue.instruments
        self.rng = rng
        self._fundamentals = fundamentals
        self._ii = instrument.index
        self._conn: Connection | None = None  # the account on the home venue (its instrument's)
        n = len(self.instruments)
        #: Per instrument, the connection (account) orders in it go through; None: no account there.
        self._conn_of: list[Connection | None] = [None] * n
        self.connections: list[Connection] = []  # one per venue the trader has an account on
        self._position = [0] * n
        self._cash = [0] * n
        self._fees = [0] * n
        #: Live orders (pending or open) by order id, as acknowledgements have told it.
        self.orders: dict[int, Order] = {}
        self._next_fill: simpy.Event | None = None  # shared by every waiter of the next fill
        self.sent = 0  # commands sent

    def _attach(self, conn: Connection, instruments: Sequence[int] | None = None) -> None:
        """Trades ``instruments`` (default: all) through ``conn``; the first connection is the home one."""
        if self._conn is None:
            self._conn = conn
        self.connections.append(conn)
        for ii in range(len(self._conn_of)) if instruments is None else instruments:
            self._conn_of[ii] = conn

    # -- LIFECYCLE (override) --------------------------------------------------

    def on_start(self) -> None:
        """Called at time 0, before ``run`` starts."""

    def run(self) -> Generator[simpy.Event, Any, None]:
        """The trader's process: yield ``self.wait(ns)`` between decisions. The base does nothing."""
        yield from ()

    def on_fill(self, fill: Fill) -> None:
        """Called when a fill is heard (after the return latency)."""

    def on_order_update(self, order: Order) -> None:
        """Called when an acknowledgement changes ``order`` (opened, filled, cancelled, expired, rejected)."""

    def on_reject(self, order_id: int, kind: str, reason: str) -> None:
        """Called when the venue rejects a command (``kind`` e.g. cancel; ``reason`` e.g. self_trade)."""

    def on_market_data(self, quote: Quote) -> None:
        """Called with each quote of a subscribed instrument, after the feed latency."""

    # -- TIME ----------------------------------------------------------------

    @property
    def now(self) -> int:
        """Simulated time, ns from the run start."""
        return self.env._now  # type: ignore[return-value]  # SimPy types time as int | float; ours is int

    def wait(self, ns: int) -> simpy.Event:
        """An event ``ns`` nanoseconds from now: ``yield self.wait(ns)``."""
        return self.env.timeout(int(ns))

    def wait_until(self, t_ns: int) -> simpy.Event:
        """An event at time ``t_ns`` (now if that has passed)."""
        return self.env.timeout(max(0, int(t_ns) - self.now))

    def next_fill(self) -> simpy.Event:
        """An event that fires with the next :class:`Fill` heard: ``fill = yield self.next_fill()``."""
        ev = self._next_fill
        if ev is None:  # one event, however many times it is asked for: an abandoned wait costs nothing
            ev = self._next_fill = self.env.event()
        return ev

    # -- ORDERS --------------------------------------------------------------

    def submit_limit(
        self, side: object, qty: int, price: int, *, instrument: object = None, stp: int = STP.NONE
    ) -> int:
        """Sends a good-till-cancelled limit order; returns its order id. ``price`` ticks, ``qty`` lots."""
        return self._send_order(_LIMIT, side, qty, price, instrument, stp)

    def submit_ioc(
        self, side: object, qty: int, price: int, *, instrument: object = None, stp: int = STP.NONE
    ) -> int:
        """Immediate-or-cancel: takes what it can up to ``price``; the rest expires."""
        return self._send_order(_IOC, side, qty, price, instrument, stp)

    def submit_fok(
        self, side: object, qty: int, price: int, *, instrument: object = None, stp: int = STP.NONE
    ) -> int:
        """Fill-or-kill: all ``qty`` up to ``price`` at once, or nothing."""
        return self._send_order(_FOK, side, qty, price, instrument, stp)

    def submit_post_only(
        self, side: object, qty: int, price: int, *, instrument: object = None, stp: int = STP.NONE
    ) -> int:
        """A limit order that is rejected (not repriced) if it would take."""
        return self._send_order(_POST_ONLY, side, qty, price, instrument, stp)

    def submit_market(
        self,
        side: object,
        qty: int,
        *,
        protection: int = 0,
        instrument: object = None,
        stp: int = STP.NONE,
        cause: int = 0,
    ) -> int:
        """A market order; ``protection`` is the worst price in ticks it may trade at (0: none).

        ``cause``: the liquidation id (:attr:`Fill.liquidation_id`) this order
        answers, when the trader's own risk rule sends it because it was
        liquidated elsewhere. The cascade trace then runs through it: a
        liquidation its trades set off is that liquidation's child.
        """
        oid = self._send_order(_MARKET, side, qty, protection, instrument, stp)
        if cause:
            self.venue.declare_cause(oid, cause)
        return oid

    def cancel(self, order_id: int) -> None:
        """Asks the venue to cancel ``order_id`` (it may fill before the request arrives)."""
        order = self.orders.get(order_id)
        ii = order.instrument if order is not None else self._ii
        self._send((_CANCEL, order_id, 0, 0, 0, 0, self.now, ii))

    def cancel_all(self, instrument: object = None) -> int:
        """Cancels every live order (of ``instrument`` if given); returns how many requests were sent."""
        ii = None if instrument is None else self._instrument_index(instrument)
        n = 0
        for oid, order in list(self.orders.items()):
            if ii is None or order.instrument == ii:
                self.cancel(oid)
                n += 1
        return n

    def modify(self, order_id: int, *, price: int | None = None, qty: int | None = None) -> None:
        """Changes a resting order's price (ticks) and/or remaining quantity (lots).

        Keeps time priority only when the order just shrinks at the same price
        (the venue's replace rule); otherwise it goes to the back of the queue
        and may trade at once if the new price crosses.
        """
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"order {order_id} is not one of {self.name}'s live orders")
        new_price = order.price if price is None else _whole(price, "price")
        new_qty = order.leaves if qty is None else _whole(qty, "qty")
        self._send((_REPLACE, order_id, order.side, new_price, new_qty, 0, self.now, order.instrument))

    def reduce(self, order_id: int, qty: int) -> None:
        """Takes ``qty`` lots off a resting order, keeping its time priority."""
        order = self.orders.get(order_id)
        ii = order.instrument if order is not None else self._ii
        self._send((_REDUCE, order_id, 0, 0, _whole(qty, "qty"), 0, self.now, ii))

    @property
    def open_orders(self) -> list[Order]:
        """Live orders (pending or resting), oldest first."""
        return list(self.orders.values())

    def _send_order(
        self, kind: int, side: object, qty: object, price: object, instrument: object, stp: int
    ) -> int:
        s = _SIDES.get(side) if isinstance(side, int | str) else None
        if s is None:
            s = parse_side(side)
        q = _whole(qty, "qty")
        p = _whole(price, "price")
        ii = self._ii if instrument is None else self._instrument_index(instrument)
        oid = self.venue.new_order_id()
        now = self.now
        self.orders[oid] = Order(oid, ii, kind, s, p, q, now)
        self._send((kind, oid, s, p, q, int(stp), now, ii))
        return oid

    def _send(self, msg: tuple[int, int, int, int, int, int, int, int]) -> None:
        conn = self._conn_of[msg[7]]
        if conn is None:
            if self._conn is None:
                raise RuntimeError(f"trader {self.name} is not connected to a venue")
            raise RuntimeError(
                f"trader {self.name} has no account on the venue of {self.instruments[msg[7]].symbol} "
                "(list that venue in its group's venues)"
            )
        self.sent += 1
        self.venue.send(conn, msg)

    def _instrument_index(self, instrument: object) -> int:
        if isinstance(instrument, Instrument):
            return instrument.index
        if isinstance(instrument, str):
            for inst in self.instruments:
                if inst.symbol == instrument:
                    return inst.index
            raise KeyError(f"unknown instrument {instrument!r}")
        if isinstance(instrument, int) and 0 <= instrument < len(self.instruments):
            return instrument
        raise KeyError(f"unknown instrument {instrument!r}")

    # -- WHAT THE TRADER KNOWS -----------------------------------------------

    def position(self, instrument: object = None) -> int:
        """Lots held (negative: short), as fills heard so far say."""
        return self._position[self._ii if instrument is None else self._instrument_index(instrument)]

    def cash(self, instrument: object = None) -> int:
        """Notional units (ticks x lots) that trading the instrument brought in, fees deducted."""
        return self._cash[self._ii if instrument is None else self._instrument_index(instrument)]

    def fees_paid(self, instrument: object = None) -> int:
        """Notional units paid in fees (negative: net rebates)."""
        return self._fees[self._ii if instrument is None else self._instrument_index(instrument)]

    def pnl(self, mark_ticks: float, instrument: object = None) -> float:
        """Cash plus the position valued at ``mark_ticks``, in notional units."""
        ii = self._ii if instrument is None else self._instrument_index(instrument)
        return self._cash[ii] + self._position[ii] * mark_ticks

    def leverage(self, instrument: object = None) -> float | None:
        """The leverage its account on ``instrument``'s venue may use (its group's ``margin``), or None."""
        conn = self._conn_of[self._ii if instrument is None else self._instrument_index(instrument)]
        risk = self.venue.risk
        return None if conn is None or risk is None else risk.leverage(conn.index)

    def quote(self, instrument: object = None) -> Quote:
        """The latest market data heard (published at or before ``now - feed latency``)."""
        return self.feed.view(self._ii if instrument is None else self._instrument_index(instrument))

    def best_bid(self, instrument: object = None) -> int:
        """Best bid in ticks as heard; 0 if none."""
        return self.quote(instrument).bid

    def best_ask(self, instrument: object = None) -> int:
        """Best ask in ticks as heard; 0 if none."""
        return self.quote(instrument).ask

    def mid(self, instrument: object = None) -> float | None:
        """Mid in ticks as heard; None if a side is empty."""
        return self.quote(instrument).mid

    def last_price(self, instrument: object = None) -> int:
        """Last trade price in ticks as heard; 0 before the first trade."""
        return self.quote(instrument).last

    def fundamental(self, noise: float = 0.0, instrument: object = None) -> float:
        """The fundamental value now, in ticks, seen with Gaussian noise of std ``noise`` ticks."""
        ii = self._ii if instrument is None else self._instrument_index(instrument)
        tick = self.instruments[ii].tick_size
        process = self._fundamentals[ii]
        if noise:
            return process.observe(self.now, noise * tick, self.rng) / tick
        return process.value(self.now) / tick

    def subscribe(self, instrument: object = None) -> None:
        """Receive ``on_market_data`` for every quote of ``instrument`` (default: the trader's own)."""
        ii = self._ii if instrument is None else self._instrument_index(instrument)
        self.feed.subscribe(ii, self.on_market_data)

    # -- DELIVERIES (called by the venue's return-latency events) --------------

    def _on_updates(self, event: simpy.Event) -> None:
        for update in cast(list[tuple[Any, ...]], event._value):
            tag = update[0]
            if tag == FILL:
                self._hear_fill(update)
            elif tag == ACK:
                self._hear_ack(update)
            elif tag == STP_CANCELLED:
                order = self.orders.pop(update[1], None)
                if order is not None:
                    order.status, order.reason, order.leaves = "cancelled", "self_trade", 0
                    self.on_order_update(order)

    def _hear_ack(self, update: tuple[Any, ...]) -> None:
        _, oid, kind, status, reason, filled, resting, price = update
        order = self.orders.get(oid)
        if status == 0:  # rejected
            if kind <= _MARKET and order is not None:
                del self.orders[oid]
                order.status, order.reason, order.leaves = "rejected", REASONS[reason], 0
                self.on_order_update(order)
            self.on_reject(oid, EVENT_KINDS[kind], REASONS[reason])
            return
        if order is None:
            return
        if kind <= _MARKET:
            order.filled += filled
        elif kind == _REPLACE:
            order.price = price
            order.filled += filled
        order.leaves = resting
        if resting:
            order.status = "open"
        else:
            order.status = "cancelled" if kind in (_CANCEL, _REDUCE) else _STATUS_NAMES[status]
            del self.orders[oid]
        self.on_order_update(order)

    def _hear_fill(self, update: tuple[Any, ...]) -> None:
        _, oid, ii, price, qty, side, fee_paid, maker, maker_leaves, time_ns, cause = update
        self._position[ii] += side * qty
        self._cash[ii] -= side * price * qty + fee_paid
        self._fees[ii] += fee_paid
        if maker:
            order = self.orders.get(oid)
            if order is not None:
                order.filled += qty
                order.leaves = maker_leaves
                if not maker_leaves:
                    order.status = "filled"
                    del self.orders[oid]
                    self.on_order_update(order)
        fill = Fill(oid, ii, price, qty, side, fee_paid, maker, time_ns, cause)
        self.on_fill(fill)
        ev = self._next_fill
        if ev is not None:
            self._next_fill = None
            ev.succeed(fill)
