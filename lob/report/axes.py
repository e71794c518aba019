"""What the time charts of a run report share: their x axis, their figure style, and thinning of long series.

Every time chart of a run is drawn on one :class:`bokeh.models.Range1d`, so
zooming or panning one zooms or pans them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from bokeh.models import DatetimeTickFormatter, HoverTool, Range1d
from bokeh.plotting import figure

#: Tools of every time chart: drag a box to zoom into the seconds of a cascade, then reset.
TIME_TOOLS = "xpan,xwheel_zoom,box_zoom,reset,save"
#: Colour of the bands that mark halts, on every time chart.
HALT_COLOR = "#7f7f7f"
#: Pixels left and right of every time chart's plot area, for axis labels and legends or colour bars:
#: the same on every chart, so that their time axes line up one above the other.
BORDER_LEFT, BORDER_RIGHT = 80, 200


@dataclass(frozen=True)
class TimeAxis:
    """Where run time (int64 ns from the start) goes on the x axis.

    With a calendar start, x is milliseconds since the Unix epoch (Bokeh's
    datetime axis; a naive start is shown as written, as if UTC); without one,
    x is seconds from the start of the run.
    """

    start_ms: float | None
    duration_ns: int

    @classmethod
    def for_run(cls, manifest: dict[str, Any]) -> TimeAxis:
        """The axis of a run, from its manifest's ``calendar_start`` and ``duration_ns``."""
        import pandas as pd

        start = manifest.get("calendar_start")
        start_ms = pd.Timestamp(start).value / 1e6 if start is not None else None
        return cls(start_ms, int(manifest.get("duration_ns") or 0))

    @property
    def calendar(self) -> bool:
        return self.start_ms is not None

    def x(self, ns: Any) -> np.ndarray:
        """``ns`` (nanoseconds from the start, array-like) in axis units, float64. Runtime: O(n)."""
        t = np.asarray(ns, dtype=np.float64)
        if self.start_ms is None:
            result: np.ndarray = t / 1e9
        else:
            result = self.start_ms + t / 1e6
        return result

    def x_range(self, end_ns: int = 0) -> Range1d:
        """The shared range: the whole run (or up to ``end_ns`` if later), and no panning beyond it."""
        lo, hi = self.x([0, max(self.duration_ns, end_ns, 1)])
        return Range1d(start=lo, end=hi, bounds=(lo, hi))

    def tooltip(self, field: str = "@x") -> tuple[str, str]:
        """A hover row showing ``field`` (a column, or ``$x``) as a time."""
        if self.calendar:
            return ("time", f"{field}{{%F %T.%3N}}")
        return ("time", f"{field}{{0.000}} s")

    def formatters(self, field: str = "@x") -> dict[str, Any]:
        return {field: "datetime"} if self.calendar else {}


def time_figure(axis: TimeAxis, x_range: Range1d, *, name: str, title: str, y_label: str, height: int) -> Any:
    """A figure on the shared time range, full page width, with the time tools and a time axis."""
    p = figure(
        name=name,
        title=title,
        x_range=x_range,
        x_axis_type="datetime" if axis.calendar else "linear",
        height=height,
        sizing_mode="stretch_width",
        tools=TIME_TOOLS,
        active_drag="box_zoom",
        min_border_left=BORDER_LEFT,
        min_border_right=BORDER_RIGHT,
    )
    p.toolbar.logo = None
    p.yaxis.axis_label = y_label
    if axis.calendar:
        p.xaxis.formatter = DatetimeTickFormatter(
            milliseconds="%H:%M:%S.%3N",
            seconds="%H:%M:%S",
            minsec="%H:%M:%S",
            minutes="%H:%M",
            hourmin="%H:%M",
            hours="%H:%M",
            days="%F",
        )
    else:
        p.xaxis.axis_label = "seconds from the start"
    return p


def add_hover(p: Any, renderers: list[Any], tooltips: list[tuple[str, str]], axis: TimeAxis) -> None:
    """Hover over ``renderers`` only (never over lines of thousands of points, which is slow)."""
    p.add_tools(HoverTool(renderers=renderers, tooltips=tooltips, formatters=axis.formatters()))


def shade_halts(p: Any, axis: TimeAxis, halts: Sequence[tuple[int, int, str]], *, legend: bool) -> None:
    """Grey bands over each halt ``(start_ns, end_ns, what)``; one legend entry "halted" if ``legend``."""
    if not halts:
        return
    x0 = axis.x([h[0] for h in halts])
    x1 = axis.x([h[1] for h in halts])
    style = {"fill_color": HALT_COLOR, "fill_alpha": 0.18, "line_alpha": 0}
    if legend:
        p.vstrip(x0=x0, x1=x1, legend_label="halted", **style)
    else:
        p.vstrip(x0=x0, x1=x1, **style)


def thin(x: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about ``max_points`` of a series in x order, keeping each bucket's lowest and highest y.

    A long series is cut into ``max_points / 2`` buckets of consecutive
    points and each keeps its minimum and maximum, so spikes and crashes stay
    visible where plain striding would drop them. NaN values of ``y`` are
    kept in a short series and left out of a thinned one. Runtime: O(n).

    >>> x, y = thin(np.arange(10.0), np.array([5, 1, 9, 2, 2, 2, 8, 0, 3, 3.0]), 4)
    >>> x.tolist(), y.tolist()
    ([1.0, 2.0, 6.0, 7.0], [1.0, 9.0, 8.0, 0.0])
    """
    if len(y) <= max_points:
        return x, y  # NaNs kept: a line breaks there (a side of the book was empty)
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(max_points // 2, 1)
    starts = np.linspace(0, n, buckets + 1).astype(np.int64)[:-1]
    lo = np.minimum.reduceat(y, starts)
    hi = np.maximum.reduceat(y, starts)
    # the index of each bucket's extreme: the first point of the bucket that equals it
    bucket = np.repeat(np.arange(buckets), np.diff(np.append(starts, n)))
    idx = np.arange(n)
    first_lo = np.full(buckets, n)
    first_hi = np.full(buckets, n)
    np.minimum.at(first_lo, bucket[y == lo[bucket]], idx[y == lo[bucket]])
    np.minimum.at(first_hi, bucket[y == hi[bucket]], idx[y == hi[bucket]])
    chosen = np.unique(np.concatenate([first_lo, first_hi]))
    return x[chosen], y[chosen]
