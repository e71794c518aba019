"""The market-data feed: what traders can know of the books, and when.

The venue publishes a :class:`Quote` whenever a book's top changes or it
trades. A trader sees it ``latency_ns`` later, in two ways:

- pull: :meth:`MarketDataFeed.view` returns the latest quote published at or
  before ``now - latency_ns``. It costs no SimPy event: each instrument keeps
  the quotes still in flight in a deque, and a lookup drops the ones every
  later lookup would skip (amortised O(1), since time only moves forward);
- push: subscribers get :meth:`on_market_data` callbacks. One SimPy event per
  published quote carries it to all subscribers of its instrument, not one
  event per subscriber.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy
from simpy.events import Timeout

Level = tuple[int, int]  # (price ticks, lots)


class Quote:
    """The state of one book as published at ``time_ns`` (venue time).

    ``bid``/``ask`` in ticks and ``bid_lots``/``ask_lots`` at them; a missing
    side has price 0 and 0 lots. ``last`` is the last trade price in ticks (0
    before the first trade) and ``volume`` the lots traded since the start.
    ``bids``/``asks`` hold the top levels, best first, when the feed carries
    depth (``feed_depth`` > 0), else are empty. ``trades`` lists the
    ``(price, lots, aggressor_side)`` of the fills since the previous quote.
    """

    __slots__ = (
        "ask",
        "ask_lots",
        "asks",
        "bid",
        "bid_lots",
        "bids",
        "instrument",
        "last",
        "time_ns",
        "trades",
        "volume",
    )

    def __init__(
        self,
        instrument: int,
        time_ns: int,
        bid: int,
        bid_lots: int,
        ask: int,
        ask_lots: int,
        last: int,
        volume: int,
        bids: tuple[Level, ...] = (),
        asks: tuple[Level, ...] = (),
        trades: tuple[tuple[int, int, int], ...] = (),
    ) -> None:
        self.instrument = instrument
        self.time_ns = time_ns
        self.bid = bid
        self.bid_lots = bid_lots
        self.ask = ask
        self.ask_lots = ask_lots
        self.last = last
        self.volume = volume
        self.bids = bids
        self.asks = asks
        self.trades = trades

    @property
    def mid(self) -> float | None:
        """Mid price in ticks, or None when a side is empty."""
        if self.bid and self.ask:
            return (self.bid + self.ask) / 2
        return None

    @property
    def spread(self) -> int | None:
        """Ask minus bid in ticks, or None when a side is empty."""
        if self.bid and self.ask:
            return self.ask - self.bid
        return None

    def __repr__(self) -> str:
        return (
            f"Quote(instrument={self.instrument}, t={self.time_ns}, {self.bid_lots}@{self.bid} / "
            f"{self.ask_lots}@{self.ask}, last={self.last}, volume={self.volume})"
        )


Subscriber = Callable[[Quote], Any]


class MarketDataFeed:
    """Published quotes of every instrument, seen through ``latency_ns``."""

    def __init__(self, env: simpy.Environment, n_instruments: int, latency_ns: int, depth: int = 0) -> None:
        if latency_ns < 0:
            raise ValueError(f"feed latency must be >= 0 ns, got {latency_ns}")
        self.env = env
        self.latency_ns = int(latency_ns)
        #: Per instrument: instruments of different venues reach traders with their venue's latency.
        self.latencies = [self.latency_ns] * n_instruments
        self.depth = int(depth)
        empty = [Quote(i, 0, 0, 0, 0, 0, 0, 0) for i in range(n_instruments)]
        self._latest = list(empty)  # the venue's own latest quote per instrument
        self._in_flight: list[deque[Quote]] = [deque([q]) for q in empty]
        self._subscribers: list[list[Subscriber]] = [[] for _ in range(n_instruments)]
        self.published = 0

    def set_latency(self, instrument: int, latency_ns: int) -> None:
        """The feed latency of one instrument (its venue's), ns."""
        if latency_ns < 0:
            raise ValueError(f"feed latency must be >= 0 ns, got {latency_ns}")
        self.latencies[instrument] = int(latency_ns)

    def latest(self, instrument: int) -> Quote:
        """The venue's latest quote, without delay (for the venue and the log, not for traders)."""
        return self._latest[instrument]

    def publish(self, quote: Quote) -> None:
        """Called by the venue at ``quote.time_ns == env.now``. O(1), plus one event if subscribed."""
        i = quote.instrument
        self._latest[i] = quote
        self._in_flight[i].append(quote)
        self.published += 1
        if self._subscribers[i]:
            ev = Timeout(self.env, self.latencies[i], quote)
            ev.callbacks.append(self._deliver)

    def view(self, instrument: int) -> Quote:
        """The latest quote published at or before ``now - latency_ns``. Runtime: O(1) amortised."""
        horizon = self.env._now - self.latencies[instrument]  # _now: skips the property on a hot path
        q = self._in_flight[instrument]
        while len(q) > 1 and q[1].time_ns <= horizon:
            q.popleft()
        return q[0]

    def subscribe(self, instrument: int, callback: Subscriber) -> None:
        """Calls ``callback(quote)`` for each quote of ``instrument``, ``latency_ns`` after publication."""
        if callback not in self._subscribers[instrument]:
            self._subscribers[instrument].append(callback)

    def unsubscribe(self, instrument: int, callback: Subscriber) -> None:
        subs = self._subscribers[instrument]
        if callback in subs:
            subs.remove(callback)

    def _deliver(self, event: simpy.Event) -> None:
        quote: Quote = event._value
        for callback in tuple(self._subscribers[quote.instrument]):
            callback(quote)
