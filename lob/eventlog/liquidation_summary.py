"""Headline metrics of forced selling: liquidations by cascade generation, slippage, fund, bad debt.

numpy only (no pandas), like :mod:`lob.eventlog.summary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lob.eventlog.summary import round_sig
from lob.market.instrument import MONEY_PER_QUOTE, Instrument


def liquidation_summary(
    arrays: Mapping[str, np.ndarray],
    instruments: Sequence[Instrument],
    market: Mapping[str, Any],
    fund_start: int,
) -> dict[str, Any]:
    """Liquidations per cascade generation and overall, plus the insurance fund's path.

    ``market`` is :func:`lob.eventlog.summary.market_summary`'s per-symbol
    dict (its peak and trough times place the depth measurements);
    ``fund_start`` the fund's opening balance in money units. Notional and
    money in quote currency; slippage in bps against the arrival mid
    (positive: worse for the liquidated account).
    """
    liq = arrays.get("liquidations")
    if liq is None:
        return {}
    unit = {i.index: i.notional_unit for i in instruments}
    closed = liq["filled_lots"] + liq["takeover_lots"]
    price = np.where(liq["filled_lots"] > 0, liq["vwap_ticks"], liq["bankruptcy_price_ticks"])
    notional = np.array(
        [c * p * unit[int(i)] for c, p, i in zip(closed, price, liq["instrument"], strict=True)], dtype=float
    )
    by_generation = []
    for g in np.unique(liq["generation"]).tolist():
        rows = liq["generation"] == g
        count, total = int(rows.sum()), round_sig(float(notional[rows].sum()))
        by_generation.append({"generation": g, "count": count, "notional_quote": total})
    slippage = liq["slippage_mid_bps"][~np.isnan(liq["slippage_mid_bps"])]
    fund = liq["fund_balance"]
    out: dict[str, Any] = {
        "liquidations": len(liq),
        "liquidated_notional_quote": round_sig(float(notional.sum())) if len(liq) else 0.0,
        "filled_share": round_sig(float(liq["filled_lots"].sum() / closed.sum())) if closed.sum() else None,
        "by_generation": by_generation,
        "deepest_generation": int(liq["generation"].max()) if len(liq) else None,
        "slippage_mid_bps_median": round_sig(float(np.median(slippage))) if len(slippage) else None,
        "slippage_mid_bps_p95": round_sig(float(np.percentile(slippage, 95))) if len(slippage) else None,
        "insurance_fund_start_quote": fund_start / MONEY_PER_QUOTE,
        "insurance_fund_min_quote": min(fund_start, int(fund.min())) / MONEY_PER_QUOTE if len(liq) else None,
        "insurance_fund_end_quote": int(fund[-1]) / MONEY_PER_QUOTE
        if len(liq)
        else fund_start / MONEY_PER_QUOTE,
        "bad_debt_quote": int(liq["bad_debt"].sum()) / MONEY_PER_QUOTE,
    }
    book = arrays.get("book")
    if book is not None and len(book):
        for inst in instruments:
            m = market.get(inst.symbol, {})
            out.setdefault("bid_depth_1pct_lots", {})[inst.symbol] = {
                "at_peak": _bid_depth(book, inst.index, m.get("peak_time_ns")),
                "at_trough": _bid_depth(book, inst.index, m.get("trough_time_ns")),
            }
    return out


def _bid_depth(book: np.ndarray, ii: int, time_ns: int | None) -> int | None:
    """Lots bid within 1% below the mid in the snapshot at ``time_ns`` (within the levels recorded)."""
    if time_ns is None:
        return None
    rows = book[(book["time_ns"] == time_ns) & (book["instrument"] == ii)]
    if not len(rows):
        return None
    top = rows[rows["level"] == 0][0]
    if not top["bid_ticks"] or not top["ask_ticks"]:
        return 0
    mid = (top["bid_ticks"] + top["ask_ticks"]) / 2
    within = (rows["bid_ticks"] > 0) & (rows["bid_ticks"] >= mid * 0.99)
    return int(rows["bid_lots"][within].sum())
