"""Simulated orders queued behind historical depth at one price level of an L2 book.

An L2 feed (a Binance depth capture, say) gives each level's total size, not
its orders. To rest a simulated order in such a level, :class:`L2Queue` keeps
the one number that decides when the order fills: the historical lots ahead of
it. The model:

- **Joining.** A simulated order joins the back of its level: every
  historical lot resting there, and every simulated order already queued,
  is ahead of it.
- **Increases.** A historical increase is new interest: it queues behind
  everything, simulated orders included; nobody's place changes.
- **Decreases.** A historical decrease (a cancel, or a trade the caller did
  not report) comes off the historical queue *from the front*: it lowers the
  lots ahead of every simulated order, down to zero. Lots beyond that came
  from behind the order.
- **Trades.** A historical trade of ``q`` lots at the level (reported with
  :meth:`L2Queue.on_trade`) walks the queue from the front: historical lots
  ahead, then the first simulated order, the historical lots between it and
  the next, and so on. The aggressor's size is fixed, so what a simulated order
  takes, historical orders behind it did not: the depth update that follows
  shows the whole ``q`` gone, and the part of it the model still holds is then
  taken off the front as a decrease, that is, from just behind the filled
  order.
- **No impact.** Simulated orders are not in the historical sizes, and
  history does not react to them: the level's historical size is always the
  recorded one.

Limits. Taking decreases from the front is optimistic: cancels of orders
queued behind a simulated order move it up all the same (a pessimistic model
would move it only when the level shrinks below its position; a proportional
one, part way). A diff nets the changes of many updates, so an increase and a
decrease inside one diff are invisible, and so is the queue churn they hide.
Trades must be reported before the depth change that contains them (otherwise
the same lots are counted twice: once as a decrease, once as a trade); a
Binance capture sends both on separate streams, so the caller orders them by
event time. Hidden or iceberg size, and volume beyond the visible level
(counted in :attr:`L2Queue.excess_lots`), are not modelled. Orders are
quantities in lots; the level's price is the caller's.

Each simulated order stores its position as a count of historical lots ever
removed from the front, so a decrease or a trade costs O(1) whatever the
number of simulated orders, and only a trade's walk visits orders, those it
fills.
"""

from __future__ import annotations

from typing import NamedTuple

from lob.core.codes import Reason
from lob.errors import order_error

__all__ = ["L2Queue", "QueueFill"]


class QueueFill(NamedTuple):
    """A simulated order's fill: ``lots`` taken, ``leaves`` lots still resting."""

    order_id: int
    lots: int
    leaves: int


