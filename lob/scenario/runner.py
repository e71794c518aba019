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


def _latency(cfg: LatencyConfig) -> LatencySpec:
    return LatencySpec(cfg.base, cfg.jitter, cfg.distribution)


def build_world(cfg: ScenarioConfig) -> World:
    """The world a validated config describes, ready to run."""
    seed, duration = cfg.run.seed, cfg.run.duration
    instruments = [
        Instrument(i.symbol, i.tick_size, i.lot_size, k, perpetual=i.kind == "perpetual")
        for k, i in enumerate(cfg.instruments)
    ]
    fundamentals = []
    for inst in instruments:
        f = cfg.fundamental_for(inst.symbol)
        assert f.mean is not None and f.start is not None  # resolved by validation
        fundamentals.append(
            FundamentalProcess(
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
                rng=spawn_rng(seed, f"fundamental:{inst.symbol}"),
            )
        )
    venue = cfg.venue
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
    )
    if any(inst.perpetual for inst in instruments):
        _enable_risk(world, cfg, instruments)
    if venue.circuit_breakers.enabled:
        _enable_breakers(world, cfg)
    for group in cfg.traders:
        assert group.name is not None and group.instrument is not None  # resolved by validation
        # A group's own latency is its link's: both ways, unless the venue sets a return latency.
        entry = _latency(cfg.latency_for(group))
        if group.latency is not None and venue.return_latency is None:
            back = entry
        else:
            back = _latency(venue.effective_return_latency)
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
            )
    for oi in cfg.open_interest:
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


def _enable_risk(world: World, cfg: ScenarioConfig, instruments: list[Instrument]) -> None:
    """Margin tiers for the perpetuals, their mark prices, the liquidation engine and the fund."""
    from lob.risk.deleveraging import AdlRules  # only runs with perpetuals load the risk layer
    from lob.risk.engine import LiquidationRules

    venue, liq, mark = cfg.venue, cfg.venue.liquidation, cfg.venue.mark
    tiers = [
        tiers_from(c.margin_tiers) if inst.perpetual else None
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
        marks={inst.index: spec for inst in instruments if inst.perpetual},
        vault=liq.mode == "backstop",
        funding=funding,
        adl=adl,
        halt_wait=venue.circuit_breakers.liquidations == "wait",
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


def _open_interest(world: World, oi: OpenInterestConfig, instruments: list[Instrument], seed: int) -> None:
    """The profile's passive accounts, named ``<name>-long-<k>`` and ``<name>-short-<k>``."""
    from lob.risk.open_interest import open_interest

    inst = (
        next(i for i in instruments if i.symbol == oi.instrument)
        if oi.instrument
        else next(i for i in instruments if i.perpetual)
    )
    price = world.fundamentals[inst.index].value(0)
    lg, sh = oi.longs, oi.shorts
    assert lg.notional is not None  # validated
    longs, shorts = open_interest(
        spawn_rng(seed, f"open_interest:{oi.name}"),
        inst,
        price,
        (lg.count, lg.notional.median, lg.notional.sigma, lg.leverage.min, lg.leverage.max, lg.entry_spread),
        (
            sh.count,
            sh.notional.median if sh.notional else None,
            sh.notional.sigma if sh.notional else 0.0,
            sh.leverage.min,
            sh.leverage.max,
        ),
    )
    for side, holdings in (("long", longs), ("short", shorts)):
        world.add_accounts(
            [f"{oi.name}-{side}-{k}" for k in range(len(holdings))],
            [(h.collateral, h.leverage, {inst.index: (h.lots, h.cash)}) for h in holdings],
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
        assert trader._conn is not None
        account = venue.accounts[trader._conn.index]
        g = groups.setdefault(
            trader.group,
            {"traders": 0, "commands_sent": 0, "position_lots": 0, "cash_quote": 0.0, "fees_quote": 0.0},
        )
        g["traders"] += 1
        g["commands_sent"] += trader.sent
        pnl = (account.collateral - world.deposits_by_owner.get(trader._conn.index, 0)) / MONEY_PER_QUOTE
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
            owners = [t._conn.index for t in traders if t._conn is not None]
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
    return {
        "position_sum_lots": {
            inst.symbol: sum(a.position[inst.index] for a in accounts) for inst in world.instruments
        },
        "money": {**money, "difference": money["held"] - money["deposited"]},
    }


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
    risk = world.risk
    liquidation: dict[str, Any] = {}
    if risk is not None and "liquidations" in arrays:
        fund_start = world.deposits_by_owner[risk.fund_owner]
        liquidation = liquidation_summary(arrays, world.instruments, market["instruments"], fund_start)
        # The fund's money is not all it has: it holds what it took over, marked here at the last trade.
        fund = world.venue.accounts[risk.fund_owner]
        marked = fund.collateral + sum(
            (fund.cash[i.index] + fund.position[i.index] * world.venue.last_price[i.index]) * i.money_unit
            for i in world.instruments
        )
        liquidation["insurance_fund_position_lots"] = {
            i.symbol: fund.position[i.index] for i in world.instruments
        }
        liquidation["insurance_fund_marked_quote"] = round_sig(marked / MONEY_PER_QUOTE)
    deleveraging: dict[str, Any] = {}
    if risk is not None and risk.adl is not None and "adl" in arrays:
        deleveraging = adl_summary(arrays, world.instruments, cfg.venue.adl.horizon)
        deleveraging["policy"] = cfg.venue.adl.policy  # a user's own policy is "custom" in the table
    backgrounds = [
        {"file": Path(b.binance).name, "instrument": b.instrument, **depth.summary()}
        for b, depth in zip(cfg.background, world.backgrounds, strict=True)
    ]
    halts: dict[str, Any] = {}
    if world.breakers is not None and "events" in arrays:
        from lob.eventlog.breaker_summary import breaker_summary

        halts = breaker_summary(arrays, world.instruments, world.duration_ns)
    return {
        "liquidations": liquidation,
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
