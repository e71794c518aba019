"""Top-of-book snapshots at a fixed interval: the run's ``book`` table."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import numpy as np
import simpy

from lob.core.book import OrderBook
from lob.eventlog.schema import BOOK
from lob.market.fundamental import FundamentalProcess


class BookSnapshots:
    """Records the top ``depth`` levels of every book at 0, ``interval_ns``, ... up to ``duration_ns``.

    One SimPy event per snapshot (not per book or level). Levels go into
    preallocated 2-D arrays, four slice copies per book; :meth:`rows` lays
    them out as ``book`` table rows once, at the end. Memory: 32 bytes per
    level per side kept, plus the table when it is built.
    """

    def __init__(
        self,
        env: simpy.Environment,
        books: Sequence[OrderBook],
        fundamentals: Sequence[FundamentalProcess],
        interval_ns: int,
        depth: int,
        duration_ns: int,
    ) -> None:
        if interval_ns <= 0 or depth <= 0:
            raise ValueError(f"snapshot interval and depth must be > 0, got {interval_ns} ns and {depth}")
        self.interval_ns = interval_ns
        self.depth = depth
        self.n = duration_ns // interval_ns + 1
        shape = (self.n, len(books), depth)
        self._bid_ticks = np.zeros(shape, np.int64)
        self._bid_lots = np.zeros(shape, np.int64)
        self._ask_ticks = np.zeros(shape, np.int64)
        self._ask_lots = np.zeros(shape, np.int64)
        self._fundamental = np.zeros(shape[:2], np.float64)
        self._taken = 0
        env.process(self._take(env, books, fundamentals))

    def _take(
        self, env: simpy.Environment, books: Sequence[OrderBook], fundamentals: Sequence[FundamentalProcess]
    ) -> Generator[simpy.Event, Any, None]:
        depth = self.depth
        bid_ticks, bid_lots, ask_ticks, ask_lots = (
            self._bid_ticks,
            self._bid_lots,
            self._ask_ticks,
            self._ask_lots,
        )
        for s in range(self.n):
            if s:
                yield env.timeout(self.interval_ns)
            now: int = env._now  # type: ignore[assignment]  # int ns in our runs
            for ii, book in enumerate(books):
                bp, bq = book.depth(1, depth)
                ap, aq = book.depth(-1, depth)
                bid_ticks[s, ii, : len(bp)] = bp
                bid_lots[s, ii, : len(bq)] = bq
                ask_ticks[s, ii, : len(ap)] = ap
                ask_lots[s, ii, : len(aq)] = aq
                self._fundamental[s, ii] = fundamentals[ii].value(now)
            self._taken = s + 1

    def rows(self) -> np.ndarray:
        """The snapshots taken so far as ``book`` table rows (time, then instrument, then level)."""
        n, n_inst, depth = self._taken, self._bid_ticks.shape[1], self.depth
        out = np.zeros(n * n_inst * depth, dtype=BOOK.dtype)
        out["time_ns"] = np.repeat(np.arange(n, dtype=np.int64) * self.interval_ns, n_inst * depth)
        out["instrument"] = np.tile(np.repeat(np.arange(n_inst, dtype=np.int16), depth), n)
        out["level"] = np.tile(np.arange(depth, dtype=np.int16), n * n_inst)
        out["bid_ticks"] = self._bid_ticks[:n].ravel()
        out["bid_lots"] = self._bid_lots[:n].ravel()
        out["ask_ticks"] = self._ask_ticks[:n].ravel()
        out["ask_lots"] = self._ask_lots[:n].ravel()
        out["fundamental"] = np.repeat(self._fundamental[:n].ravel(), depth)
        return out
