"""A simulated market assembled in Python: clock, venue, feed, fundamentals, traders, log.

:class:`World` is what a scenario config builds, and what a test or a
notebook can build directly::

    world = World([Instrument("XYZ", 0.01, 1)], seed=1, duration_ns=60 * SECOND)
    world.add_trader(NoiseTrader, "noise-0", NoiseTrader.Params())
    world.run()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # the risk layer loads only for runs with perpetuals (memory: see bench_sim)
    from lob.market.breakers import BreakerRules, CircuitBreakers
    from lob.replay.background import DepthStream, HistoricalDepth
    from lob.risk.composite_index import CompositeIndex
    from lob.risk.deleveraging import AdlRules
    from lob.risk.engine import LiquidationRules, RiskEngine
    from lob.risk.funding import Funding
    from lob.risk.prices import MarkPrice
    from lob.risk.tiers import MarginTiers

SECOND = 1_000_000_000
_PASSIVE = LatencyModel(0)  # the latency of accounts that never send: shared, it is never drawn from
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


@dataclass(frozen=True)
class MarkSpec:
    """How one perpetual's mark price is computed (see :class:`lob.risk.prices.MarkPrice`)."""

    method: str = "median"
    interval_ns: int = 1_000_000_000
    index_latency_ns: int = 0
    index_interval_ns: int = 1_000_000_000
    ma_window: int = 30


def _premium_sampler(payer: Funding, mark: MarkPrice) -> Callable[[int, float, tuple[int, int], int], None]:
    """A mark listener that hands each mark and the index it was computed with to ``payer``."""

    def sample(_ii: int, value: float, _cause: tuple[int, int], _seq: int) -> None:
        payer.sample(value, mark.index)

    return sample


def _mark_to_breakers(breakers: CircuitBreakers) -> Callable[[int, float, tuple[int, int], int], None]:
    """A mark listener that gives the breakers each mark (the reference of mark-based price bands)."""

    def feed(ii: int, value: float, _cause: tuple[int, int], _seq: int) -> None:
        breakers.set_mark(ii, value)

    return feed


