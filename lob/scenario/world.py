"""A simulated market assembled in Python: clock, venue, feed, fundamentals, traders, log.

:class:`World` is what a scenario config builds, and what a test or a
notebook can build directly::

    world = World([Instrument("XYZ", 0.01, 1)], seed=1, duration_ns=60 * SECOND)
    world.add_trader(NoiseTrader, "noise-0", NoiseTrader.Params())
    world.run()
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import simpy

from lob.agents.base import Trader
from lob.eventlog.recorder import Recorder
from lob.eventlog.schema import BOOK, KIND_CODE, TABLES
from lob.market.feed import MarketDataFeed
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import Instrument
from lob.market.latency import UNIFORM, LatencyModel
from lob.market.snapshots import BookSnapshots
from lob.market.venue import Venue
from lob.seeding import spawn_rng

SECOND = 1_000_000_000
_SHOCK = KIND_CODE["shock"]


class LatencySpec:
    """Latency parameters: ``base_ns`` plus jitter up to / with mean ``jitter_ns``."""

    __slots__ = ("base_ns", "distribution", "jitter_ns")

    def __init__(self, base_ns: int = 100_000, jitter_ns: int = 0, distribution: str = UNIFORM) -> None:
        self.base_ns = base_ns
        self.jitter_ns = jitter_ns
        self.distribution = distribution

    def model(self, rng: np.random.Generator | None) -> LatencyModel:
        return LatencyModel(self.base_ns, self.jitter_ns, self.distribution, rng)


class World:
    """Everything one run simulates. Agent names must be unique: they key the random streams."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        seed: int,
        duration_ns: int,
        fundamentals: Sequence[FundamentalProcess] | None = None,
        feed_latency_ns: int = 200_000,
        feed_depth: int = 0,
        maker_ppm: int = 0,
        taker_ppm: int = 0,
        latency: LatencySpec | None = None,
        return_latency: LatencySpec | None = None,
        tables: Sequence[str] = tuple(TABLES),
    ) -> None:
        if duration_ns <= 0:
            raise ValueError(f"duration must be > 0 ns, got {duration_ns}")
        self.instruments = [
            inst if inst.index == i else Instrument(inst.symbol, inst.tick_size, inst.lot_size, i)
            for i, inst in enumerate(instruments)
        ]
        self.seed = seed
        self.duration_ns = duration_ns
        self.env = simpy.Environment()
        if fundamentals is None:
            raise ValueError("a world needs one fundamental process per instrument")
        if len(fundamentals) != len(self.instruments):
            raise ValueError(
                f"{len(fundamentals)} fundamental processes for {len(self.instruments)} instruments"
            )
        self.fundamentals = list(fundamentals)
        self.agent_names: list[str] = []
        self.recorder = Recorder(self.agent_names, [i.symbol for i in self.instruments], tuple(tables))
        self.feed = MarketDataFeed(self.env, len(self.instruments), feed_latency_ns, feed_depth)
        self.venue = Venue(self.env, self.instruments, self.feed, self.recorder, maker_ppm, taker_ppm)
        self.latency = latency or LatencySpec()
        self.return_latency = return_latency or self.latency
        self.traders: list[Trader] = []
        self._names: set[str] = set()
        self._snapshots: BookSnapshots | None = None
        self._started = False

    # -- BUILDING ------------------------------------------------------------

    def add_trader(
        self,
        cls: type[Trader],
        name: str,
        params: Any = None,
        *,
        instrument: Instrument | str | None = None,
        latency: LatencySpec | None = None,
        return_latency: LatencySpec | None = None,
        group: str = "",
    ) -> Trader:
        """Creates, connects and registers a trader. Its generators are spawned from the seed by ``name``."""
        if self._started:
            raise RuntimeError("traders must be added before the world runs")
        if name in self._names:
            raise ValueError(f"duplicate trader name {name!r}")
        if params is None:
            params = cls.Params()
        inst = self._instrument(instrument)
        trader = cls(
            name,
            params,
            env=self.env,
            venue=self.venue,
            instrument=inst,
            fundamentals=self.fundamentals,
            rng=spawn_rng(self.seed, f"trader:{name}"),
            group=group,
        )
        entry_spec = latency or self.latency
        ret_spec = return_latency or latency or self.return_latency
        # One stream serves both directions of the trader's link (a generator costs 1.6 KB;
        # a run may have a million traders); none at all when neither direction has jitter.
        link_rng = (
            spawn_rng(self.seed, f"latency:{name}") if entry_spec.jitter_ns or ret_spec.jitter_ns else None
        )
        entry = entry_spec.model(link_rng)
        ret = ret_spec.model(link_rng)
        trader._attach(self.venue.connect(trader, entry, ret))
        self.agent_names.append(name)
        self._names.add(name)
        self.traders.append(trader)
        return trader

    def _instrument(self, instrument: Instrument | str | None) -> Instrument:
        if instrument is None:
            return self.instruments[0]
        symbol = instrument.symbol if isinstance(instrument, Instrument) else instrument
        for inst in self.instruments:
            if inst.symbol == symbol:
                return inst
        raise KeyError(f"unknown instrument {symbol!r}")

    def snapshot_book(self, interval_ns: int, depth: int) -> None:
        """Records the top ``depth`` levels of every book at 0, interval, 2 interval, ... duration."""
        self._snapshots = BookSnapshots(
            self.env, self.venue.books, self.fundamentals, interval_ns, depth, self.duration_ns
        )

    def _log_shocks(self) -> None:
        log = self.recorder["events"].append
        for ii, process in enumerate(self.fundamentals):
            step = process.step_ns
            for shock in process.shocks:
                at = -(-shock.at_ns // step) * step  # the jump lands on the first grid time >= at_ns
                if at <= self.duration_ns:

                    def hit(_ev: simpy.Event, ii: int = ii, jump: float = shock.jump) -> None:
                        self.venue.seq += 1
                        log(
                            (
                                self.venue.seq,
                                self.env.now,
                                _SHOCK,
                                -1,
                                ii,
                                0,
                                0,
                                0,
                                0,
                                0,
                                -1,
                                0,
                                0,
                                self.env.now,
                                0,
                                -1,
                                jump,
                            )
                        )

                    ev = self.env.timeout(at)
                    ev.callbacks.append(hit)

    # -- RUNNING -------------------------------------------------------------

    def run(self, progress: Callable[[int], None] | None = None, chunks: int = 200) -> None:
        """Runs to ``duration_ns``; ``progress(now_ns)`` is called ``chunks`` times along the way."""
        if self._started:
            raise RuntimeError("a world runs once")
        self._started = True
        if "events" in self.recorder.enabled:
            self._log_shocks()
        for trader in self.traders:
            trader.on_start()
            if type(trader).run is not Trader.run:
                self.env.process(trader.run())
        if progress is None:
            self.env.run(until=self.duration_ns + 1)
            return
        step = max(1, self.duration_ns // chunks)
        t = 0
        while t < self.duration_ns:
            t = min(t + step, self.duration_ns)
            self.env.run(until=t + 1 if t == self.duration_ns else t)
            progress(t)

    @property
    def simpy_events(self) -> int:
        """SimPy events scheduled so far (timeouts, process steps, deliveries)."""
        return int(next(self.env._eid)) - 1  # reads SimPy's event counter; the skipped id is never used

    def arrays(self) -> dict[str, np.ndarray]:
        """The run's tables as record arrays."""
        out = self.recorder.arrays()
        if "book" in self.recorder.enabled:
            out["book"] = (
                self._snapshots.rows() if self._snapshots is not None else np.zeros(0, dtype=BOOK.dtype)
            )
        return out
