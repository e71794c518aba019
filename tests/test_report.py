"""HTML reports: every chart of a run is in the page, the page needs no network, Chromium draws it; sweeps."""

from __future__ import annotations

import doctest
import html
import io
import itertools
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lob.report.axes
import lob.report.charts
import lob.report.tables
from lob.errors import LobError
from lob.report import report_command, write_report, write_sweep_report
from lob.report.sweep import sweep_columns
from lob.scenario.loader import parse_config
from lob.scenario.runner import run_config

# Two minutes of a small leveraged market (seed 4): a 1% fall of the fundamental and a block sale at
# 10:00:30 liquidate ~250 longs over 5 generations, a $10 fund leaves ~100 ADL closes, and the fall
# trips a 20 s market-wide halt. It runs in about half a second.
LEVERAGED = """
run: {duration: 2m, seed: 4, start: "2026-01-05T10:00:00"}
instruments:
  - {symbol: XYZ, tick_size: 0.01, lot_size: 1, price: 100.0, kind: perpetual, margin_tiers: binance_btcusdt}
venue:
  latency: {base: 100us, jitter: 50us, distribution: uniform}
  feed_latency: 200us
  fees: {maker_bps: -0.2, taker_bps: 0.5}
  mark: {method: median, interval: 500ms}
  liquidation: {mode: market, check_latency: 200ms, fee_bps: 50}
  insurance_fund: 10
  adl: {policy: bitmex, price: bankruptcy, wave_gap: 5s, horizon: 0s}
  circuit_breakers:
    market_wide: {levels: [[0.025, 20s]]}
fundamental:
  XYZ: {mean_reversion: 0.001, volatility: 0.005, shocks: [{at: 30s, jump: -0.01}]}
traders:
  - type: market_maker
    count: 2
    params: {refresh_interval: 1s, levels: 5, half_spread_ticks: 2, size: 25, withdraw_vol_bps: 50,
             reenter_vol_bps: 40, withdraw_for: 30s}
  - type: noise
    count: 30
    params: {mean_interval: 10s, market_prob: 0.2, offset_ticks: 150, cancel_after: 1m}
  - type: value
    count: 5
    params: {mean_interval: 15s, obs_noise_ticks: 5, aggression: 0.3, depth_ticks: 3, size_min: 5,
             size_max: 20}
  - type: execution
    name: block_seller
    params: {side: sell, quantity: 3000, start: 30s, end: 50s, mode: twap, slices: 2, order_type: market}
open_interest:
  - name: oi
    longs: {count: 600, notional: {median: 5000, sigma: 1.0}, leverage: {min: 5, max: 100},
            entry_spread: 0.002}
    shorts: {count: 30, leverage: {min: 1, max: 20}}
outputs: {snapshot_interval: 1s, depth: 10}
"""

# A spot market, no calendar start: no mark, index, liquidations or ADL to draw.
SPOT = """
run: {duration: 1m, seed: 7}
instruments: [{symbol: XYZ, tick_size: 0.01, price: 100.0}]
traders:
  - {type: market_maker, count: 2, params: {refresh_interval: 1s, levels: 3, size: 10}}
  - {type: noise, count: 20, params: {mean_interval: 5s, market_prob: 0.3}}
"""

TIME_CHARTS = ["price-XYZ", "depth-XYZ", "liquidations-XYZ", "insurance_fund", "adl"]
RUN_CHARTS = [*TIME_CHARTS, "slippage"]


@pytest.fixture(scope="module")
def leveraged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "leveraged"
    run_config(parse_config(LEVERAGED, "leveraged.yaml"), out)
    return out


@pytest.fixture(scope="module")
def leveraged_report(leveraged_run: Path) -> Path:
    return write_report(leveraged_run)


