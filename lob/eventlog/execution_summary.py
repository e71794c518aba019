"""How a parent order was executed: what it filled, at what average price, and its cost against arrival.

numpy only (no pandas), like :mod:`lob.eventlog.summary`. The *arrival mid*
is the book's mid in the last snapshot (``book`` table) at or before the
group's first order reached the venue; the cost is in basis points of it,
positive when the execution did worse than the arrival mid (sold below it,
bought above it), the usual implementation-shortfall sign.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lob.eventlog.schema import KIND_CODE
from lob.eventlog.summary import round_sig
from lob.market.instrument import Instrument

_FILL = KIND_CODE["fill"]


def execution_summary(
    arrays: Mapping[str, np.ndarray], owners: Sequence[int], side: int, inst: Instrument
) -> dict[str, Any]:
    """``owners``' executions of a parent order on ``side`` (+1 buy, -1 sell) in ``inst``; prices in quote."""
    events, trades, book = arrays.get("events"), arrays.get("trades"), arrays.get("book")
    out: dict[str, Any] = {"side": "buy" if side > 0 else "sell"}
    if events is None or trades is None:
        return out
    mine = np.isin(events["agent"], owners) & (events["kind"] < _FILL) & (events["instrument"] == inst.index)
    if not mine.any():
        return out
    first_ns = int(events["time_ns"][mine].min())
    in_inst = trades["instrument"] == inst.index
    as_taker = in_inst & np.isin(trades["taker"], owners)
    as_maker = in_inst & np.isin(trades["maker"], owners)
    lots = int(trades["qty_lots"][as_taker | as_maker].sum())
    notional = int((trades["price_ticks"] * trades["qty_lots"])[as_taker | as_maker].sum())
    mid = _arrival_mid(book, inst.index, first_ns)
    out.update(first_order_ns=first_ns, filled_lots=lots, taker_lots=int(trades["qty_lots"][as_taker].sum()))
    out["arrival_mid"] = round_sig(mid * inst.tick_size) if mid is not None else None
    if lots:
        vwap = notional / lots  # ticks
        out["vwap"] = round_sig(vwap * inst.tick_size)
        out["slippage_bps"] = round_sig(side * (vwap - mid) / mid * 1e4) if mid else None
    return out


def _arrival_mid(book: np.ndarray | None, ii: int, time_ns: int) -> float | None:
    """The mid (ticks) of the last top-of-book snapshot of ``ii`` at or before ``time_ns``, or None."""
    if book is None or not len(book):
        return None
    top = book[(book["instrument"] == ii) & (book["level"] == 0) & (book["time_ns"] <= time_ns)]
    if not len(top):
        return None
    last = top[-1]
    if not last["bid_ticks"] or not last["ask_ticks"]:
        return None
    return (int(last["bid_ticks"]) + int(last["ask_ticks"])) / 2
