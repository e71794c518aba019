"""What ``lob run`` shows on the terminal: a progress bar in simulated time and a short summary."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

if TYPE_CHECKING:
    from lob.scenario.runner import RunResult


@contextmanager
def progress_bar(duration_ns: int, disable: bool = False) -> Iterator[Callable[[int], None] | None]:
    """A ``progress(now_ns)`` callback drawing a bar in simulated seconds on stderr (off when not a TTY)."""
    if disable or not sys.stderr.isatty():
        yield None
        return
    total = duration_ns / 1e9
    with tqdm(total=round(total, 3), unit="sim s", unit_scale=False, file=sys.stderr, leave=False) as bar:
        shown = 0.0

        def progress(now_ns: int) -> None:
            nonlocal shown
            t = round(now_ns / 1e9, 3)
            bar.update(t - shown)
            shown = t

        yield progress


def _fmt(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def _fund_line(label: str, liq: dict[str, Any]) -> None:
    print(
        f"  {label} {liq['insurance_fund_start_quote']:,.0f} -> "
        f"{liq['insurance_fund_end_quote']:,.0f} "
        f"(min {liq['insurance_fund_min_quote']:,.0f}); with the positions it took over marked at the "
        f"last trade, {liq['insurance_fund_marked_quote']:,.0f}; bad debt {liq['bad_debt_quote']:,.2f}"
    )


def print_summary(result: RunResult) -> None:
    """A few lines: where the run went, what the market did, how each trader group fared."""
    s = result.summary
    run = s["run"]
    where = result.path if result.path is not None else "(not written)"
    print(
        f"run {run['name']} seed {run['seed']}: {run['traders']} traders, "
        f"{run['duration_ns'] / 1e9:g} s simulated"
    )
    print(
        f"  {run['commands']:,} commands, {run['events']:,} events in {result.wall_s:.2f} s wall -> {where}"
    )
    for symbol, m in s["instruments"].items():
        print(
            f"  {symbol}: {m['fills']:,} fills, volume {m['volume_base']:,} ; "
            f"open {_fmt(m['open'])} low {_fmt(m['low'])} high {_fmt(m['high'])} close {_fmt(m['close'])}"
        )
        if m.get("peak_drop_pct") is not None:
            print(
                f"    mid peak drop {m['peak_drop_pct']:.2f}% ; "
                f"recovered {_fmt(m['recovered_share'], '.0%')} "
                f"of it by the end ; median spread {_fmt(m['spread_ticks_median'], '.1f')} ticks"
            )
    liq = s.get("liquidations") or {}
    if liq.get("liquidations"):
        generations = ", ".join(f"{g['count']}" for g in liq["by_generation"][:8])
        more = " ..." if len(liq["by_generation"]) > 8 else ""
        print(
            f"  liquidations: {liq['liquidations']:,} for {liq['liquidated_notional_quote']:,.0f} notional, "
            f"{liq['deepest_generation'] + 1} generations ({generations}{more}); "
            f"slippage median {_fmt(liq['slippage_mid_bps_median'], '.1f')} bps, "
            f"p95 {_fmt(liq['slippage_mid_bps_p95'], '.1f')} bps"
        )
        venues = s.get("venues") or {}
        if not venues:
            _fund_line("insurance fund", liq)
        for name, v in venues.items():
            vl = v.get("liquidations") or {}
            if not vl:
                continue
            print(
                f"  venue {name}: {vl['liquidations']:,} liquidations for "
                f"{vl['liquidated_notional_quote']:,.0f} notional, "
                f"slippage median {_fmt(vl['slippage_mid_bps_median'], '.1f')} bps"
            )
            _fund_line("  insurance fund", vl)
    links = (s.get("contagion") or {}).get("links") or {}
    if links.get("cross_instrument") or links.get("cross_venue"):
        print(
            f"  cascade links: {links['same_instrument']:,} within an instrument, "
            f"{links['cross_instrument']:,} to another instrument, {links['cross_venue']:,} to another venue"
        )
    adl = s.get("adl") or {}
    if adl.get("closes") or adl.get("clawbacks"):
        share = adl["largest_haircut_share"]
        print(
            f"  auto-deleveraging ({adl['policy']}): {adl['closes'] + adl['clawbacks']:,} closes in "
            f"{adl['waves']} waves, {adl['accounts_hit']} accounts hit; deficit {adl['deficit_quote']:,.0f}, "
            f"haircut {adl['haircut_quote']:,.0f} (overshoot {adl['overshoot_quote']:,.0f}); largest haircut "
            f"{_fmt(share, '.0%')} of that account's profit"
        )
    breakers = s.get("circuit_breakers") or {}
    for symbol, b in (breakers.get("instruments") or {}).items():
        print(
            f"  {symbol} circuit breakers: {b['halts']} halts ({b['halted_seconds']:,.0f} s halted), "
            f"{b['limit_states']} limit states, {b['band_rejections']:,} band rejections, "
            f"{b['halt_rejections']:,} orders refused while halted"
        )
    for b in s.get("background") or []:
        print(
            f"  background {b['instrument']} from {b['file']}: {b['level_updates']:,} level updates; "
            f"{b['conflicts']:,} decreases cut by {b['cut_lots']:,} lots that simulated orders had taken"
        )
    for group, g in s["traders"].items():
        print(
            f"  {group:<16} x{g['traders']:<5} position {g['position_lots']:>8} lots   "
            f"PnL {g['pnl_quote']:>14,.2f}   fees {g['fees_quote']:>10,.2f}"
        )
        ex = g.get("execution")
        if ex and ex.get("filled_lots"):
            print(
                f"    {ex['side']} {ex['filled_lots']:,} lots at VWAP {_fmt(ex.get('vwap'))} against "
                f"an arrival mid of {_fmt(ex.get('arrival_mid'))}: {_fmt(ex.get('slippage_bps'), '.1f')} bps"
            )
