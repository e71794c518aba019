"""Circuit breakers and price protection: price bands, limit up/limit down, market-wide halts.

Three rules, each optional, modelled on rules that real venues publish:

- **Price bands** (:class:`BandRule`), after Binance's ``PERCENT_PRICE``
  filter: an order priced beyond ``reference * (1 +- limit)`` is rejected
  with reason ``price_band``. Binance's spot filter takes as reference the
  average of the trade prices of the last ``avgPriceMins`` minutes
  (https://developers.binance.com/docs/binance-spot-api-docs/filters). Its
  USDⓈ-M futures list a ``PERCENT_PRICE`` filter too (``multiplierUp``,
  ``multiplierDown`` in ``/fapi/v1/exchangeInfo``), which futures simulators
  such as lfest-rs apply around the mark price
  (https://docs.rs/lfest/latest/lfest/prelude/struct.PriceFilter.html).
- **Limit up / limit down** (:class:`LuldRule`), after the US National Market
  System Plan to Address Extraordinary Market Volatility (the LULD plan,
  https://www.luldplan.com): the reference price is the arithmetic mean of
  the trade prices of the preceding five minutes; a stock whose market sits at
  a band edge is in a "limit state", and one that stays there 15 seconds is
  paused for five minutes. The plan keeps trades inside the bands and defines
  the limit state by the national best bid and offer; this venue has one book
  and does not stop the trade, so a trade beyond the band is what enters the
  limit state here, and a trade back inside it is what leaves it.
- **Market-wide circuit breakers** (:class:`MarketWideRule`), after NYSE Rule
  7.12 (formerly Rule 80B; NYSE Information Memo 13-6,
  http://www.nyse.com/nysenotices/nyse/information-memos/detail?memo_id=13-6): a fall
  of the S&P 500 of 7% (level 1) or 13% (level 2) from the previous close
  halts all stocks for 15 minutes, 20% (level 3) for the rest of the day, and
  each level halts at most once a day. Here each instrument's fall is measured
  from its own reference price (the day's reference, ticks), and a fall of
  any one instrument halts them all.

How the venue uses this module (see :class:`CircuitBreakers`): it calls
:meth:`CircuitBreakers.admit` on every client message before it reaches the
book, and :meth:`CircuitBreakers.after_trades` after each command that traded.
The liquidation engine's forced orders (``Venue.execute_forced``, which carry
a liquidation id as ``cause``) skip ``admit``: bands and halts do not stop
them, and the engine decides itself whether to wait out a halt
(:meth:`CircuitBreakers.halted`, :meth:`CircuitBreakers.on_resume`). Their
trades still feed the reference prices and can trigger the market-wide
breaker.

Event-log rows (kinds of :data:`lob.eventlog.schema.EVENT_KINDS`, ``agent`` -1):

- ``halt``: ``order_id`` 1 LULD, 2 market-wide; ``qty_lots`` the market-wide
  level (1, 2, ...; 0 for LULD); ``price_ticks`` the instrument's last trade
  price; ``value`` the halt's length in seconds (``inf``: to the end of the
  run); ``cause`` the liquidation whose forced order made the triggering trade.
  A halt of an instrument already halted is logged too, and extends the halt
  to the later end.
- ``resume``: ``qty_lots`` the orders held at the resumption (entered then,
  in arrival order, unless one of them halts the instrument again),
  ``value`` the seconds the instrument was halted.
- ``limit_state`` / ``limit_state_end``: ``price_ticks`` the trade that
  entered or left the limit state, ``value`` the LULD reference price, ticks.

Orders during a halt (``BreakerRules.during_halt``): ``"reject"`` rejects
new orders and replaces with reason ``halted`` (logged as their command row
and acknowledged, as a margin rejection is); ``"queue"`` holds them in the
venue, in arrival order, and enters them at the resumption through the normal
path (margin and band checks then). A held order is logged once, as its
command row at the time it is entered, with its original ``sent_ns`` (so
``time_ns - sent_ns`` includes the wait). Cancels and reduces are processed
during a halt; a cancel (or a reduce) of a held order acts on the held order
and is logged with reason ``halted``: command rows whose reason is one of the
venue's own (``insufficient_margin``, ``price_band``, ``halted``) never reached
the book, and a replay of the log through a book must skip them.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy
from simpy.events import Timeout

from lob.core.codes import Kind, Reason, Status
from lob.eventlog.schema import KIND_CODE, REASON_CODE

if TYPE_CHECKING:
    from lob.market.venue import Connection, Message, Venue

#: ``halt.order_id`` of a limit up/limit down halt.
LULD_HALT = 1
#: ``halt.order_id`` of a market-wide halt.
MARKET_WIDE_HALT = 2

REFERENCES = ("mark", "trades")
DURING_HALT = ("reject", "queue")

_MARKET = int(Kind.MARKET)
_CANCEL = int(Kind.CANCEL)
_REDUCE = int(Kind.REDUCE)
_REPLACE = int(Kind.REPLACE)
_REJECTED = int(Status.REJECTED)
_RESTING = int(Status.RESTING)
_CANCELLED = int(Status.CANCELLED)
_PRICE_BAND = REASON_CODE["price_band"]
_HALTED = REASON_CODE["halted"]
_HALT = KIND_CODE["halt"]
_RESUME = KIND_CODE["resume"]
_LIMIT_STATE = KIND_CODE["limit_state"]
_LIMIT_STATE_END = KIND_CODE["limit_state_end"]
_NS = 1e9
_EDGE_TOLERANCE = 1e-6  # ticks: a band edge that float arithmetic puts at 10499.999999 is 10500


@dataclass(frozen=True)
class BandRule:
    """Price bands: an order priced beyond ``reference * (1 +- limit)`` is rejected (``price_band``).

    ``limit`` is a fraction (0.05: 5%). ``reference`` is ``"mark"``, the
    perpetual's mark price as the risk layer reports it through
    :meth:`CircuitBreakers.set_mark` (until the first mark: the last trade,
    else the day's reference), or ``"trades"``, the arithmetic mean of the
    trade prices of the last ``window_ns`` (the last mean when the window is
    empty; the day's reference before any trade).

    Limit, IOC, FOK, post-only orders and replaces that move the price are
    checked; a band edge itself is allowed (edges are rounded inward to whole
    ticks). A market order is not rejected: it gets the band edge as its
    protection price (unless its own is tighter), so it takes liquidity up to
    the edge and the rest expires.
    """

    limit: float
    reference: str = "mark"
    window_ns: int = 60_000_000_000

    def __post_init__(self) -> None:
        if not 0 < self.limit < 1:
            raise ValueError(f"band limit must be a fraction in (0, 1), got {self.limit}")
        if self.reference not in REFERENCES:
            raise ValueError(f"band reference must be one of {REFERENCES}, got {self.reference!r}")
        if self.window_ns <= 0:
            raise ValueError(f"band window must be > 0 ns, got {self.window_ns}")


@dataclass(frozen=True)
class LuldRule:
    """Limit up/limit down: a trade beyond ``reference * (1 +- band)`` starts a limit state.

    The reference is the arithmetic mean of the trade prices (one term per
    trade, whatever its size) of the preceding ``reference_window_ns``; the
    previous reference while the window holds no trade; the day's reference
    before the first. A limit state that lasts ``limit_state_ns`` halts the
    instrument for ``halt_ns``; a trade inside the band ends it sooner.
    """

    band: float
    reference_window_ns: int = 300_000_000_000
    limit_state_ns: int = 15_000_000_000
    halt_ns: int = 300_000_000_000

    def __post_init__(self) -> None:
        if not 0 < self.band < 1:
            raise ValueError(f"LULD band must be a fraction in (0, 1), got {self.band}")
        for name in ("reference_window_ns", "limit_state_ns", "halt_ns"):
            if getattr(self, name) <= 0:
                raise ValueError(f"LULD {name} must be > 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class MarketWideRule:
    """Market-wide circuit breaker: ``levels`` of ``(fall, halt_ns)``, shallowest first.

    A trade at or below ``reference * (1 - fall)`` of its instrument's day
    reference halts every instrument for ``halt_ns`` (0: to the end of the
    run). Each level fires at most once; a fall through several levels at
    once fires the deepest and uses up the ones above it.
    """

    levels: tuple[tuple[float, int], ...]

    def __post_init__(self) -> None:
        falls = [fall for fall, _ in self.levels]
        if not falls:
            raise ValueError("market-wide breaker needs at least one level")
        if any(not 0 < f < 1 for f in falls) or falls != sorted(set(falls)):
            raise ValueError(f"market-wide levels must be increasing fractions in (0, 1), got {falls}")
        if any(ns < 0 for _, ns in self.levels):
            raise ValueError("market-wide halt lengths must be >= 0 ns (0: to the end of the run)")


@dataclass(frozen=True)
class BreakerRules:
    """Which breakers a venue runs, and what happens to orders during a halt (``"reject"``, ``"queue"``)."""

    band: BandRule | None = None
    luld: LuldRule | None = None
    market_wide: MarketWideRule | None = None
    during_halt: str = "reject"

    def __post_init__(self) -> None:
        if self.during_halt not in DURING_HALT:
            raise ValueError(f"during_halt must be one of {DURING_HALT}, got {self.during_halt!r}")


class _TradeMean:
    """Arithmetic mean of trade prices over a moving window, in ticks.

    A deque of ``(time_ns, price)`` and a running integer sum: each trade is
    added once and dropped once, so an update or a query is O(1) amortised,
    and the sum is exact. ``last`` is what an empty window reports.
    """

    __slots__ = ("_sum", "_trades", "last", "window_ns")

    def __init__(self, window_ns: int, initial: float) -> None:
        self.window_ns = window_ns
        self._trades: deque[tuple[int, int]] = deque()
        self._sum = 0
        self.last = float(initial)

    def add(self, now: int, price: int) -> None:
        self._trades.append((now, price))
        self._sum += price

    def value(self, now: int) -> float:
        """The mean of the trades of ``(now - window_ns, now]``; ``last`` if there are none."""
        trades = self._trades
        horizon = now - self.window_ns
        while trades and trades[0][0] <= horizon:
            self._sum -= trades.popleft()[1]
        if trades:
            self.last = self._sum / len(trades)
        return self.last


def band_edges(reference: float, fraction: float) -> tuple[int, int]:
    """``(lower, upper)``: the whole ticks within ``reference * (1 -+ fraction)``, edges included.

    >>> band_edges(10_000, 0.05)
    (9500, 10500)
    >>> band_edges(10_001, 0.05)
    (9501, 10501)
    """
    lower = math.ceil(reference * (1.0 - fraction) - _EDGE_TOLERANCE)
    upper = math.floor(reference * (1.0 + fraction) + _EDGE_TOLERANCE)
    return lower, upper


class CircuitBreakers:
    """The venue's circuit breakers and price bands; attaches itself as ``venue.breakers``.

    ``references`` is the day's reference price of each instrument, ticks
    (the instrument's configured price): the market-wide breaker measures
    falls from it, and the LULD and band references start from it. Costs:
    :meth:`admit` is O(1) per message; :meth:`after_trades` O(fills) plus
    O(instruments) when a market-wide level fires; halts and limit states
    cost one SimPy event each (a timeout), and nothing is scheduled while no
    breaker fires.

    Counters per instrument (for the run summary): ``halts``, ``limit_states``,
    ``band_rejections``, ``halt_rejections``, ``held_orders``.
    """

    def __init__(
        self, env: simpy.Environment, venue: Venue, rules: BreakerRules, references: Sequence[int]
    ) -> None:
        n = len(venue.books)
        if len(references) != n:
            raise ValueError(f"{len(references)} reference prices for {n} instruments")
        if any(r <= 0 for r in references):
            raise ValueError(f"reference prices must be > 0 ticks, got {list(references)}")
        self.env = env
        self.venue = venue
        self.rules = rules
        self.references = [int(r) for r in references]
        self._queue_mode = rules.during_halt == "queue"
        # halts
        self._halted = [False] * n
        self._halt_start = [0] * n
        self._halt_end = [0.0] * n  # ns; inf: to the end of the run
        self._halt_gen = [0] * n  # a resume timeout is stale once this has moved on
        self._on_resume: list[list[Callable[[], None]]] = [[] for _ in range(n)]
        # orders held during a halt (queue mode): per instrument, ticket -> (connection, message) in
        # arrival order (an OrderedDict: O(1) removal from anywhere, and from the front at the resumption);
        # and order id -> (instrument, ticket) of the held new orders, for their cancels
        self._held: list[OrderedDict[int, tuple[Connection, Message]]] = [OrderedDict() for _ in range(n)]
        self._held_ids: dict[int, tuple[int, int]] = {}
        self._ticket = 0
        # bands
        self._band = rules.band
        self._marks = [0.0] * n
        self._band_means: list[_TradeMean] | None = None
        if rules.band is not None and rules.band.reference == "trades":
            self._band_means = [_TradeMean(rules.band.window_ns, r) for r in self.references]
        # limit up / limit down
        self._luld = rules.luld
        self._luld_means: list[_TradeMean] | None = None
        if rules.luld is not None:
            self._luld_means = [_TradeMean(rules.luld.reference_window_ns, r) for r in self.references]
        self._in_limit = [False] * n
        self._limit_gen = [0] * n  # a limit-state timeout is stale once this has moved on
        # market-wide
        self._levels = rules.market_wide.levels if rules.market_wide is not None else ()
        self._fired = [False] * len(self._levels)
        # counters
        self.halts = [0] * n
        self.limit_states = [0] * n
        self.band_rejections = [0] * n
        self.halt_rejections = [0] * n
        self.held_orders = [0] * n
        venue.breakers = self

    # -- QUERIES -------------------------------------------------------------

    def halted(self, ii: int) -> bool:
        """Whether instrument ``ii`` is halted now. O(1)."""
        return self._halted[ii]

    def in_limit_state(self, ii: int) -> bool:
        """Whether instrument ``ii`` is in an LULD limit state now. O(1)."""
        return self._in_limit[ii]

    def band_reference(self, ii: int) -> float:
        """The price-band reference of ``ii`` now, ticks (the day's reference without a band rule)."""
        band = self._band
        if band is None:
            return float(self.references[ii])
        if self._band_means is not None:
            return self._band_means[ii].value(self._now())
        return self._marks[ii] or float(self.venue.last_price[ii] or self.references[ii])

    def luld_reference(self, ii: int) -> float:
        """The LULD reference of ``ii`` now, ticks (the day's reference without an LULD rule)."""
        if self._luld_means is None:
            return float(self.references[ii])
        return self._luld_means[ii].value(self._now())

    def held(self, ii: int) -> list[Message]:
        """The messages of ``ii`` held for the resumption, in arrival order. O(held)."""
        return [msg for _, msg in self._held[ii].values()]

    # -- THE RISK LAYER'S HOOKS ----------------------------------------------

    def set_mark(self, ii: int, mark_ticks: float) -> None:
        """Records the mark price of ``ii`` (ticks): the band reference of rule ``"mark"``. O(1)."""
        self._marks[ii] = float(mark_ticks)

    def on_resume(self, ii: int, callback: Callable[[], None]) -> None:
        """Calls ``callback()`` once, when ``ii`` next resumes (after its held orders are entered).

        Only registers it: a caller checks :meth:`halted` first. A halt to the
        end of the run never resumes, and the callback is then never called.
        """
        self._on_resume[ii].append(callback)

    # -- THE VENUE'S HOOKS ---------------------------------------------------

    def admit(self, conn: Connection, msg: Message, now: int) -> Message | None:
        """The message the venue should execute for a client ``msg`` (maybe amended), or None.

        None when the breakers have dealt with it: rejected (``halted``,
        ``price_band``; logged and acknowledged), held for the resumption, or a
        cancel or reduce of a held order. A market order may come back with a
        band-edge protection price. Runtime: O(1).
        """
        kind = msg[0]
        if kind in (_CANCEL, _REDUCE):
            if self._held_ids and msg[1] in self._held_ids:
                return self._amend_held(conn, msg, now)
            return msg
        ii = msg[7]
        if self._halted[ii]:
            if self._queue_mode:
                self._hold(conn, msg, ii)
            else:
                self.halt_rejections[ii] += 1
                self.venue.answer_unbooked(conn, msg, now, _REJECTED, _HALTED)
            return None
        if self._band is not None:
            return self._check_band(conn, msg, now, ii)
        return msg

    def after_trades(self, ii: int, now: int, fills: Sequence[tuple[int, ...]], cause: int = 0) -> None:
        """Feeds one command's fills of ``ii`` (the book's fill tuples) to the breakers. O(fills)."""
        last = fills[-1][5]
        reference = 0.0
        if self._luld_means is not None:
            mean = self._luld_means[ii]
            reference = mean.value(now)  # the preceding window, before this command's trades
            for fill in fills:
                mean.add(now, fill[5])
        if self._band_means is not None:
            band_mean = self._band_means[ii]
            for fill in fills:
                band_mean.add(now, fill[5])
        if self._levels and self._check_market_wide(ii, last, cause):
            return
        if self._luld is not None and not self._halted[ii]:
            self._check_limit_state(ii, now, last, reference, cause)

    def cancel_held(self, conn: Connection, cause: int = 0) -> int:
        """Drops every held message of ``conn`` (the liquidation engine's cancel-all); returns how many.

        A held order is logged as a cancel (status ``cancelled``, reason
        ``halted``), a held replace as rejected (reason ``halted``); each is
        acknowledged. O(instruments) when nothing is held, else O(held).
        """
        now = self._now()
        n = 0
        for held in self._held:
            if not held:
                continue
            mine = [(t, msg) for t, (c, msg) in held.items() if c is conn]
            for ticket, msg in mine:
                del held[ticket]
                kind, oid, side, price, qty, _stp, _sent, ii = msg
                if kind <= _MARKET:
                    self._held_ids.pop(oid, None)
                    cancel = (_CANCEL, oid, side, price, qty, 0, now, ii)
                    self.venue.answer_unbooked(conn, cancel, now, _CANCELLED, _HALTED, cause=cause)
                else:
                    self.venue.answer_unbooked(conn, msg, now, _REJECTED, _HALTED, cause=cause)
                n += 1
        return n

    # -- HALTS ---------------------------------------------------------------

    def halt(
        self,
        ii: int,
        duration_ns: int | None,
        source: int,
        *,
        level: int = 0,
        cause: int = 0,
    ) -> None:
        """Halts ``ii`` now for ``duration_ns`` (None: to the end of the run); logs a ``halt`` row.

        ``source`` is :data:`LULD_HALT` or :data:`MARKET_WIDE_HALT` (the row's
        ``order_id``), ``level`` the market-wide level. An instrument already
        halted stays halted to the later of the two ends. Ends its limit state
        (without a ``limit_state_end`` row: the halt row says why). Runtime:
        O(1), one SimPy event when the end moves.
        """
        now = self._now()
        end = math.inf if duration_ns is None else float(now + duration_ns)
        self.halts[ii] += 1
        if self._in_limit[ii]:
            self._in_limit[ii] = False
            self._limit_gen[ii] += 1
        value = math.inf if duration_ns is None else duration_ns / _NS
        self.venue.log_row(_HALT, -1, ii, source, self.venue.last_price[ii], level, value, cause)
        if not self._halted[ii]:
            self._halted[ii] = True
            self._halt_start[ii] = now
        elif end <= self._halt_end[ii]:
            return
        self._halt_end[ii] = end
        self._halt_gen[ii] += 1
        if duration_ns is not None:
            ev = Timeout(self.env, duration_ns, (ii, self._halt_gen[ii]))
            ev.callbacks.append(self._resume_due)

    def _resume_due(self, event: simpy.Event) -> None:
        ii, gen = event._value
        if gen == self._halt_gen[ii] and self._halted[ii]:
            self._resume(ii)

    def _resume(self, ii: int) -> None:
        """Ends the halt of ``ii``: logs ``resume``, enters the held orders, then calls back."""
        now = self._now()
        venue = self.venue
        self._halted[ii] = False
        held = self._held[ii]
        venue.log_row(_RESUME, -1, ii, 0, 0, len(held), (now - self._halt_start[ii]) / _NS)
        # one at a time from the front: an order that trades may halt ii anew, and the rest then stay held
        while held and not self._halted[ii]:
            conn, msg = held.popitem(last=False)[1]
            if msg[0] <= _MARKET:
                self._held_ids.pop(msg[1], None)
            admitted = self.admit(conn, msg, now)  # the band applies now
            if admitted is not None:
                venue._execute(conn, admitted, now)  # the venue's own entry, as _arrive uses it
        venue._reply(now)
        venue._publish(ii, now)
        callbacks = self._on_resume[ii]
        if callbacks and not self._halted[ii]:
            self._on_resume[ii] = []
            for callback in callbacks:
                callback()

    def _hold(self, conn: Connection, msg: Message, ii: int) -> None:
        self._ticket += 1
        self._held[ii][self._ticket] = (conn, msg)
        if msg[0] <= _MARKET:
            self._held_ids[msg[1]] = (ii, self._ticket)
        self.held_orders[ii] += 1

    def _amend_held(self, conn: Connection, msg: Message, now: int) -> Message | None:
        """A cancel or reduce of a held order: applied to it, logged with reason ``halted``, acknowledged."""
        kind, oid, _side, _price, qty, _stp, sent, _ii = msg
        ii, ticket = self._held_ids[oid]
        owner, held_msg = self._held[ii][ticket]
        if owner is not conn:
            return msg  # not the sender's order: the book answers (unknown order id)
        hkind, _, hside, hprice, hqty, hstp, hsent, _ = held_msg
        venue = self.venue
        if kind == _CANCEL or qty == hqty:
            del self._held[ii][ticket]
            del self._held_ids[oid]
            row = (kind, oid, hside, hprice, hqty if kind == _CANCEL else qty, 0, sent, ii)
            venue.answer_unbooked(conn, row, now, _CANCELLED, _HALTED)
        elif qty <= 0 or qty > hqty:
            reason = int(Reason.INVALID_QTY) if qty <= 0 else int(Reason.REDUCE_TOO_LARGE)
            venue.answer_unbooked(conn, (kind, oid, hside, hprice, qty, 0, sent, ii), now, _REJECTED, reason)
        else:
            left = hqty - qty
            self._held[ii][ticket] = (conn, (hkind, oid, hside, hprice, left, hstp, hsent, ii))
            row = (kind, oid, hside, hprice, qty, 0, sent, ii)
            venue.answer_unbooked(conn, row, now, _RESTING, _HALTED, resting=left)
        return None

    # -- RULES ---------------------------------------------------------------

    def _check_band(self, conn: Connection, msg: Message, now: int, ii: int) -> Message | None:
        assert self._band is not None
        kind, oid, side, price, qty, stp, sent, _ = msg
        if price <= 0 and kind != _MARKET:
            return msg  # the book rejects it (invalid price)
        if kind == _REPLACE:
            book = self.venue.books[ii]
            if oid in book and book.order_price(oid) == price:
                return msg  # a resting order that keeps its price stays, wherever the band has gone
        lower, upper = band_edges(self.band_reference(ii), self._band.limit)
        if kind == _MARKET:
            if side == 1 and (price == 0 or price > upper):
                return (kind, oid, side, upper, qty, stp, sent, ii)
            if side == -1 and lower > 0 and (price == 0 or price < lower):
                return (kind, oid, side, lower, qty, stp, sent, ii)
            return msg
        if lower <= price <= upper:
            return msg
        self.band_rejections[ii] += 1
        self.venue.answer_unbooked(conn, msg, now, _REJECTED, _PRICE_BAND)
        return None

    def _check_market_wide(self, ii: int, last: int, cause: int) -> bool:
        """Fires the deepest market-wide level that ``last`` (ticks) reaches; True if one fired."""
        reference = self.references[ii]
        deepest = -1
        for k, (fall, _) in enumerate(self._levels):
            if not self._fired[k] and last <= math.floor(reference * (1.0 - fall) + _EDGE_TOLERANCE):
                deepest = k
        if deepest < 0:
            return False
        for k in range(deepest + 1):
            self._fired[k] = True
        halt_ns = self._levels[deepest][1]
        for jj in range(len(self._halted)):
            self.halt(jj, halt_ns or None, MARKET_WIDE_HALT, level=deepest + 1, cause=cause)
        return True

    def _check_limit_state(self, ii: int, now: int, last: int, reference: float, cause: int) -> None:
        assert self._luld is not None
        lower, upper = band_edges(reference, self._luld.band)
        inside = lower <= last <= upper
        if self._in_limit[ii]:
            if inside:
                self._in_limit[ii] = False
                self._limit_gen[ii] += 1
                self.venue.log_row(_LIMIT_STATE_END, -1, ii, 0, last, 0, reference, cause)
        elif not inside:
            self._in_limit[ii] = True
            self._limit_gen[ii] += 1
            self.limit_states[ii] += 1
            self.venue.log_row(_LIMIT_STATE, -1, ii, 0, last, 0, reference, cause)
            ev = Timeout(self.env, self._luld.limit_state_ns, (ii, self._limit_gen[ii], cause))
            ev.callbacks.append(self._limit_state_due)

    def _limit_state_due(self, event: simpy.Event) -> None:
        ii, gen, cause = event._value
        if gen == self._limit_gen[ii] and self._in_limit[ii] and not self._halted[ii]:
            assert self._luld is not None
            self.halt(ii, self._luld.halt_ns, LULD_HALT, cause=cause)

    def _now(self) -> int:
        return self.env._now  # type: ignore[return-value]  # _now skips a property; time is int ns here
