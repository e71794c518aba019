"""The venue: order entry through latency, matching in the core, fills back through latency.

One SimPy event carries each message batch a trader sends at one instant to
the venue (its entry latency), and one carries each batch of acknowledgements
and fills back to each trader concerned (its return latency). Between the two
the venue runs the commands on the instrument's compiled book, books the
fills on the traders' accounts, writes the event log and publishes market
data. Messages of one connection arrive in the order they were sent, and so
do its replies, as over one TCP session: a jittered latency never lets a
later message overtake an earlier one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

import simpy
from simpy.events import Timeout

from lob.core.book import OrderBook
from lob.core.codes import NO_ASK, Kind, Reason, Status
from lob.errors import OrderError
from lob.eventlog.recorder import Recorder
from lob.eventlog.schema import KIND_CODE, REASON_CODE
from lob.market.account import SpotAccount, fee
from lob.market.feed import MarketDataFeed, Quote
from lob.market.instrument import Instrument
from lob.market.latency import LatencyModel

if TYPE_CHECKING:
    from lob.agents.base import Trader
    from lob.market.breakers import CircuitBreakers

# A message from a trader: (kind, order_id, side, price_ticks, qty_lots, stp, sent_ns, instrument).
Message = tuple[int, int, int, int, int, int, int, int]

# Updates delivered to a trader, tagged by their first field.
ACK = 0  # (ACK, order_id, kind, status, reason, filled, resting, price)
# cause: the liquidation id a forced order carries (the owner hears of its forced fills), else 0.
FILL = 1  # (FILL, order_id, instrument, price, qty, side, fee, is_maker, maker_leaves, time_ns, cause)
STP_CANCELLED = 2  # (STP_CANCELLED, order_id)

_REPLACE = int(Kind.REPLACE)
_CANCEL = int(Kind.CANCEL)
_MARKET = int(Kind.MARKET)
_REJECTED = int(Status.REJECTED)
_UNKNOWN = int(Reason.UNKNOWN_ORDER_ID)
_FILL = KIND_CODE["fill"]
_TAKEOVER = KIND_CODE["takeover"]
_IOC = int(Kind.IOC)
_NO_MARGIN = REASON_CODE["insufficient_margin"]
_STP_CANCEL = KIND_CODE["stp_cancel"]


class Connection:
    """A trader's session with the venue: its latencies and what is in flight."""

    __slots__ = (
        "entry",
        "index",
        "last_arrival",
        "last_return",
        "listens",
        "live",
        "outbox",
        "outbox_time",
        "ret",
        "trader",
    )

    def __init__(
        self, trader: Trader | None, index: int, entry: LatencyModel, ret: LatencyModel, listens: bool = True
    ) -> None:
        self.trader = trader
        self.index = index  # the owner id the books see
        self.entry = entry
        self.ret = ret
        self.listens = listens  # False for passive accounts: nobody to tell, so no reply events
        #: Live order ids of a margined account (the liquidation engine cancels them); None otherwise.
        self.live: set[int] | None = None
        self.outbox: list[Message] | None = None  # the batch being sent at ``outbox_time``
        self.outbox_time = -1
        self.last_arrival = 0
        self.last_return = 0


class RiskHooks(Protocol):
    """What the venue asks of the risk layer (``lob.risk``), when one is attached."""

    def allows(self, owner: int, ii: int, side: int, qty: int, price: int) -> bool:
        """Whether a margined account has the margin for an order (price 0: at the mark)."""
        ...

    def positions_changed(self, changed: list[tuple[int, int]]) -> None:
        """``(owner, instrument)`` pairs whose position changed, after a command's fills are booked."""
        ...

    def leverage(self, owner: int) -> float | None:
        """The leverage a margined account may use; None for an account the risk layer does not watch."""
        ...