class L2Queue:
    """One price level: its historical size (lots) and the simulated orders queued in it, front first.

    >>> level = L2Queue(10)             # 10 historical lots rest at the level
    >>> level.add(1, 3)                 # a simulated order of 3 joins the back
    10
    >>> level.on_historical_change(14)  # 4 new historical lots queue behind it
    >>> level.on_historical_change(11)  # 3 cancelled: off the front
    >>> level.ahead(1)
    7
    >>> level.on_trade(9)               # takes the 7 ahead, then 2 of ours
    [QueueFill(order_id=1, lots=2, leaves=1)]
    >>> level.on_historical_change(2)   # the feed: 9 gone; 2 more off the front, from behind ours
    >>> level.ahead(1), level.historical_lots
    (0, 2)
    """

    __slots__ = ("_front_removed", "_historical", "_orders", "excess_lots")

    def __init__(self, historical_lots: int = 0) -> None:
        if historical_lots < 0:
            raise ValueError(f"historical_lots must be >= 0, got {historical_lots}")
        self._historical = historical_lots
        # Historical lots ever removed from the front; an order's ahead is its position minus this.
        self._front_removed = 0
        self._orders: dict[int, list[int]] = {}  # order id -> [position, leaves], front first
        #: Traded lots beyond everything the level held (hidden size, or a feed out of order).
        self.excess_lots = 0

    # -- QUERIES --

    @property
    def historical_lots(self) -> int:
        """The level's historical size as this model holds it. Runtime: O(1)."""
        return self._historical

    @property
    def simulated_lots(self) -> int:
        """Lots of all simulated orders resting here. Runtime: O(orders)."""
        return sum(leaves for _, leaves in self._orders.values())

    def __len__(self) -> int:
        """The number of simulated orders queued. Runtime: O(1)."""
        return len(self._orders)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def ahead(self, order_id: int) -> int:
        """Historical lots ahead of simulated order ``order_id``. Runtime: O(1).

        >>> level = L2Queue(5); level.add(7, 1); level.ahead(7)
        5
        5
        """
        return max(0, self._record(order_id)[0] - self._front_removed)

    def leaves(self, order_id: int) -> int:
        """Lots of ``order_id`` still resting. Runtime: O(1)."""
        return self._record(order_id)[1]

    def orders(self) -> list[tuple[int, int, int]]:
        """``(order_id, lots ahead, leaves)`` of every simulated order, front first. Runtime: O(orders).

        >>> level = L2Queue(4); level.add(1, 2); level.on_historical_change(6); level.add(2, 5)
        4
        6
        >>> level.orders()
        [(1, 4, 2), (2, 6, 5)]
        """
        removed = self._front_removed
        return [(oid, max(0, pos - removed), leaves) for oid, (pos, leaves) in self._orders.items()]

    # -- COMMANDS --

    def add(self, order_id: int, lots: int) -> int:
        """Queue simulated order ``order_id`` of ``lots`` at the back; returns the historical lots ahead.

        Raises :class:`~lob.errors.OrderError` for a duplicate id or ``lots < 1``. Runtime: O(1).
        """
        if order_id in self._orders:
            raise order_error(Reason.DUPLICATE_ORDER_ID, order_id)
        if lots < 1:
            raise order_error(Reason.INVALID_QTY, order_id, qty=lots)
        self._orders[order_id] = [self._front_removed + self._historical, lots]
        return self._historical

    def reduce(self, order_id: int, lots: int) -> int:
        """Take ``lots`` off simulated order ``order_id``, keeping its place; returns its leaves.

        Reducing to zero removes it. Runtime: O(1).

        >>> level = L2Queue(2); level.add(1, 5); level.reduce(1, 3), level.ahead(1)
        2
        (2, 2)
        """
        record = self._record(order_id)
        if not 0 < lots <= record[1]:
            raise order_error(Reason.REDUCE_TOO_LARGE, order_id, qty=lots, extra=record[1])
        record[1] -= lots
        if not record[1]:
            del self._orders[order_id]
        return record[1]

    def cancel(self, order_id: int) -> int:
        """Remove simulated order ``order_id``; returns the lots it still had. Runtime: O(1).

        The orders behind it keep their historical lots ahead: a simulated order
        is never counted in another's ``ahead``.
        """
        leaves = self._record(order_id)[1]
        del self._orders[order_id]
        return leaves

    def on_historical_change(self, new_level_lots: int) -> None:
        """The feed says the level's historical size is now ``new_level_lots``.

        An increase queues behind everyone; a decrease comes off the front,
        lowering every simulated order's lots ahead (to no less than 0).
        Runtime: O(1).

        >>> level = L2Queue(10); level.add(1, 1)
        10
        >>> level.on_historical_change(12); level.ahead(1)   # new lots queue behind
        10
        >>> level.on_historical_change(4); level.ahead(1)    # 8 off the front
        2
        """
        if new_level_lots < 0:
            raise ValueError(f"a level's size must be >= 0, got {new_level_lots}")
        if new_level_lots < self._historical:
            self._front_removed += self._historical - new_level_lots
        self._historical = new_level_lots

    def on_trade(self, lots: int) -> list[QueueFill]:
        """A historical trade of ``lots`` took liquidity at this level; returns the simulated fills.

        The trade walks the queue from the front, historical lots and
        simulated orders in queue order, until ``lots`` are used; fully filled
        orders leave the queue. Call it before the depth change that contains
        the trade. Runtime: O(1 + orders filled).

        >>> level = L2Queue(3); level.add(1, 2); level.on_historical_change(5); level.add(2, 2)
        3
        5
        >>> level.on_trade(6)   # 3 historical, order 1's 2, then 1 of the 2 historical behind it
        [QueueFill(order_id=1, lots=2, leaves=0)]
        >>> level.orders(), level.historical_lots
        ([(2, 1, 2)], 1)
        """
        if lots < 1:
            raise ValueError(f"a trade's size must be >= 1 lot, got {lots}")
        remaining, taken = lots, 0  # ``taken``: historical lots the walk has consumed
        removed = self._front_removed
        fills: list[QueueFill] = []
        filled: list[int] = []
        for oid, record in self._orders.items():
            before = max(0, record[0] - removed) - taken  # historical lots between the walk and this order
            step = min(remaining, before)
            taken += step
            remaining -= step
            if not remaining:
                break
            fill = min(remaining, record[1])
            record[1] -= fill
            remaining -= fill
            fills.append(QueueFill(oid, fill, record[1]))
            if record[1]:
                break
            filled.append(oid)
        else:
            step = min(remaining, self._historical - taken)  # the historical lots behind every order
            taken += step
            remaining -= step
        for oid in filled:
            del self._orders[oid]
        self._front_removed += taken
        self._historical -= taken
        self.excess_lots += remaining
        return fills

    # -- internals --

    def _record(self, order_id: int) -> list[int]:
        try:
            return self._orders[order_id]
        except KeyError:
            raise order_error(Reason.UNKNOWN_ORDER_ID, order_id) from None

    def _check(self) -> None:
        """Assert the invariants: sizes non-negative, lots ahead non-decreasing and within the level."""
        assert self._historical >= 0 and self._front_removed >= 0 and self.excess_lots >= 0
        previous = 0
        for oid, ahead, leaves in self.orders():
            assert leaves > 0, oid
            assert previous <= ahead <= self._historical, (oid, previous, ahead, self._historical)
            previous = ahead
