"""A plain-Python price-time order book: the oracle for the compiled core.

:class:`ReferenceBook` has exactly the API and behaviour of the compiled
:class:`lob.core.book.OrderBook` (docs/core.md is the contract), written for
clarity rather than speed. It is what the differential tests compare against
and the baseline of ``benchmarks/bench_core.py``.

Layout: per side a ``SortedDict`` price (ticks) -> :class:`_Level`, each level
an ``OrderedDict`` order id -> :class:`_Order` (FIFO order, O(1) removal from
anywhere in the queue) plus a cached total; and one dict order id -> order.
Adding and cancelling cost O(log levels), reducing O(1); matching costs
O(log levels) per level reached plus O(1) per maker touched.

>>> book = ReferenceBook()
>>> book.limit(1, owner=7, side=Side.SELL, price=101, qty=5)
1
>>> book.ioc(2, owner=8, side=Side.BUY, price=101, qty=3)
2
>>> book.order_qty(1), book.take_fills()["maker_remaining"].tolist()
(2, [2])
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
import numpy.typing as npt
from sortedcontainers import SortedDict

from lob.core.codes import (
    COMMAND_DTYPE,
    FILL_DTYPE,
    INPUT_ERRORS,
    MAX_PRICE,
    MAX_QTY,
    NO_ASK,
    NO_BID,
    NO_SPREAD,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP,
    STP_CANCEL_DTYPE,
    Kind,
    Reason,
    Side,
    Status,
)
from lob.errors import SnapshotError, order_error

__all__ = ["ReferenceBook"]

FillRow = tuple[int, int, int, int, int, int, int, int, int]
StpRow = tuple[int, int, int, int, int, int, int]
#: (status, reason, filled lots, resting lots) of one command.
Outcome = tuple[int, int, int, int]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_BUY = int(Side.BUY)
_SELL = int(Side.SELL)
_NEW_ORDER_KINDS = frozenset({Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET})
_KINDS = frozenset(int(k) for k in Kind)
_STPS = frozenset(int(s) for s in STP)
_COMMAND_FIELDS = ("kind", "order_id", "owner", "side", "price", "qty", "stp")  # _command's argument order
# Rough CPython sizes (bytes) behind memory_bytes(): an order object with six
# int fields, a level with its OrderedDict, one dict / SortedDict slot.
_ORDER_BYTES = 72 + 6 * 32
_LEVEL_BYTES = 64 + 120 + 32
_SLOT_BYTES = 100


@dataclass(slots=True)
class _Order:
    """One resting (or incoming) order; ``price`` in ticks, ``qty`` = lots remaining."""

    order_id: int
    owner: int
    side: int
    price: int
    qty: int
    stp: int


@dataclass(slots=True)
class _Level:
    """The FIFO queue of one price level and its total lots (kept, never re-summed)."""

    price: int
    total: int = 0
    queue: OrderedDict[int, _Order] = field(default_factory=OrderedDict)


class ReferenceBook:
    """Price-time priority limit order book for one instrument, in plain Python.

    Prices are int64 ticks, quantities int64 lots. ``capacity`` is accepted for
    API parity with the compiled book and ignored.
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._bids = SortedDict()  # price -> _Level, ascending: best bid is the last key
        self._asks = SortedDict()  # price -> _Level, ascending: best ask is the first key
        self._orders: dict[int, _Order] = {}
        self._fills: list[FillRow] = []
        self._stp_cancels: list[StpRow] = []
        self.seq = 0
        self.last_status = int(Status.REJECTED)
        self.last_reason = int(Reason.NONE)
        self.last_filled = 0
        self.last_resting = 0

    # -- COMMANDS ---------------------------------------------------------------

    def limit(self, order_id: int, owner: int, side: int, price: int, qty: int, stp: int = 0) -> int:
        """Good-till-cancelled order; the remainder rests. O(log levels + makers hit)."""
        return self._call(Kind.LIMIT, order_id, owner, side, price, qty, stp)

    def ioc(self, order_id: int, owner: int, side: int, price: int, qty: int, stp: int = 0) -> int:
        """Immediate-or-cancel order; the remainder expires. O(log levels + makers hit)."""
        return self._call(Kind.IOC, order_id, owner, side, price, qty, stp)

    def fok(self, order_id: int, owner: int, side: int, price: int, qty: int, stp: int = 0) -> int:
        """Fill-or-kill: all ``qty`` lots now, or REJECTED (FOK_UNFILLABLE). O(makers in reach)."""
        return self._call(Kind.FOK, order_id, owner, side, price, qty, stp)

    def post_only(self, order_id: int, owner: int, side: int, price: int, qty: int, stp: int = 0) -> int:
        """Rests, or REJECTED (POST_ONLY_WOULD_TAKE) if it would cross. O(log levels)."""
        return self._call(Kind.POST_ONLY, order_id, owner, side, price, qty, stp)

    def market(
        self, order_id: int, owner: int, side: int, qty: int, protection: int = 0, stp: int = 0
    ) -> int:
        """Takes up to ``qty`` lots, no worse than ``protection`` ticks (0 = none); the rest expires."""
        return self._call(Kind.MARKET, order_id, owner, side, protection, qty, stp)

    def cancel(self, order_id: int) -> int:
        """Removes a live order (CANCELLED). O(log levels)."""
        return self._call(Kind.CANCEL, order_id, 0, _BUY, 0, 0, 0)

    def reduce(self, order_id: int, qty: int) -> int:
        """Takes ``qty`` lots off a live order, keeping its queue place. O(1), O(log levels) if emptied."""
        return self._call(Kind.REDUCE, order_id, 0, _BUY, 0, qty, 0)

    def replace(self, order_id: int, price: int, qty: int) -> int:
        """New price (ticks) and remaining qty (lots); keeps priority only when shrinking in place."""
        return self._call(Kind.REPLACE, order_id, 0, _BUY, price, qty, 0)

    def submit(
        self,
        kind: int,
        order_id: int,
        owner: int = 0,
        side: int = 1,
        price: int = 0,
        qty: int = 0,
        stp: int = 0,
    ) -> int:
        """Any command by its :class:`Kind` code (MARKET: ``price`` is the protection)."""
        return self._call(kind, order_id, owner, side, price, qty, stp)

    def execute(
        self, commands: npt.NDArray[np.void], check: bool = False
    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.void], npt.NDArray[np.void]]:
        """Runs a ``COMMAND_DTYPE`` array; returns ``(results, fills, stp_cancels)``.

        Never raises for a bad command (its row is REJECTED with the reason) and
        leaves the per-call buffers alone. ``check=True`` runs check_invariants()
        after every command. O(sum of the commands' costs).
        """
        if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE or commands.ndim != 1:
            raise TypeError("execute() takes a 1-d numpy array of lob.core.codes.COMMAND_DTYPE")
        fills: list[FillRow] = []
        stp_cancels: list[StpRow] = []
        results = np.zeros(len(commands), dtype=RESULT_DTYPE)
        columns = (commands[name].tolist() for name in _COMMAND_FIELDS)
        for row, (kind, order_id, owner, side, price, qty, stp) in enumerate(zip(*columns, strict=True)):
            seq = self.seq
            outcome = self._command(kind, order_id, owner, side, price, qty, stp, fills, stp_cancels)
            self.last_status, self.last_reason, self.last_filled, self.last_resting = outcome
            status, reason, filled, resting = outcome
            results[row] = (seq, filled, resting, status, reason)
            if check:
                try:
                    self.check_invariants()
                except AssertionError as exc:
                    raise AssertionError(f"command row {row}: {exc}") from exc
        return results, np.array(fills, dtype=FILL_DTYPE), np.array(stp_cancels, dtype=STP_CANCEL_DTYPE)

    def take_fills(self) -> npt.NDArray[np.void]:
        """The buffered fills as a ``FILL_DTYPE`` array; empties the buffer. O(fills)."""
        out = np.array(self._fills, dtype=FILL_DTYPE)
        self._fills = []
        return out

    def take_stp_cancels(self) -> npt.NDArray[np.void]:
        """The buffered STP cancels as a ``STP_CANCEL_DTYPE`` array; empties the buffer. O(records)."""
        out = np.array(self._stp_cancels, dtype=STP_CANCEL_DTYPE)
        self._stp_cancels = []
        return out

    def fill_tuples(self) -> list[FillRow]:
        """The buffered fills as tuples in ``FILL_DTYPE`` field order, without emptying. O(fills)."""
        return list(self._fills)

    def take_fill_tuples(self) -> list[FillRow]:
        """The buffered fills as tuples, emptying the buffer. O(fills)."""
        out = self._fills
        self._fills = []
        return out

    def clear(self) -> None:
        """Removes every order; buffers and ``seq`` are kept. O(orders)."""
        self._bids = SortedDict()
        self._asks = SortedDict()
        self._orders = {}

    def restore(self, snapshot: npt.NDArray[np.void]) -> None:
        """Replaces the orders with a ``SNAPSHOT_DTYPE`` array's, queues in row order.

        Every row is checked before anything changes; a bad row, a duplicate id or
        a crossed result raises :class:`SnapshotError` naming the row. Buffers and
        ``seq`` are kept. O(rows log levels).
        """
        if not isinstance(snapshot, np.ndarray) or snapshot.dtype != SNAPSHOT_DTYPE:
            raise SnapshotError("snapshot must be a numpy array of lob.core.codes.SNAPSHOT_DTYPE")
        columns = (snapshot[name].tolist() for name in ("order_id", "owner", "side", "price", "qty", "stp"))
        rows = list(zip(*columns, strict=True))
        seen: set[int] = set()
        for row, (order_id, _owner, side, price, qty, stp) in enumerate(rows):
            problem = None
            if side not in (_BUY, _SELL):
                problem = f"side must be 1 (buy) or -1 (sell), got {side}"
            elif stp not in _STPS:
                problem = f"stp must be 0..3, got {stp}"
            elif order_id < 0:
                problem = f"order id must be >= 0, got {order_id}"
            elif not 1 <= qty <= MAX_QTY:
                problem = f"qty must be in 1..{MAX_QTY} lots, got {qty}"
            elif not 1 <= price <= MAX_PRICE:
                problem = f"price must be in 1..{MAX_PRICE} ticks, got {price}"
            elif order_id in seen:
                problem = f"duplicate order id {order_id}"
            if problem is not None:
                raise SnapshotError(f"snapshot row {row} (order {order_id}): {problem}")
            seen.add(order_id)
        # With every row valid, name the row at which the book, built in row order, first crosses.
        best_bid, best_ask = NO_BID, NO_ASK
        for row, (order_id, _owner, side, price, _qty, _stp) in enumerate(rows):
            if side == _BUY:
                best_bid = max(best_bid, price)
            else:
                best_ask = min(best_ask, price)
            if best_bid >= best_ask:
                problem = f"crossed book, best bid {best_bid} >= best ask {best_ask} ticks"
                raise SnapshotError(f"snapshot row {row} (order {order_id}): {problem}")
        self.clear()
        for order_id, owner, side, price, qty, stp in rows:
            self._rest(_Order(order_id, owner, side, price, qty, stp))

    @classmethod
    def from_snapshot(cls, snapshot: npt.NDArray[np.void]) -> ReferenceBook:
        """A new book holding a snapshot's orders (see :meth:`restore`)."""
        book = cls()
        book.restore(snapshot)
        return book

    # -- QUERIES ----------------------------------------------------------------

    def best_bid(self) -> int:
        """Highest bid in ticks, ``NO_BID`` if none. O(log levels)."""
        return int(self._bids.peekitem(-1)[0]) if self._bids else NO_BID

    def best_ask(self) -> int:
        """Lowest ask in ticks, ``NO_ASK`` if none. O(log levels)."""
        return int(self._asks.peekitem(0)[0]) if self._asks else NO_ASK

    def spread(self) -> int:
        """``best_ask - best_bid`` in ticks, ``NO_SPREAD`` if a side is empty. O(log levels)."""
        if not self._bids or not self._asks:
            return NO_SPREAD
        return self.best_ask() - self.best_bid()

    def mid(self) -> float:
        """Mid price in ticks as a float, NaN if a side is empty. O(log levels)."""
        if not self._bids or not self._asks:
            return math.nan
        return (self.best_bid() + self.best_ask()) / 2

    def volume_at(self, side: int, price: int) -> int:
        """Lots resting at ``price`` ticks on ``side`` (0 if none). O(1)."""
        level = self._side(side).get(price)
        return 0 if level is None else level.total

    def depth(self, side: int, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(prices, qtys)`` of the best ``n`` levels of ``side``, best first. O(n)."""
        levels = list(islice(self._levels_best_first(side), max(n, 0)))
        prices = np.array([level.price for level in levels], dtype=np.int64)
        return prices, np.array([level.total for level in levels], dtype=np.int64)

    def order_qty(self, order_id: int) -> int:
        """Lots remaining of a live order. O(1)."""
        return self._live(order_id).qty

    def order_price(self, order_id: int) -> int:
        """Price in ticks of a live order. O(1)."""
        return self._live(order_id).price

    def order_side(self, order_id: int) -> int:
        """Side (1 buy, -1 sell) of a live order. O(1)."""
        return self._live(order_id).side

    def order_owner(self, order_id: int) -> int:
        """Owner (account) id of a live order. O(1)."""
        return self._live(order_id).owner

    def __contains__(self, order_id: object) -> bool:
        return isinstance(order_id, int | np.integer) and int(order_id) in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def order_count(self) -> int:
        """Number of live orders. O(1)."""
        return len(self._orders)

    def level_count(self, side: int) -> int:
        """Number of price levels on ``side``. O(1)."""
        return len(self._side(side))

    @property
    def fill_count(self) -> int:
        """Number of fills in the per-call buffer. O(1)."""
        return len(self._fills)

    def snapshot(self) -> npt.NDArray[np.void]:
        """Resting orders as ``SNAPSHOT_DTYPE``: bids best first, then asks, FIFO in a level. O(orders)."""
        rows = [
            (order.order_id, order.owner, order.price, order.qty, order.side, order.stp)
            for side in (_BUY, _SELL)
            for level in self._levels_best_first(side)
            for order in level.queue.values()
        ]
        return np.array(rows, dtype=SNAPSHOT_DTYPE)

    def check_invariants(self) -> None:
        """Raises AssertionError naming the first broken invariant. O(orders)."""
        if self._bids and self._asks and self.best_bid() >= self.best_ask():
            raise AssertionError(f"crossed book: best bid {self.best_bid()} >= best ask {self.best_ask()}")
        indexed = 0
        for side in (_BUY, _SELL):
            for price, level in self._side(side).items():
                if not level.queue:
                    raise AssertionError(f"empty level at {price} on side {side}")
                total = sum(order.qty for order in level.queue.values())
                if level.total != total:
                    raise AssertionError(f"level total {level.total} != queue sum {total} at {price}")
                for order_id, order in level.queue.items():
                    indexed += 1
                    if order.qty <= 0:
                        raise AssertionError(f"order {order_id} rests with qty {order.qty}")
                    if (order.price, order.side) != (price, side) or self._orders.get(order_id) is not order:
                        raise AssertionError(f"order index disagrees with levels for order {order_id}")
        if indexed != len(self._orders):
            raise AssertionError(f"order index holds {len(self._orders)} orders, levels hold {indexed}")

    def memory_bytes(self) -> int:
        """Rough estimate of the bytes held for orders, levels and the index. O(1)."""
        levels = len(self._bids) + len(self._asks)
        orders = len(self._orders)
        return orders * (_ORDER_BYTES + 2 * _SLOT_BYTES) + levels * (_LEVEL_BYTES + _SLOT_BYTES)

    # -- INTERNALS --------------------------------------------------------------

    def _call(self, kind: int, order_id: int, owner: int, side: int, price: int, qty: int, stp: int) -> int:
        """The per-call path: run one command into the book's buffers, raise on bad input."""
        if not (
            _I64_MIN <= order_id <= _I64_MAX
            and _I64_MIN <= owner <= _I64_MAX
            and _I64_MIN <= price <= _I64_MAX
            and _I64_MIN <= qty <= _I64_MAX
            and _INT_MIN <= kind <= _INT_MAX
            and _INT_MIN <= side <= _INT_MAX
            and _INT_MIN <= stp <= _INT_MAX
        ):
            # The compiled book's arguments are C int64 / int: what does not fit
            # raises OverflowError before the command reaches the book.
            raise OverflowError(f"order {order_id}: an argument does not fit its C type (int64, or int)")
        outcome = self._command(kind, order_id, owner, side, price, qty, stp, self._fills, self._stp_cancels)
        self.last_status, self.last_reason, self.last_filled, self.last_resting = outcome
        reason = outcome[1]
        if reason in INPUT_ERRORS:
            # order_error reads ``extra`` only for the reason it is about.
            extra = kind if reason == Reason.INVALID_KIND else side if reason == Reason.INVALID_SIDE else stp
            if reason == Reason.REDUCE_TOO_LARGE:
                extra = self._orders[order_id].qty
            raise order_error(reason, order_id, price, qty, extra)
        return outcome[0]

    def _command(
        self,
        kind: int,
        order_id: int,
        owner: int,
        side: int,
        price: int,
        qty: int,
        stp: int,
        fills: list[FillRow],
        stp_cancels: list[StpRow],
    ) -> Outcome:
        """Runs one command (validation first, never raising) and takes its seq."""
        seq = self.seq
        self.seq += 1
        if kind not in _KINDS:
            return _rejected(Reason.INVALID_KIND)
        if kind in _NEW_ORDER_KINDS:
            reason = _check_new_order(kind, order_id, side, price, qty, stp)
            if reason == Reason.NONE and order_id in self._orders:
                reason = Reason.DUPLICATE_ORDER_ID
            if reason != Reason.NONE:
                return _rejected(reason)
            return self._new_order(
                kind, seq, _Order(order_id, owner, side, price, qty, stp), fills, stp_cancels
            )
        order = self._orders.get(order_id)
        if kind == Kind.CANCEL:
            if order is None:
                return _rejected(Reason.UNKNOWN_ORDER_ID)
            self._remove(order)
            return int(Status.CANCELLED), int(Reason.NONE), 0, 0
        if not 1 <= qty <= MAX_QTY:
            return _rejected(Reason.INVALID_QTY)
        if kind == Kind.REPLACE and not 1 <= price <= MAX_PRICE:
            return _rejected(Reason.INVALID_PRICE)
        if order is None:
            return _rejected(Reason.UNKNOWN_ORDER_ID)
        if kind == Kind.REDUCE:
            if qty > order.qty:
                return _rejected(Reason.REDUCE_TOO_LARGE)
            return self._shrink(order, qty)
        if price == order.price and qty <= order.qty:
            return self._shrink(order, order.qty - qty)
        # The order leaves the book and re-enters as a LIMIT at the back of its new level.
        self._remove(order)
        order.price, order.qty = price, qty
        return self._new_order(Kind.LIMIT, seq, order, fills, stp_cancels)

    def _new_order(
        self, kind: int, seq: int, order: _Order, fills: list[FillRow], stps: list[StpRow]
    ) -> Outcome:
        """Matches a validated new (or replacing) order, then rests or expires what is left."""
        qty = order.qty
        if kind == Kind.POST_ONLY:
            best = self.best_ask() if order.side == _BUY else self.best_bid()
            if (order.side == _BUY and order.price >= best) or (order.side == _SELL and order.price <= best):
                return _rejected(Reason.POST_ONLY_WOULD_TAKE)
        limit = order.price
        if kind == Kind.MARKET and limit == 0:
            limit = MAX_PRICE if order.side == _BUY else 1
        if kind == Kind.FOK and not self._fok_fillable(order, limit):
            return _rejected(Reason.FOK_UNFILLABLE)
        stopped = self._take(order, limit, seq, fills, stps)
        filled = qty - order.qty
        if order.qty == 0:
            return int(Status.FILLED), int(Reason.NONE), filled, 0
        if stopped:
            return int(Status.EXPIRED), int(Reason.SELF_TRADE), filled, 0
        if kind in (Kind.LIMIT, Kind.POST_ONLY):
            self._rest(order)
            return int(Status.RESTING), int(Reason.NONE), filled, order.qty
        return int(Status.EXPIRED), int(Reason.NONE), filled, 0

    def _take(self, taker: _Order, limit: int, seq: int, fills: list[FillRow], stps: list[StpRow]) -> bool:
        """Matches ``taker`` against makers priced no worse than ``limit``; True if STP stopped it.

        O(log levels) per level reached plus O(1) per maker touched.
        """
        buy = taker.side == _BUY
        makers = self._asks if buy else self._bids
        taker_id, owner, side, stp = taker.order_id, taker.owner, taker.side, taker.stp
        while taker.qty > 0 and makers:
            level: _Level = makers.peekitem(0 if buy else -1)[1]
            price, queue = level.price, level.queue
            if (buy and price > limit) or (not buy and price < limit):
                break
            while taker.qty > 0 and queue:  # _remove drops the level once its queue empties
                maker = next(iter(queue.values()))
                if maker.owner == owner and stp != STP.NONE:
                    if stp != STP.CANCEL_INCOMING:
                        stps.append((seq, taker_id, maker.order_id, owner, price, maker.qty, maker.side))
                        self._remove(maker)
                    if stp != STP.CANCEL_RESTING:
                        return True
                    continue
                lots = min(taker.qty, maker.qty)
                taker.qty -= lots
                maker.qty -= lots
                level.total -= lots
                fills.append(
                    (seq, taker_id, maker.order_id, owner, maker.owner, price, lots, maker.qty, side)
                )
                if maker.qty == 0:
                    self._remove(maker)
        return False

    def _fok_fillable(self, taker: _Order, limit: int) -> bool:
        """Whether matching would take all of ``taker.qty`` now, under its STP mode. O(makers in reach)."""
        needed = taker.qty
        for level in self._levels_best_first(-taker.side):
            if (taker.side == _BUY and level.price > limit) or (taker.side == _SELL and level.price < limit):
                return False
            if taker.stp == STP.NONE:
                needed -= level.total
            else:
                for maker in level.queue.values():
                    if maker.owner == taker.owner:
                        if taker.stp == STP.CANCEL_RESTING:
                            continue
                        return False  # CANCEL_INCOMING / CANCEL_BOTH stop at the first own maker
                    needed -= maker.qty
                    if needed <= 0:
                        return True
            if needed <= 0:
                return True
        return False

    def _shrink(self, order: _Order, lots: int) -> Outcome:
        """Takes ``lots`` off a resting order in place (keeps priority); removes it at zero."""
        if lots == order.qty:
            self._remove(order)
            return int(Status.CANCELLED), int(Reason.NONE), 0, 0
        order.qty -= lots
        self._side(order.side)[order.price].total -= lots
        return int(Status.RESTING), int(Reason.NONE), 0, order.qty

    def _rest(self, order: _Order) -> None:
        """Puts ``order`` at the back of its level, creating the level if needed. O(log levels)."""
        levels = self._side(order.side)
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = _Level(order.price)
        level.queue[order.order_id] = order
        level.total += order.qty
        self._orders[order.order_id] = order

    def _remove(self, order: _Order) -> None:
        """Takes ``order`` off the book, dropping its level if it empties. O(log levels)."""
        levels = self._side(order.side)
        level = levels[order.price]
        del level.queue[order.order_id]
        level.total -= order.qty
        if not level.queue:
            del levels[order.price]
        del self._orders[order.order_id]

    def _live(self, order_id: int) -> _Order:
        order = self._orders.get(order_id)
        if order is None:
            raise order_error(Reason.UNKNOWN_ORDER_ID, order_id)
        return order

    def _side(self, side: int) -> SortedDict:
        if side == _BUY:
            return self._bids
        if side == _SELL:
            return self._asks
        raise ValueError(f"side must be 1 (buy) or -1 (sell), got {side}")

    def _levels_best_first(self, side: int) -> Iterator[_Level]:
        levels = self._side(side)
        prices = reversed(levels) if side == _BUY else iter(levels)
        return (levels[price] for price in prices)


def _check_new_order(kind: int, order_id: int, side: int, price: int, qty: int, stp: int) -> int:
    """The field checks of a new order, in the documented order; ``Reason.NONE`` if all pass."""
    if side not in (_BUY, _SELL):
        return Reason.INVALID_SIDE
    if stp not in _STPS:
        return Reason.INVALID_STP
    if order_id < 0:
        return Reason.INVALID_ORDER_ID
    if not 1 <= qty <= MAX_QTY:
        return Reason.INVALID_QTY
    low = 0 if kind == Kind.MARKET else 1  # a MARKET's price is its protection, 0 = none
    if not low <= price <= MAX_PRICE:
        return Reason.INVALID_PRICE
    return Reason.NONE


def _rejected(reason: int) -> Outcome:
    """A rejection's result: nothing filled, nothing resting (docs/core.md)."""
    return int(Status.REJECTED), int(reason), 0, 0
