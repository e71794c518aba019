"""How liquidation cascades spread: across the instruments of a venue and across venues.

Every liquidation row names its ``parent_id``, the liquidation whose forced
trades moved the mark that triggered it (0: none). A *link* is a row whose
parent is a row of the same table; it is

* ``same_instrument`` when the parent is on the child's instrument,
* ``cross_instrument`` when the parent is on another instrument of the
  child's venue,
* ``cross_venue`` when the parent is on another venue.

A parent id that is not in the table (0, or a row filtered out before the
summary) is no link, and the chain above such a row stops there.

Liquidation ids are unique across the run (all venues), so parents are found
by one binary search over the sorted ids: O(n log n) in the rows. Notional
follows :func:`lob.eventlog.liquidation_summary.liquidation_summary`: the
filled and taken-over lots, at the fills' VWAP when the forced order filled
anything, else at the bankruptcy price.

numpy only (no pandas), like :mod:`lob.eventlog.summary`. Floats go through
:func:`~lob.eventlog.summary.round_sig`; the result is JSON-ready and its
key order does not depend on the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lob.eventlog.schema import KIND_CODE, LIQUIDATIONS
from lob.eventlog.summary import peak_drop, round_sig
from lob.market.instrument import Instrument

_FILL = KIND_CODE["fill"]
#: Link kinds, in the order of the ``links`` section.
LINK_KINDS: tuple[str, ...] = ("same_instrument", "cross_instrument", "cross_venue")


def contagion_summary(
    arrays: Mapping[str, np.ndarray],
    instruments: Sequence[Instrument],
    venue_of: Sequence[str],
    duration_ns: int,
) -> dict[str, Any]:
    """Liquidations per instrument and per venue, and the links of their cascades.

    ``arrays`` is ``Recorder.arrays()`` (a missing table counts as empty; the
    trades table, else the events' fill rows, gives the prices);
    ``instruments`` the run's instruments, whose ``index`` is their code in
    the tables; ``venue_of[index]`` the name of the venue that lists the
    instrument of that index. ``duration_ns`` is echoed as in
    :func:`lob.eventlog.summary.market_summary`. Returns::

        {"duration_ns": int,
         "by_instrument": {symbol: {"venue", "liquidations", "liquidated_notional_quote",
                                    "first_liquidation_ns", "generations",
                                    "forced_from_other_instruments", "peak_drop"}},
         "by_venue": {venue: {"instruments", "liquidations", "liquidated_notional_quote",
                              "first_liquidation_ns", "deepest_generation",
                              "forced_from_other_venues"}},
         "links": {"same_instrument": int, "cross_instrument": int, "cross_venue": int},
         "matrix": [{"from": "VENUE:SYMBOL", "to": "VENUE:SYMBOL", "links": int}, ...],
         "first_crossings": {"cross_instrument": chain | None, "cross_venue": chain | None}}

    ``by_instrument`` follows the order of ``instruments``; ``by_venue`` the
    order in which venues first appear along it. ``generations`` is the
    deepest generation of the instrument's liquidations (None without any);
    ``forced_from_other_instruments`` counts its rows whose parent is on
    another instrument (of any venue), ``forced_from_other_venues`` a venue's
    rows whose parent is on another venue. ``peak_drop`` is the largest fall
    of the instrument's trade price from its running maximum, as a fraction
    (0.0 without trades). ``matrix`` lists every (parent, child) instrument
    pair with a link, sorted by ``from`` then ``to``. A chain runs from the
    top of the cascade (its generation-0 root, unless a parent is missing
    from the table) down to the child of the first link of that kind, the
    one with the lowest liquidation id; each step is ``{"liquidation_id",
    "venue", "instrument", "time_ns", "generation"}``.

    Raises ``ValueError`` when a row's instrument is not among
    ``instruments``, when ``venue_of`` has no venue for an instrument, or
    when liquidation ids repeat or parents form a cycle.

    Runtime: O(n log n) in the liquidation and trade rows.
    """
    n_inst = len(instruments)
    codes = [inst.index for inst in instruments]
    if len(set(codes)) != n_inst:
        raise ValueError("instruments must have distinct indexes")
    if any(code < 0 or code >= len(venue_of) for code in codes):
        raise ValueError(f"venue_of has {len(venue_of)} entries; an instrument index is outside them")
    venues: list[str] = list(dict.fromkeys(venue_of[code] for code in codes))
    venue_code = {name: k for k, name in enumerate(venues)}
    # per instrument position (its place in ``instruments``): venue code, and the "VENUE:SYMBOL" label
    inst_venue = np.array([venue_code[venue_of[code]] for code in codes], dtype=np.int64)
    label = [f"{venue_of[inst.index]}:{inst.symbol}" for inst in instruments]
    position = np.full(max(codes, default=-1) + 1, -1, dtype=np.int64)  # table code -> position
    position[codes] = np.arange(n_inst)
    n_venues = len(venues)

    liq = arrays.get("liquidations")
    if liq is None:
        liq = np.zeros(0, dtype=LIQUIDATIONS.dtype)
    n = len(liq)
    code = liq["instrument"].astype(np.int64)
    if n and (code.min() < 0 or code.max() >= len(position) or (position[code] < 0).any()):
        raise ValueError("a liquidation row's instrument is not among the instruments given")
    pos = position[code] if n else np.zeros(0, dtype=np.int64)
    ven = inst_venue[pos]
    time_ns = liq["time_ns"].astype(np.int64)
    generation = liq["generation"].astype(np.int64)
    ids = liq["liquidation_id"].astype(np.int64)

    parent = _parent_rows(ids, liq["parent_id"].astype(np.int64))
    has = parent >= 0
    child_rows = np.flatnonzero(has)
    parent_rows = parent[has]
    same_inst = pos[child_rows] == pos[parent_rows]
    same_venue = ven[child_rows] == ven[parent_rows]
    kind = np.where(same_inst, 0, np.where(same_venue, 1, 2))  # index into LINK_KINDS

    notional = _notional(liq, instruments, pos)
    inst_count = np.bincount(pos, minlength=n_inst)
    inst_notional = np.bincount(pos, weights=notional, minlength=n_inst)
    inst_first = _group_min(pos, time_ns, n_inst)
    inst_deepest = _group_max(pos, generation, n_inst)
    inst_foreign = np.bincount(pos[child_rows[kind > 0]], minlength=n_inst)
    venue_count = np.bincount(ven, minlength=n_venues)
    venue_notional = np.bincount(ven, weights=notional, minlength=n_venues)
    venue_first = _group_min(ven, time_ns, n_venues)
    venue_deepest = _group_max(ven, generation, n_venues)
    venue_foreign = np.bincount(ven[child_rows[kind == 2]], minlength=n_venues)
    drops = _peak_drops(arrays, instruments)

    by_instrument: dict[str, Any] = {}
    for k, inst in enumerate(instruments):
        by_instrument[inst.symbol] = {
            "venue": venues[int(inst_venue[k])],
            "liquidations": int(inst_count[k]),
            "liquidated_notional_quote": round_sig(float(inst_notional[k])),
            "first_liquidation_ns": _opt_int(inst_first[k], inst_count[k]),
            "generations": _opt_int(inst_deepest[k], inst_count[k]),
            "forced_from_other_instruments": int(inst_foreign[k]),
            "peak_drop": drops[k],
        }
    by_venue: dict[str, Any] = {}
    for v, name in enumerate(venues):
        by_venue[name] = {
            "instruments": [inst.symbol for k, inst in enumerate(instruments) if inst_venue[k] == v],
            "liquidations": int(venue_count[v]),
            "liquidated_notional_quote": round_sig(float(venue_notional[v])),
            "first_liquidation_ns": _opt_int(venue_first[v], venue_count[v]),
            "deepest_generation": _opt_int(venue_deepest[v], venue_count[v]),
            "forced_from_other_venues": int(venue_foreign[v]),
        }

    link_counts = np.bincount(kind, minlength=len(LINK_KINDS))
    pairs, pair_links = np.unique(pos[parent_rows] * n_inst + pos[child_rows], return_counts=True)
    matrix = [
        {"from": label[p // n_inst], "to": label[p % n_inst], "links": c}
        for p, c in zip(pairs.tolist(), pair_links.tolist(), strict=True)
    ]
    matrix.sort(key=lambda m: (m["from"], m["to"]))

    def crossing(k: int) -> list[dict[str, Any]] | None:
        rows = child_rows[kind == k]
        if not len(rows):
            return None
        first = int(rows[np.argmin(ids[rows])])
        return [
            {
                "liquidation_id": int(ids[r]),
                "venue": venues[int(ven[r])],
                "instrument": instruments[int(pos[r])].symbol,
                "time_ns": int(time_ns[r]),
                "generation": int(generation[r]),
            }
            for r in _chain(parent, first)
        ]

    return {
        "duration_ns": int(duration_ns),
        "by_instrument": by_instrument,
        "by_venue": by_venue,
        "links": {name: int(link_counts[k]) for k, name in enumerate(LINK_KINDS)},
        "matrix": matrix,
        "first_crossings": {"cross_instrument": crossing(1), "cross_venue": crossing(2)},
    }


def _parent_rows(ids: np.ndarray, parent_ids: np.ndarray) -> np.ndarray:
    """Row of each row's parent in the table, -1 where the parent id is 0 or not a row's id."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    if len(ids) > 1 and (np.diff(sorted_ids) == 0).any():
        raise ValueError("liquidation ids repeat")
    k = np.searchsorted(sorted_ids, parent_ids)
    inside = k < len(ids)
    found = np.zeros(len(ids), dtype=bool)
    found[inside] = sorted_ids[k[inside]] == parent_ids[inside]
    found &= parent_ids > 0
    out: np.ndarray = np.where(found, order[np.minimum(k, max(len(ids) - 1, 0))], -1)
    return out


def _chain(parent: np.ndarray, row: int) -> list[int]:
    """Rows from the top of ``row``'s cascade (a row without a parent in the table) down to ``row``."""
    chain = [row]
    while parent[chain[-1]] >= 0:
        chain.append(int(parent[chain[-1]]))
        if len(chain) > len(parent):
            raise ValueError("liquidation parents form a cycle")
    return chain[::-1]


def _notional(liq: np.ndarray, instruments: Sequence[Instrument], pos: np.ndarray) -> np.ndarray:
    """Quote notional of each row, valued as liquidation_summary values it; 0 where nothing closed."""
    closed = (liq["filled_lots"] + liq["takeover_lots"]).astype(np.float64)
    price = np.where(liq["filled_lots"] > 0, liq["vwap_ticks"], liq["bankruptcy_price_ticks"])
    unit = np.array([inst.notional_unit for inst in instruments], dtype=np.float64)[pos]
    out: np.ndarray = np.where(closed > 0, closed * price * unit, 0.0)
    return out


def _group_min(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(out, group, values)
    return out


def _group_max(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(out, group, values)
    return out


def _opt_int(value: np.integer[Any], count: np.integer[Any]) -> int | None:
    """``value`` as an int, None for a group with no rows."""
    return int(value) if count else None


def _peak_drops(arrays: Mapping[str, np.ndarray], instruments: Sequence[Instrument]) -> list[float | None]:
    """Peak drop of each instrument's trade price (a fraction, 0.0 without trades), in ``instruments`` order.

    The trades table, else the events' fill rows; each instrument's fills in
    table order. One stable sort by instrument, then O(fills) per instrument.
    """
    if "trades" in arrays:
        trades = arrays["trades"]
    elif "events" in arrays:
        events = arrays["events"]
        trades = events[events["kind"] == _FILL]
    else:
        return [0.0] * len(instruments)
    inst = trades["instrument"].astype(np.int64)
    order = np.argsort(inst, kind="stable")
    sorted_inst = inst[order]
    price = trades["price_ticks"][order].astype(np.float64)
    out: list[float | None] = []
    for instrument in instruments:
        lo, hi = np.searchsorted(sorted_inst, [instrument.index, instrument.index + 1])
        out.append(round_sig(peak_drop(price[lo:hi]).fraction))
    return out