class RiskRouter:
    """Several risk engines behind the venue's one hook: one engine per venue of a multi-venue run.

    Each engine answers for the accounts it watches and lets every other
    account through, so asking them all is asking the right one.
    """

    def __init__(self, engines: list[RiskHooks]) -> None:
        self.engines = engines

    def allows(self, owner: int, ii: int, side: int, qty: int, price: int) -> bool:
        return all(e.allows(owner, ii, side, qty, price) for e in self.engines)

    def positions_changed(self, changed: list[tuple[int, int]]) -> None:
        for e in self.engines:
            e.positions_changed(changed)

    def leverage(self, owner: int) -> float | None:
        return next((lev for e in self.engines if (lev := e.leverage(owner)) is not None), None)


class ForcedResult(NamedTuple):
    """What a forced order did, as the venue executed it."""

    order_id: int
    status: int
    filled: int  # lots
    notional: int  # notional units of the fills
    levels: int  # price levels it took from
    fills: int
    arrival_mid: float  # ticks; NaN if a side was empty


class Venue:
    """One book per instrument, order entry, accounts, event log and market data.

    Fees are in millionths of notional (``maker_ppm`` may be negative: a
    rebate); :func:`lob.market.account.fee` rounds them. With a risk layer
    attached (``venue.risk``), margined accounts' orders are checked for
    margin on arrival, their live orders are tracked, and each change of
    their positions is reported, so that liquidation prices stay current.
    With circuit breakers attached (``venue.breakers``, see
    :mod:`lob.market.breakers`), each client message passes them before the
    book, and each command that trades reports its fills to them.
    """

    def __init__(
        self,
        env: simpy.Environment,
        instruments: Sequence[Instrument],
        feed: MarketDataFeed,
        recorder: Recorder,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
    ) -> None:
        self.env = env
        self.instruments = list(instruments)
        self.books = [OrderBook() for _ in self.instruments]
        self.feed = feed
        self.recorder = recorder
        self.maker_ppm = maker_ppm
        self.taker_ppm = taker_ppm
        #: (maker, taker) fee in millionths per instrument: instruments of different venues differ.
        self.fees_ppm = [(maker_ppm, taker_ppm)] * len(self.instruments)
        self.connections: list[Connection] = []
        self.accounts: list[SpotAccount] = []
        self.fee_income = [0] * len(self.instruments)  # notional units the venue collected
        self.volume = [0] * len(self.instruments)
        self.last_price = [0] * len(self.instruments)
        self.seq = 0  # sequence number of the last event-log row
        self.commands = 0  # commands processed
        self._next_order_id = 1
        self._log_events = recorder["events"].append if "events" in recorder.enabled else _discard
        self._log_trade = recorder["trades"].append if "trades" in recorder.enabled else _discard
        self._pending: dict[Connection, list[tuple[Any, ...]]] = {}
        self._trades: list[list[tuple[int, int, int]]] = [[] for _ in self.instruments]
        self.risk: RiskHooks | None = None
        self.breakers: CircuitBreakers | None = None  # price bands and halts (lob.market.breakers), if any
        self.margined: list[bool] = []  # per owner id
        #: Generation of each liquidation id, and per instrument the (generation, id) of the deepest
        #: liquidation whose forced order traded since the mark was last read (see take_mark_cause).
        self.cause_generation: dict[int, int] = {}
        self._mark_cause: list[tuple[int, int]] = [(-1, 0) for _ in self.instruments]
        #: Per instrument, callables told ``(ii, generation, liquidation id)`` of each caused trade
        #: (a composite index carries the cause to the marks of other venues).
        self.cause_listeners: list[list[Callable[[int, int, int], None]]] = [[] for _ in self.instruments]
        #: Liquidation ids that client orders declare they answer (a trader's own risk rule), by order id.
        self._declared: dict[int, int] = {}
        self._next_liquidation_id = 1
        self._changed: list[tuple[int, int]] = []
        self._forced_fills: list[tuple[int, int]] = []  # (price, lots) of the forced order being executed

    # -- CONNECTIONS ---------------------------------------------------------

    def connect(
        self,
        trader: Trader | None,
        entry: LatencyModel,
        ret: LatencyModel,
        *,
        margined: bool = False,
        listens: bool = True,
    ) -> Connection:
        """Opens a session for ``trader``; its index is the owner id in the books and the log.

        ``margined`` accounts are watched by the risk layer; a passive account
        (``trader`` None, ``listens`` False) holds a position but sends nothing
        and is told nothing.
        """
        conn = Connection(trader, len(self.connections), entry, ret, listens and trader is not None)
        if margined and trader is not None:  # a passive account sends nothing: no orders to track
            conn.live = set()
        self.connections.append(conn)
        self.accounts.append(SpotAccount(len(self.instruments)))
        self.margined.append(margined)
        return conn

    def take_mark_cause(self, ii: int) -> tuple[int, int]:
        """``(generation, liquidation id)`` of the deepest forced order that traded since the last call.

        ``(-1, 0)`` if none did. The mark-price process calls it at each
        update: a mark move inherits the cause of the trades that moved it.
        """
        cause = self._mark_cause[ii]
        self._mark_cause[ii] = (-1, 0)
        return cause

    def new_liquidation_id(self) -> int:
        """A run-wide unique liquidation id: several venues' engines draw from one counter."""
        lid = self._next_liquidation_id
        self._next_liquidation_id = lid + 1
        return lid

    def attach_risk(self, engine: RiskHooks) -> None:
        """Adds a risk engine; with more than one, a :class:`RiskRouter` asks each."""
        if self.risk is None:
            self.risk = engine
        elif isinstance(self.risk, RiskRouter):
            self.risk.engines.append(engine)
        else:
            self.risk = RiskRouter([self.risk, engine])

    def set_fees(self, ii: int, maker_ppm: int, taker_ppm: int) -> None:
        """Instrument ``ii``'s maker and taker fees, millionths of notional (its venue's schedule)."""
        self.fees_ppm[ii] = (maker_ppm, taker_ppm)

    def declare_cause(self, order_id: int, liquidation_id: int) -> None:
        """Marks a client order as answering liquidation ``liquidation_id`` (``Trader.submit_market``).

        Its trades then carry that liquidation into the next mark update of
        their instrument, as a forced order's do, so a liquidation on one
        venue that makes a trader sell on another is traced across. The
        order is otherwise an ordinary client order: margin-checked,
        acknowledged, logged with cause 0.
        """
        if liquidation_id:
            self._declared[order_id] = liquidation_id

    def new_order_id(self) -> int:
        """A venue-wide unique order id (assigned when the trader sends, so it can cancel at once)."""
        oid = self._next_order_id
        self._next_order_id = oid + 1
        return oid

    # -- ORDER ENTRY ---------------------------------------------------------

    def send(self, conn: Connection, msg: Message) -> None:
        """Puts ``msg`` on the wire. Runtime: O(1); one SimPy event per batch sent at one instant."""
        now: int = self.env._now  # type: ignore[assignment]  # _now skips a property; time is int ns here
        batch = conn.outbox
        if batch is not None and conn.outbox_time == now:
            batch.append(msg)
            return
        batch = [msg]
        conn.outbox = batch
        conn.outbox_time = now
        arrival = now + conn.entry.draw()
        if arrival < conn.last_arrival:
            arrival = conn.last_arrival  # no overtaking within a session
        conn.last_arrival = arrival
        ev = Timeout(self.env, arrival - now, (conn, batch))
        ev.callbacks.append(self._arrive)

    def _arrive(self, event: simpy.Event) -> None:
        conn, batch = cast(tuple[Connection, list[Message]], event._value)
        if conn.outbox is batch:
            conn.outbox = None  # later sends at this instant start a new batch
        now: int = self.env._now  # type: ignore[assignment]
        touched: list[int] = []
        breakers = self.breakers  # read once a batch: without breakers a message costs one local test
        for msg in batch:
            ii = msg[7]
            if breakers is None:
                self._execute(conn, msg, now)
            else:
                admitted = breakers.admit(conn, msg, now)
                if admitted is not None:
                    self._execute(conn, admitted, now)
            if ii not in touched:
                touched.append(ii)
        self._reply(now)
        for ii in touched:
            self._publish(ii, now)

    def _execute(self, conn: Connection, msg: Message, now: int, cause: int = 0) -> int:
        """Runs one command on its book; returns its status. Logs it, books fills, queues replies."""
        kind, oid, side, price, qty, stp, sent, ii = msg
        book = self.books[ii]
        owner = conn.index
        self.commands += 1
        if kind > _MARKET:
            # cancel / reduce / replace: only the owner's live orders
            if oid not in book or book.order_owner(oid) != owner:
                self._log_command(
                    now, kind, conn, ii, oid, side, price, qty, 0, _REJECTED, _UNKNOWN, stp, sent, cause
                )
                self._queue(conn, (ACK, oid, kind, _REJECTED, _UNKNOWN, 0, 0, price))
                return _REJECTED
            side = book.order_side(oid)
            if kind == _CANCEL:
                qty = book.order_qty(oid)
                price = book.order_price(oid)
            elif (
                kind == _REPLACE
                and conn.live is not None
                and self.risk is not None
                and qty > book.order_qty(oid)
                and not self.risk.allows(owner, ii, side, qty - book.order_qty(oid), price)
            ):  # a replace that grows the order needs margin for the extra lots
                self._log_command(
                    now, kind, conn, ii, oid, side, price, qty, 0, _REJECTED, _NO_MARGIN, stp, sent, cause
                )
                self._queue(conn, (ACK, oid, kind, _REJECTED, _NO_MARGIN, 0, 0, price))
                return _REJECTED
        elif (
            conn.live is not None
            and not cause
            and self.risk is not None
            and not self.risk.allows(owner, ii, side, qty, price if kind != _MARKET else 0)
        ):
            self._log_command(
                now, kind, conn, ii, oid, side, price, qty, 0, _REJECTED, _NO_MARGIN, stp, sent, cause
            )
            self._queue(conn, (ACK, oid, kind, _REJECTED, _NO_MARGIN, 0, 0, price))
            return _REJECTED
        try:
            status = book.submit(kind, oid, owner, side, price, qty, stp)
        except OrderError as err:
            status, reason, filled, resting = _REJECTED, int(err.reason), 0, 0
        except OverflowError:
            status, reason, filled, resting = (
                _REJECTED,
                int(Reason.INVALID_QTY if qty > 0 else Reason.INVALID_PRICE),
                0,
                0,
            )
        else:
            reason, filled, resting = book.last_reason, book.last_filled, book.last_resting
        self._log_command(
            now, kind, conn, ii, oid, side, price, qty, resting, status, reason, stp, sent, cause
        )
        if not cause:
            self._queue(conn, (ACK, oid, kind, status, reason, filled, resting, price))
        live = conn.live
        if live is not None:
            if resting:
                live.add(oid)
            else:
                live.discard(oid)
        fills = book.take_fill_tuples() if book.fill_count else None
        if fills is not None:
            self._book_fills(fills, ii, now, sent, cause)
        if self._declared:
            self._declared.pop(oid, None)  # a declared cause covers the order's own taking only
        if stp:
            for rec in book.take_stp_cancels().tolist():
                self._stp_cancelled(rec, ii, now)
        if fills is not None and self.breakers is not None:
            self.breakers.after_trades(ii, now, fills, cause)  # may halt: after the command's own rows
        if self._changed:
            changed, self._changed = self._changed, []
            assert self.risk is not None
            self.risk.positions_changed(changed)
        return status

    # -- THE RISK LAYER'S ORDERS ---------------------------------------------

    def execute_forced(
        self, owner: int, ii: int, side: int, qty: int, limit: int, cause: int
    ) -> ForcedResult:
        """Runs a forced (liquidation) IOC now, for ``owner``, limited at ``limit`` ticks (0: market).

        The liquidation engine sits in the venue and has waited its own check
        latency already, so the order meets the book at once: price bands and
        halts do not stop it (its fills still reach the breakers). It is logged and
        its fills booked like any order's, carrying ``cause`` (the liquidation
        id); the owner hears of the fills, not of the order. Returns the
        execution figures the liquidations table needs.
        """
        now: int = self.env._now  # type: ignore[assignment]
        book = self.books[ii]
        bid, ask = book.best_bid(), book.best_ask()
        arrival_mid = (bid + ask) / 2 if bid and ask != NO_ASK else math.nan
        conn = self.connections[owner]
        oid = self.new_order_id()
        kind = _IOC if limit else _MARKET
        fills_before = len(self._forced_fills)
        status = self._execute(conn, (kind, oid, side, limit, qty, 0, now, ii), now, cause)
        fills = self._forced_fills[fills_before:]
        del self._forced_fills[fills_before:]
        self._reply(now)
        self._publish(ii, now)
        filled = sum(q for _, q in fills)
        notional = sum(p * q for p, q in fills)
        return ForcedResult(
            oid, status, filled, notional, len({p for p, _ in fills}), len(fills), arrival_mid
        )

    def submit_now(self, conn: Connection, msg: Message) -> int:
        """Runs ``msg`` for ``conn`` now, with no entry latency; returns its status.

        For flow that sits in the venue, such as replayed historical depth
        (:mod:`lob.replay.background`): logged and booked like any command,
        not subject to price bands or halts. Call :meth:`publish_now` after a
        batch of them.
        """
        now: int = self.env._now  # type: ignore[assignment]
        status = self._execute(conn, msg, now)
        self._reply(now)
        return status

    def publish_now(self, ii: int) -> None:
        """Publishes instrument ``ii``'s quote now if its top changed or it traded."""
        self._publish(ii, self.env._now)  # type: ignore[arg-type]

    def cancel_all_for(self, owner: int, cause: int) -> int:
        """Cancels every live order of a margined account now (a liquidation starts with this).

        Orders the circuit breakers hold for a resumption are dropped too.
        """
        conn = self.connections[owner]
        now: int = self.env._now  # type: ignore[assignment]
        n = self.breakers.cancel_held(conn, cause) if self.breakers is not None else 0
        if not conn.live:
            if n:
                self._reply(now)
            return n
        for oid in sorted(conn.live):
            for ii, book in enumerate(self.books):
                if oid in book:
                    self._execute(conn, (_CANCEL, oid, 0, 0, 0, 0, now, ii), now, cause)
                    self._queue(conn, (ACK, oid, _CANCEL, int(Status.CANCELLED), 0, 0, 0, 0))
                    n += 1
                    break
        conn.live.clear()
        self._reply(now)
        for ii in range(len(self.books)):
            self._publish(ii, now)
        return n

    def transfer_position(
        self, src: int, dst: int, ii: int, lots: int, price_ticks: int, cause: int, kind: int = _TAKEOVER
    ) -> None:
        """Moves ``lots`` (signed, as held by ``src``) of instrument ``ii`` from ``src`` to ``dst`` off-book.

        At ``price_ticks``: ``dst`` pays ``src`` as if it had bought them there
        (a takeover by the insurance fund or a backstop vault, or an
        auto-deleveraging close). Logged as a ``kind`` row (``takeover`` or
        ``adl``); cash and positions stay exactly conserved. Both owners hear
        it as a fill of order 0 carrying ``cause`` (the liquidation id), so a
        trader's own books follow a liquidation that never reached the book.
        """
        now: int = self.env._now  # type: ignore[assignment]
        a, b = self.accounts[src], self.accounts[dst]
        flow = lots * price_ticks
        a.position[ii] -= lots
        a.cash[ii] += flow
        b.position[ii] += lots
        b.cash[ii] -= flow
        self.seq += 1
        self._log_events(
            (self.seq, now, kind, src, ii, 0, 1 if lots > 0 else -1, price_ticks, abs(lots), 0,
             -1, 0, 0, now, 0, dst, float(price_ticks), cause)
        )  # fmt: skip
        sign = 1 if lots > 0 else -1
        conns = self.connections
        told = conns[src].listens or conns[dst].listens
        self._queue(conns[src], (FILL, 0, ii, price_ticks, abs(lots), -sign, 0, False, -1, now, cause))
        self._queue(conns[dst], (FILL, 0, ii, price_ticks, abs(lots), sign, 0, False, -1, now, cause))
        if told:
            self._reply(now)
        if self.risk is not None:
            self.risk.positions_changed([(src, ii), (dst, ii)])

    def log_row(self, kind: int, agent: int, ii: int, order_id: int, price_ticks: int, qty: int,
                value: float, cause: int = 0, counterparty: int = -1) -> int:  # fmt: skip
        """Appends an events row of the risk layer (mark, index, liquidation); returns its seq."""
        now: int = self.env._now  # type: ignore[assignment]
        self.seq += 1
        self._log_events(
            (self.seq, now, kind, agent, ii, order_id, 0, price_ticks, qty, 0, -1, 0, 0, now, 0,
             counterparty, value, cause)
        )  # fmt: skip
        return self.seq

    def answer_unbooked(
        self,
        conn: Connection,
        msg: Message,
        now: int,
        status: int,
        reason: int,
        resting: int = 0,
        cause: int = 0,
    ) -> None:
        """Logs ``msg`` as a command row the book never saw, with ``status`` and ``reason``, and ACKs it.

        For the circuit breakers: rejections (``halted``, ``price_band``) and
        cancels or reduces of orders held during a halt. ``resting`` is the
        lots left of the order. Runtime: O(1).
        """
        kind, oid, side, price, qty, stp, sent, ii = msg
        self.commands += 1
        self._log_command(
            now, kind, conn, ii, oid, side, price, qty, resting, status, reason, stp, sent, cause
        )
        self._queue(conn, (ACK, oid, kind, status, reason, 0, resting, price))

    def _log_command(
        self,
        now: int,
        kind: int,
        conn: Connection,
        ii: int,
        oid: int,
        side: int,
        price: int,
        qty: int,
        resting: int,
        status: int,
        reason: int,
        stp: int,
        sent: int,
        cause: int = 0,
    ) -> None:
        self.seq += 1
        self._log_events(
            (self.seq, now, kind, conn.index, ii, oid, side, price, qty, resting, status, reason, stp, sent,
             0, -1, 0.0, cause)
        )  # fmt: skip

    def _book_fills(
        self, fills: Sequence[tuple[int, ...]], ii: int, now: int, sent: int, cause: int = 0
    ) -> None:
        """Moves cash and inventory for each fill, logs it, and tells both sides."""
        maker_ppm, taker_ppm = self.fees_ppm[ii]
        declared = self._declared
        accounts, connections, margined = self.accounts, self.connections, self.margined
        trades = self._trades[ii]
        for _seq, tid, mid, towner, mowner, px, q, mleft, aside in fills:
            notional = px * q
            tfee = fee(notional, taker_ppm) if taker_ppm else 0
            mfee = fee(notional, maker_ppm) if maker_ppm else 0
            ta = accounts[towner]
            ma = accounts[mowner]
            signed = aside * q
            flow = aside * notional
            ta.position[ii] += signed
            ta.cash[ii] -= flow + tfee
            ta.fees[ii] += tfee
            ma.position[ii] -= signed
            ma.cash[ii] += flow - mfee
            ma.fees[ii] += mfee
            self.fee_income[ii] += tfee + mfee
            self.seq += 1
            seq = self.seq
            self._log_events(
                (seq, now, _FILL, towner, ii, tid, aside, px, q, mleft, -1, 0, 0, sent, mid, mowner,
                 0.0, cause)
            )  # fmt: skip
            self._log_trade((seq, now, ii, px, q, aside, tid, mid, towner, mowner, tfee, mfee, cause))
            self._queue(connections[towner], (FILL, tid, ii, px, q, aside, tfee, False, -1, now, cause))
            self._queue(connections[mowner], (FILL, mid, ii, px, q, -aside, mfee, True, mleft, now, 0))
            trades.append((px, q, aside))
            self.volume[ii] += q
            self.last_price[ii] = px
            if margined[towner]:
                self._changed.append((towner, ii))
            if margined[mowner]:
                self._changed.append((mowner, ii))
                if not mleft:
                    live = connections[mowner].live
                    if live is not None:
                        live.discard(mid)
            if cause:
                self._forced_fills.append((px, q))
                self._caused(ii, cause)
            elif declared and tid in declared:
                self._caused(ii, declared[tid])

    def _caused(self, ii: int, cause: int) -> None:
        """A trade of ``ii`` made by an order answering liquidation ``cause``: the next mark inherits it."""
        generation = self.cause_generation.get(cause, 0)
        if generation >= self._mark_cause[ii][0]:
            self._mark_cause[ii] = (generation, cause)
        for listener in self.cause_listeners[ii]:
            listener(ii, generation, cause)

    def _stp_cancelled(self, rec: tuple[Any, ...], ii: int, now: int) -> None:
        _seq, taker_id, maker_id, maker_owner, price, qty, maker_side = rec
        self.seq += 1
        self._log_events(
            (self.seq, now, _STP_CANCEL, maker_owner, ii, maker_id, maker_side, price, qty, 0,
             int(Status.CANCELLED), int(Reason.SELF_TRADE), 0, now, taker_id, -1, 0.0, 0)
        )  # fmt: skip
        live = self.connections[maker_owner].live
        if live is not None:
            live.discard(maker_id)
        self._queue(self.connections[maker_owner], (STP_CANCELLED, maker_id))

    # -- REPLIES AND MARKET DATA ---------------------------------------------

    def _queue(self, conn: Connection, update: tuple[Any, ...]) -> None:
        if not conn.listens:
            return  # a passive account: nobody to tell
        pending = self._pending.get(conn)
        if pending is None:
            self._pending[conn] = [update]
        else:
            pending.append(update)

    def _reply(self, now: int) -> None:
        """One return-latency event per trader with something to hear."""
        if not self._pending:
            return
        for conn, updates in self._pending.items():
            t = now + conn.ret.draw()
            if t < conn.last_return:
                t = conn.last_return
            conn.last_return = t
            ev = Timeout(self.env, t - now, updates)
            assert conn.trader is not None  # only listening connections queue replies
            ev.callbacks.append(conn.trader._on_updates)
        self._pending = {}

    def _publish(self, ii: int, now: int) -> None:
        """Publishes a quote of instrument ``ii`` if its top changed or it traded."""
        book = self.books[ii]
        bid = book.best_bid()
        ask = book.best_ask()
        if ask == NO_ASK:
            ask = 0
        bid_lots = book.volume_at(1, bid) if bid else 0
        ask_lots = book.volume_at(-1, ask) if ask else 0
        trades = self._trades[ii]
        prev = self.feed.latest(ii)
        if (
            not trades
            and bid == prev.bid
            and ask == prev.ask
            and bid_lots == prev.bid_lots
            and ask_lots == prev.ask_lots
            and not self.feed.depth
        ):
            return
        bids: tuple[tuple[int, int], ...] = ()
        asks: tuple[tuple[int, int], ...] = ()
        if self.feed.depth:
            bp, bq = book.depth(1, self.feed.depth)
            ap, aq = book.depth(-1, self.feed.depth)
            bids = tuple(zip(bp.tolist(), bq.tolist(), strict=True))
            asks = tuple(zip(ap.tolist(), aq.tolist(), strict=True))
            if not trades and bids == prev.bids and asks == prev.asks:
                return
        quote = Quote(
            ii,
            now,
            bid,
            bid_lots,
            ask,
            ask_lots,
            self.last_price[ii],
            self.volume[ii],
            bids,
            asks,
            tuple(trades),
        )
        trades.clear()
        self.feed.publish(quote)


def _discard(row: tuple[Any, ...]) -> None:
    """Stands in for a log table the run does not write."""
