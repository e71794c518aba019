"""Contagion metrics: a cascade drawn by hand across three instruments on two venues, checked by hand.

Instruments X and Y trade on venue A, Z on venue B. The cascade:

    1 A:X (gen 0) -> 2 A:X (same instrument)
                  -> 3 A:Y (cross instrument) -> 5 B:Z (cross venue)
                                              -> 6 A:X (cross instrument)
    4 A:Y (gen 0, no parent)

Notional units (tick x lot): X 0.5 x 0.1 = 0.05, Y 0.01 x 1 = 0.01, Z 1 x 0.01 = 0.01 quote.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lob.eventlog.contagion_summary import contagion_summary
from lob.eventlog.schema import EVENTS, KIND_CODE, LIQUIDATIONS, TRADES
from lob.eventlog.summary import round_sig
from lob.market.instrument import Instrument

X = Instrument("X", 0.5, 0.1, index=0, perpetual=True)
Y = Instrument("Y", 0.01, 1.0, index=1, perpetual=True)
Z = Instrument("Z", 1.0, 0.01, index=2, perpetual=True)
INSTRUMENTS = [X, Y, Z]
VENUE_OF = ["A", "A", "B"]
NAN = math.nan

# liquidation_id, instrument, generation, parent_id, time_ns, filled_lots, vwap_ticks, takeover_lots,
# bankruptcy_price_ticks -- in a shuffled order: the summary must not rely on the table being sorted by id
CASCADE = [
    (5, 2, 2, 3, 1_500, 10, 300.0, 0, 290.0),  # 10 x 300 x 0.01 = 30.0
    (1, 0, 0, 0, 1_000, 2, 100.0, 0, 95.0),  # 2 x 100 x 0.05 = 10.0
    (3, 1, 1, 1, 1_200, 4, 250.0, 1, 240.0),  # (4 + 1) x 250 (the VWAP, as anything filled) x 0.01 = 12.5
    (6, 0, 2, 3, 1_700, 1, 98.0, 0, 97.0),  # 1 x 98 x 0.05 = 4.9
    (2, 0, 1, 1, 1_100, 0, NAN, 3, 90.0),  # nothing filled: 3 x 90 (bankruptcy) x 0.05 = 13.5
    (4, 1, 0, 0, 1_300, 0, NAN, 0, 80.0),  # nothing closed: 0
]


def liquidations(rows: list[tuple[Any, ...]]) -> np.ndarray:
    liq = np.zeros(len(rows), dtype=LIQUIDATIONS.dtype)
    for k, (lid, ii, gen, parent, t, filled, vwap, takeover, bankruptcy) in enumerate(rows):
        liq[k]["liquidation_id"] = lid
        liq[k]["instrument"] = ii
        liq[k]["generation"] = gen
        liq[k]["parent_id"] = parent
        liq[k]["time_ns"] = t
        liq[k]["exec_ns"] = t + 10
        liq[k]["side"] = -1
        liq[k]["qty_lots"] = filled + takeover
        liq[k]["filled_lots"] = filled
        liq[k]["vwap_ticks"] = vwap
        liq[k]["takeover_lots"] = takeover
        liq[k]["bankruptcy_price_ticks"] = bankruptcy
    return liq


def trades(rows: list[tuple[int, int]]) -> np.ndarray:
    """(instrument, price_ticks) per fill, in table order."""
    out = np.zeros(len(rows), dtype=TRADES.dtype)
    for k, (ii, price) in enumerate(rows):
        out[k]["seq"] = k + 1
        out[k]["time_ns"] = 100 * k
        out[k]["instrument"] = ii
        out[k]["price_ticks"] = price
        out[k]["qty_lots"] = 1
    return out


# X's price path 100, 102, 99, 101, 95 (drop (102 - 95) / 102), Y's 250, 240 (drop 0.04), interleaved
TRADE_PATH = [(0, 100), (1, 250), (0, 102), (0, 99), (1, 240), (0, 101), (0, 95)]


def summary(**arrays: np.ndarray) -> dict[str, Any]:
    return contagion_summary(arrays, INSTRUMENTS, VENUE_OF, 5_000)


def step(lid: int, venue: str, symbol: str, time_ns: int, generation: int) -> dict[str, Any]:
    return {"liquidation_id": lid, "venue": venue, "instrument": symbol, "time_ns": time_ns,
            "generation": generation}  # fmt: skip


def test_hand_drawn_cascade() -> None:
    out = summary(liquidations=liquidations(CASCADE), trades=trades(TRADE_PATH))
    assert out == {
        "duration_ns": 5_000,
        "by_instrument": {
            "X": {
                "venue": "A",
                "liquidations": 3,  # 1, 2, 6
                "liquidated_notional_quote": 28.4,  # 10.0 + 13.5 + 4.9
                "first_liquidation_ns": 1_000,
                "generations": 2,
                "forced_from_other_instruments": 1,  # 6, parent 3 on Y
                "peak_drop": round_sig(7 / 102),
            },
            "Y": {
                "venue": "A",
                "liquidations": 2,  # 3, 4
                "liquidated_notional_quote": 12.5,
                "first_liquidation_ns": 1_200,
                "generations": 1,
                "forced_from_other_instruments": 1,  # 3, parent 1 on X
                "peak_drop": 0.04,
            },
            "Z": {
                "venue": "B",
                "liquidations": 1,
                "liquidated_notional_quote": 30.0,
                "first_liquidation_ns": 1_500,
                "generations": 2,
                "forced_from_other_instruments": 1,  # 5, parent 3 on Y
                "peak_drop": 0.0,  # no trades
            },
        },
        "by_venue": {
            "A": {
                "instruments": ["X", "Y"],
                "liquidations": 5,
                "liquidated_notional_quote": 40.9,  # 28.4 + 12.5
                "first_liquidation_ns": 1_000,
                "deepest_generation": 2,
                "forced_from_other_venues": 0,
            },
            "B": {
                "instruments": ["Z"],
                "liquidations": 1,
                "liquidated_notional_quote": 30.0,
                "first_liquidation_ns": 1_500,
                "deepest_generation": 2,
                "forced_from_other_venues": 1,  # 5
            },
        },
        "links": {"same_instrument": 1, "cross_instrument": 2, "cross_venue": 1},
        "matrix": [
            {"from": "A:X", "to": "A:X", "links": 1},  # 1 -> 2
            {"from": "A:X", "to": "A:Y", "links": 1},  # 1 -> 3
            {"from": "A:Y", "to": "A:X", "links": 1},  # 3 -> 6
            {"from": "A:Y", "to": "B:Z", "links": 1},  # 3 -> 5
        ],
        "first_crossings": {
            # cross-instrument links 1 -> 3 and 3 -> 6: the first is the one into 3
            "cross_instrument": [step(1, "A", "X", 1_000, 0), step(3, "A", "Y", 1_200, 1)],
            "cross_venue": [
                step(1, "A", "X", 1_000, 0),
                step(3, "A", "Y", 1_200, 1),
                step(5, "B", "Z", 1_500, 2),
            ],
        },
    }
    assert list(out) == ["duration_ns", "by_instrument", "by_venue", "links", "matrix", "first_crossings"]
    assert json.loads(json.dumps(out)) == out


def test_identical_input_gives_identical_output() -> None:
    arrays = {"liquidations": liquidations(CASCADE), "trades": trades(TRADE_PATH)}
    first = json.dumps(contagion_summary(arrays, INSTRUMENTS, VENUE_OF, 5_000))
    again = {name: table.copy() for name, table in arrays.items()}
    assert json.dumps(contagion_summary(again, INSTRUMENTS, VENUE_OF, 5_000)) == first


def test_matrix_counts_repeated_pairs() -> None:
    # two links X -> Z, one Y -> Z: the cell counts both, and the venue link count is 3
    rows = [
        (1, 0, 0, 0, 10, 1, 100.0, 0, 99.0),
        (2, 1, 0, 0, 20, 1, 100.0, 0, 99.0),
        (3, 2, 1, 1, 30, 1, 100.0, 0, 99.0),
        (4, 2, 1, 1, 40, 1, 100.0, 0, 99.0),
        (5, 2, 1, 2, 50, 1, 100.0, 0, 99.0),
    ]
    out = summary(liquidations=liquidations(rows))
    assert out["links"] == {"same_instrument": 0, "cross_instrument": 0, "cross_venue": 3}
    assert out["matrix"] == [
        {"from": "A:X", "to": "B:Z", "links": 2},
        {"from": "A:Y", "to": "B:Z", "links": 1},
    ]
    assert out["by_venue"]["B"]["forced_from_other_venues"] == 3
    assert out["by_instrument"]["Z"]["forced_from_other_instruments"] == 3
    assert out["first_crossings"]["cross_instrument"] is None
    assert out["first_crossings"]["cross_venue"] == [step(1, "A", "X", 10, 0), step(3, "B", "Z", 30, 1)]


def test_matrix_is_sorted_by_label_and_venues_keep_their_first_appearance() -> None:
    # venue names against the instruments' order: X and Y on "b", Z on "a"
    rows = [(1, 0, 0, 0, 10, 1, 100.0, 0, 99.0), (2, 2, 1, 1, 20, 1, 100.0, 0, 99.0),
            (3, 0, 2, 2, 30, 1, 100.0, 0, 99.0)]  # fmt: skip
    out = contagion_summary({"liquidations": liquidations(rows)}, INSTRUMENTS, ["b", "b", "a"], 0)
    assert list(out["by_venue"]) == ["b", "a"]
    assert out["matrix"] == [
        {"from": "a:Z", "to": "b:X", "links": 1},
        {"from": "b:X", "to": "a:Z", "links": 1},
    ]
    assert out["by_venue"]["b"]["forced_from_other_venues"] == 1


def test_parent_zero_is_no_link_even_beside_an_id_zero() -> None:
    # id 0 is not a real id (they start at 1), but a parent of 0 must still read as "none"
    rows = [(0, 0, 0, 0, 10, 1, 100.0, 0, 99.0), (1, 2, 0, 0, 20, 1, 100.0, 0, 99.0)]
    out = summary(liquidations=liquidations(rows))
    assert out["links"] == {"same_instrument": 0, "cross_instrument": 0, "cross_venue": 0}
    assert out["matrix"] == []


EMPTY: dict[str, Any] = {
    "duration_ns": 5_000,
    "by_instrument": {
        s: {
            "venue": v,
            "liquidations": 0,
            "liquidated_notional_quote": 0.0,
            "first_liquidation_ns": None,
            "generations": None,
            "forced_from_other_instruments": 0,
            "peak_drop": 0.0,
        }
        for s, v in (("X", "A"), ("Y", "A"), ("Z", "B"))
    },
    "by_venue": {
        v: {
            "instruments": symbols,
            "liquidations": 0,
            "liquidated_notional_quote": 0.0,
            "first_liquidation_ns": None,
            "deepest_generation": None,
            "forced_from_other_venues": 0,
        }
        for v, symbols in (("A", ["X", "Y"]), ("B", ["Z"]))
    },
    "links": {"same_instrument": 0, "cross_instrument": 0, "cross_venue": 0},
    "matrix": [],
    "first_crossings": {"cross_instrument": None, "cross_venue": None},
}


def test_absent_tables() -> None:
    assert summary() == EMPTY


def test_empty_tables() -> None:
    assert summary(liquidations=np.zeros(0, LIQUIDATIONS.dtype), trades=np.zeros(0, TRADES.dtype)) == EMPTY


def test_no_instruments() -> None:
    out = contagion_summary({}, [], [], 0)
    assert out["by_instrument"] == {} and out["by_venue"] == {} and out["matrix"] == []


def test_missing_parent_is_no_link_and_ends_the_chain() -> None:
    rows = [
        (10, 0, 1, 7, 100, 1, 100.0, 0, 99.0),  # parent 7 is not in the table (filtered out)
        (11, 2, 2, 10, 200, 1, 100.0, 0, 99.0),  # X -> Z: a cross-venue link
        (12, 1, 0, 0, 300, 1, 100.0, 0, 99.0),  # parent 0: none
        (13, 1, 3, 99, 400, 1, 100.0, 0, 99.0),  # parent 99: past every id
    ]
    out = summary(liquidations=liquidations(rows))
    assert out["links"] == {"same_instrument": 0, "cross_instrument": 0, "cross_venue": 1}
    assert out["matrix"] == [{"from": "A:X", "to": "B:Z", "links": 1}]
    assert [i["forced_from_other_instruments"] for i in out["by_instrument"].values()] == [0, 0, 1]
    # the chain starts at 10, the highest row it can reach, though 10 is generation 1
    assert out["first_crossings"]["cross_venue"] == [step(10, "A", "X", 100, 1), step(11, "B", "Z", 200, 2)]
    assert out["first_crossings"]["cross_instrument"] is None
    assert out["by_instrument"]["Y"]["generations"] == 3


def test_peak_drop_of_hand_made_path() -> None:
    out = summary(trades=trades([(0, 100), (0, 102), (0, 99), (0, 101), (0, 95)]))
    assert out["by_instrument"]["X"]["peak_drop"] == round_sig((102 - 95) / 102)
    rising = summary(trades=trades([(1, 10), (1, 11), (1, 11), (1, 12)]))
    assert rising["by_instrument"]["Y"]["peak_drop"] == 0.0


def test_peak_drop_from_event_fills_without_trades_table() -> None:
    ev = np.zeros(len(TRADE_PATH) + 1, dtype=EVENTS.dtype)
    for k, (ii, price) in enumerate(TRADE_PATH):
        ev[k]["seq"] = k + 1
        ev[k]["kind"] = KIND_CODE["fill"]
        ev[k]["instrument"] = ii
        ev[k]["price_ticks"] = price
        ev[k]["qty_lots"] = 1
    ev[-1]["kind"] = KIND_CODE["limit"]  # an order at 10 ticks on X is no trade: no deeper drop
    ev[-1]["instrument"] = 0
    ev[-1]["price_ticks"] = 10
    out = summary(events=ev)
    assert [i["peak_drop"] for i in out["by_instrument"].values()] == [round_sig(7 / 102), 0.04, 0.0]


def test_unknown_instrument_is_an_error() -> None:
    with pytest.raises(ValueError, match="instrument"):
        summary(liquidations=liquidations([(1, 3, 0, 0, 0, 1, 100.0, 0, 99.0)]))


def test_repeated_ids_are_an_error() -> None:
    rows = [(1, 0, 0, 0, 0, 1, 100.0, 0, 99.0), (1, 2, 0, 0, 0, 1, 100.0, 0, 99.0)]
    with pytest.raises(ValueError, match="repeat"):
        summary(liquidations=liquidations(rows))


def test_parent_cycle_is_an_error() -> None:
    rows = [(1, 0, 0, 2, 0, 1, 100.0, 0, 99.0), (2, 1, 0, 1, 0, 1, 100.0, 0, 99.0)]
    with pytest.raises(ValueError, match="cycle"):
        summary(liquidations=liquidations(rows))


def test_venue_of_must_cover_every_instrument() -> None:
    with pytest.raises(ValueError, match="venue_of"):
        contagion_summary({}, INSTRUMENTS, ["A", "A"], 0)


# -- random cascades ---------------------------------------------------------------------------------------


@st.composite
def cascades(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Rows with unique (gapped) ids; each parent is 0, an earlier id, or an id not in the table."""
    n = draw(st.integers(0, 30))
    ids = np.cumsum(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), dtype=np.int64).tolist()
    rows: list[tuple[Any, ...]] = []
    generation: dict[int, int] = {}
    for k, lid in enumerate(ids):
        choice = draw(st.sampled_from(["none", "earlier", "missing"]) if k else st.just("none"))
        if choice == "earlier":
            parent = ids[draw(st.integers(0, k - 1))]
        elif choice == "missing":
            parent = lid + 1000
        else:
            parent = 0
        generation[lid] = generation[parent] + 1 if parent in generation else 0
        ii = draw(st.integers(0, 2))
        filled = draw(st.integers(0, 5))
        rows.append(
            (lid, ii, generation[lid], parent, 10 * lid, filled, 100.0, draw(st.integers(0, 5)), 90.0)
        )
    return draw(st.permutations(rows))


