"""Index and mark prices of a perpetual future, updated at a fixed interval.

The index is the exogenous fundamental as the venue receives it: sampled
every ``index_interval_ns`` (so it can be stale) and ``index_latency_ns`` old
when it arrives. The mark is computed by the venue from its own book and the
index, by one of these methods:

- ``last``: the last trade price (the mid before the first trade, the index if the book is empty);
- ``mid``: the book's mid (the last trade, then the index, when a side is empty);
- ``index_ma``: index + the moving average of (mid - index) over the last
  ``ma_window`` updates. Hyperliquid's mark is, among its inputs, an index
  (oracle) price plus a 150-second EMA of the book's premium
  (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/robust-price-indices);
- ``median``: the median of index x (1 + funding basis), index + MA(mid -
  index) and the last price, Binance USD-M's mark price rule
  (https://www.binance.com/en/support/faq/how-to-calculate-mark-price-in-binance-futures-360033525071).
  The funding basis is 0 here: funding payments are not simulated yet.

With a composite index (``composite``, lob.risk.composite_index), the index
is instead a weighted median of several venues' prices of the asset, seen
with that index's own interval and latency; a mark move then also inherits
the cause of forced trades on the other venues that moved the index, so a
cascade is traced from one venue to the next.

Each update is logged (``mark`` and, when it changed, ``index`` rows, prices
in ticks in ``value``) and handed to the liquidation engine. A mark move
inherits the cause of the forced trades that moved it
(:meth:`lob.market.venue.Venue.take_mark_cause`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from lob.core.codes import NO_ASK
from lob.eventlog.schema import KIND_CODE
from lob.market.fundamental import FundamentalProcess
from lob.market.venue import Venue

if TYPE_CHECKING:
    from lob.risk.composite_index import CompositeIndex

METHODS = ("last", "mid", "index_ma", "median")
_MARK = KIND_CODE["mark"]
_INDEX = KIND_CODE["index"]

#: Called after each mark update: (instrument, mark in ticks, (generation, liquidation id) of its cause, seq).
MarkListener = Callable[[int, float, tuple[int, int], int], None]


class MarkPrice:
    """The index and mark of one perpetual instrument; a SimPy process updates them."""

    def __init__(
        self,
        env: simpy.Environment,
        venue: Venue,
        instrument: int,
        fundamental: FundamentalProcess,
        *,
        method: str = "median",
        interval_ns: int = 1_000_000_000,
        index_latency_ns: int = 0,
        index_interval_ns: int = 1_000_000_000,
        ma_window: int = 30,
        composite: CompositeIndex | None = None,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"mark method must be one of {', '.join(METHODS)}, got {method!r}")
        if interval_ns <= 0 or index_interval_ns <= 0 or index_latency_ns < 0 or ma_window < 1:
            raise ValueError("mark and index intervals must be > 0, index latency >= 0 and ma_window >= 1")
        self.env = env
        self.venue = venue
        self.ii = instrument
        self.fundamental = fundamental
        self.method = method
        self.interval_ns = interval_ns
        self.index_latency_ns = index_latency_ns
        self.index_interval_ns = index_interval_ns
        self.tick = venue.instruments[instrument].tick_size
        self._premiums: deque[float] = deque(maxlen=ma_window)
        self._premium_sum = 0.0
        self.composite = composite
        self._last_update = -1  # ns of the previous update: the composite index's causes since then
        self.index = self._index_now(0)  # ticks
        self.mark = self.index  # ticks
        self.listeners: list[MarkListener] = []
        env.process(self._run())

    def _index_now(self, now: int) -> float:
        """The index held at ``now``: the last sample (taken every interval), ``index_latency_ns`` late."""
        if self.composite is not None:
            return self.composite.value(now) / self.tick
        seen = now - self.index_latency_ns
        if seen < 0:
            return self.fundamental.value(0) / self.tick
        sampled = seen - seen % self.index_interval_ns
        return self.fundamental.value(sampled) / self.tick

    def _mid(self) -> float:
        book = self.venue.books[self.ii]
        bid, ask = book.best_bid(), book.best_ask()
        if bid and ask != NO_ASK:
            return (bid + ask) / 2
        return math.nan

    def compute(self, now: int) -> float:
        """Update the index and return the mark (ticks) at ``now``. O(1)."""
        index = self._index_now(now)
        self.index = index
        mid = self._mid()
        last = float(self.venue.last_price[self.ii])
        if self.method == "last":
            return last or (mid if not math.isnan(mid) else index)
        if self.method == "mid":
            return mid if not math.isnan(mid) else (last or index)
        premium = (mid if not math.isnan(mid) else (last or index)) - index
        if len(self._premiums) == self._premiums.maxlen:
            self._premium_sum -= self._premiums[0]
        self._premiums.append(premium)
        self._premium_sum += premium
        ma = index + self._premium_sum / len(self._premiums)
        if self.method == "index_ma":
            return ma
        return sorted((index, ma, last or ma))[1]  # median of three (funding basis 0)

    def _run(self) -> Generator[simpy.Event, Any, None]:
        venue, ii = self.venue, self.ii
        last_index = math.nan
        while True:
            now: int = self.env._now  # type: ignore[assignment]
            mark = self.compute(now)
            if self.index != last_index:
                venue.log_row(_INDEX, -1, ii, 0, round(self.index), 0, self.index)
                last_index = self.index
            cause = venue.take_mark_cause(ii)
            if self.composite is not None:
                carried = self.composite.cause(self._last_update, now)
                if carried[0] > cause[0]:  # the deeper cause wins, as among one book's forced trades
                    cause = carried
                self._last_update = now
            self.mark = mark
            seq = venue.log_row(_MARK, -1, ii, 0, round(mark), 0, mark, cause[1])
            for listener in self.listeners:
                listener(ii, mark, cause, seq)
            yield self.env.timeout(self.interval_ns)
