"""Headline metrics of a run per instrument, from its recorded arrays (numpy only, no pandas).

Every value is a plain ``int``, ``float`` or ``None`` so the result goes to
JSON as it is. Floats are rounded to 10 significant digits: enough to keep a
tick-exact price such as 65432.17 exact, few enough to drop float noise, and
the same on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from lob.core.codes import Kind, Status
from lob.eventlog.schema import BOOK, EVENT_KINDS, EVENTS, KIND_CODE, REASONS
from lob.market.instrument import Instrument

_DIGITS = 10
_FILL = KIND_CODE["fill"]


class PeakDrop(NamedTuple):
    """The largest fall of a series from its running maximum.

    ``fraction`` is ``(values[peak] - values[trough]) / values[peak]``, 0.0
    when the series never falls (then ``peak`` and ``trough`` are None).
    ``peak`` is the last index before ``trough`` where the series stood at
    that maximum, so ``trough - peak`` is how long the fall itself took.
    """

    fraction: float
    peak: int | None
    trough: int | None


def peak_drop(values: np.ndarray) -> PeakDrop:
    """The peak-to-trough drop of positive ``values`` (any unit).

    Equal to the maximum over ``i < j`` of ``(values[i] - values[j]) / values[i]``
    (or 0). Of equal drops the first trough wins. Runtime: O(n).
    """
    if len(values) == 0:
        return PeakDrop(0.0, None, None)
    running_max = np.maximum.accumulate(values)
    drops = (running_max - values) / running_max
    trough = int(np.argmax(drops))
    if not drops[trough] > 0:
        return PeakDrop(0.0, None, None)
    peak = int(np.flatnonzero(values[: trough + 1] == running_max[trough])[-1])
    return PeakDrop(float(drops[trough]), peak, trough)


def round_sig(x: float | None) -> float | None:
    """``x`` to :data:`_DIGITS` significant digits; None for None, NaN and infinities."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{_DIGITS}g}") + 0.0  # + 0.0 turns -0.0 into 0.0


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if len(x) else None


def _median(x: np.ndarray) -> float | None:
    return float(np.median(x)) if len(x) else None


