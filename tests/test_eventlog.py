"""The run directory: writing it atomically and deterministically, reading it back, and the market summary.

The rows below are made by hand (tuples in schema order, through a Recorder)
so every expected value, float column and summary figure is worked out here.
Instruments: BTC-PERP (tick 0.5, lot 0.001, notional unit 0.0005) and
ETH-PERP (tick 0.01, lot 0.01).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lob.eventlog
from lob.errors import LobError
from lob.eventlog import RunDirExistsError, market_summary, read_run, write_run
from lob.eventlog import writer as writer_module
from lob.eventlog.recorder import Recorder
from lob.eventlog.schema import EVENT_KINDS, EVENTS, REASONS, STATUSES, TABLES, TRADES
from lob.eventlog.summary import peak_drop
from lob.eventlog.writer import SCHEMA_VERSION, check_writable, to_arrow
from lob.market.instrument import Instrument

AGENT_NAMES = ["alice", "bob", "mm", "unused"]
INSTRUMENTS = [Instrument("BTC-PERP", 0.5, 0.001, 0), Instrument("ETH-PERP", 0.01, 0.01, 1)]
SYMBOLS = [i.symbol for i in INSTRUMENTS]
K = {name: code for code, name in enumerate(EVENT_KINDS)}
S = {name: code for code, name in enumerate(STATUSES)}
R = {name: code for code, name in enumerate(REASONS)}

# seq, time_ns, kind, agent, instrument, order_id, side, price_ticks, qty_lots, leaves_lots,
# status, reason, stp, sent_ns, other_order_id, counterparty, value, cause
EVENT_ROWS = [
    (1, 1_000, K["limit"], 2, 0, 10, -1, 201, 5, 5, S["resting"], R["none"], 0, 900, -1, -1, 0.0, 0),
    (2, 2_000, K["market"], 0, 0, 11, 1, 0, 3, 0, S["filled"], R["none"], 0, 1_900, -1, -1, 0.0, 0),
    (3, 2_000, K["fill"], 0, 0, 11, 1, 201, 3, 2, -1, -1, 0, 1_900, 10, 2, 0.0, 0),
    (
        4,
        3_000,
        K["post_only"],
        1,
        1,
        12,
        1,
        10050,
        100,
        0,
        S["rejected"],
        R["post_only_would_take"],
        0,
        2_950,
        -1,
        -1,
        0.0,
        0,
    ),
    (5, 4_000, K["shock"], -1, -1, -1, 0, 0, 0, 0, -1, -1, 0, 4_000, -1, -1, -0.05, 0),
]
# seq, time_ns, instrument, price_ticks, qty_lots, aggressor_side, taker_order_id, maker_order_id,
# taker, maker, taker_fee, maker_fee, cause
TRADE_ROWS = [(3, 2_000, 0, 201, 3, 1, 11, 10, 0, 2, 6, -2, 0)]
# time_ns, instrument, level, bid_ticks, bid_lots, ask_ticks, ask_lots, fundamental
BOOK_ROWS = [
    (1_000, 0, 0, 200, 7, 201, 5, 100.25),
    (1_000, 0, 1, 199, 4, 0, 0, 100.25),
    (1_000, 1, 0, 10049, 300, 10051, 200, 100.5),
]
ROWS = {"events": EVENT_ROWS, "trades": TRADE_ROWS, "book": BOOK_ROWS}
CONFIG = "seed: 7\nname: tiny\n"


def recorder(
    rows: dict[str, list[tuple[Any, ...]]] = ROWS, tables: tuple[str, ...] = tuple(TABLES)
) -> Recorder:
    rec = Recorder(AGENT_NAMES, SYMBOLS, tables)
    for table, table_rows in rows.items():
        for row in table_rows:
            rec[table].append(row)
    return rec


def write(out: Path, arrays: dict[str, np.ndarray] | None = None, **kw: Any) -> Path:
    arrays = recorder().arrays() if arrays is None else arrays
    kw.setdefault("manifest", {"seed": 7})
    return write_run(
        out,
        config_yaml=CONFIG,
        arrays=arrays,
        agents=AGENT_NAMES,
        instruments=INSTRUMENTS,
        summary={"note": "hand-made"},
        **kw,
    )


def listing(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


# -- to_arrow ---------------------------------------------------------------------


def test_to_arrow_keeps_int_types_and_makes_full_dictionaries() -> None:
    table = to_arrow(EVENTS, recorder().arrays()["events"], AGENT_NAMES, SYMBOLS)
    assert table.schema.field("seq").type == pa.int64()
    assert table.schema.field("side").type == pa.int8()
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("kind").type == pa.dictionary(pa.int8(), pa.string())
    assert table.schema.field("agent").type == pa.dictionary(pa.int32(), pa.string())
    agent = table.column("agent").chunk(0)
    assert agent.dictionary.to_pylist() == AGENT_NAMES  # "unused" included
    assert agent.to_pylist() == ["mm", "alice", "alice", "bob", None]
    assert table.column("kind").to_pylist() == ["limit", "market", "fill", "post_only", "shock"]
    assert table.column("status").to_pylist() == ["resting", "filled", None, "rejected", None]
    assert table.column("value").to_pylist()[-1] == -0.05
    assert table.schema.metadata == {
        b"lob.table": b"events",
        b"lob.schema_version": str(SCHEMA_VERSION).encode(),
    }


def test_to_arrow_rejects_a_code_without_label() -> None:
    arr = recorder().arrays()["trades"]
    arr["maker"][0] = len(AGENT_NAMES)
    with pytest.raises(LobError, match=r"trades\.maker: code 4 has no label"):
        to_arrow(TRADES, arr, AGENT_NAMES, SYMBOLS)


# -- round trip -------------------------------------------------------------------


def test_round_trip_keeps_values_dtypes_and_categories(tmp_path: Path) -> None:
    arrays = recorder().arrays()
    run = read_run(write(tmp_path / "run", arrays))
    for name, schema in TABLES.items():
        df = getattr(run, name)
        expected = list(schema.names)
        expected.insert(expected.index("time_ns") + 1, "time")
        assert list(df.columns[: len(expected)]) == expected
        for c in schema.columns:
            if c.labels is None:
                assert df[c.name].dtype == np.dtype(c.dtype), (name, c.name)
                np.testing.assert_array_equal(df[c.name].to_numpy(), arrays[name][c.name])
            else:
                assert isinstance(df[c.name].dtype, pd.CategoricalDtype), (name, c.name)
                labels = (
                    # an empty table has no dictionary page to carry the agent names
                    (AGENT_NAMES if len(arrays[name]) else [])
                    if c.labels == "agents"
                    else SYMBOLS
                    if c.labels == "instruments"
                    else c.labels
                )
                assert list(df[c.name].cat.categories) == list(labels)
                np.testing.assert_array_equal(df[c.name].cat.codes.to_numpy(), arrays[name][c.name])
    assert run.events["reason"].tolist()[3] == "post_only_would_take"
    assert run.events["agent"].isna().tolist() == [False, False, False, False, True]
    assert run.config == CONFIG
    assert run.summary == {"note": "hand-made"}


def test_float_columns_use_each_rows_instrument(tmp_path: Path) -> None:
    run = read_run(write(tmp_path / "run"))
    ev, tr, bk = run.events, run.trades, run.book
    # price 0 (market without protection, shock) is no price
    np.testing.assert_array_equal(ev["price"], [100.5, np.nan, 100.5, 100.5, np.nan])
    np.testing.assert_array_equal(ev["qty"], [0.005, 0.003, 0.003, 1.0, np.nan])
    np.testing.assert_array_equal(ev["leaves"], [0.005, 0.0, 0.002, 0.0, np.nan])
    assert tr["price"].tolist() == [100.5]
    assert tr["qty"].tolist() == [0.003]
    assert tr["taker_fee_quote"].tolist() == [0.003]  # 6 units of 0.5 * 0.001
    assert tr["maker_fee_quote"].tolist() == [-0.001]
    np.testing.assert_array_equal(bk["bid_price"], [100.0, 99.5, 100.49])
    np.testing.assert_array_equal(bk["bid_qty"], [0.007, 0.004, 3.0])
    np.testing.assert_array_equal(bk["ask_price"], [100.5, np.nan, 100.51])
    np.testing.assert_array_equal(bk["ask_qty"], [0.005, np.nan, 2.0])
    np.testing.assert_array_equal(bk["mid"], [100.25, np.nan, 100.5])
    assert bk["fundamental"].tolist() == [100.25, 100.25, 100.5]


def test_time_column_is_a_timedelta_or_a_calendar_time(tmp_path: Path) -> None:
    run = read_run(write(tmp_path / "plain"))
    assert run.events["time"].tolist()[:2] == [pd.Timedelta(1_000, "ns"), pd.Timedelta(2_000, "ns")]
    assert list(run.events.columns[:3]) == ["seq", "time_ns", "time"]
    start = "2025-10-10T21:00:00+00:00"
    run = read_run(write(tmp_path / "dated", manifest={"seed": 7, "calendar_start": start}))
    assert run.trades["time"].tolist() == [pd.Timestamp(start) + pd.Timedelta(2_000, "ns")]
    assert run.book["time"].iloc[0] == pd.Timestamp("2025-10-10 21:00:00.000001+00:00")


def test_empty_tables_round_trip_with_full_categories(tmp_path: Path) -> None:
    run = read_run(write(tmp_path / "run", recorder({}).arrays()))
    for name, schema in TABLES.items():
        df = getattr(run, name)
        assert len(df) == 0
        assert set(schema.names) <= set(df.columns)
    assert list(run.events["kind"].cat.categories) == list(EVENT_KINDS)
    assert list(run.book["instrument"].cat.categories) == SYMBOLS
    assert run.manifest["rows"] == {name: 0 for name in TABLES}


def test_many_row_groups_read_back_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_module, "ROW_GROUP_ROWS", 2)
    out = write(tmp_path / "run")
    assert pq.ParquetFile(out / "events.parquet").metadata.num_row_groups == 3
    events = read_run(out).events
    assert events["seq"].tolist() == [1, 2, 3, 4, 5]
    assert list(events["agent"].cat.categories) == AGENT_NAMES


def test_a_missing_table_fails_only_when_read(tmp_path: Path) -> None:
    arrays = recorder(tables=("events",)).arrays()
    run = read_run(write(tmp_path / "run", arrays))
    assert len(run.events) == 5
    with pytest.raises(LobError, match=r"trades\.parquet: missing; this run has no trades table"):
        _ = run.trades


# -- manifest and JSON ------------------------------------------------------------


def test_manifest_lists_versions_rows_files_and_instruments(tmp_path: Path) -> None:
    out = write(tmp_path / "run")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 7
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["rows"] == {"events": 5, "trades": 1, "book": 3, "liquidations": 0, "adl": 0}
    assert set(manifest["versions"]) == {"lob", "python", "numpy", "pyarrow", "pandas", "simpy"}
    assert manifest["versions"]["lob"] == lob.__version__
    assert manifest["instruments"] == [
        {"symbol": "BTC-PERP", "tick_size": 0.5, "lot_size": 0.001},
        {"symbol": "ETH-PERP", "tick_size": 0.01, "lot_size": 0.01},
    ]
    names = {"config.yaml", "summary.json"} | {f"{name}.parquet" for name in TABLES}
    assert set(manifest["files"]) == names
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, "manifest.json"])
    read_run(out).verify()


def test_verify_names_a_changed_file(tmp_path: Path) -> None:
    out = write(tmp_path / "run")
    with open(out / "book.parquet", "ab") as f:
        f.write(b"x")
    with pytest.raises(LobError, match=r"book\.parquet: contents differ"):
        read_run(out).verify()


def test_files_are_written_in_order_manifest_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    seal = writer_module._seal

    def spy(path: Path) -> dict[str, Any]:
        order.append(path.name)
        return seal(path)

    monkeypatch.setattr(writer_module, "_seal", spy)
    write(tmp_path / "run")
    assert order == [
        "config.yaml",
        "events.parquet",
        "trades.parquet",
        "book.parquet",
        "liquidations.parquet",
        "adl.parquet",
        "summary.json",
        "manifest.json",
    ]


def test_json_is_sorted_indented_with_null_for_nan(tmp_path: Path) -> None:
    summary = {"b": float("nan"), "a": np.int64(3), "c": (np.float64(0.5), float("inf"))}
    out = write_run(
        tmp_path / "run",
        config_yaml=CONFIG,
        arrays={},
        agents=[],
        instruments=INSTRUMENTS,
        summary=summary,
        manifest={},
    )
    assert (
        out / "summary.json"
    ).read_text() == '{\n  "a": 3,\n  "b": null,\n  "c": [\n    0.5,\n    null\n  ]\n}\n'


def test_manifest_keys_of_the_writer_cannot_be_passed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rows"):
        write(tmp_path / "run", manifest={"rows": 1})
    assert list(tmp_path.iterdir()) == []


# -- determinism ------------------------------------------------------------------

_SUBPROCESS_WRITER = """
import json, sys
from lob.eventlog import Recorder, write_run
from lob.market.instrument import Instrument
spec = json.loads(sys.stdin.read())
rec = Recorder(spec["agents"], [i[0] for i in spec["instruments"]])
for table, rows in spec["rows"].items():
    for row in rows:
        rec[table].append(tuple(row))
