"""The charts of a run report: one function per chart, DataFrames in, a Bokeh figure out.

The time charts take the run's :class:`~lob.report.axes.TimeAxis` and the
shared x range, so they zoom together; each takes only the rows it draws
(one instrument's, where that matters) and the halts to shade as
``(start_ns, end_ns, what)``. Figures carry a ``name`` (``price-XYZ``,
``depth-XYZ``, ``liquidations-XYZ``, ``insurance_fund``, ``adl``,
``slippage``) by which a test finds them in the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from bokeh.models import (
    ColumnDataSource,
    FixedTicker,
    HoverTool,
    LinearColorMapper,
    NumeralTickFormatter,
    Range1d,
)
from bokeh.models.annotations import ColorBar, Legend
from bokeh.palettes import Blues9, Category10, Reds9, Turbo256, linear_palette
from bokeh.plotting import figure

from lob.report.axes import TimeAxis, add_hover, shade_halts, thin, time_figure

if TYPE_CHECKING:
    import pandas as pd

#: Halts to shade: ``(start_ns, end_ns, what)`` each.
Halts: TypeAlias = Sequence[tuple[int, int, str]]

#: Points per price series before :func:`~lob.report.axes.thin` keeps each bucket's low and high.
MAX_SERIES_POINTS = 20_000
#: Columns of the depth heatmap; more snapshots are averaged in groups of consecutive ones.
MAX_DEPTH_COLUMNS = 2_000
#: Rows of a scatter above which hover drops its per-row account names (they dominate the file size).
MAX_NAMED_POINTS = 20_000

_TRANSPARENT = "rgba(0, 0, 0, 0)"
_TRADE, _MID, _MARK, _INDEX, _FUNDAMENTAL = "#7f7f7f", "#1f77b4", "#d62728", "#2ca02c", "#9467bd"


def price_chart(
    symbol: str,
    axis: TimeAxis,
    x_range: Range1d,
    *,
    trades: pd.DataFrame | None,
    mid: pd.DataFrame | None,
    mark: pd.DataFrame | None,
    index: pd.DataFrame | None,
    fundamental: pd.DataFrame | None = None,
    halts: Halts = (),
) -> Any:
    """Trade prices (dots), the mid at each book snapshot, the mark and the index, with halts shaded.

    Each frame has ``time_ns`` and ``price`` (quote currency) and may be
    None or empty. ``fundamental`` is drawn only when given (a spot run has no
    index). Each series keeps at most :data:`MAX_SERIES_POINTS` points.
    Runtime: O(n) in the rows given.
    """
    p = time_figure(
        axis, x_range, name=f"price-{symbol}", title=f"{symbol}: price", y_label="price", height=360
    )
    shade_halts(p, axis, halts, legend=True)
    hover = []
    if trades is not None and len(trades):
        x, y = thin(axis.x(trades["time_ns"]), trades["price"].to_numpy(np.float64), MAX_SERIES_POINTS)
        src = ColumnDataSource({"x": x, "y": y})
        hover.append(p.scatter("x", "y", source=src, size=3, color=_TRADE, alpha=0.5, legend_label="trades"))
    for frame, label, color, dash in (
        (mid, "mid (book)", _MID, "solid"),
        (fundamental, "fundamental", _FUNDAMENTAL, "dotted"),
        (index, "index", _INDEX, "dashed"),
        (mark, "mark", _MARK, "solid"),
    ):
        if frame is None or not len(frame):
            continue
        x, y = thin(axis.x(frame["time_ns"]), frame["price"].to_numpy(np.float64), MAX_SERIES_POINTS)
        p.step(x, y, mode="after", color=color, line_dash=dash, line_width=1.5, alpha=0.8, legend_label=label)
    if hover:
        add_hover(p, hover, [axis.tooltip(), ("trade price", "@y{0.00[00]}")], axis)
    _legend_outside(p)
    return p


def depth_heatmap(
    symbol: str,
    axis: TimeAxis,
    x_range: Range1d,
    book: pd.DataFrame,
    *,
    halts: Halts = (),
) -> Any:
    """Lots at each of the top N levels per side over time: asks above the zero line, bids below.

    ``book`` is one instrument's rows of the book table (``time_ns``,
    ``level``, ``bid_qty``, ``ask_qty``). A cell is blank where its level is
    absent. Snapshots are assumed evenly spaced (the book table's fixed
    interval); with more than :data:`MAX_DEPTH_COLUMNS` of them, each column is
    the mean of ``k`` consecutive snapshots (absent levels counting 0 lots),
    and the title says ``k``. Runtime: O(snapshots x levels).
    """
    times = np.unique(book["time_ns"].to_numpy())
    depth = int(book["level"].max()) + 1
    col = np.searchsorted(times, book["time_ns"].to_numpy())
    lvl = book["level"].to_numpy(np.int64)
    grids = {}
    for side in ("bid", "ask"):
        grid = np.full((depth, len(times)), np.nan, dtype=np.float64)
        qty = book[f"{side}_qty"].to_numpy(np.float64)
        present = qty > 0
        grid[lvl[present], col[present]] = qty[present]
        grids[side] = grid
    step = int(np.median(np.diff(times))) if len(times) > 1 else 10**9
    k = max(1, math.ceil(len(times) / MAX_DEPTH_COLUMNS))
    if k > 1:
        grids = {side: _mean_of_groups(g, k) for side, g in grids.items()}
    columns = grids["bid"].shape[1]
    x0, x1 = axis.x([int(times[0]), int(times[0]) + columns * k * step])
    title = f"{symbol}: book depth, lots per level"
    if k > 1:
        title += f" (each column the mean of {k} consecutive snapshots)"
    p = time_figure(axis, x_range, name=f"depth-{symbol}", title=title, y_label="level", height=300)
    p.y_range = Range1d(start=-depth, end=depth)
    positive = np.concatenate([g[g > 0] for g in grids.values()])
    high = float(np.quantile(positive, 0.95)) if len(positive) else 1.0
    bars = []
    for side, palette, y, image in (
        ("ask", tuple(reversed(Reds9))[2:], 0, grids["ask"]),
        ("bid", tuple(reversed(Blues9))[2:], -depth, grids["bid"][::-1]),  # level 0 next to the zero line
    ):
        mapper = LinearColorMapper(
            palette=palette, low=0, high=high, nan_color=_TRANSPARENT, high_color=palette[-1]
        )
        r = p.image(image=[image.astype(np.float32)], x=x0, y=y, dw=x1 - x0, dh=depth, color_mapper=mapper)
        r.name = side
        bars.append(ColorBar(color_mapper=mapper, title=f"{side} lots", width=10))
    ticks = list(range(depth)) if depth <= 10 else [t for t in range(depth) if t % 5 == 0 or t == depth - 1]
    p.yaxis.ticker = FixedTicker(ticks=[t + 0.5 for t in ticks] + [-t - 0.5 for t in ticks])
    p.yaxis.major_label_overrides = {
        **{t + 0.5: f"ask {t + 1}" for t in ticks},
        **{-t - 0.5: f"bid {t + 1}" for t in ticks},
    }
    p.ygrid.grid_line_color = None
    shade_halts(p, axis, halts, legend=False)
    label = "lots (mean)" if k > 1 else "lots"
    p.add_tools(
        HoverTool(
            renderers=[r for r in p.renderers if r.name in ("bid", "ask")],
            tooltips=[axis.tooltip("$x"), ("side", "$name"), (label, "@image{0.0}")],
            formatters=axis.formatters("$x"),
        )
    )
    for bar in bars:
        p.add_layout(bar, "right")
    return p


def liquidations_chart(
    symbol: str,
    axis: TimeAxis,
    x_range: Range1d,
    liquidations: pd.DataFrame,
    *,
    halts: Halts = (),
) -> Any:
    """A dot per liquidation at the time its breach was found and the mark that triggered it.

    Coloured by cascade generation (one legend entry each; click one to hide
    it), sized by notional (``qty x trigger_mark``). ``liquidations`` is one
    instrument's rows of the liquidations table. Runtime: O(n).
    """
    p = time_figure(
        axis,
        x_range,
        name=f"liquidations-{symbol}",
        title=f"{symbol}: liquidations by cascade generation (size: notional)",
        y_label="trigger mark",
        height=340,
    )
    shade_halts(p, axis, halts, legend=False)
    notional = liquidations["qty"].to_numpy(np.float64) * liquidations["trigger_mark"].to_numpy(np.float64)
    largest = float(np.nanmax(notional)) if len(notional) else 1.0
    size = 4 + 12 * np.sqrt(np.nan_to_num(notional) / (largest or 1.0))
    generations = liquidations["generation"].to_numpy(np.int64)
    named = len(liquidations) <= MAX_NAMED_POINTS
    palette = generation_palette(int(generations.max()) + 1 if len(generations) else 1)
    items, renderers = [], []
    for g in np.unique(generations):
        rows = generations == g
        part = liquidations[rows]
        data = {
            "x": axis.x(part["time_ns"]),
            "y": part["trigger_mark"].to_numpy(np.float64),
            "size": size[rows],
            "notional": notional[rows],
            "id": part["liquidation_id"].to_numpy(),
            "parent": part["parent_id"].to_numpy(),
            "slippage": part["slippage_mid_bps"].to_numpy(np.float64),
        }
        if named:
            data["agent"] = part["agent"].astype(str).to_numpy()
        r = p.scatter("x", "y", source=ColumnDataSource(data), size="size", color=palette[g], alpha=0.7)
        items.append((f"gen {g}", [r]))
        renderers.append(r)
    tooltips = [
        axis.tooltip(),
        ("liquidation", "@id (parent @parent)"),
        ("trigger mark", "@y{0.00[00]}"),
        ("notional", "@notional{0,0}"),
        ("slippage vs mid", "@slippage{0.0} bps"),
    ]
    if named:
        tooltips.insert(1, ("account", "@agent"))
    add_hover(p, renderers, tooltips, axis)
    legend = Legend(items=items, click_policy="hide", title="generation")
    legend.nrows = min(len(items), 14)
    p.add_layout(legend, "right")
    return p


def insurance_fund_chart(
    axis: TimeAxis,
    x_range: Range1d,
    liquidations: pd.DataFrame,
    *,
    start_quote: float | None,
    halts: Halts = (),
) -> Any:
    """The insurance fund's balance (quote) after each liquidation, as a step line, and bad debt if any.

    ``liquidations`` is every row of the table (the fund is the venue's);
    each balance is placed at the row's ``exec_ns``. ``start_quote`` is the
    balance at time 0, drawn from the start when given. Runtime: O(n log n).
    """
    p = time_figure(axis, x_range, name="insurance_fund", title="insurance fund", y_label="quote", height=260)
    shade_halts(p, axis, halts, legend=False)
    rows = liquidations.sort_values(["exec_ns", "liquidation_id"], kind="stable")
    ns = rows["exec_ns"].to_numpy(np.int64)
    balance = rows["fund_balance_quote"].to_numpy(np.float64)
    bad_debt = np.cumsum(rows["bad_debt_quote"].to_numpy(np.float64))
    if start_quote is not None:
        ns, balance, bad_debt = np.append(0, ns), np.append(start_quote, balance), np.append(0.0, bad_debt)
    end = max(axis.duration_ns, int(ns[-1]) if len(ns) else 0)
    ns, balance, bad_debt = (
        np.append(ns, end),
        np.append(balance, balance[-1:]),
        np.append(bad_debt, bad_debt[-1:]),
    )
    x = axis.x(ns)
    p.yaxis.formatter = NumeralTickFormatter(format="0,0")
    p.step(x, balance, mode="after", color=_MID, line_width=2, legend_label="fund balance")
    if bad_debt[-1] > 0:
        p.step(x, bad_debt, mode="after", color=_MARK, line_width=2, legend_label="bad debt, cumulative")
    dots = p.scatter(x, balance, size=3, color=_MID, alpha=0.4)
    add_hover(p, [dots], [axis.tooltip("$x"), ("balance", "@y{0,0.00}")], axis)
    _legend_outside(p)
    return p


def adl_chart(
    axis: TimeAxis,
    x_range: Range1d,
    adl: pd.DataFrame,
    *,
    halts: Halts = (),
) -> Any:
    """A dot per auto-deleveraging close at its time and the PnL it took (quote).

    Sized by lots, coloured by wave. A clawback (socialized loss) closes no
    lots and is drawn at the smallest size. Runtime: O(n).
    """
    policy = str(adl["policy"].iloc[0]) if len(adl) else ""
    p = time_figure(
        axis,
        x_range,
        name="adl",
        title=f"auto-deleveraging ({policy}): PnL taken per close (size: lots)",
        y_label="quote",
        height=260,
    )
    shade_halts(p, axis, halts, legend=False)
    qty = adl["qty"].to_numpy(np.float64)
    largest = float(qty.max()) if len(qty) and qty.max() > 0 else 1.0
    waves = adl["wave"].to_numpy(np.int64)
    colors = Category10[10]
    data: dict[str, Any] = {
        "x": axis.x(adl["time_ns"]),
        "y": adl["pnl_before_quote"].to_numpy(np.float64) - adl["pnl_after_quote"].to_numpy(np.float64),
        "size": 4 + 12 * np.sqrt(qty / largest),
        "qty": qty,
        "wave": waves,
        "color": np.array([colors[(w - 1) % 10] for w in waves], dtype=object),
        "price": adl["price"].to_numpy(np.float64),
    }
    tooltips = [axis.tooltip(), ("wave", "@wave"), ("lots", "@qty"), ("price", "@price{0.00[00]}"),
                ("PnL taken", "@y{0,0.00}")]  # fmt: skip
    if len(adl) <= MAX_NAMED_POINTS:
        data["counterparty"] = adl["counterparty"].astype(str).to_numpy()
        tooltips.insert(1, ("account closed", "@counterparty"))
    r = p.scatter("x", "y", source=ColumnDataSource(data), size="size", color="color", alpha=0.7)
    add_hover(p, [r], tooltips, axis)
    return p


def slippage_histogram(liquidations: pd.DataFrame) -> Any:
    """The distribution of forced orders' cost against the arrival mid (bps), its median and 95th percentile.

    Rows without a value (no mid on arrival, or nothing filled) are left
    out; the title counts them. At most 80 bins. Runtime: O(n log n).
    """
    values = liquidations["slippage_mid_bps"].to_numpy(np.float64)
    missing = int(np.isnan(values).sum())
    values = values[~np.isnan(values)]
    title = f"slippage of forced orders against the arrival mid, {len(values):,} orders"
    if missing:
        title += f" ({missing:,} without a value left out)"
    p = figure(
        name="slippage",
        title=title,
        height=280,
        sizing_mode="stretch_width",
        tools="xpan,xwheel_zoom,box_zoom,reset,save",
        active_drag="box_zoom",
    )
    p.toolbar.logo = None
    p.xaxis.axis_label = "bps (positive is worse)"
    p.yaxis.axis_label = "forced orders"
    edges = np.histogram_bin_edges(values, bins="auto")
    if len(edges) > 81:
        edges = np.histogram_bin_edges(values, bins=80)
    counts, edges = np.histogram(values, bins=edges)
    src = ColumnDataSource(
        {"left": edges[:-1], "right": edges[1:], "top": counts, "bottom": np.zeros(len(counts))}
    )
    bars = p.quad(left="left", right="right", top="top", bottom="bottom", source=src, color=_MID, alpha=0.7)
    p.add_tools(
        HoverTool(renderers=[bars], tooltips=[("bps", "@left{0.0} to @right{0.0}"), ("orders", "@top")])
    )
    median, p95 = np.quantile(values, [0.5, 0.95])
    p.vspan(x=[median], color=_MARK, line_width=2, legend_label=f"median {median:.1f} bps")
    p.vspan(
        x=[p95], color=_MARK, line_dash="dashed", line_width=2, legend_label=f"95th percentile {p95:.1f} bps"
    )
    p.legend.location = "top_right"
    return p


def generation_palette(n: int) -> list[str]:
    """``n`` distinct colours for generations 0..n-1: Category10 up to 10, else evenly spaced along Turbo.

    >>> generation_palette(2), len(generation_palette(26))
    (['#1f77b4', '#ff7f0e'], 26)
    """
    if n <= 10:
        return list(Category10[10][:n])
    return list(linear_palette(Turbo256, n))  # generations are ordered: deeper ones further along the scale


def _mean_of_groups(grid: np.ndarray, k: int) -> np.ndarray:
    """Mean over each ``k`` consecutive columns, absent cells (NaN) counting 0; NaN where all are absent."""
    rows, n = grid.shape
    padded = np.full((rows, math.ceil(n / k) * k), np.nan)
    padded[:, :n] = grid
    groups = padded.reshape(rows, -1, k)
    present = ~np.isnan(groups)
    total = np.where(present, groups, 0.0).sum(axis=2)
    width = np.minimum(k, n - np.arange(groups.shape[1]) * k)  # the last group may be short
    result: np.ndarray = np.where(present.any(axis=2), total / width, np.nan)
    return result


def _legend_outside(p: Any) -> None:
    """Move the figure's legend to its right edge, where it hides no data; click an entry to hide its line."""
    if not p.legend:
        return
    legend = p.legend[0]
    p.center.remove(legend)
    legend.click_policy = "hide"
    p.add_layout(legend, "right")
