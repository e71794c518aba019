"""Running a scenario: config -> world -> simulation -> run directory.

This is what ``lob run`` does and what :func:`lob.run` gives Python users.
The run directory is written only when the simulation is complete, and
atomically (see :mod:`lob.eventlog.writer`), so an interrupted run leaves
nothing that looks complete.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lob.eventlog.adl_summary import adl_summary
from lob.eventlog.execution_summary import execution_summary
from lob.eventlog.liquidation_summary import liquidation_summary
from lob.eventlog.rundir import check_writable
from lob.eventlog.summary import market_summary, round_sig
from lob.market.fundamental import FundamentalProcess, Shock
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.scenario.config import LatencyConfig, ScenarioConfig, trader_names
from lob.scenario.loader import dump_config, load_config
from lob.scenario.risk_config import MarginConfig, OpenInterestConfig, tiers_from
from lob.scenario.world import FundingSpec, LatencySpec, MarkSpec, World
from lob.seeding import spawn_rng

if TYPE_CHECKING:
    from lob.agents.base import Trader
    from lob.eventlog.reader import RunData
    from lob.risk.composite_index import CompositeIndex


def _latency(cfg: LatencyConfig) -> LatencySpec:
    return LatencySpec(cfg.base, cfg.jitter, cfg.distribution)


def build_world(cfg: ScenarioConfig) -> World:
    """The world a validated config describes, ready to run."""
    seed, duration = cfg.run.seed, cfg.run.duration
    venue_names = cfg.venue_names
    instruments = [
        Instrument(i.symbol, i.tick_size, i.lot_size, k, perpetual=i.kind == "perpetual",
                   venue=venue_names.index(cfg.venue_of(i.symbol)))
        for k, i in enumerate(cfg.instruments)
    ]  # fmt: skip
    processes = _fundamentals(cfg)
    fundamentals = [processes[i.asset_name] for i in cfg.instruments]
    venue = cfg.venue_config(venue_names[0])
    world = World(
        instruments,
        seed=seed,
        duration_ns=duration,
        fundamentals=fundamentals,
        feed_latency_ns=venue.feed_latency,
        feed_depth=venue.feed_depth,
        maker_ppm=venue.fees.maker_ppm,
        taker_ppm=venue.fees.taker_ppm,
        latency=_latency(venue.latency),
        return_latency=_latency(venue.effective_return_latency),
        tables=cfg.outputs.tables,
        venue_names=venue_names,
    )
    if cfg.venues:
        for v, name in enumerate(venue_names):
            vc = cfg.venue_config(name)
            world.configure_venue(
                v,
                latency=_latency(vc.latency),
                return_latency=_latency(vc.effective_return_latency),
                feed_latency_ns=vc.feed_latency,
                maker_ppm=vc.fees.maker_ppm,
                taker_ppm=vc.fees.taker_ppm,
            )
    indexes = _indexes(world, cfg)
    for v in range(len(venue_names)):
        if any(inst.perpetual and inst.venue == v for inst in instruments):
            _enable_risk(world, cfg, instruments, v, indexes)
    if venue.circuit_breakers.enabled:
        _enable_breakers(world, cfg)
    for group in cfg.traders:
        assert group.name is not None and group.instrument is not None  # resolved by validation
        home = cfg.venue_config(cfg.venue_of(group.instrument))
        # A group's own latency is its link's: both ways, unless its venue sets a return latency.
        # Without one, each of its accounts has its venue's latencies.
        entry = back = None
        if group.latency is not None:
            entry = _latency(group.latency)
            back = entry if home.return_latency is None else _latency(home.effective_return_latency)
        for name in trader_names(group.name, group.count):
            world.add_trader(
                group.trader_class,
                name,
                group.params_model,
                instrument=group.instrument,
                latency=entry,
                return_latency=back,
                group=group.name,
                margin=_money_and_leverage(group.margin),
                venues=[venue_names.index(v) for v in group.venues],
            )
    for oi in cfg.open_interest:
        if oi.instruments:
            _portfolio_interest(world, oi, instruments, seed)
        else:
            _open_interest(world, oi, instruments, seed)
    for background in cfg.background:
        from lob.replay.background import binance_depth_stream

        assert background.instrument is not None  # resolved by validation
        inst_cfg = cfg.instrument(background.instrument)
        stream = binance_depth_stream(background.path(), inst_cfg.tick_size, inst_cfg.lot_size)
        world.add_historical_depth(stream, background.instrument)
    out = cfg.outputs
    if out.snapshot_interval and "book" in out.tables:
        world.snapshot_book(out.snapshot_interval, out.depth)
    return world


def _fundamentals(cfg: ScenarioConfig) -> dict[str, FundamentalProcess]:
    """One fundamental process per asset; correlated assets draw their diffusions jointly."""
    seed, duration = cfg.run.seed, cfg.run.duration
    normals: dict[str, np.ndarray] = {}
    if cfg.correlations:
        from lob.market.correlation import correlated_normals, correlation_matrix

        # Only the assets named in a correlation draw jointly; the others keep their own streams.
        names = list(dict.fromkeys(a for c in cfg.correlations for a in c.assets))
        corr = correlation_matrix(names, [(c.assets[0], c.assets[1], c.rho) for c in cfg.correlations])
        step = cfg.fundamental[names[0]].step  # validated: correlated assets share their step
        rows = correlated_normals(spawn_rng(seed, "correlations"), corr, -(-duration // step))
        normals = dict(zip(names, rows, strict=True))
    processes: dict[str, FundamentalProcess] = {}
    for asset in cfg.assets:
        f = cfg.fundamental[asset]
        assert f.mean is not None and f.start is not None  # resolved by validation
        processes[asset] = FundamentalProcess(
            mean=f.mean,
            start=f.start,
            mean_reversion=f.mean_reversion,
            volatility=f.volatility,
            jump_rate=f.jump_rate,
            jump_mean=f.jump_mean,
            jump_std=f.jump_std,
            step_ns=f.step,
            duration_ns=duration,
            shocks=[Shock(s.at, s.jump, s.permanent) for s in f.shocks],
            rng=spawn_rng(seed, f"fundamental:{asset}"),
            normals=normals.get(asset),
        )
    return processes


def _indexes(world: World, cfg: ScenarioConfig) -> dict[str, CompositeIndex]:
    """The composite indexes of ``indexes``, created before the marks that read them."""
    from lob.risk.composite_index import weighted_median

    made: dict[str, CompositeIndex] = {}
    symbols = cfg.symbols
    for name, ic in cfg.indexes.items():
        components = [(symbols.index(sym), w) for sym, w in ic.components.items()]
        prices = [cfg.instrument(sym).price for sym in ic.components]
        start = weighted_median(prices, list(ic.components.values()))
        assert start is not None  # validated: some weight is positive
        made[name] = world.add_index(
            name, components, interval_ns=ic.interval, latency_ns=ic.latency, source=ic.source, start=start
        )
    return made


def _enable_risk(
    world: World,
    cfg: ScenarioConfig,
    instruments: list[Instrument],
    v: int,
    indexes: dict[str, CompositeIndex],
) -> None:
    """Venue ``v``'s margin tiers for its perpetuals, their mark prices, its liquidation engine and fund."""
    from lob.risk.deleveraging import AdlRules  # only runs with perpetuals load the risk layer
    from lob.risk.engine import LiquidationRules

    venue = cfg.venue_config(world.venue_names[v])
    liq, mark = venue.liquidation, venue.mark
    tiers = [
        tiers_from(c.margin_tiers) if inst.perpetual and inst.venue == v else None
        for c, inst in zip(cfg.instruments, instruments, strict=True)
    ]
    rules = LiquidationRules(
        mode=liq.mode,
        check_latency_ns=liq.check_latency,
        fee_rate=liq.fee_bps / 1e4,
        partial_fraction=liq.partial_fraction,
        cooldown_ns=liq.cooldown,
        backstop_ratio=liq.backstop_ratio,
        vault_unwind_interval_ns=liq.vault_unwind_interval,
        vault_unwind_fraction=liq.vault_unwind_fraction,
        order=liq.order,
        liquidity_band=liq.liquidity_band,
    )
    f = venue.funding
    funding = FundingSpec(f.interval, f.interest, f.clamp, f.cap) if f.interval else None
    a = venue.adl
    adl = (
        AdlRules(a.policy, a.price, a.fund_drop, a.fund_drop_window, a.wave_gap)
        if a.policy != "none"
        else None
    )
    spec = MarkSpec(mark.method, mark.interval, mark.index_latency, mark.index_interval, mark.ma_window)
    world.enable_risk(
        tiers,
        rules,
        insurance_fund=round(venue.insurance_fund * MONEY_PER_QUOTE),
        marks={inst.index: spec for inst in instruments if inst.perpetual and inst.venue == v},
        vault=liq.mode == "backstop",
        funding=funding,
        adl=adl,
        halt_wait=venue.circuit_breakers.liquidations == "wait",
        venue=v,
        indexes={
            inst.index: indexes[c.index]
            for c, inst in zip(cfg.instruments, instruments, strict=True)
            if c.index is not None and inst.venue == v
        },
    )