write_run(sys.argv[1], config_yaml="x: 1\\n", arrays=rec.arrays(), agents=spec["agents"],
          instruments=[Instrument(*i) for i in spec["instruments"]], summary={}, manifest={})
assert "pandas" not in sys.modules, "writing a run imported pandas"
"""


def test_parquet_bytes_are_identical_across_writes_and_processes(tmp_path: Path) -> None:
    first, second = write(tmp_path / "a"), write(tmp_path / "b")
    spec = json.dumps(
        {
            "agents": AGENT_NAMES,
            "instruments": [[i.symbol, i.tick_size, i.lot_size, i.index] for i in INSTRUMENTS],
            "rows": ROWS,
        }
    )
    runs = []
    for k, hash_seed in enumerate(("1", "2")):
        out = tmp_path / f"proc{k}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run(
            [sys.executable, "-c", _SUBPROCESS_WRITER, str(out)],
            input=spec,
            text=True,
            env=env,
            capture_output=True,
        )
        assert proc.returncode == 0, proc.stderr
        runs.append(out)
    for name in ("events.parquet", "trades.parquet", "book.parquet"):
        expected = (first / name).read_bytes()
        assert (second / name).read_bytes() == expected
        for out in runs:
            assert (out / name).read_bytes() == expected, (out, name)


# -- atomicity and replacing ------------------------------------------------------


def _fail_on_second_table(monkeypatch: pytest.MonkeyPatch) -> None:
    real = writer_module._write_parquet
    calls: list[str] = []

    def flaky(path: Path, *args: Any) -> None:
        calls.append(path.name)
        if len(calls) == 2:
            path.write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        real(path, *args)

    monkeypatch.setattr(writer_module, "_write_parquet", flaky)


def test_a_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_on_second_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []  # neither the run nor its hidden temp directory


def test_a_failed_forced_write_keeps_the_old_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = write(tmp_path / "run")
    before = listing(out)
    _fail_on_second_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write(out, manifest={"seed": 8}, force=True)
    assert listing(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_existing_run_is_kept_unless_forced(tmp_path: Path) -> None:
    out = write(tmp_path / "run")
    before = listing(out)
    with pytest.raises(RunDirExistsError, match="already exists"):
        check_writable(out)
    with pytest.raises(RunDirExistsError, match="already exists"):
        write(out, manifest={"seed": 8})
    assert listing(out) == before
    (out / "notes.txt").write_text("old")
    write(out, manifest={"seed": 8}, force=True)
    assert read_run(out).manifest["seed"] == 8
    assert not (out / "notes.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_force_does_not_delete_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(LobError, match="not a run directory"):
        check_writable(precious, force=True)
    with pytest.raises(LobError, match="not a run directory"):
        write(precious, force=True)
    assert (precious / "thesis.tex").read_text() == "years of work"
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, force=True)
    assert (empty / "manifest.json").is_file()


def test_check_writable_creates_the_parent_and_reports_an_unwritable_one(tmp_path: Path) -> None:
    check_writable(tmp_path / "runs" / "deep" / "x")
    assert (tmp_path / "runs" / "deep").is_dir()
    assert not (tmp_path / "runs" / "deep" / "x").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(LobError, match="cannot write run directory"):
        check_writable(tmp_path / "file" / "x")


# -- reading errors ---------------------------------------------------------------


def test_reading_a_directory_without_manifest_says_so(tmp_path: Path) -> None:
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.yaml").write_text(CONFIG)
    with pytest.raises(LobError, match=r"no manifest\.json; the run is incomplete"):
        read_run(tmp_path / "half")
    with pytest.raises(LobError, match="no run directory here"):
        read_run(tmp_path / "nowhere")


def test_reading_another_schema_version_says_so(tmp_path: Path) -> None:
    out = write(tmp_path / "run")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LobError, match="schema_version"):
        read_run(out)


# -- summary ----------------------------------------------------------------------


def _book_path(mids: list[float], tick: float = 0.5, spread_ticks: int = 2) -> np.ndarray:
    """Level-0 snapshots of BTC-PERP, one a second, at the given mids (quote), plus noise rows to ignore."""
    rows = []
    for k, mid in enumerate(mids):
        mid2 = round(2 * mid / tick)  # bid + ask in ticks
        bid = (mid2 - spread_ticks) // 2
        rows.append((k * 1_000_000_000, 0, 0, bid, 10 + k, mid2 - bid, 20, mid))
        rows.append((k * 1_000_000_000, 0, 1, 1, 1, 10**9, 1, mid))  # a deeper level
        rows.append((k * 1_000_000_000, 1, 0, 1, 1, 10**6, 1, mid))  # another instrument
    return recorder({"book": rows}).arrays()["book"]


def test_summary_of_a_crash_and_half_recovery() -> None:
    book = _book_path([100, 110, 88, 99])
    btc = market_summary({"book": book}, INSTRUMENTS, 4_000_000_000)["instruments"]["BTC-PERP"]
    assert btc["peak_drop_pct"] == 20.0  # 110 -> 88
    assert btc["peak_time_ns"] == 1_000_000_000
    assert btc["trough_time_ns"] == 2_000_000_000
    assert btc["recovered_share"] == 0.5  # 11 of 22 regained
    assert btc["half_recovery_ns"] == 1_000_000_000  # 99 at 3 s, trough at 2 s
    assert (btc["mid_first"], btc["mid_last"], btc["mid_min"], btc["mid_max"]) == (100.0, 99.0, 88.0, 110.0)
    assert btc["snapshots"] == 4
    assert btc["spread_ticks_median"] == 2.0
    assert btc["spread_ticks_mean"] == 2.0
    bps = [1e4 * 1.0 / m for m in (100, 110, 88, 99)]  # 2 ticks of 0.5 over the mid
    assert btc["spread_bps_mean"] == pytest.approx(np.mean(bps), rel=1e-9)
    assert btc["spread_bps_median"] == pytest.approx(np.median(bps), rel=1e-9)
    assert btc["depth_bid_lots_mean"] == 11.5
    assert btc["depth_ask_lots_mean"] == 20.0
    assert btc["fills"] == 0
    assert btc["vwap"] is None and btc["open"] is None


def test_summary_without_a_recovery_to_half() -> None:
    btc = market_summary({"book": _book_path([100, 50, 60])}, INSTRUMENTS, 0)["instruments"]["BTC-PERP"]
    assert btc["peak_drop_pct"] == 50.0
    assert btc["recovered_share"] == 0.2
    assert btc["half_recovery_ns"] is None


def test_peak_is_the_last_time_at_the_high_before_the_trough() -> None:
    assert peak_drop(np.array([100, 110, 110, 105, 110, 88, 99])) == (0.2, 4, 5)
    assert peak_drop(np.array([1, 2, 3])) == (0.0, None, None)
    assert peak_drop(np.array([], dtype=np.int64)) == (0.0, None, None)


def test_summary_counts_commands_rejects_and_trades() -> None:
    summary = market_summary(recorder().arrays(), INSTRUMENTS, 5_000)
    btc, eth = summary["instruments"]["BTC-PERP"], summary["instruments"]["ETH-PERP"]
    assert summary["duration_ns"] == 5_000
    assert btc["commands"] == {
        "limit": 1,
        "ioc": 0,
        "fok": 0,
        "post_only": 0,
        "market": 1,
        "cancel": 0,
        "reduce": 0,
        "replace": 0,
    }
    assert btc["rejects"] == {}
    assert eth["commands"]["post_only"] == 1
    assert eth["rejects"] == {"post_only_would_take": 1}
    assert (btc["fills"], btc["volume_lots"], btc["volume_base"]) == (1, 3, 0.003)
    assert btc["notional_quote"] == 0.3015  # 201 * 3 units of 0.0005
    assert (btc["vwap"], btc["open"], btc["high"], btc["low"], btc["close"]) == (100.5,) * 5
    assert eth["fills"] == 0 and eth["vwap"] is None
    assert btc["mid_first"] == 100.25 and eth["mid_first"] == 100.5
    assert btc["peak_drop_pct"] == 0.0 and btc["peak_time_ns"] is None
    # without a trades table the events' fill rows are used
    no_trades = market_summary({"events": recorder().arrays()["events"]}, INSTRUMENTS, 5_000)
    assert no_trades["instruments"]["BTC-PERP"]["vwap"] == 100.5


def test_summary_of_empty_tables_is_nulls_and_zeros() -> None:
    for arrays in ({}, recorder({}).arrays()):
        btc = market_summary(arrays, INSTRUMENTS, 0)["instruments"]["BTC-PERP"]
        assert btc["fills"] == 0 and btc["volume_lots"] == 0 and btc["snapshots"] == 0
        assert btc["commands"]["limit"] == 0 and btc["rejects"] == {}
        nulls = [
            "vwap",
            "open",
            "close",
            "mid_first",
            "peak_drop_pct",
            "spread_ticks_mean",
            "depth_bid_lots_mean",
        ]
        assert all(btc[k] is None for k in nulls)


def _plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or type(value) in (int, float, str)


def test_summary_is_plain_json() -> None:
    summary = market_summary(recorder().arrays(), INSTRUMENTS, 5_000)
    assert _plain(summary)
    json.dumps(summary, allow_nan=False)


def _brute_drop(values: list[int]) -> float:
    return max(
        [0.0]
        + [(values[i] - values[j]) / values[i] for i in range(len(values)) for j in range(i + 1, len(values))]
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=2, max_value=10_000), min_size=1, max_size=40))
def test_peak_drop_is_the_largest_fall_over_all_pairs(mid2: list[int]) -> None:
    values = np.array(mid2, dtype=np.int64)
    brute = _brute_drop(mid2)
    drop = peak_drop(values)
    assert drop.fraction == brute
    if drop.peak is not None and drop.trough is not None:
        assert drop.peak < drop.trough
        assert (mid2[drop.peak] - mid2[drop.trough]) / mid2[drop.peak] == brute
    # and through the summary, from book snapshots (bid + ask = mid2 ticks, tick 1.0)
    rows = [(t, 0, 0, m // 2, 1, m - m // 2, 1, 0.0) for t, m in enumerate(mid2)]
    summary = market_summary({"book": recorder({"book": rows}).arrays()["book"]}, INSTRUMENTS[1:], 0)
    assert summary["instruments"]["ETH-PERP"]["peak_drop_pct"] == pytest.approx(
        100 * brute, rel=1e-9, abs=1e-12
    )


# -- package ----------------------------------------------------------------------


def test_package_exports() -> None:
    for name in lob.eventlog.__all__:
        assert hasattr(lob.eventlog, name)
    assert lob.eventlog.write_run is write_run and lob.eventlog.Recorder is Recorder
