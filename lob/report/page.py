"""The report of one run directory: which charts it has data for, and the page that holds them.

A chart whose data the run lacks (a spot run has no mark, index or
liquidations; a config may leave a table out of ``outputs.tables``) is
replaced by a one-line note saying why. A table the manifest lists but the
directory lacks is an error (:class:`~lob.errors.LobError` from the reader).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lob.eventlog.reader import RunData, read_run
from lob.report.axes import TimeAxis
from lob.report.html import Section, render_page, write_atomically
from lob.report.tables import TRADER_HEADER, flatten, html_table, key_figures, trader_rows

if TYPE_CHECKING:
    import pandas as pd

REPORT_FILE = "report.html"

#: ``events.order_id`` of a halt row: what halted the instrument.
_HALT_KINDS = {1: "limit up/limit down", 2: "market-wide"}


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the HTML report of the run directory ``run_dir`` to ``out`` (default ``run_dir/report.html``).

    The file is self-contained (it opens offline) and replaced atomically.
    Returns its path. Raises :class:`~lob.errors.LobError` if ``run_dir`` is
    not a complete run directory or a table it lists cannot be read.
    Runtime: reads every table once; about a second for a 30-minute run.
    """
    run_dir = Path(run_dir)
    page = run_report_html(read_run(run_dir))
    path = Path(out) if out is not None else run_dir / REPORT_FILE
    write_atomically(path, page)
    return path


def run_report_html(run: RunData) -> str:
    """The report page of ``run`` as HTML text."""
    summary, manifest = run.summary, run.manifest
    axis = TimeAxis.for_run(manifest)
    x_range = axis.x_range()
    written = set(manifest.get("rows", {}))
    events = _marks_and_halts(run) if "events" in written else None
    trades = run.trades if "trades" in written else None
    book = run.book if "book" in written else None
    liquidations = run.liquidations if "liquidations" in written else None
    adl = run.adl if "adl" in written else None
    symbols = [i.symbol for i in run.instruments]

    halts = {s: _halts(events, s, axis.duration_ns) for s in symbols}
    every_halt = sorted({h for hs in halts.values() for h in hs})
    sections = [_price_section(s, axis, x_range, events, trades, book, halts[s], run) for s in symbols]
    sections += [_depth_section(s, axis, x_range, book, halts[s]) for s in symbols]
    sections += _liquidation_sections(symbols, axis, x_range, liquidations, halts, summary)
    sections.append(_adl_section(axis, x_range, adl, every_halt))
    sections.append(_slippage_section(liquidations))
    sections.append(_summary_section(run))

    name, seed = manifest.get("run", run.path.name), manifest.get("seed")
    meta = [f"{run.path}", f"seed {seed}", f"{axis.duration_ns / 1e9:,.0f} s simulated"]
    if manifest.get("calendar_start"):
        meta.append(f"from {manifest['calendar_start']}")
    meta.append(f"lob {manifest.get('versions', {}).get('lob', '?')}")
    meta.append("drag a box on a chart to zoom (all time charts follow); reset with the toolbar")
    return render_page(f"{name} (seed {seed})", " · ".join(meta), sections)


# -- sections ------------------------------------------------------------------------------------------------


def _price_section(
    symbol: str,
    axis: TimeAxis,
    x_range: Any,
    events: pd.DataFrame | None,
    trades: pd.DataFrame | None,
    book: pd.DataFrame | None,
    halts: list[tuple[int, int, str]],
    run: RunData,
) -> Section:
    from lob.report.charts import price_chart

    section = Section(f"{symbol}: price, mark and index")
    tick = next(i.tick_size for i in run.instruments if i.symbol == symbol)
    own_trades = _rows(trades, symbol, ["time_ns", "price"])
    top = _rows(book, symbol, ["time_ns", "level", "mid", "fundamental"])
    top = top[top["level"] == 0] if top is not None else None
    mid = top[["time_ns", "mid"]].rename(columns={"mid": "price"}) if top is not None else None
    mark, index = (_price_events(events, symbol, kind, tick) for kind in ("mark", "index"))
    fundamental = None
    if (index is None or not len(index)) and top is not None and len(top):
        fundamental = top[["time_ns", "fundamental"]].rename(columns={"fundamental": "price"})
    if not any(f is not None and len(f) for f in (own_trades, mid, mark, index)):
        section.notes.append(f"No trades, book snapshots or mark prices of {symbol} to draw.")
        return section
    section.charts.append(
        price_chart(
            symbol,
            axis,
            x_range,
            trades=own_trades,
            mid=mid,
            mark=mark,
            index=index,
            fundamental=fundamental,
            halts=halts,
        )
    )
    drawn = "; the fundamental is drawn" if fundamental is not None else ""
    if events is None:
        section.notes.append(
            f"This run did not write the events table (outputs.tables): no mark, index or halts{drawn}."
        )
    elif mark is None or not len(mark):
        section.notes.append(f"{symbol} has no mark or index prices (a spot instrument){drawn}.")
    if halts:
        what = ", ".join(f"{w} {(b - a) / 1e9:,.0f} s" for a, b, w in halts)
        section.notes.append(f"Shaded: {len(halts)} halt(s) of {symbol}: {what}.")
    return section