def _enable_breakers(world: World, cfg: ScenarioConfig) -> None:
    """Price bands, limit up/limit down and market-wide halts, as ``venue.circuit_breakers`` sets them."""
    from lob.market.breakers import BandRule, BreakerRules, LuldRule, MarketWideRule

    cb = cfg.venue.circuit_breakers
    rules = BreakerRules(
        band=BandRule(cb.band.limit, cb.band.reference, cb.band.window) if cb.band else None,
        luld=LuldRule(cb.luld.band, cb.luld.reference_window, cb.luld.limit_state, cb.luld.halt)
        if cb.luld
        else None,
        market_wide=MarketWideRule(tuple(cb.market_wide.levels)) if cb.market_wide else None,
        during_halt=cb.during_halt,
    )
    world.enable_breakers(rules, [inst.price_ticks for inst in cfg.instruments])


def _money_and_leverage(margin: MarginConfig | None) -> tuple[int, float] | None:
    return None if margin is None else (round(margin.collateral * MONEY_PER_QUOTE), margin.leverage)


def _sides(
    oi: OpenInterestConfig,
) -> tuple[tuple[int, float, float, float, float, float], tuple[int, float | None, float, float, float]]:
    """A profile's longs and shorts as the tuples lob.risk.open_interest takes (quote, fractions)."""
    lg, sh = oi.longs, oi.shorts
    assert lg.notional is not None  # validated
    size, lev = lg.notional, lg.leverage
    longs = (lg.count, size.median, size.sigma, lev.min, lev.max, lg.entry_spread)
    short_size = (sh.notional.median, sh.notional.sigma) if sh.notional else (None, 0.0)
    return longs, (sh.count, *short_size, sh.leverage.min, sh.leverage.max)


