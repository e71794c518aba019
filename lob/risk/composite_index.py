"""An index price composed from several venues' prices of one asset: a weighted median.

Venues do not take their index (oracle) price from one market: they combine
several. Hyperliquid's validators each publish, every 3 seconds, "the weighted
median of Binance, OKX, Bybit, Kraken, Kucoin, Gate IO, MEXC, and Hyperliquid
spot mid prices", with weights 3, 2, 2, 1, 1, 1, 1, 1
(https://hyperliquid.gitbook.io/hyperliquid-docs/hypercore/oracle). A
:class:`CompositeIndex` does the same over instruments of one
:class:`~lob.market.venue.Venue` that stand for those markets: every
``interval_ns`` it samples each component's price (its book's mid, or its last
trade), takes the weighted median in quote currency, and the sample reaches its
readers ``latency_ns`` later.

The weighted median
-------------------
Sort the prices ascending, carrying their weights; components of weight 0 are
left out. Walk up the sorted prices adding weights. The median is the first
price at which the cumulative weight passes half the total. If the cumulative
weight lands exactly on half, the median is the mean of that price and the next
one: with two components of equal weight, their midpoint. That is the "lower
and upper weighted median" rule of https://en.wikipedia.org/wiki/Weighted_median
(their mean, as for the plain median of an even count); with equal weights the
result is the plain median, for odd and even counts. Hyperliquid's page does
not say which rule it uses at exactly half; this is ours.

"Exactly half" is decided exactly: the weights are converted to integers (each
float is an integer times a power of two) before they are summed, so the
answer does not depend on the order of the components or on rounding in the
sums, and multiplying every weight by a power of two (while the weights stay
normal floats) or integer weights by an integer leaves it unchanged.

Robustness: a component of weight below half the total cannot move the median
past the other components' prices, however far its own price goes.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left, bisect_right
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from lob.core.codes import NO_ASK

if TYPE_CHECKING:
    import simpy

    from lob.market.venue import Venue

SOURCES = ("mid", "last")

#: ``(taken_ns, value_quote, generation, liquidation_id)``; ``(-1, 0)`` when no forced trade is behind it.
Sample = tuple[int, float, int, int]

_NO_CAUSE = (-1, 0)


def weighted_median(prices: Sequence[float], weights: Sequence[float]) -> float | None:
    """The weighted median of ``prices`` (any unit), or None if no price has a positive weight.

    Where the cumulative weight of the ascending prices equals half the total
    exactly, the result is the mean of the price there and the next one (see
    the module docstring). Weights of 0 are ignored; their prices may be
    anything finite.

    Raises ValueError if the lengths differ, a weight is negative, NaN or
    infinite, or a price is NaN or infinite.

    Runtime complexity: ``O(n log n)`` (a sort).

    >>> weighted_median([100.0, 101.0, 99.0], [1, 1, 1])
    100.0
    >>> weighted_median([100.0, 90.0], [1, 1])  # cumulative weight hits half exactly: the midpoint
    95.0
    >>> weighted_median([100.0, 90.0], [2, 1])
    100.0
    >>> weighted_median([90.0, 100.0, 110.0], [1, 1, 2])  # half reached at 100: mean of 100 and 110
    105.0
    >>> weighted_median([100.0], [0]) is None
    True
    """
    if len(prices) != len(weights):
        raise ValueError(f"weighted_median: {len(prices)} prices but {len(weights)} weights")
    kept_prices: list[float] = []
    kept_weights: list[float] = []
    for i, (price, weight) in enumerate(zip(prices, weights, strict=True)):
        w = float(weight)
        if not math.isfinite(w) or w < 0:
            raise ValueError(f"weighted_median: weights[{i}] must be finite and >= 0, got {weight!r}")
        p = float(price)
        if not math.isfinite(p):
            raise ValueError(f"weighted_median: prices[{i}] must be finite, got {price!r}")
        if w > 0:
            kept_prices.append(p)
            kept_weights.append(w)
    if not kept_prices:
        return None
    pairs = sorted(zip(kept_prices, _integer_weights(kept_weights), strict=True))
    return _median_of_sorted(pairs)


def _integer_weights(weights: Sequence[float]) -> list[int]:
    """``weights`` (finite, >= 0) scaled by one power of two to exact integers, so sums compare exactly."""
    ratios = [w.as_integer_ratio() for w in weights]  # denominators are powers of two
    scale = max(den for _, den in ratios)
    return [num * (scale // den) for num, den in ratios]


def _median_of_sorted(pairs: Sequence[tuple[float, int]]) -> float:
    """Weighted median of ``(price, integer weight > 0)`` pairs sorted by price (at least one). O(n)."""
    total = sum(w for _, w in pairs)
    twice_cumulative = 0  # compared with the total: no halving, no rounding
    for i, (price, w) in enumerate(pairs):
        twice_cumulative += 2 * w
        if twice_cumulative > total:
            return price
        if twice_cumulative == total:  # the rest weighs half too, so there is a next price
            return _midpoint(price, pairs[i + 1][0])
    raise AssertionError("unreachable: the cumulative weight reaches the total")


def _is_index(value: object) -> bool:
    """Whether ``value`` is an integer (Python or NumPy), not a bool or a float."""
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return False
    return True


def _midpoint(low: float, high: float) -> float:
    """``(low + high) / 2``, as statistics.median computes it, without overflowing near the float limit."""
    mid = (low + high) / 2
    return mid if math.isfinite(mid) else low / 2 + high / 2


class CompositeIndex:
    """One asset's index over components (instrument index ii, weight).

    ``components`` are ``(instrument index, weight)`` pairs on ``venue``;
    the weights need not sum to 1 (only their ratios matter) and a weight of
    0 leaves a component out. The instruments may have different tick sizes:
    each price is converted from ticks to quote currency with its
    instrument's ``tick_size``, and the index is in quote currency.

    A component's price, by ``source``:

    - ``mid``: its book's mid; the last trade price if a side of the book is
      empty; left out if it has neither (empty book, no trade yet);
    - ``last``: its last trade price; the book's mid before its first trade;
      left out if it has neither.

    A SimPy process samples the components at ``t = 0, interval_ns,
    2 * interval_ns, ...`` (the grid points from the index's creation on). A
    sample taken at ``t`` becomes visible at ``t + latency_ns``. A sample in
    which no component has a price repeats the previous value (``start``
    before any). A reader at the very instant a sample becomes visible sees
    it only if the index's process has already run at that instant: with
    ``latency_ns = 0``, create the index before the processes that read it.

    Causes: the venue reports each trade of a component instrument made by a
    forced order (:meth:`on_caused_trade`). The deepest of them in a sampling
    period (largest generation; at equal generations the later report) goes
    with the period's sample, and :meth:`cause` gives it to a reader once that
    sample is visible: a liquidation on one instrument that moved its price is
    carried through the index to the marks that read it.

    >>> from lob.market.fundamental import FundamentalProcess
    >>> from lob.market.instrument import Instrument
    >>> from lob.scenario.world import World
    >>> SECOND = 1_000_000_000
    >>> insts = [Instrument("A", 0.01, 1), Instrument("B", 0.5, 1)]
    >>> world = World(insts, seed=1, duration_ns=2 * SECOND,
    ...               fundamentals=[FundamentalProcess.constant(100.0, 2 * SECOND)] * 2)
    >>> book_a, book_b = world.venue.books
    >>> _ = book_a.limit(1, 0, 1, 9_999, 1), book_a.limit(2, 0, -1, 10_001, 1)  # mid 100.00
    >>> _ = book_b.limit(3, 0, 1, 201, 1), book_b.limit(4, 0, -1, 203, 1)  # mid 101.00
    >>> index = CompositeIndex(world.env, world.venue, [(0, 1.0), (1, 1.0)],
    ...                        interval_ns=SECOND, latency_ns=SECOND // 2, start=99.0)
    >>> world.env.run(until=SECOND)
    >>> index.value(SECOND // 4), index.value(SECOND // 2)  # the t = 0 sample is visible from 0.5 s
    (99.0, 100.5)
    """

    def __init__(
        self,
        env: simpy.Environment,
        venue: Venue,
        components: Sequence[tuple[int, float]],
        *,
        interval_ns: int,
        latency_ns: int,
        source: str = "mid",
        start: float,
        name: str = "",
    ) -> None:
        where = f"composite index {name!r}" if name else "composite index"
        if len(components) == 0:
            raise ValueError(f"{where}: components must name at least one (instrument, weight)")
        n_instruments = len(venue.instruments)
        weights: list[float] = []
        for k, (ii, weight) in enumerate(components):
            if not _is_index(ii) or not 0 <= ii < n_instruments:
                raise ValueError(
                    f"{where}: components[{k}] instrument must be an index in 0..{n_instruments - 1}, "
                    f"got {ii!r}"
                )
            try:
                w = float(weight)
            except (TypeError, ValueError):
                w = math.nan
            if not math.isfinite(w) or w < 0:
                raise ValueError(f"{where}: components[{k}] weight must be finite and >= 0, got {weight!r}")
            weights.append(w)
        if not sum(weights) > 0:
            raise ValueError(f"{where}: components' weights must have a positive sum, got {weights}")
        if interval_ns <= 0:
            raise ValueError(f"{where}: interval_ns must be > 0, got {interval_ns}")
        if latency_ns < 0:
            raise ValueError(f"{where}: latency_ns must be >= 0, got {latency_ns}")
        if source not in SOURCES:
            raise ValueError(f"{where}: source must be one of {', '.join(SOURCES)}, got {source!r}")
        if not (math.isfinite(start) and start > 0):
            raise ValueError(f"{where}: start must be a finite price > 0 (quote currency), got {start!r}")
        self.env = env
        self.venue = venue
        self.name = name
        self.interval_ns = interval_ns
        self.latency_ns = latency_ns
        self.source = source
        self.start = float(start)
        self.components = [(ii, w) for (ii, _), w in zip(components, weights, strict=True)]
        # (instrument, integer weight, tick size) of the components that count; the integer weights
        # are computed once here so that each sample compares exact sums without converting again.
        units = _integer_weights(weights)
        self._priced = [
            (ii, u, venue.instruments[ii].tick_size)
            for (ii, _), u in zip(components, units, strict=True)
            if u > 0
        ]
        self._members = frozenset(ii for ii, _, _ in self._priced)
        self._samples: list[Sample] = []
        self._taken: list[int] = []  # taken_ns of each sample: bisected without a key function
        self._caused: list[int] = []  # positions of the samples that carry a cause, ascending
        self._pending = _NO_CAUSE  # deepest cause reported since the last sample
        self._now_cursor = 0  # samples visible at the last `now` asked (value, cause)
        self._since_cursor = 0  # samples visible at the last `since_ns` asked (cause)
        env.process(self._run())

    def __repr__(self) -> str:
        return (
            f"CompositeIndex({self.name!r}, components={self.components}, source={self.source!r}, "
            f"interval_ns={self.interval_ns}, latency_ns={self.latency_ns})"
        )

    # -- QUERIES -------------------------------------------------------------

    @property
    def samples(self) -> list[Sample]:
        """Every sample so far, in time order: ``(taken_ns, value_quote, generation, liquidation_id)``.

        The list itself (read it, do not change it); ``(-1, 0)`` as the cause
        when no forced trade is behind the sample.
        """
        return self._samples

    def value(self, now: int) -> float:
        """The index (quote currency) at ``now``: the latest sample visible then, else ``start``.

        Runtime complexity: ``O(1)`` amortised when ``now`` moves forward by
        a few samples between calls; ``O(log d)`` for a jump of ``d`` samples.
        """
        k = self._now_cursor = self._visible(self._now_cursor, now)
        return self._samples[k - 1][1] if k else self.start

    def cause(self, since_ns: int, now: int) -> tuple[int, int]:
        """The deepest ``(generation, liquidation id)`` of the samples first visible in ``(since_ns, now]``.

        The largest generation wins; at equal generations, the later sample.
        ``(-1, 0)`` when none of those samples carries a cause. A mark price
        calls it with the time of its previous update.

        Runtime complexity: ``O(1)`` amortised for a reader moving forward
        (plus ``O(log c)`` over the ``c`` samples that carry a cause, and one
        step per caused sample in the window).
        """
        if now <= since_ns:
            return _NO_CAUSE
        lo = self._since_cursor = self._visible(self._since_cursor, since_ns)
        hi = self._now_cursor = self._visible(self._now_cursor, now)
        caused = self._caused
        best = _NO_CAUSE
        j = bisect_left(caused, lo)
        while j < len(caused) and caused[j] < hi:
            _, _, generation, liquidation_id = self._samples[caused[j]]
            if generation >= best[0]:
                best = (generation, liquidation_id)
            j += 1
        return best

    def _visible(self, cursor: int, now: int) -> int:
        """How many samples are visible at ``now``, searched outward from ``cursor`` (a previous answer).

        Galloping from the cursor costs ``O(log d)`` for an answer ``d``
        samples away, so a reader that moves forward pays ``O(1)``.
        """
        limit = now - self.latency_ns  # a sample is visible iff taken_ns <= limit
        taken = self._taken
        n = len(taken)
        if cursor < n and taken[cursor] <= limit:
            lo, step = cursor + 1, 1  # every sample before lo is visible
            while lo + step - 1 < n and taken[lo + step - 1] <= limit:
                lo += step
                step *= 2
            return bisect_right(taken, limit, lo, min(lo + step - 1, n))
        if cursor > 0 and taken[cursor - 1] > limit:
            hi, step = cursor - 1, 1  # no sample from hi on is visible
            while hi - step >= 0 and taken[hi - step] > limit:
                hi -= step
                step *= 2
            return bisect_right(taken, limit, max(hi - step + 1, 0), hi)
        return cursor

    # -- COMMANDS ------------------------------------------------------------

    def on_caused_trade(self, ii: int, generation: int, liquidation_id: int) -> None:
        """Notes a trade on instrument ``ii`` made by a forced order of liquidation ``liquidation_id``.

        Kept, until the next sample takes it, if it is the deepest this period
        (a generation at least as large as the one kept). Trades on instruments
        that are not components of positive weight cannot move the index and
        are ignored. Runtime complexity: ``O(1)``.
        """
        if generation >= 0 and generation >= self._pending[0] and ii in self._members:
            self._pending = (generation, liquidation_id)

    def _take_sample(self, now: int) -> Sample:
        """Takes the sample at ``now`` (ns) and appends it; the SimPy process calls it on the grid.

        Runtime complexity: ``O(k log k)`` for ``k`` components.
        """
        venue = self.venue
        books, last_prices = venue.books, venue.last_price
        use_last = self.source == "last"
        pairs: list[tuple[float, int]] = []
        for ii, units, tick in self._priced:
            last = last_prices[ii]
            if use_last and last:
                pairs.append((last * tick, units))
                continue
            book = books[ii]
            bid, ask = book.best_bid(), book.best_ask()
            if bid and ask != NO_ASK:
                pairs.append(((bid + ask) / 2 * tick, units))
            elif last:
                pairs.append((last * tick, units))
        if pairs:
            pairs.sort()
            value = _median_of_sorted(pairs)
        else:  # nothing priced yet: hold the last value
            value = self._samples[-1][1] if self._samples else self.start
        generation, liquidation_id = self._pending
        self._pending = _NO_CAUSE
        if generation >= 0:
            self._caused.append(len(self._samples))
        row = (now, value, generation, liquidation_id)
        self._samples.append(row)
        self._taken.append(now)
        return row

    def _run(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        now = int(env.now)
        first = -(-now // self.interval_ns) * self.interval_ns  # the first grid point from now on
        if first > now:
            yield env.timeout(first - now)
        while True:
            self._take_sample(int(env.now))
            yield env.timeout(self.interval_ns)