def bokeh_figures(page: str) -> dict[str, dict[str, Any]]:
    """The page's Bokeh figures by name: each one's attributes, from the document JSON the page embeds."""
    (literal,) = re.findall(r"const docs_json = '(.*?)';", page)
    # bokeh made the JSON a JS string: HTML-escaped, then backslashes doubled
    docs = json.loads(html.unescape(literal.replace("\\\\", "\\")))
    figures: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == "Figure" and "attributes" in node:
                figures[node["attributes"].get("name")] = node["attributes"]
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(docs)
    return figures


def external_references(page: str) -> list[str]:
    """What would fetch something: src or href on a script, link, img or iframe tag; CSS url() and @import."""
    tags = re.findall(r"<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=[^>]*>", page, re.I)
    css = re.findall(r"@import[^;]*;|url\(\s*['\"]?https?:[^)]*\)", page, re.I)
    return tags + css


# -- the page, without a browser --------------------------------------------------------------------------


def test_a_run_report_has_every_chart_and_loads_nothing(leveraged_run: Path, leveraged_report: Path) -> None:
    assert leveraged_report == leveraged_run / "report.html"
    page = leveraged_report.read_text(encoding="utf-8")
    figures = bokeh_figures(page)
    assert sorted(figures) == sorted(RUN_CHARTS)
    # one x range for every time chart, so that zooming one zooms them all
    ranges = {json.dumps(figures[name]["x_range"]["id"]) for name in TIME_CHARTS}
    assert len(ranges) == 1
    assert external_references(page) == []
    assert "Bokeh.safely" in page and "docs_json" in page  # BokehJS and the charts are inline
    assert 1e6 < len(page) < 3e6
    # the halt is shaded and said; the summary table has the run's figures
    assert "VStrip" in page and "market-wide 20 s" in page
    summary = json.loads((leveraged_run / "summary.json").read_text())
    liquidations = summary["liquidations"]["liquidations"]
    assert f'<td>liquidations</td><td class="num">{liquidations:,}</td>' in page
    assert "ADL closes" in page and "all " in page and "values of summary.json" in page
    assert not [p for p in leveraged_run.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_spot_run_gets_notes_for_what_it_lacks(tmp_path: Path) -> None:
    run_dir = tmp_path / "spot"
    run_config(parse_config(SPOT, "spot.yaml"), run_dir)
    out = tmp_path / "elsewhere.html"
    stdout = io.StringIO()
    assert report_command(run_dir, out=out, stdout=stdout) == 0
    assert stdout.getvalue().startswith(f"run report: {out} (")
    assert not (run_dir / "report.html").exists()
    page = out.read_text(encoding="utf-8")
    assert sorted(bokeh_figures(page)) == ["depth-XYZ", "price-XYZ"]
    assert "No liquidations in this run." in page
    assert "no mark or index prices" in page
    assert "seconds from the start" in page  # no calendar start: the axis counts seconds
    assert external_references(page) == []


def test_text_from_the_run_is_escaped(leveraged_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(leveraged_run, run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["run"]["name"] = "<script>alert(1)</script>"
    (run_dir / "summary.json").write_text(json.dumps(summary))
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_bad_directories_are_errors_that_name_them(leveraged_run: Path, tmp_path: Path) -> None:
    stdout = io.StringIO()
    with pytest.raises(LobError, match=f"{tmp_path / 'missing'}: no such directory; expected a run"):
        report_command(tmp_path / "missing", out=None, stdout=stdout)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LobError, match=r"neither a run directory .* nor a sweep directory"):
        report_command(tmp_path / "empty", out=None, stdout=stdout)
    broken = tmp_path / "broken"
    shutil.copytree(leveraged_run, broken)
    (broken / "report.html").unlink(missing_ok=True)
    (broken / "trades.parquet").unlink()
    with pytest.raises(LobError, match=r"trades\.parquet: missing"):
        report_command(broken, out=None, stdout=stdout)
    assert not (broken / "report.html").exists()
    with pytest.raises(LobError, match=r"cannot write the report: directory .* does not exist"):
        write_report(leveraged_run, tmp_path / "no" / "such" / "dir" / "r.html")
    assert stdout.getvalue() == ""


def test_a_failed_write_keeps_the_old_report_and_leaves_no_temporary_file(
    leveraged_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.html"
    out.write_text("old report")

    def fail(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(LobError, match=f"{out}: cannot write the report: No space left on device"):
        write_report(leveraged_run, out)
    assert out.read_text() == "old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_long_series_are_thinned_and_many_snapshots_averaged(tmp_path: Path) -> None:
    import pandas as pd
    from bokeh.models import Range1d

    axis = lob.report.axes.TimeAxis(None, 10**12)
    n = 3 * lob.report.charts.MAX_DEPTH_COLUMNS + 1
    times = np.repeat(np.arange(n, dtype=np.int64) * 10**8, 2)
    book = pd.DataFrame(
        {"time_ns": times, "level": np.tile([0, 1], n), "bid_qty": 5.0, "ask_qty": np.tile([1.0, 0.0], n)}
    )
    p = lob.report.charts.depth_heatmap("XYZ", axis, Range1d(start=0, end=100), book)
    assert "mean of 4 consecutive snapshots" in p.title.text
    (image,) = {r.name: r for r in p.renderers}["ask"].data_source.data["image"]
    assert image.shape == (2, 1501)  # ceil(6001 / 4) columns
    assert np.all(image[0] == 1.0) and np.all(np.isnan(image[1]))  # ask level 2 never there: blank
    x, y = lob.report.axes.thin(np.arange(100_000.0), np.sin(np.arange(100_000.0)), 1000)
    assert len(x) <= 1000 and y.max() > 0.999 and y.min() < -0.999


def test_doctests() -> None:
    for module in (lob.report.axes, lob.report.charts, lob.report.tables):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# -- sweeps ------------------------------------------------------------------------------------------------


def write_results(sweep_dir: Path, metadata: dict[bytes, bytes] | None = None) -> None:
    """A results table as ``lob sweep`` writes it: parameters by key path, nullable ints, a failed run."""
    import pandas as pd

    rows = [
        {
            "run_id": f"r{k}",
            "open_interest[0].longs.leverage.max": leverage,
            "venue.liquidation.mode": mode,
            "seed": seed,
            "status": "failed" if (leverage, seed) == (100, 2) else "ok",
            "error": None,
            "wall_s": 1.0,
            "worker": "host:1",
            "peak_drop_pct": 1.0 + leverage / 50 + seed / 10,
            "liquidations": leverage * 10 + seed if leverage > 5 else None,
            "adl_closes": None,  # no ADL in this sweep: nothing to plot
        }
        for k, (leverage, mode, seed) in enumerate(
            itertools.product((5, 20, 100), ("market", "partial"), (1, 2))
        )
    ]
    frame = pd.DataFrame(rows).astype(
        {"open_interest[0].longs.leverage.max": "Int64", "status": "string", "liquidations": "Int64",
         "adl_closes": "Int64"}
    )  # fmt: skip
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    sweep_dir.mkdir()
    pq.write_table(table, sweep_dir / "results.parquet")


def test_a_sweep_report_plots_each_metric_against_each_parameter(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    write_results(sweep_dir)
    stdout = io.StringIO()
    assert report_command(sweep_dir, out=None, stdout=stdout) == 0
    assert stdout.getvalue().startswith(f"sweep report: {sweep_dir / 'report.html'} (")
    page = (sweep_dir / "report.html").read_text(encoding="utf-8")
    assert sorted(bokeh_figures(page)) == [
        f"sweep-{m}-vs-{p}"
        for m in ("liquidations", "peak_drop_pct")
        for p in ("open_interest[0].longs.leverage.max", "venue.liquidation.mode")
    ]
    assert "2 of 12 runs have a status other than ok and are left out." in page
    assert "No run has a value of adl_closes: not plotted." in page
    assert external_references(page) == []


def test_sweep_columns_come_from_the_metadata_or_the_naming_rule(tmp_path: Path) -> None:
    write_results(tmp_path / "named")
    columns = sweep_columns(pq.read_table(tmp_path / "named" / "results.parquet"))
    assert columns.parameters == ["open_interest[0].longs.leverage.max", "venue.liquidation.mode"]
    assert columns.metrics == ["peak_drop_pct", "liquidations", "adl_closes"]

    meta = {b"parameters": b'["venue.liquidation.mode"]', b"metrics": b'["liquidations"]'}
    write_results(tmp_path / "listed", meta)
    columns = sweep_columns(pq.read_table(tmp_path / "listed" / "results.parquet"))
    assert (columns.parameters, columns.metrics) == (["venue.liquidation.mode"], ["liquidations"])
    assert sorted(bokeh_figures(write_sweep_report(tmp_path / "listed").read_text())) == [
        "sweep-liquidations-vs-venue.liquidation.mode"
    ]

    write_results(tmp_path / "wrong", {b"parameters": b'["leverage"]'})
    with pytest.raises(
        LobError, match=r"results\.parquet: schema metadata 'parameters' names columns \['leverage'\]"
    ):
        write_sweep_report(tmp_path / "wrong")
    assert not (tmp_path / "wrong" / "report.html").exists()


# -- in a browser ------------------------------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no chromium or chromium-browser on PATH: the headless rendering check needs Debian's chromium "
        "package (apt-get install chromium), which .ci/run installs"
    )


def screenshot(page: Path, png: Path, profile: Path) -> np.ndarray:
    """The page as Chromium draws it, 1400 x 3000 px, as an RGB array; every host name fails to resolve."""
    image_module = pytest.importorskip("PIL.Image", reason="Pillow (a dependency of bokeh) decodes the PNG")
    command = [
        chromium(),
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: anything fetched from the network would fail
        "--virtual-time-budget=10000",
        f"--screenshot={png}",
        "--window-size=1400,3000",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {done.returncode}): {done.stderr[-2000:]}"
    with image_module.open(png) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def coloured_bands(rgb: np.ndarray, min_height: int = 40) -> list[tuple[int, int]]:
    """Vertical stretches of the screenshot with coloured (not grey) pixels: the charts.

    The page's text, tables and borders are black or grey; a row counts if
    it has 3 pixels or more whose channels differ by over 60. Stretches less
    than 20 rows apart are one band.
    """
    coloured = (rgb.max(axis=2) - rgb.min(axis=2)) > 60
    rows = np.append(np.insert(coloured.sum(axis=1) >= 3, 0, False), False).astype(np.int8)
    edges = np.flatnonzero(np.diff(rows))
    bands: list[tuple[int, int]] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if bands and start - bands[-1][1] < 20:
            bands[-1] = (bands[-1][0], int(end))
        else:
            bands.append((int(start), int(end)))
    return [(s, e) for s, e in bands if e - s >= min_height]


def test_headless_chromium_draws_every_chart(leveraged_report: Path, tmp_path: Path) -> None:
    chromium()
    drawn = screenshot(leveraged_report, tmp_path / "report.png", tmp_path / "profile")
    bands = coloured_bands(drawn)
    # price, depth, liquidations, insurance fund, ADL, slippage: one coloured band each
    assert len(bands) >= len(RUN_CHARTS), f"charts drawn at rows {bands}; see {tmp_path / 'report.png'}"
    # Control: the same page without its scripts shows the text and tables, and no chart at all.
    page = leveraged_report.read_text(encoding="utf-8")
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<script\b.*?</script>", "", page, flags=re.S), encoding="utf-8")
    assert coloured_bands(screenshot(bare, tmp_path / "bare.png", tmp_path / "profile")) == []