def _open_interest(world: World, oi: OpenInterestConfig, instruments: list[Instrument], seed: int) -> None:
    """The profile's passive accounts, named ``<name>-long-<k>`` and ``<name>-short-<k>``."""
    from lob.risk.open_interest import open_interest

    inst = (
        next(i for i in instruments if i.symbol == oi.instrument)
        if oi.instrument
        else next(i for i in instruments if i.perpetual)
    )
    price = world.fundamentals[inst.index].value(0)
    longs, shorts = open_interest(
        spawn_rng(seed, f"open_interest:{oi.name}"),
        inst,
        price,
        *_sides(oi),
    )
    for side, holdings in (("long", longs), ("short", shorts)):
        world.add_accounts(
            [f"{oi.name}-{side}-{k}" for k in range(len(holdings))],
            [(h.collateral, h.leverage, {inst.index: (h.lots, h.cash)}) for h in holdings],
        )


def _portfolio_interest(
    world: World, oi: OpenInterestConfig, instruments: list[Instrument], seed: int
) -> None:
    """A portfolio profile: longs over several perpetuals, cross- or isolated-margined, and their shorts.

    Cross: one account ``<name>-long-<k>`` holds every position. Isolated:
    one account per position, ``<name>-long-<k>-<SYMBOL>``, with that
    position's share of the collateral. Shorts: ``<name>-short-<SYMBOL>-<k>``.
    """
    from lob.risk.open_interest import portfolio_interest

    assert oi.instruments is not None
    insts = [next(i for i in instruments if i.symbol == sym) for sym in oi.instruments]
    prices = [world.fundamentals[i.index].value(0) for i in insts]
    portfolios, shorts = portfolio_interest(
        spawn_rng(seed, f"open_interest:{oi.name}"),
        insts,
        prices,
        list(oi.instruments.values()),
        *_sides(oi),
    )
    if oi.margin == "cross":
        world.add_accounts(
            [f"{oi.name}-long-{k}" for k in range(len(portfolios))],
            [(p.collateral, p.leverage, p.positions) for p in portfolios],
        )
    else:
        names, holdings = [], []
        for k, p in enumerate(portfolios):
            for ii, position in p.positions.items():
                names.append(f"{oi.name}-long-{k}-{instruments[ii].symbol}")
                holdings.append((p.margins[ii], p.leverage, {ii: position}))
        world.add_accounts(names, holdings)
    for ii, holdings_short in shorts.items():
        symbol = instruments[ii].symbol
        world.add_accounts(
            [f"{oi.name}-short-{symbol}-{k}" for k in range(len(holdings_short))],
            [(h.collateral, h.leverage, {ii: (h.lots, h.cash)}) for h in holdings_short],
        )


