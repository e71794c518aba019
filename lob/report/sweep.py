"""The report of a sweep directory: each metric of its runs plotted against each parameter that varies.

A sweep directory holds ``results.parquet``, one row per run. Its columns
are told apart by one rule:

1. **Parameters** are the columns listed, as a JSON list of names, under the
   key ``parameters`` of the Parquet schema's metadata. Without that key,
   they are the columns named by a config key path (with a ``.`` or a ``[``,
   as given to ``--set``: ``venue.liquidation.mode``,
   ``open_interest[0].longs.leverage.max``) and the other non-numeric
   columns.
2. **Bookkeeping** columns are neither: ``run_id``, ``seed``, ``status``,
   ``error``, ``wall_s``, ``worker``, ``run_dir``, ``path``, ``run``, ``out``.
3. **Metrics** are the columns listed under the metadata key ``metrics`` if
   present, else every other numeric column (``peak_drop_pct``,
   ``liquidations``, ...).

Only parameters that take more than one value get charts (with none, the
metrics are plotted against ``seed``), and only metrics with a value in some
run (a sweep without ADL has no ``adl_closes``). Rows whose ``status`` is
not ``ok`` (when there is a ``status`` column) are left out and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from lob.errors import LobError
from lob.report.html import Section, render_page, write_atomically
from lob.report.tables import html_table

if TYPE_CHECKING:
    import pandas as pd

RESULTS_FILE = "results.parquet"
REPORT_FILE = "report.html"
#: Columns that describe a run of the sweep rather than set or measure it.
BOOKKEEPING = ("run_id", "seed", "status", "error", "wall_s", "worker", "run_dir", "path", "run", "out")
#: Rows of the results table shown in the page (all of them are plotted).
MAX_TABLE_ROWS = 500


@dataclass(frozen=True)
class SweepColumns:
    """Which columns of ``results.parquet`` are parameters and which are metrics, and by which rule."""

    parameters: list[str]
    metrics: list[str]
    rule: str


def write_sweep_report(sweep_dir: Path, out: Path | None = None) -> Path:
    """Write the report of ``sweep_dir`` to ``out`` (default ``sweep_dir/report.html``), atomically; its path.

    Raises :class:`~lob.errors.LobError` if ``sweep_dir/results.parquet`` is
    missing or unreadable, or its metadata names columns it does not have.
    Runtime: O(runs x metrics x parameters).
    """
    sweep_dir = Path(sweep_dir)
    file = sweep_dir / RESULTS_FILE
    if not file.is_file():
        raise LobError(f"{sweep_dir}: no {RESULTS_FILE}; not a sweep directory")
    try:
        table = pq.read_table(file)
    except (OSError, pa.ArrowException) as e:
        raise LobError(f"{file}: cannot read it as Parquet: {e}") from e
    page = sweep_report_html(sweep_dir, table)
    path = Path(out) if out is not None else sweep_dir / REPORT_FILE
    write_atomically(path, page)
    return path


def sweep_columns(table: pa.Table, file: Path | str = RESULTS_FILE) -> SweepColumns:
    """Parameters and metrics of a results table, by the rule in this module's docstring."""
    names = list(table.column_names)
    meta = table.schema.metadata or {}
    listed = {key: _listed(meta, key, names, file) for key in ("parameters", "metrics")}
    numeric = {f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)}
    free = [c for c in names if c not in BOOKKEEPING]
    if listed["parameters"] is not None:
        parameters, rule = listed["parameters"], "parameters listed in the Parquet metadata"
    else:
        parameters = [c for c in free if "." in c or "[" in c or c not in numeric]
        rule = "parameters: columns named by a config key path, and non-numeric columns"
    if listed["metrics"] is not None:
        metrics = listed["metrics"]
        rule += "; metrics listed in the Parquet metadata"
    else:
        metrics = [c for c in free if c in numeric and c not in parameters]
        rule += "; metrics: the other numeric columns"
    return SweepColumns(parameters, metrics, rule)