def _depth_section(
    symbol: str, axis: TimeAxis, x_range: Any, book: pd.DataFrame | None, halts: list[tuple[int, int, str]]
) -> Section:
    from lob.report.charts import depth_heatmap

    section = Section(f"{symbol}: book depth")
    rows = _rows(book, symbol, ["time_ns", "level", "bid_qty", "ask_qty"])
    if rows is None:
        section.notes.append("This run did not write the book table (outputs.tables).")
    elif not len(rows):
        section.notes.append(f"No book snapshots of {symbol} (outputs.snapshot_interval is 0).")
    else:
        section.charts.append(depth_heatmap(symbol, axis, x_range, rows, halts=halts))
    return section


def _liquidation_sections(
    symbols: list[str],
    axis: TimeAxis,
    x_range: Any,
    liquidations: pd.DataFrame | None,
    halts: dict[str, list[tuple[int, int, str]]],
    summary: dict[str, Any],
) -> list[Section]:
    from lob.report.charts import insurance_fund_chart, liquidations_chart

    section = Section("liquidations")
    fund = Section("insurance fund")
    if liquidations is None:
        section.notes.append("This run did not write the liquidations table (outputs.tables).")
        return [section]
    if not len(liquidations):
        section.notes.append("No liquidations in this run.")
        return [section]
    for s in symbols:
        rows = liquidations[liquidations["instrument"] == s]
        if len(rows):
            section.charts.append(liquidations_chart(s, axis, x_range, rows, halts=halts[s]))
    deepest = int(liquidations["generation"].max())
    section.notes.append(
        f"{len(liquidations):,} liquidations over {deepest + 1} generations; "
        "click a generation in the legend to hide it."
    )
    start = (summary.get("liquidations") or {}).get("insurance_fund_start_quote")
    every_halt = sorted({h for hs in halts.values() for h in hs})
    fund.charts.append(insurance_fund_chart(axis, x_range, liquidations, start_quote=start, halts=every_halt))
    return [section, fund]


def _adl_section(
    axis: TimeAxis, x_range: Any, adl: pd.DataFrame | None, halts: list[tuple[int, int, str]]
) -> Section:
    from lob.report.charts import adl_chart

    section = Section("auto-deleveraging")
    if adl is None:
        section.notes.append("This run did not write the adl table (outputs.tables).")
    elif not len(adl):
        section.notes.append("No auto-deleveraging in this run.")
    else:
        section.charts.append(adl_chart(axis, x_range, adl, halts=halts))
        waves = int(adl["wave"].max())
        section.notes.append(f"{len(adl):,} closes or clawbacks in {waves} wave(s).")
    return section


def _slippage_section(liquidations: pd.DataFrame | None) -> Section:
    from lob.report.charts import slippage_histogram

    section = Section("slippage of forced orders")
    if liquidations is None or not liquidations["slippage_mid_bps"].notna().any():
        section.notes.append("No forced order with a slippage value in this run.")
    else:
        section.charts.append(slippage_histogram(liquidations))
    return section


def _summary_section(run: RunData) -> Section:
    section = Section("summary")
    section.html_blocks.append(html_table(key_figures(run.summary), cls="summary"))
    traders = trader_rows(run.summary)
    if traders:
        section.html_blocks.append(html_table(traders, TRADER_HEADER))
    every = list(flatten(run.summary))
    section.html_blocks.append(
        f"<details><summary>all {len(every):,} values of summary.json</summary>"
        f"{html_table(every, ('key', 'value'))}</details>"
    )
    section.html_blocks.append(
        f"<details><summary>config.yaml</summary><pre>{html.escape(run.config)}</pre></details>"
    )
    return section


# -- data ----------------------------------------------------------------------------------------------------


def _rows(frame: pd.DataFrame | None, symbol: str, columns: list[str]) -> pd.DataFrame | None:
    """``frame``'s rows of ``symbol``, only ``columns``; None if the run did not write the table."""
    if frame is None:
        return None
    return frame.loc[frame["instrument"] == symbol, columns]


def _marks_and_halts(run: RunData) -> pd.DataFrame:
    """Events of kind mark, index, halt and resume: time_ns, kind (str), instrument, order_id, value."""
    ev = run.events
    keep = ev["kind"].isin(["mark", "index", "halt", "resume"]).to_numpy()
    rows = ev.loc[keep, ["time_ns", "kind", "instrument", "order_id", "value"]].copy()
    rows["kind"] = rows["kind"].astype(str)
    return rows


def _price_events(events: pd.DataFrame | None, symbol: str, kind: str, tick: float) -> pd.DataFrame | None:
    """Mark or index prices of ``symbol``: time_ns and price (``value`` is in ticks)."""
    import pandas as pd

    if events is None:
        return None
    rows = events[(events["kind"] == kind) & (events["instrument"] == symbol)]
    return pd.DataFrame({"time_ns": rows["time_ns"].to_numpy(), "price": rows["value"].to_numpy() * tick})


def _halts(events: pd.DataFrame | None, symbol: str, duration_ns: int) -> list[tuple[int, int, str]]:
    """``(start_ns, end_ns, what)`` for each halt of ``symbol``; one still on at the end lasts to the end."""
    if events is None:
        return []
    rows = events[events["kind"].isin(["halt", "resume"]) & (events["instrument"] == symbol)]
    halts, start, what = [], None, ""
    for t, kind, order_id in zip(rows["time_ns"], rows["kind"], rows["order_id"], strict=True):
        if kind == "halt" and start is None:
            start, what = int(t), _HALT_KINDS.get(int(order_id), "halt")
        elif kind == "resume" and start is not None:
            halts.append((start, int(t), what))
            start = None
    if start is not None:
        halts.append((start, max(duration_ns, start), what))
    return halts