@dataclass(frozen=True)
class FundingSpec:
    """Funding payments of perpetuals (see :class:`lob.risk.funding.Funding`); rates per interval."""

    interval_ns: int = 8 * 3_600 * SECOND
    interest: float = 0.0001
    clamp: float = 0.0005
    cap: float = 0.0075


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
        venue_names: Sequence[str] = ("main",),
    ) -> None:
        if duration_ns <= 0:
            raise ValueError(f"duration must be > 0 ns, got {duration_ns}")
        self.instruments = [
            inst if inst.index == i else dataclasses.replace(inst, index=i)
            for i, inst in enumerate(instruments)
        ]
        #: The venues' names; ``Instrument.venue`` indexes them. One Venue object hosts every venue's
        #: books: what differs per venue (latency, fees, risk engine, fund) is kept per instrument,
        #: per connection and per engine.
        self.venue_names = list(venue_names)
        for inst in self.instruments:
            if not 0 <= inst.venue < len(self.venue_names):
                raise ValueError(f"{inst.symbol}: venue {inst.venue} of {len(self.venue_names)} venues")
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
        self.risk: RiskEngine | None = None  # the first venue's engine (the only one of a one-venue run)
        self.risks: dict[int, RiskEngine] = {}  # by venue
        self.indexes: dict[str, CompositeIndex] = {}  # composite indexes by name
        #: Each account's venue (owner id -> venue index): money is conserved per venue.
        self.owner_venue: dict[int, int] = {}
        self.venue_latency: dict[int, tuple[LatencySpec, LatencySpec]] = {}
        self.marks: dict[int, MarkPrice] = {}
        self.funding: dict[int, Funding] = {}
        self.breakers: CircuitBreakers | None = None
        self.backgrounds: list[HistoricalDepth] = []  # recorded books replayed as background flow
        self.deposits = 0  # money units of collateral put in (accounts, fund): what conservation counts
        self.deposits_by_owner: dict[int, int] = {}
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
        margin: tuple[int, float] | None = None,
        venues: Sequence[int] = (),
    ) -> Trader:
        """Creates, connects and registers a trader. Its generators are spawned from the seed by ``name``.

        It has an account on its instrument's venue and, for each of ``venues``,
        one more (named ``NAME@VENUE``), with the same ``margin`` on each.
        """
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
        home = inst.venue
        venue_in, venue_back = self._latencies(home)
        entry_spec = latency or venue_in
        ret_spec = return_latency or latency or venue_back
        # One stream serves both directions of the trader's link (a generator costs 1.6 KB;
        # a run may have a million traders); none at all when neither direction has jitter.
        link_rng = (
            spawn_rng(self.seed, f"latency:{name}") if entry_spec.jitter_ns or ret_spec.jitter_ns else None
        )
        entry = entry_spec.model(link_rng)
        ret = ret_spec.model(link_rng)
        self.agent_names.append(name)
        self._names.add(name)
        self.traders.append(trader)
        self._open(trader, home, entry, ret, margin)
        for v in venues:
            if v == home:
                continue
            spec_in, spec_back = self._latencies(v)
            spec_in, spec_back = latency or spec_in, return_latency or latency or spec_back
            account = f"{name}@{self.venue_names[v]}"
            jitter = spec_in.jitter_ns or spec_back.jitter_ns
            rng = spawn_rng(self.seed, f"latency:{account}") if jitter else None
            self._register(account)
            self._open(trader, v, spec_in.model(rng), spec_back.model(rng), margin)
        return trader

    def _latencies(self, v: int) -> tuple[LatencySpec, LatencySpec]:
        """Venue ``v``'s order-entry and reply latencies (the world's own for a one-venue run)."""
        return self.venue_latency.get(v, (self.latency, self.return_latency))

    def _open(
        self, trader: Trader, v: int, entry: LatencyModel, ret: LatencyModel, margin: tuple[int, float] | None
    ) -> None:
        """Connects ``trader`` to venue ``v``: an account there, for the instruments it lists."""
        conn = self.venue.connect(trader, entry, ret, margined=margin is not None)
        assert len(self.agent_names) == conn.index + 1  # owner ids and names stay aligned
        trader._attach(conn, [i.index for i in self.instruments if i.venue == v])
        self.owner_venue[conn.index] = v
        if margin is not None:
            collateral, leverage = margin
            self.venue.accounts[conn.index].collateral = collateral
            self.deposits += collateral
            self.deposits_by_owner[conn.index] = collateral
            self._risk_engine(v).add_account(conn.index, leverage)

    def configure_venue(
        self,
        v: int,
        *,
        latency: LatencySpec,
        return_latency: LatencySpec,
        feed_latency_ns: int,
        maker_ppm: int,
        taker_ppm: int,
    ) -> None:
        """Venue ``v``'s own order-entry and feed latencies and fees (several venues in one run)."""
        self.venue_latency[v] = (latency, return_latency)
        for inst in self.instruments:
            if inst.venue == v:
                self.venue.set_fees(inst.index, maker_ppm, taker_ppm)
                self.feed.set_latency(inst.index, feed_latency_ns)

    def add_index(
        self,
        name: str,
        components: Sequence[tuple[int, float]],
        *,
        interval_ns: int,
        latency_ns: int,
        source: str = "mid",
        start: float,
    ) -> CompositeIndex:
        """An index over venues' prices (a weighted median, lob.risk.composite_index); ``start`` quote."""
        from lob.risk.composite_index import CompositeIndex

        if name in self.indexes:
            raise ValueError(f"duplicate index {name!r}")
        index = CompositeIndex(
            self.env,
            self.venue,
            components,
            interval_ns=interval_ns,
            latency_ns=latency_ns,
            source=source,
            start=start,
            name=name,
        )
        for ii, _ in components:
            self.venue.cause_listeners[ii].append(index.on_caused_trade)
        self.indexes[name] = index
        return index

    # -- THE RISK LAYER ------------------------------------------------------

    def enable_risk(
        self,
        tiers: Sequence[MarginTiers | None],
        rules: LiquidationRules,
        *,
        insurance_fund: int = 0,
        marks: dict[int, MarkSpec] | None = None,
        vault: bool = False,
        funding: FundingSpec | None = None,
        adl: AdlRules | None = None,
        halt_wait: bool = True,
        venue: int = 0,
        indexes: dict[int, CompositeIndex] | None = None,
    ) -> RiskEngine:
        """Margin, mark prices and liquidations for the instruments with ``tiers`` (the perpetuals).

        ``insurance_fund`` is money units; the fund and (with ``vault``) the
        backstop vault are passive accounts named ``insurance_fund`` and
        ``backstop_vault``. ``adl`` turns auto-deleveraging on; ``halt_wait``
        makes liquidations wait out trading halts. Call before adding margined
        traders or accounts, and before :meth:`enable_breakers`. With several
        venues, call it once per ``venue``, with ``tiers`` None for the
        instruments of the others; ``indexes`` gives perpetuals a composite
        index (see :meth:`add_index`) in place of their fundamental.
        """
        if venue in self.risks:
            raise RuntimeError(f"the risk layer of venue {self.venue_names[venue]!r} is already enabled")
        for inst, t in zip(self.instruments, tiers, strict=True):
            if t is not None and inst.venue != venue:
                raise ValueError(f"{inst.symbol} is not on venue {self.venue_names[venue]!r}")
        suffix = "" if len(self.venue_names) == 1 else f"@{self.venue_names[venue]}"
        from lob.risk.engine import RiskEngine
        from lob.risk.funding import Funding
        from lob.risk.prices import MarkPrice

        fund = self.venue.connect(None, _PASSIVE, _PASSIVE, listens=False)
        self.venue.accounts[fund.index].collateral = insurance_fund
        self.deposits += insurance_fund
        self.deposits_by_owner[fund.index] = insurance_fund
        self.owner_venue[fund.index] = venue
        self._register(f"insurance_fund{suffix}")
        vault_owner = None
        if vault:
            vault_owner = self.venue.connect(None, _PASSIVE, _PASSIVE, listens=False).index
            self.owner_venue[vault_owner] = venue
            self._register(f"backstop_vault{suffix}")
        engine = RiskEngine(
            self.env,
            self.venue,
            self.recorder,
            tiers,
            rules,
            fund.index,
            vault_owner,
            adl=adl,
            adl_rng=spawn_rng(self.seed, f"adl{suffix}") if adl is not None else None,
            halt_wait=halt_wait,
        )
        self.risks[venue] = engine
        if self.risk is None:
            self.risk = engine
        marks = marks or {}
        indexes = indexes or {}
        for ii, t in enumerate(tiers):
            if t is None:
                continue
            spec = marks.get(ii, MarkSpec())
            mark = MarkPrice(
                self.env,
                self.venue,
                ii,
                self.fundamentals[ii],
                method=spec.method,
                interval_ns=spec.interval_ns,
                index_latency_ns=spec.index_latency_ns,
                index_interval_ns=spec.index_interval_ns,
                ma_window=spec.ma_window,
                composite=indexes.get(ii),
            )
            mark.listeners.append(engine.on_mark)
            engine.marks[ii] = mark.mark  # the opening mark (the index): margin checks need one from t = 0
            self.marks[ii] = mark
            if funding is not None:
                payer = Funding(
                    self.env,
                    self.venue,
                    ii,
                    fund.index,
                    interval_ns=funding.interval_ns,
                    interest=funding.interest,
                    clamp=funding.clamp,
                    cap=funding.cap,
                )
                mark.listeners.insert(0, _premium_sampler(payer, mark))
                self.funding[ii] = payer
        return engine

    def enable_breakers(self, rules: BreakerRules, references: Sequence[int]) -> CircuitBreakers:
        """Price bands and trading halts (see :mod:`lob.market.breakers`).

        ``references`` is each instrument's reference price for the day, in
        ticks. Mark prices, where the risk layer has them, feed the bands.
        """
        if self.breakers is not None:
            raise RuntimeError("circuit breakers are already enabled")
        from lob.market.breakers import CircuitBreakers

        self.breakers = CircuitBreakers(self.env, self.venue, rules, references)
        for mark in self.marks.values():
            mark.listeners.insert(0, _mark_to_breakers(self.breakers))
        return self.breakers

    def add_historical_depth(
        self, stream: DepthStream, instrument: Instrument | str | None = None
    ) -> HistoricalDepth:
        """Replays a recorded L2 book into ``instrument``'s book as background flow (lob.replay.background).

        Its orders belong to a passive account named ``history-SYMBOL``;
        updates past the run's end are not applied.
        """
        if self._started:
            raise RuntimeError("background flow must be added before the world runs")
        from lob.replay.background import HistoricalDepth

        inst = self._instrument(instrument)
        depth = HistoricalDepth(self.env, self.venue, inst.index, stream, self.duration_ns)
        self._register(f"history-{inst.symbol}")
        self.backgrounds.append(depth)
        return depth

    def _risk_engine(self, venue: int = 0) -> RiskEngine:
        engine = self.risks.get(venue)
        if engine is None:
            raise RuntimeError(
                f"margined accounts on venue {self.venue_names[venue]!r} need its risk layer: "
                "call enable_risk() first"
            )
        return engine

    def _register(self, name: str) -> None:
        if name in self._names:
            raise ValueError(f"duplicate account name {name!r}")
        self.agent_names.append(name)
        self._names.add(name)

    def add_account(
        self, name: str, *, collateral: int, leverage: float, positions: dict[int, tuple[int, int]]
    ) -> int:
        """A passive margined account holding ``positions`` (instrument -> (lots, cash in notional units)).

        It sends no orders and hears nothing, but the liquidation engine
        watches it like any margined account. ``collateral`` is money units.
        Returns its owner id. The caller keeps positions netting to zero.
        """
        return self.add_accounts([name], [(collateral, leverage, positions)])[0]

    def add_accounts(
        self, names: list[str], holdings: list[tuple[int, float, dict[int, tuple[int, int]]]]
    ) -> list[int]:
        """:meth:`add_account` for many passive accounts: ``(collateral, leverage, positions)`` each.

        The liquidation engine files them all at once. Returns their owner ids.
        """
        venues = {self.instruments[ii].venue for _, _, positions in holdings for ii in positions} or {0}
        if len(venues) > 1:
            raise ValueError("a passive account's positions must all be on one venue")
        (v,) = venues
        risk = self._risk_engine(v)
        owners = []
        for name, (collateral, _leverage, positions) in zip(names, holdings, strict=True):
            conn = self.venue.connect(None, _PASSIVE, _PASSIVE, margined=True, listens=False)
            self._register(name)
            account = self.venue.accounts[conn.index]
            account.collateral = collateral
            self.deposits += collateral
            self.deposits_by_owner[conn.index] = collateral
            self.owner_venue[conn.index] = v
            for ii, (lots, cash) in positions.items():
                account.position[ii] = lots
                account.cash[ii] = cash
            owners.append(conn.index)
        risk.add_accounts(owners, [h[1] for h in holdings])
        return owners

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
        for ii, process in enumerate(self.fundamentals):
            step = process.step_ns
            for shock in process.shocks:
                at = -(-shock.at_ns // step) * step  # the jump lands on the first grid time >= at_ns
                if at <= self.duration_ns:

                    def hit(_ev: simpy.Event, ii: int = ii, jump: float = shock.jump) -> None:
                        self.venue.log_row(_SHOCK, -1, ii, 0, 0, 0, jump)

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

    def money(self) -> dict[str, int]:
        """The exact money ledger (money units): what was deposited and where it is now.

        ``held`` is all collateral plus every account's trading cash plus the
        venue's fee income; it equals ``deposited`` whenever positions net to
        zero, which they always do. Bad debt is the negative collateral left
        with bankrupt accounts, so it is inside ``held``, not beside it.
        """
        venue = self.venue
        held = sum(a.collateral for a in venue.accounts)
        for inst in self.instruments:
            ii = inst.index
            held += (sum(a.cash[ii] for a in venue.accounts) + venue.fee_income[ii]) * inst.money_unit
        return {
            "deposited": self.deposits,
            "held": held,
            "bad_debt": sum(r.bad_debt for r in self.risks.values()),
            "insurance_fund": sum(r.fund_balance for r in self.risks.values()),
        }

    def money_by_venue(self) -> dict[str, dict[str, int]]:
        """:meth:`money` for each venue: its accounts' collateral, its instruments' cash and fees.

        Nothing moves money between venues (a trader's accounts on two venues
        are separate), so each venue's ``held`` equals its ``deposited``.
        """
        venue = self.venue
        out: dict[str, dict[str, int]] = {}
        for v, vname in enumerate(self.venue_names):
            owners = [o for o, ov in self.owner_venue.items() if ov == v]
            held = sum(venue.accounts[o].collateral for o in owners)
            for inst in self.instruments:
                if inst.venue == v:
                    ii = inst.index
                    held += (sum(a.cash[ii] for a in venue.accounts) + venue.fee_income[ii]) * inst.money_unit
            risk = self.risks.get(v)
            out[vname] = {
                "deposited": sum(self.deposits_by_owner.get(o, 0) for o in owners),
                "held": held,
                "bad_debt": risk.bad_debt if risk is not None else 0,
                "insurance_fund": risk.fund_balance if risk is not None else 0,
            }
        return out

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