def sweep_report_html(sweep_dir: Path, table: pa.Table) -> str:
    """The sweep report page as HTML text."""
    file = sweep_dir / RESULTS_FILE
    columns = sweep_columns(table, file)
    df = table.to_pandas()
    if not len(df):
        raise LobError(f"{file}: no rows; the sweep has no runs")
    ok = df
    left_out = 0
    if "status" in df.columns:
        ok = df[df["status"].astype(str) == "ok"]
        left_out = len(df) - len(ok)
    varying = [c for c in columns.parameters if ok[c].nunique(dropna=True) > 1]
    measured = [m for m in columns.metrics if ok[m].notna().any()]
    if len(measured) < len(columns.metrics):
        empty = [m for m in columns.metrics if m not in measured]
        section_notes = [f"No run has a value of {', '.join(empty)}: not plotted."]
    else:
        section_notes = []
    against = varying or (["seed"] if "seed" in ok.columns and ok["seed"].nunique() > 1 else [])

    section = Section("metrics against parameters", notes=section_notes)
    if left_out:
        section.notes.append(f"{left_out} of {len(df)} runs have a status other than ok and are left out.")
    if not len(ok):
        section.notes.append("No run finished: nothing to plot.")
    elif not measured:
        section.notes.append("The results have no numeric metric with a value to plot.")
    elif not against:
        section.notes.append("No parameter takes more than one value: nothing to plot against.")
    else:
        if not varying:
            section.notes.append("No parameter varies; the metrics are plotted against the seed.")
        section.charts.append(_grid(ok, measured, against, columns.parameters))
        section.notes.append("A dot per run; the line joins the mean of the runs at each value.")
    rows = df.head(MAX_TABLE_ROWS)
    results = Section("results")
    results.html_blocks.append(
        html_table(rows.itertuples(index=False, name=None), list(map(str, df.columns)))
    )
    if len(df) > MAX_TABLE_ROWS:
        results.notes.append(f"The first {MAX_TABLE_ROWS} of {len(df):,} rows; all are in {RESULTS_FILE}.")
    meta = (
        f"{sweep_dir} · {len(df):,} runs · parameters: {', '.join(columns.parameters) or 'none'}"
        f" · metrics: {', '.join(columns.metrics) or 'none'} · {columns.rule}"
    )
    return render_page(f"sweep: {sweep_dir.name}", meta, [section, results])


def metric_chart(df: pd.DataFrame, metric: str, parameter: str, hover_columns: list[str]) -> Any:
    """``metric`` against ``parameter``: a dot per run, and a line through the mean at each value.

    A numeric parameter gets a linear axis (logarithmic if it is positive and
    spans a factor of 50 or more); any other one is categorical, in order
    of first appearance. ``hover_columns`` are shown on hover. Runtime: O(n).
    """
    import pandas as pd
    from bokeh.models import ColumnDataSource, FactorRange, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    values = df[parameter]
    numeric = is_numeric_dtype(values) and not is_bool_dtype(values)
    if numeric:
        x: Any = _floats(values)
        positive = x[~np.isnan(x)]
        log = len(positive) > 0 and positive.min() > 0 and positive.max() / positive.min() >= 50
        p = figure(x_axis_type="log" if log else "linear")
    else:
        x = values.astype(str).to_numpy()
        p = figure(x_range=FactorRange(factors=list(dict.fromkeys(x))))
    p.name = f"sweep-{metric}-vs-{parameter}"
    p.title.text = f"{metric} vs {parameter}"  # type: ignore[union-attr]
    p.title.text_font_size = "9pt"  # type: ignore[union-attr]
    p.width, p.height = 440, 300
    p.yaxis.formatter = NumeralTickFormatter(format="0.[00]a")  # 1.2m, 850k, 0.35: no 1.000e+6
    p.toolbar.logo = None
    p.xaxis.axis_label, p.yaxis.axis_label = parameter, metric
    data = {"x": x, "y": _floats(df[metric])}
    for c in hover_columns:
        data[f"h_{c}"] = df[c].astype(str).to_numpy()
    dots = p.scatter("x", "y", source=ColumnDataSource(data), size=7, alpha=0.6)
    means = pd.Series(data["y"]).groupby(x, sort=numeric).mean()
    if not numeric:
        means = means.reindex(list(dict.fromkeys(x)))
    p.line(means.index.to_numpy(), means.to_numpy(np.float64), color="#d62728", line_width=2)
    p.add_tools(
        HoverTool(renderers=[dots], tooltips=[(c, f"@h_{c}") for c in hover_columns] + [(metric, "@y")])
    )
    return p


def _grid(df: pd.DataFrame, metrics: list[str], against: list[str], parameters: list[str]) -> Any:
    """One row of charts per metric, one column per parameter (wrapping after 3)."""
    from bokeh.layouts import gridplot

    hover = [c for c in [*parameters, "seed"] if c in df.columns]
    charts = [metric_chart(df, m, a, hover) for m in metrics for a in against]
    return gridplot(charts, ncols=min(len(against), 3), toolbar_location="right")


def _floats(column: pd.Series) -> np.ndarray:
    """A numeric column (nullable Int64 included) as float64, NaN where missing."""
    values: np.ndarray = column.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return values


def _listed(meta: dict[bytes, bytes], key: str, names: list[str], file: Path | str) -> list[str] | None:
    """The column names listed under ``key`` in the schema metadata; None if absent."""
    raw = meta.get(key.encode())
    if raw is None:
        return None
    try:
        listed = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LobError(f"{file}: schema metadata {key!r} is not JSON: {e}") from e
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise LobError(f"{file}: schema metadata {key!r} must be a JSON list of column names, got {listed!r}")
    missing = [c for c in listed if c not in names]
    if missing:
        raise LobError(
            f"{file}: schema metadata {key!r} names columns {missing} that the table does not have"
        )
    return listed
