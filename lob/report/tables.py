"""HTML tables of a report: the key figures of ``summary.json``, its traders, and every value in it.

Every key and value is escaped; nothing in a summary (an account or trader
name chosen by a user) can inject markup into the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Sequence
from typing import Any


def fmt(value: Any) -> str:
    """A summary value as text, ``-`` for none.

    Thousands separators; floats from 1 to 1e5 with 2 decimals, larger ones
    with none, smaller ones to 4 significant digits.

    >>> fmt(1212), fmt(9678093.869), fmt(999.99), fmt(0.05198), fmt(None), fmt(True), fmt(3.0)
    ('1,212', '9,678,094', '999.99', '0.05198', '-', 'yes', '3')
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"  # prices keep their cents
        return f"{value:.4g}"
    return str(value)


def html_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None, cls: str = "") -> str:
    """``rows`` as an HTML table, every cell escaped; numbers right-aligned."""
    out = [f'<table class="{html.escape(cls)}">' if cls else "<table>"]
    if header is not None:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
    for row in rows:
        cells = []
        for v in row:
            num = isinstance(v, int | float) and not isinstance(v, bool)
            text = html.escape(fmt(v))
            cells.append(f'<td class="num">{text}</td>' if num else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


#: (label, key) of the figures :func:`key_figures` shows, per part of ``summary.json``.
_RUN_FIGURES = (("run", "name"), ("seed", "seed"), ("traders", "traders"), ("commands", "commands"),
                ("events", "events"))  # fmt: skip
_INSTRUMENT_FIGURES = (
    ("open", "open"),
    ("high", "high"),
    ("low", "low"),
    ("close", "close"),
    ("fills", "fills"),
    ("volume (base)", "volume_base"),
    ("VWAP", "vwap"),
    ("mid peak drop (%)", "peak_drop_pct"),
    ("share of the drop recovered", "recovered_share"),
    ("median spread (ticks)", "spread_ticks_median"),
)
_LIQUIDATION_FIGURES = (
    ("liquidations", "liquidations"),
    ("liquidated notional", "liquidated_notional_quote"),
    ("deepest generation", "deepest_generation"),
    ("share of liquidated lots filled in the book", "filled_share"),
    ("slippage vs mid, median (bps)", "slippage_mid_bps_median"),
    ("slippage vs mid, p95 (bps)", "slippage_mid_bps_p95"),
    ("insurance fund at the start", "insurance_fund_start_quote"),
    ("insurance fund, lowest", "insurance_fund_min_quote"),
    ("insurance fund at the end", "insurance_fund_end_quote"),
    ("insurance fund with its positions marked", "insurance_fund_marked_quote"),
    ("bad debt", "bad_debt_quote"),
)
_ADL_FIGURES = (
    ("ADL policy", "policy"),
    ("ADL waves", "waves"),
    ("ADL closes", "closes"),
    ("ADL clawbacks", "clawbacks"),
    ("ADL accounts hit", "accounts_hit"),
    ("ADL deficit", "deficit_quote"),
    ("ADL haircut at the close", "haircut_at_close_quote"),
    ("ADL haircut at wave end", "haircut_quote"),
)
_BREAKER_FIGURES = (
    ("halts", "halts"),
    ("seconds halted", "halted_seconds"),
    ("orders rejected by the band", "band_rejections"),
    ("orders rejected while halted", "halt_rejections"),
)


def key_figures(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The headline figures of a run's summary, as (label, value) rows; absent ones are left out.

    >>> key_figures({"run": {"name": "x", "duration_ns": 60 * 10**9}, "instruments": {"XYZ": {"low": 9.5}}})
    [('run', 'x'), ('simulated', '60 s'), ('XYZ low', 9.5)]
    """
    run = summary.get("run") or {}
    rows = _pick(run, _RUN_FIGURES)
    if run.get("duration_ns") is not None:
        rows.append(("simulated", f"{run['duration_ns'] / 1e9:,.0f} s"))
    for symbol, m in (summary.get("instruments") or {}).items():
        rows += _pick(m, _INSTRUMENT_FIGURES, f"{symbol} ")
    rows += _pick(summary.get("liquidations") or {}, _LIQUIDATION_FIGURES)
    rows += _pick(summary.get("adl") or {}, _ADL_FIGURES)
    for symbol, b in ((summary.get("circuit_breakers") or {}).get("instruments") or {}).items():
        rows += _pick(b, _BREAKER_FIGURES, f"{symbol} ")
    money = (summary.get("conservation") or {}).get("money") or {}
    if "difference" in money:
        rows.append(("money conservation, difference (units)", money["difference"]))
    return rows


def trader_rows(summary: dict[str, Any]) -> list[list[Any]]:
    """One row per trader group: name, traders, position (lots), PnL, fees (quote)."""
    return [
        [name, g.get("traders"), g.get("position_lots"), g.get("pnl_quote"), g.get("fees_quote")]
        for name, g in (summary.get("traders") or {}).items()
        if isinstance(g, dict)
    ]


TRADER_HEADER = ("trader group", "traders", "position (lots)", "PnL (quote)", "fees (quote)")


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar in nested dicts and lists as (dotted key path, value), in order.

    >>> list(flatten({"a": {"b": 1, "c": [2, {"d": None}]}, "e": []}))
    [('a.b', 1), ('a.c[0]', 2), ('a.c[1].d', None)]
    """
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, value


def _pick(d: Any, wanted: Sequence[tuple[str, str]], prefix: str = "") -> list[tuple[str, Any]]:
    if not isinstance(d, dict):
        return []
    return [(prefix + label, d[key]) for label, key in wanted if d.get(key) is not None]