def _counts(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Counts of each (row, col) code pair, an ``n_rows x n_cols`` table; nulls (-1) are dropped."""
    ok = (rows >= 0) & (rows < n_rows) & (cols >= 0) & (cols < n_cols)
    flat = rows[ok].astype(np.int64) * n_cols + cols[ok]
    return np.bincount(flat, minlength=n_rows * n_cols).reshape(n_rows, n_cols)


def _fills(arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(instrument, price_ticks, qty_lots) of every fill: the trades table, else the events' fill rows."""
    if "trades" in arrays:
        t = arrays["trades"]
    else:
        events = arrays.get("events", np.zeros(0, EVENTS.dtype))
        t = events[events["kind"] == _FILL]
    return t["instrument"], t["price_ticks"], t["qty_lots"]


def _trade_stats(price: np.ndarray, qty: np.ndarray, inst: Instrument) -> dict[str, Any]:
    """Fill count, volume, notional, VWAP and open/high/low/close of one instrument's fills, in order."""
    volume = int(qty.sum())
    # float: price_ticks * qty_lots summed over a run can pass int64.
    notional = float(np.dot(price.astype(np.float64), qty.astype(np.float64)))
    has = len(price) > 0
    return {
        "fills": len(price),
        "volume_lots": volume,
        "volume_base": round_sig(volume * inst.lot_size),
        "notional_quote": round_sig(notional * inst.notional_unit),
        "vwap": round_sig(notional / volume * inst.tick_size) if volume else None,
        "open": round_sig(float(price[0]) * inst.tick_size) if has else None,
        "high": round_sig(float(price.max()) * inst.tick_size) if has else None,
        "low": round_sig(float(price.min()) * inst.tick_size) if has else None,
        "close": round_sig(float(price[-1]) * inst.tick_size) if has else None,
    }


def _drop_stats(time_ns: np.ndarray, mid2: np.ndarray) -> dict[str, Any]:
    """Peak drop of the mid and its recovery; ``mid2`` is bid + ask in ticks (twice the mid, exact)."""
    drop = peak_drop(mid2)
    if drop.peak is None or drop.trough is None:
        return {
            "peak_drop_pct": 0.0 if len(mid2) else None,
            "peak_time_ns": None,
            "trough_time_ns": None,
            "recovered_share": None,
            "half_recovery_ns": None,
        }
    peak, trough = int(mid2[drop.peak]), int(mid2[drop.trough])
    fall = peak - trough
    # first snapshot from the trough on whose mid has regained half the fall: 2 * (m - trough) >= fall
    regained = np.flatnonzero(2 * (mid2[drop.trough :] - trough) >= fall)
    half = int(time_ns[drop.trough + regained[0]] - time_ns[drop.trough]) if len(regained) else None
    return {
        "peak_drop_pct": round_sig(100.0 * drop.fraction),
        "peak_time_ns": int(time_ns[drop.peak]),
        "trough_time_ns": int(time_ns[drop.trough]),
        "recovered_share": round_sig((int(mid2[-1]) - trough) / fall),
        "half_recovery_ns": half,
    }


def _book_stats(book: np.ndarray, inst: Instrument) -> dict[str, Any]:
    """Mid path, peak drop, spread and top-of-book depth of one instrument's level-0 snapshots, in order."""
    bid, ask = book["bid_ticks"], book["ask_ticks"]
    two_sided = (bid > 0) & (ask > 0)
    time_ns = book["time_ns"][two_sided]
    mid2 = bid[two_sided] + ask[two_sided]
    spread = (ask[two_sided] - bid[two_sided]).astype(np.float64)
    spread_bps = 2e4 * spread / mid2
    half_tick = inst.tick_size / 2
    has = len(mid2) > 0
    return {
        "snapshots": len(book),
        "mid_first": round_sig(float(mid2[0]) * half_tick) if has else None,
        "mid_last": round_sig(float(mid2[-1]) * half_tick) if has else None,
        "mid_min": round_sig(float(mid2.min()) * half_tick) if has else None,
        "mid_max": round_sig(float(mid2.max()) * half_tick) if has else None,
        **_drop_stats(time_ns, mid2),
        "spread_ticks_median": round_sig(_median(spread)),
        "spread_ticks_mean": round_sig(_mean(spread)),
        "spread_bps_median": round_sig(_median(spread_bps)),
        "spread_bps_mean": round_sig(_mean(spread_bps)),
        "depth_bid_lots_mean": round_sig(_mean(book["bid_lots"])),
        "depth_ask_lots_mean": round_sig(_mean(book["ask_lots"])),
    }


def market_summary(
    arrays: Mapping[str, np.ndarray], instruments: Sequence[Instrument], duration_ns: int
) -> dict[str, Any]:
    """Headline market metrics of a run, per instrument symbol.

    ``arrays`` is ``Recorder.arrays()`` (a missing table counts as empty;
    without trades the events' fill rows are used); ``instruments[k]`` is the
    instrument of code ``k``. Returns ``{"duration_ns": ..., "instruments":
    {symbol: metrics}}`` where metrics has:

    - ``commands``: arrivals per command kind (limit, ioc, fok, post_only,
      market, cancel, reduce, replace), rejected ones included;
      ``rejects``: rejected commands per reason name (only reasons that occurred);
    - ``fills``, ``volume_lots``, ``volume_base`` (base units),
      ``notional_quote``, ``vwap`` and ``open``/``high``/``low``/``close``
      (quote per base unit; None without fills);
    - from the level-0 book snapshots where both sides are present:
      ``mid_first``/``mid_last``/``mid_min``/``mid_max``; ``peak_drop_pct``,
      the largest fall of the mid from its running maximum in percent, with
      ``peak_time_ns`` and ``trough_time_ns`` (see :class:`PeakDrop`);
      ``recovered_share``, the share of that fall regained by the last
      snapshot (above 1 if the mid ended above the peak);
      ``half_recovery_ns``, the time from the trough until the mid first
      regained half the fall (None if never); spread medians and means in
      ticks and bps of the mid;
    - ``snapshots`` (level-0 rows) and ``depth_bid_lots_mean`` /
      ``depth_ask_lots_mean`` over all of them, an empty side counting as 0.

    Runtime: O(rows x instruments).
    """
    events = arrays.get("events", np.zeros(0, EVENTS.dtype))
    book = arrays.get("book", np.zeros(0, BOOK.dtype))
    n = len(instruments)
    kinds = _counts(events["instrument"], events["kind"], n, len(EVENT_KINDS))
    rejected = events[events["status"] == Status.REJECTED]
    rejects = _counts(rejected["instrument"], rejected["reason"], n, len(REASONS))
    fill_inst, fill_price, fill_qty = _fills(arrays)
    top = book[book["level"] == 0]
    per: dict[str, Any] = {}
    for code, inst in enumerate(instruments):
        mine = fill_inst == code
        per[inst.symbol] = {
            "commands": {k.name.lower(): int(kinds[code, k]) for k in Kind},
            "rejects": {REASONS[r]: int(c) for r, c in enumerate(rejects[code]) if c},
            **_trade_stats(fill_price[mine], fill_qty[mine], inst),
            **_book_stats(top[top["instrument"] == code], inst),
        }
    return {"duration_ns": int(duration_ns), "instruments": per}