@settings(max_examples=200, deadline=None)
@given(cascades())
def test_random_cascades(rows: list[tuple[Any, ...]]) -> None:
    liq = liquidations(rows)
    out = summary(liquidations=liq)
    by_id = {r[0]: r for r in rows}
    present = [r for r in rows if r[3] in by_id]
    links = out["links"]
    assert links["same_instrument"] + links["cross_instrument"] + links["cross_venue"] == len(present)
    assert sum(v["liquidations"] for v in out["by_venue"].values()) == len(rows)
    assert sum(i["liquidations"] for i in out["by_instrument"].values()) == len(rows)

    # the same links, counted one row at a time
    def kind(r: tuple[Any, ...]) -> str:
        p = by_id[r[3]]
        if p[1] == r[1]:
            return "same_instrument"
        return "cross_instrument" if VENUE_OF[p[1]] == VENUE_OF[r[1]] else "cross_venue"

    assert links == {k: sum(kind(r) == k for r in present) for k in links}
    assert sum(m["links"] for m in out["matrix"]) == len(present)
    assert [(m["from"], m["to"]) for m in out["matrix"]] == sorted(
        (m["from"], m["to"]) for m in out["matrix"]
    )
    for name in ("cross_instrument", "cross_venue"):
        chain = out["first_crossings"][name]
        children = sorted(r[0] for r in present if kind(r) == name)
        if not children:
            assert chain is None
            continue
        assert chain[-1]["liquidation_id"] == children[0]
        assert by_id[chain[0]["liquidation_id"]][3] not in by_id  # the top has no parent in the table
        for up, down in itertools.pairwise(chain):
            assert by_id[down["liquidation_id"]][3] == up["liquidation_id"]
            assert down["generation"] == up["generation"] + 1
    assert json.dumps(out) == json.dumps(summary(liquidations=liq[::-1].copy()))  # row order is irrelevant
