"""Auto-deleveraging metrics: the deficit ADL had to cover, the haircuts it took, and from whom.

Definitions follow the study of Hyperliquid's ADL on 2025-10-10
(https://github.com/pluriholonomic/autodeleveraging-analysis, methodology.md),
computed per wave and summed:

* **deficit** (the study's *needed budget*): for each deleveraged remainder,
  ``lots x |bankruptcy price - mark|`` — what the fund would have lost taking
  it over (the liquidations table's ``deficit`` column);
* **haircut** (the study's *wealth removed*): what each deleveraged account
  lost against having kept its position, valued at the mark ``horizon`` after
  the wave's last close: ``qty x side x (price - mark then)`` for a close, the
  money taken for a clawback. Valued at the wave's end (and more so with a
  horizon) it includes what the closed position would have made as the
  price went on moving; ``haircut_at_close`` values each close at its own
  mark instead (the immediate gap, which at the bankruptcy price equals the
  deficit);
* **overshoot**: haircut minus deficit — how much more was taken from
  winners than the loss it covered (negative: less);
* **largest haircut share**: the most any account gave at its closes
  (against the mark of the moment) as a share of its profit in the
  instrument before ADL first hit it;
* **accounts hit**, and the **share in profit** among them.

numpy only (no pandas), like :mod:`lob.eventlog.summary`. Money in quote
currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lob.eventlog.schema import ADL_POLICIES, KIND_CODE
from lob.eventlog.summary import round_sig
from lob.market.instrument import MONEY_PER_QUOTE, Instrument

_MARK = KIND_CODE["mark"]


def haircuts(
    adl: np.ndarray, events: np.ndarray | None, instruments: Sequence[Instrument], horizon_ns: int
) -> np.ndarray:
    """Each adl row's haircut in money units (float), valued at the mark ``horizon_ns`` after its wave.

    Without an events table (no mark rows) each close is valued at its own
    mark, as with no horizon. Runtime: O(rows + marks) plus a sort of the
    waves; one binary search per close.
    """
    waves, wave_of = np.unique(adl["wave"], return_inverse=True)
    ends = np.full(len(waves), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(ends, wave_of, adl["time_ns"])
    valued_at = ends[wave_of] + horizon_ns  # per row: its wave's last close, plus the horizon
    mark = adl["mark_ticks"].astype(float)  # the close's own mark where the log has no earlier one
    if events is not None and len(events):
        is_mark = events["kind"] == _MARK
        for ii in np.unique(adl["instrument"]).tolist():
            marks = events[is_mark & (events["instrument"] == ii)]  # in time order, as logged
            rows = np.flatnonzero(adl["instrument"] == ii)
            k = np.searchsorted(marks["time_ns"], valued_at[rows], side="right") - 1
            found = k >= 0
            mark[rows[found]] = marks["value"][k[found]]
    unit = np.array([i.money_unit for i in instruments], dtype=float)[adl["instrument"]]
    closes = adl["qty_lots"] * adl["side"] * (adl["price_ticks"] - mark) * unit
    clawed = (adl["pnl_before"] - adl["pnl_after"]).astype(float)  # a clawback: the money taken
    out: np.ndarray = np.where(adl["qty_lots"] > 0, closes, clawed)
    return out


def adl_summary(
    arrays: Mapping[str, np.ndarray], instruments: Sequence[Instrument], horizon_ns: int
) -> dict[str, Any]:
    """The ``adl`` section of summary.json: totals, per wave, and who bore the haircuts."""
    adl = arrays.get("adl")
    if adl is None:
        return {}
    liq = arrays.get("liquidations")
    out: dict[str, Any] = {
        "policy": None,
        "closes": int((adl["qty_lots"] > 0).sum()),
        "clawbacks": int((adl["qty_lots"] == 0).sum()),
        "lots_closed": int(adl["qty_lots"].sum()),
        "waves": len(np.unique(adl["wave"])),
        "horizon_ns": horizon_ns,
    }
    deficit_by_liq: dict[int, int] = {}
    left_to_fund = 0
    if liq is not None:
        hit = (liq["deficit"] > 0) | (liq["adl_lots"] > 0)
        deficit_by_liq = dict(
            zip(liq["liquidation_id"][hit].tolist(), liq["deficit"][hit].tolist(), strict=True)
        )
        # Remainders ADL could not place in full (every candidate capped): the fund took the rest.
        # Socialized loss closes nothing by design, so it has none.
        if not len(adl) or ADL_POLICIES[int(adl["policy"][0])] != "socialized_loss":
            left_to_fund = int((hit & (liq["takeover_lots"] > 0)).sum())
    if not len(adl):
        out.update(
            deficit_quote=round_sig(sum(deficit_by_liq.values()) / MONEY_PER_QUOTE),
            haircut_quote=0.0,
            haircut_at_close_quote=0.0,
            overshoot_quote=round_sig(-sum(deficit_by_liq.values()) / MONEY_PER_QUOTE),
            largest_haircut_share=None,
            accounts_hit=0,
            share_in_profit=None,
            remainders_partly_left_to_fund=left_to_fund,
            by_wave=[],
        )
        return out
    out["policy"] = ADL_POLICIES[int(adl["policy"][0])]
    cut = haircuts(adl, arrays.get("events"), instruments, horizon_ns)
    # Each liquidation's deficit counts once, in the wave of its first close.
    first_wave: dict[int, int] = {}
    for liq_id, wave in zip(adl["liquidation_id"].tolist(), adl["wave"].tolist(), strict=True):
        first_wave.setdefault(liq_id, wave)
    by_wave = []
    for wave in np.unique(adl["wave"]).tolist():
        rows = adl["wave"] == wave
        deficit = sum(deficit_by_liq.get(i, 0) for i, w in first_wave.items() if w == wave)
        taken = float(cut[rows].sum())
        by_wave.append(
            {
                "wave": wave,
                "start_s": round_sig(int(adl["time_ns"][rows].min()) / 1e9),
                "end_s": round_sig(int(adl["time_ns"][rows].max()) / 1e9),
                "deficit_quote": round_sig(deficit / MONEY_PER_QUOTE),
                "haircut_quote": round_sig(taken / MONEY_PER_QUOTE),
                "overshoot_quote": round_sig((taken - deficit) / MONEY_PER_QUOTE),
                "accounts_hit": len(np.unique(adl["counterparty"][rows])),
            }
        )
    deficit_total = sum(deficit_by_liq.get(i, 0) for i in first_wave)
    # Per account: what it gave at its closes (against the mark of the moment), against its profit
    # before ADL first touched it.
    at_close = (adl["pnl_before"] - adl["pnl_after"]).astype(float)
    profit: dict[int, int] = {}
    taken_by: dict[int, float] = {}
    for k, cp in enumerate(adl["counterparty"].tolist()):
        profit.setdefault(cp, int(adl["pnl_before"][k]))
        taken_by[cp] = taken_by.get(cp, 0.0) + float(at_close[k])
    in_profit = [cp for cp, p in profit.items() if p > 0]
    shares = [taken_by[cp] / profit[cp] for cp in in_profit]
    out.update(
        deficit_quote=round_sig(deficit_total / MONEY_PER_QUOTE),
        haircut_quote=round_sig(float(cut.sum()) / MONEY_PER_QUOTE),
        haircut_at_close_quote=round_sig(float(at_close.sum()) / MONEY_PER_QUOTE),
        overshoot_quote=round_sig((float(cut.sum()) - deficit_total) / MONEY_PER_QUOTE),
        largest_haircut_share=round_sig(max(shares)) if shares else None,
        accounts_hit=len(profit),
        share_in_profit=round_sig(len(in_profit) / len(profit)),
        remainders_partly_left_to_fund=left_to_fund,
        by_wave=by_wave,
    )
    return out
