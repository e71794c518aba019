"""Reading a run directory back: tables as pandas DataFrames with quote/base-unit float columns.

pandas is imported on first table access, not with this module, so that
``import lob.eventlog`` stays light for the simulator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from lob.errors import LobError
from lob.eventlog.rundir import CONFIG_FILE, MANIFEST_FILE, SCHEMA_VERSION, SUMMARY_FILE
from lob.eventlog.schema import ADL, AGENTS, BOOK, EVENTS, INSTRUMENTS, LIQUIDATIONS, TRADES, TableSchema
from lob.market.instrument import MONEY_PER_QUOTE, Instrument

if TYPE_CHECKING:
    import pandas as pd


class RunData:
    """A run directory read back.

    ``events``, ``trades`` and ``book`` are DataFrames, read on first access
    and then kept; ``summary`` and ``manifest`` are dicts, ``config`` the YAML
    text, ``path`` the directory.

    Each DataFrame has the stored columns (ints as stored, categorical columns
    as pandas ``category``), a ``time`` column after ``time_ns`` (a
    ``Timestamp`` if the manifest has ``calendar_start``, else a
    ``Timedelta`` from the run start), and float columns in quote currency and
    base units, converted per row with its instrument's tick and lot size:

    - events: ``price`` (NaN where ``price_ticks`` is 0: no price), ``qty``, ``leaves``;
    - trades: ``price``, ``qty``, ``taker_fee_quote``, ``maker_fee_quote``;
    - book: ``bid_price``, ``bid_qty``, ``ask_price``, ``ask_qty`` (NaN where
      that side's ticks are 0) and ``mid`` (NaN unless both sides are there).
    """

    def __init__(self, path: Path, manifest: dict[str, Any], summary: dict[str, Any], config: str) -> None:
        self.path = path
        self.manifest = manifest
        self.summary = summary
        self.config = config

    def __repr__(self) -> str:
        return f"RunData({str(self.path)!r}, rows={self.manifest.get('rows')})"

    @cached_property
    def instruments(self) -> list[Instrument]:
        """The run's instruments, in code order, from the manifest."""
        try:
            return [
                Instrument(str(d["symbol"]), float(d["tick_size"]), float(d["lot_size"]), index=k)
                for k, d in enumerate(self.manifest["instruments"])
            ]
        except (KeyError, TypeError, ValueError) as e:
            raise LobError(f"{self.path / MANIFEST_FILE}: malformed 'instruments' entry ({e!r})") from e

    @cached_property
    def events(self) -> pd.DataFrame:
        """Every command arrival, fill, self-trade cancel and shock, in sequence order."""
        return self._table(EVENTS, _add_event_floats)

    @cached_property
    def trades(self) -> pd.DataFrame:
        """One row per fill."""
        return self._table(TRADES, _add_trade_floats)

    @cached_property
    def book(self) -> pd.DataFrame:
        """Top-N book snapshots."""
        return self._table(BOOK, _add_book_floats)

    @cached_property
    def liquidations(self) -> pd.DataFrame:
        """One row per forced order, with its slippage and what it cost the insurance fund."""
        return self._table(LIQUIDATIONS, _add_liquidation_floats)

    @cached_property
    def adl(self) -> pd.DataFrame:
        """One row per auto-deleveraging close or clawback."""
        return self._table(ADL, _add_adl_floats)

    def verify(self) -> None:
        """Check every file against the manifest's size and sha256.

        Raises :class:`~lob.errors.LobError` naming the first file that differs or is missing.

        Runtime: reads every file once.
        """
        for name, expected in sorted(self.manifest.get("files", {}).items()):
            file = self.path / name
            if not file.is_file():
                raise LobError(f"{file}: listed in the manifest but missing")
            with open(file, "rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            if digest != expected.get("sha256") or file.stat().st_size != expected.get("bytes"):
                raise LobError(f"{file}: contents differ from the manifest (size or sha256)")

    def _table(
        self, schema: TableSchema, add_floats: Callable[[pd.DataFrame, list[Instrument]], None]
    ) -> pd.DataFrame:
        file = self.path / f"{schema.name}.parquet"
        if not file.is_file():
            written = sorted(self.manifest.get("rows", {}))
            raise LobError(
                f"{file}: missing; this run has no {schema.name} table (tables written: {written})"
            )
        try:
            table = pq.read_table(file)
        except (OSError, pa.ArrowException) as e:
            raise LobError(f"{file}: cannot read it as Parquet: {e}") from e
        missing = [c for c in schema.names if c not in table.column_names]
        if missing:
            raise LobError(f"{file}: columns {missing} are missing")
        df: pd.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        self._fix_categories(df, schema, file)
        _add_time(df, self.manifest.get("calendar_start"))
        add_floats(df, self.instruments)
        return df

    def _fix_categories(self, df: pd.DataFrame, schema: TableSchema, file: Path) -> None:
        """Give fixed-label and instrument columns their full label list in code order, even when empty."""
        for c in schema.columns:
            if c.labels is None or c.labels == AGENTS:
                continue
            labels = [i.symbol for i in self.instruments] if c.labels == INSTRUMENTS else list(c.labels)
            unknown = sorted(set(df[c.name].cat.categories) - set(labels))
            if unknown:
                raise LobError(
                    f"{file}: column {c.name!r} has labels {unknown} that this run does not define"
                )
            df[c.name] = df[c.name].cat.set_categories(labels)


def read_run(path: Path | str) -> RunData:
    """Open the run directory at ``path``: manifest, summary and config now, tables on first access.

    Raises :class:`~lob.errors.LobError` if ``path`` is not a directory, has
    no ``manifest.json`` (an incomplete run, or not a run directory), or was
    written with another schema version.
    """
    path = Path(path)
    if not path.is_dir():
        raise LobError(f"{path}: no run directory here")
    if not (path / MANIFEST_FILE).is_file():
        raise LobError(
            f"{path}: no {MANIFEST_FILE}; the run is incomplete (it did not finish writing) "
            "or this is not a run directory"
        )
    manifest = _read_json(path / MANIFEST_FILE)
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise LobError(
            f"{path / MANIFEST_FILE}: schema_version {version!r}; this lob reads version {SCHEMA_VERSION}"
        )
    summary = _read_json(path / SUMMARY_FILE)
    try:
        config = (path / CONFIG_FILE).read_text(encoding="utf-8")
    except OSError as e:
        raise LobError(f"{path / CONFIG_FILE}: cannot read it: {e.strerror or e}") from e
    return RunData(path, manifest, summary, config)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except OSError as e:
        raise LobError(f"{file}: cannot read it: {e.strerror or e}") from e
    except json.JSONDecodeError as e:
        raise LobError(f"{file}: not valid JSON (line {e.lineno}, column {e.colno}): {e.msg}") from e
    if not isinstance(value, dict):
        raise LobError(f"{file}: expected a JSON object, got {type(value).__name__}")
    return value


# -- derived columns ----------------------------------------------------------


def _add_time(df: pd.DataFrame, calendar_start: str | None) -> None:
    import pandas as pd

    elapsed = pd.to_timedelta(df["time_ns"].to_numpy(), unit="ns")
    time = pd.Timestamp(calendar_start) + elapsed if calendar_start is not None else elapsed
    df.insert(list(df.columns).index("time_ns") + 1, "time", time)


def _scale(ints: np.ndarray, codes: np.ndarray, units: Sequence[float]) -> np.ndarray:
    """``ints * units[code]`` per row, as float64; NaN where the code is -1 (no instrument).

    Where ``1 / unit`` is a whole number it divides by that instead of
    multiplying, so decimal sizes come out as written (100.5, not 100.50000000000001).
    """
    mul = np.append(np.asarray(units, dtype=np.float64), np.nan)  # code -1 picks the trailing NaN
    div = np.ones(len(units) + 1)
    for k, unit in enumerate(units):
        inverse = round(1.0 / unit)
        if inverse >= 1 and abs(inverse * unit - 1.0) < 1e-9:
            mul[k], div[k] = 1.0, float(inverse)
    result: np.ndarray = ints.astype(np.float64) * mul[codes] / div[codes]
    return result


def _instrument_codes(df: pd.DataFrame) -> np.ndarray:
    """Per row, the index of its instrument in the manifest (categories are in that order); -1 for none."""
    codes: np.ndarray = df["instrument"].cat.codes.to_numpy()
    return codes


def _add_event_floats(df: pd.DataFrame, instruments: list[Instrument]) -> None:
    codes, ticks = _instrument_codes(df), df["price_ticks"].to_numpy()
    lots = [i.lot_size for i in instruments]
    df["price"] = np.where(ticks != 0, _scale(ticks, codes, [i.tick_size for i in instruments]), np.nan)
    df["qty"] = _scale(df["qty_lots"].to_numpy(), codes, lots)
    df["leaves"] = _scale(df["leaves_lots"].to_numpy(), codes, lots)


def _add_trade_floats(df: pd.DataFrame, instruments: list[Instrument]) -> None:
    codes = _instrument_codes(df)
    notional = [i.notional_unit for i in instruments]
    df["price"] = _scale(df["price_ticks"].to_numpy(), codes, [i.tick_size for i in instruments])
    df["qty"] = _scale(df["qty_lots"].to_numpy(), codes, [i.lot_size for i in instruments])
    df["taker_fee_quote"] = _scale(df["taker_fee"].to_numpy(), codes, notional)
    df["maker_fee_quote"] = _scale(df["maker_fee"].to_numpy(), codes, notional)


def _add_book_floats(df: pd.DataFrame, instruments: list[Instrument]) -> None:
    codes = _instrument_codes(df)
    ticks, lots = [i.tick_size for i in instruments], [i.lot_size for i in instruments]
    bid, ask = df["bid_ticks"].to_numpy(), df["ask_ticks"].to_numpy()
    df["bid_price"] = np.where(bid > 0, _scale(bid, codes, ticks), np.nan)
    df["bid_qty"] = np.where(bid > 0, _scale(df["bid_lots"].to_numpy(), codes, lots), np.nan)
    df["ask_price"] = np.where(ask > 0, _scale(ask, codes, ticks), np.nan)
    df["ask_qty"] = np.where(ask > 0, _scale(df["ask_lots"].to_numpy(), codes, lots), np.nan)
    df["mid"] = np.where((bid > 0) & (ask > 0), _scale(bid + ask, codes, ticks) / 2, np.nan)


def _add_liquidation_floats(df: pd.DataFrame, instruments: list[Instrument]) -> None:
    """Prices in quote currency (from the ``*_ticks`` columns), sizes in base units, money in quote."""
    codes = _instrument_codes(df)
    ticks, lots = [i.tick_size for i in instruments], [i.lot_size for i in instruments]
    for column in ("trigger_mark", "liquidation_price", "bankruptcy_price", "arrival_mid", "vwap"):
        df[column] = df[f"{column}_ticks"].to_numpy() * np.append(np.asarray(ticks), np.nan)[codes]
    for column in ("qty", "filled", "takeover"):
        df[column] = _scale(df[f"{column}_lots"].to_numpy(), codes, lots)
    for column in ("shortfall", "fee", "bad_debt", "fund_balance", "deficit"):
        df[f"{column}_quote"] = df[column].to_numpy() / MONEY_PER_QUOTE
    df["adl"] = _scale(df["adl_lots"].to_numpy(), codes, lots)


def _add_adl_floats(df: pd.DataFrame, instruments: list[Instrument]) -> None:
    """Prices in quote currency, sizes in base units, PnL and equity in quote."""
    codes = _instrument_codes(df)
    ticks = np.append(np.asarray([i.tick_size for i in instruments]), np.nan)
    df["price"] = df["price_ticks"].to_numpy() * ticks[codes]
    df["mark"] = df["mark_ticks"].to_numpy() * ticks[codes]
    df["qty"] = _scale(df["qty_lots"].to_numpy(), codes, [i.lot_size for i in instruments])
    for column in ("pnl_before", "pnl_after", "equity_after"):
        df[f"{column}_quote"] = df[column].to_numpy() / MONEY_PER_QUOTE