def trader_summary(world: World, arrays: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Per trader group: counts, commands sent, and final holdings valued at each instrument's last price.

    PnL includes any collateral the trader put up and has left (for a margined
    trader: what it has now minus what it deposited). A group of execution
    traders (``execution``) also gets how its parent order went: filled lots,
    VWAP and the cost against the arrival mid (lob.eventlog.execution_summary).
    """
    groups: dict[str, dict[str, Any]] = {}
    pnls: dict[str, list[float]] = {}
    venue = world.venue
    for trader in world.traders:
        g = groups.setdefault(
            trader.group,
            {"traders": 0, "commands_sent": 0, "position_lots": 0, "cash_quote": 0.0, "fees_quote": 0.0},
        )
        g["traders"] += 1
        g["commands_sent"] += trader.sent
        pnl = 0.0
        for conn in trader.connections:  # its account on each venue it trades on
            account = venue.accounts[conn.index]
            pnl += (account.collateral - world.deposits_by_owner.get(conn.index, 0)) / MONEY_PER_QUOTE
            for inst in world.instruments:
                ii, unit = inst.index, inst.notional_unit
                g["position_lots"] += account.position[ii]
                g["cash_quote"] += account.cash[ii] * unit
                g["fees_quote"] += account.fees[ii] * unit
                pnl += (account.cash[ii] + account.position[ii] * venue.last_price[ii]) * unit
        pnls.setdefault(trader.group, []).append(pnl)
    for name, g in groups.items():
        values = np.array(pnls[name], dtype=float)
        g["cash_quote"] = round_sig(g["cash_quote"])
        g["fees_quote"] = round_sig(g["fees_quote"])
        g["pnl_quote"] = round_sig(float(values.sum()))
        g["pnl_min_quote"] = round_sig(float(values.min()))
        g["pnl_max_quote"] = round_sig(float(values.max()))
    if arrays is not None:
        from lob.agents.execution import ExecutionAgent

        members: dict[str, list[Trader]] = {}
        for trader in world.traders:
            if isinstance(trader, ExecutionAgent):
                members.setdefault(trader.group, []).append(trader)
        for name, traders in members.items():
            first = traders[0]
            assert isinstance(first, ExecutionAgent)
            side = 1 if first.params.side == "buy" else -1
            owners = [c.index for t in traders for c in t.connections]
            groups[name]["execution"] = execution_summary(arrays, owners, side, first.instrument)
    return groups


def conservation(world: World) -> dict[str, Any]:
    """What must hold exactly in every run: positions net to zero, and no money is made or lost.

    ``money.held - money.deposited`` is 0: all collateral (negative where an
    account went bankrupt), every account's trading cash and the venue's
    fees, in money units, against the collateral deposited at the start.
    """
    accounts = world.venue.accounts
    money = world.money()
    out: dict[str, Any] = {
        "position_sum_lots": {
            inst.symbol: sum(a.position[inst.index] for a in accounts) for inst in world.instruments
        },
        "money": {**money, "difference": money["held"] - money["deposited"]},
    }
    if len(world.venue_names) > 1:  # nothing moves money between venues: each one balances alone
        out["money_by_venue"] = {
            name: {**m, "difference": m["held"] - m["deposited"]}
            for name, m in world.money_by_venue().items()
        }
    return out


def summarize(world: World, cfg: ScenarioConfig, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The run's ``summary.json``: deterministic for a config and seed (no wall times)."""
    market = market_summary(arrays, world.instruments, world.duration_ns)
    for inst, process in zip(world.instruments, world.fundamentals, strict=True):
        values = process.values
        market["instruments"][inst.symbol]["fundamental"] = {
            "start": round_sig(float(values[0])),
            "end": round_sig(float(process.value(world.duration_ns))),
            "min": round_sig(float(values.min())),
            "max": round_sig(float(values.max())),
        }
    liquidation: dict[str, Any] = {}
    if world.risks and "liquidations" in arrays:
        liquidation = _liquidations(world, arrays, market, list(world.risks), world.instruments)
    deleveraging: dict[str, Any] = {}
    names = world.venue_names
    adl_venues = [cfg.venue_config(names[v]).adl for v, r in world.risks.items() if r.adl is not None]
    if adl_venues and "adl" in arrays:
        deleveraging = adl_summary(arrays, world.instruments, adl_venues[0].horizon)
        # A user's own policy is "custom" in the table; the summary names it.
        deleveraging["policy"] = " / ".join(dict.fromkeys(a.policy for a in adl_venues))
    backgrounds = [
        {"file": Path(b.binance).name, "instrument": b.instrument, **depth.summary()}
        for b, depth in zip(cfg.background, world.backgrounds, strict=True)
    ]
    halts: dict[str, Any] = {}
    if world.breakers is not None and "events" in arrays:
        from lob.eventlog.breaker_summary import breaker_summary

        halts = breaker_summary(arrays, world.instruments, world.duration_ns)
    venues: dict[str, Any] = {}
    contagion: dict[str, Any] = {}
    if len(world.instruments) > 1 and "liquidations" in arrays:
        from lob.eventlog.contagion_summary import contagion_summary

        venue_of = [world.venue_names[i.venue] for i in world.instruments]
        contagion = contagion_summary(arrays, world.instruments, venue_of, world.duration_ns)
        del contagion["duration_ns"]  # the run section has it
    if len(world.venue_names) > 1:
        for v, name in enumerate(world.venue_names):
            insts = [i for i in world.instruments if i.venue == v]
            section: dict[str, Any] = {"instruments": [i.symbol for i in insts]}
            if v in world.risks and "liquidations" in arrays:
                section["liquidations"] = _liquidations(world, arrays, market, [v], insts)
            venues[name] = section
    return {
        "liquidations": liquidation,
        "venues": venues,
        "contagion": contagion,
        "adl": deleveraging,
        "circuit_breakers": halts,
        "background": backgrounds,
        "run": {
            "name": cfg.run.name,
            "seed": cfg.run.seed,
            "duration_ns": cfg.run.duration,
            "traders": len(world.traders),
            "commands": world.venue.commands,
            "events": world.venue.seq,
            "simpy_events": world.simpy_events,
        },
        "instruments": market["instruments"],
        "traders": trader_summary(world, arrays),
        "venue": {
            "fee_income_quote": {
                inst.symbol: round_sig(world.venue.fee_income[inst.index] * inst.notional_unit)
                for inst in world.instruments
            }
        },
        "conservation": conservation(world),
    }


def _liquidations(
    world: World,
    arrays: Mapping[str, np.ndarray],
    market: dict[str, Any],
    venues: list[int],
    instruments: list[Instrument],
) -> dict[str, Any]:
    """The liquidation summary of the rows of ``instruments``, with the funds of ``venues``.

    The fund's path (start, minimum, end) is one fund's; over several venues
    the minimum of their sum is not in the table, so it is left out (each
    venue's own is under ``venues``).
    """
    liq = arrays["liquidations"]
    if len(instruments) < len(world.instruments):
        liq = liq[np.isin(liq["instrument"], [i.index for i in instruments])]
    engines = [world.risks[v] for v in venues]
    fund_start = sum(world.deposits_by_owner[e.fund_owner] for e in engines)
    out = liquidation_summary({**arrays, "liquidations": liq}, instruments, market["instruments"], fund_start)
    if len(engines) > 1:
        out["insurance_fund_min_quote"] = None
        out["insurance_fund_end_quote"] = round_sig(sum(e.fund_balance for e in engines) / MONEY_PER_QUOTE)
    # The fund's money is not all it has: it holds what it took over, marked here at the last trade.
    marked = 0
    lots = dict.fromkeys((i.symbol for i in instruments), 0)
    for e in engines:
        fund = world.venue.accounts[e.fund_owner]
        marked += fund.collateral + sum(
            (fund.cash[i.index] + fund.position[i.index] * world.venue.last_price[i.index]) * i.money_unit
            for i in instruments
        )
        for i in instruments:
            lots[i.symbol] += fund.position[i.index]
    out["insurance_fund_position_lots"] = lots
    out["insurance_fund_marked_quote"] = round_sig(marked / MONEY_PER_QUOTE)
    return out


class RunResult:
    """A finished run: its summary, its directory if written, and its world if kept."""

    def __init__(
        self,
        cfg: ScenarioConfig,
        world: World | None,
        summary: dict[str, Any],
        path: Path | None,
        timings: dict[str, float],
    ) -> None:
        self.config = cfg
        self.world = world
        self.summary = summary
        self.path = path
        #: Wall seconds spent building the world, simulating, and summarising plus writing.
        self.timings = timings

    @property
    def wall_s(self) -> float:
        """Wall seconds of the whole run."""
        return sum(self.timings.values())

    def data(self) -> RunData:
        """The run directory read back with pandas: ``.events``, ``.trades``, ``.book`` DataFrames."""
        if self.path is None:
            raise ValueError("this run was not written to a directory (pass out=...)")
        from lob.eventlog.reader import read_run  # pandas only when asked for

        return read_run(self.path)


def release_memory() -> None:
    """Collects the dropped world's cycles and hands freed heap pages back to the OS (glibc only).

    The world's objects die in cycles (traders and SimPy processes refer to
    each other) and leave holes in the heap that glibc keeps; ``malloc_trim``
    returns them, about 6 MB on rmsc04_like, before pyarrow is loaded to write.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (e.g. musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def default_out_dir(cfg: ScenarioConfig) -> Path:
    """``runs/<name>-seed<seed>`` under the working directory."""
    return Path("runs") / f"{cfg.run.name}-seed{cfg.run.seed}"


def run_config(
    cfg: ScenarioConfig,
    out: Path | str | None = None,
    *,
    write: bool = True,
    force: bool = False,
    keep_world: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RunResult:
    """Simulates ``cfg`` and, if ``write``, writes its run directory to ``out`` (default: runs/NAME-seedN).

    The world (traders, books, SimPy state) is dropped before the tables are
    written, unless ``keep_world`` or not ``write``: that memory goes back
    before pyarrow comes in.
    """
    path = Path(out) if out is not None else default_out_dir(cfg)
    if write:
        check_writable(path, force)  # fail before the simulation, not after it
    t0 = time.perf_counter()
    # The world's objects (up to millions of accounts) live for the whole run: building them with the
    # cyclic collector off and then freezing them keeps each collection from walking them all again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        world = build_world(cfg)
    finally:
        if collecting:
            gc.enable()
    gc.freeze()
    t1 = time.perf_counter()
    try:
        world.run(progress)
    finally:
        gc.unfreeze()
    t2 = time.perf_counter()
    arrays = world.arrays()
    summary = summarize(world, cfg, arrays)
    agents, instruments = world.agent_names, world.instruments
    kept = world if keep_world or not write else None
    del world
    if kept is None:
        release_memory()
    written: Path | None = None
    if write:
        from lob.eventlog.writer import write_run  # pyarrow only now, after the world is gone

        manifest = {
            "run": cfg.run.name,
            "seed": cfg.run.seed,
            "duration_ns": cfg.run.duration,
            "calendar_start": cfg.run.start.isoformat() if cfg.run.start else None,
            "agents": len(agents),
            "wall_s": {"build": round(t1 - t0, 3), "simulate": round(t2 - t1, 3)},
        }
        written = write_run(
            path,
            config_yaml=dump_config(cfg),
            arrays=arrays,
            agents=agents,
            instruments=instruments,
            summary=summary,
            manifest=manifest,
            force=force,
            consume=kept is None,  # each table's memory goes as soon as it is on disk
        )
    timings = {"build_s": t1 - t0, "simulate_s": t2 - t1, "write_s": time.perf_counter() - t2}
    return RunResult(cfg, kept, summary, written, timings)


def run(
    config: ScenarioConfig | Path | str,
    out: Path | str | None = None,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    write: bool = True,
    force: bool = False,
    keep_world: bool = False,
) -> RunResult:
    """Loads (if given a path), applies ``seed`` and ``overrides`` (``key.path=value``), runs, writes."""
    if isinstance(config, ScenarioConfig):
        if overrides:
            raise ValueError("overrides apply to a config file; edit the ScenarioConfig directly instead")
        cfg = config
    else:
        extra = [*overrides, f"run.seed={seed}"] if seed is not None else list(overrides)
        cfg = load_config(config, extra)
    if seed is not None and isinstance(config, ScenarioConfig):
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": seed})})
    return run_config(cfg, out, write=write, force=force, keep_world=keep_world)
