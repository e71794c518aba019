"""ADL metrics: our definitions against the study of Hyperliquid's 2025-10-10 ADL, and by hand.

The study (pluriholonomic/autodeleveraging-analysis, ``out/``; carried in
``../shared/data/hyperliquid_adl_2025-10-10/``, see ``../shared/data/PROVENANCE.md``)
reports per wave a *needed budget* (what the wave's deficits needed) and, per
policy, the *budget* the policy took from winners and its *overshoot*. Our
:func:`lob.eventlog.adl_summary.adl_summary` calls them ``deficit``, ``haircut``
and ``overshoot = haircut - deficit``; the first tests check that this is the
study's relation, column by column. The others build a small adl table by hand
and check every metric against numbers worked out in the comments.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lob.eventlog.adl_summary import adl_summary, haircuts
from lob.eventlog.schema import ADL, ADL_POLICIES, EVENTS, KIND_CODE, LIQUIDATIONS
from lob.market.instrument import MONEY_PER_QUOTE, Instrument

Q = MONEY_PER_QUOTE
S = 1_000_000_000
STUDY = Path(__file__).resolve().parents[2] / "shared" / "data" / "hyperliquid_adl_2025-10-10"
#: The policy columns of policy_per_wave_metrics.csv (``prod`` is Hyperliquid's production queue).
STUDY_POLICIES = ("prod", "pr", "pnl_pr", "eq_pr", "vector", "contract_pr", "fixed_point_ilp_integer")


# -- the study's numbers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def study() -> Path:
    if not STUDY.is_dir():
        pytest.skip(f"the Hyperliquid ADL study data is not at {STUDY} (../shared/data is absent)")
    return STUDY


@pytest.fixture(scope="module")
def waves(study: Path) -> list[dict[str, str]]:
    with (study / "policy_per_wave_metrics.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_the_study_has_16_waves(waves: list[dict[str, str]]) -> None:
    assert len(waves) == 16
    numbers = [int(w["wave"]) for w in waves]
    assert numbers == sorted(set(numbers))  # each once, in order (the study's wave ids have gaps)


@pytest.mark.parametrize("policy", STUDY_POLICIES)
def test_overshoot_is_budget_minus_needed_budget_in_every_wave(
    waves: list[dict[str, str]], policy: str
) -> None:
    """The study's overshoot is what the policy took minus what the wave needed: our haircut - deficit."""
    for w in waves:
        needed, budget, overshoot = (
            float(w["budget_needed"]),
            float(w[f"budget_{policy}"]),
            float(w[f"overshoot_{policy}"]),
        )
        assert overshoot == pytest.approx(budget - needed, rel=1e-9, abs=1e-6), (policy, w["wave"])


def test_the_production_queue_overshot_by_about_45_million(study: Path, waves: list[dict[str, str]]) -> None:
    headline = json.loads((study / "headlines.json").read_text())["headline"]["prod_overshoot_vs_needed_usd"]
    assert 44e6 < headline < 46e6
    # the headline is the per-wave overshoots summed: the metric adl_summary sums over waves too
    assert sum(float(w["overshoot_prod"]) for w in waves) == pytest.approx(headline, rel=1e-9)


# -- adl_summary by hand -------------------------------------------------------------------------------------
#
# XYZ (instrument 0): tick $1, lot 1, so ticks are dollars and a lot-tick is one quote unit. ABC
# (instrument 1) is there only to carry a mark that must be ignored. Agents: 0 A, 1 B, 2 S1, 3 S2,
# 4 L1, 5 L2, 6 C, 7 D, 8 E.
#
# Liquidations (money in quote; the tables hold money units, x Q):
#   1  A long 10 lots, none filled, bankruptcy 9,500, mark 9,000: deficit 10 x 500 = 5,000, ADL closes 10
#   2  C long 2 lots, bankruptcy 9,400, mark 9,000: deficit 2 x 400 = 800, ADL closes 2
#   3  D, an ordinary liquidation: 4 lots filled, no deficit
#   4  E short 3 lots, deficit 300, but every candidate was capped: the fund took the 3 lots, no adl row
#   5  B short 5 lots, bankruptcy 10,400, mark 10,600: deficit 5 x 200 = 1,000, ADL closes 5
#
# ADL rows (policy bitmex; side +1: the counterparty buys back a short):
#   wave 1  10.000 s  liq 1  S1 +1  6 lots at  9,500, mark  9,000; PnL 6,000 -> 3,000 (6 x 500)
#   wave 1  10.001 s  liq 1  S2 +1  4 lots at  9,500, mark  9,000; PnL 2,500 ->   500 (4 x 500)
#   wave 1  10.002 s  liq 2  S1 +1  2 lots at  9,400, mark  9,000; PnL 3,000 -> 2,200 (2 x 400)
#   wave 2  60.000 s  liq 5  L1 -1  3 lots at 10,400, mark 10,600; PnL 3,000 -> 2,400 (3 x 200)
#   wave 2  60.000 s  liq 5  L2 -1  2 lots at 10,400, mark 10,600; PnL  -500 ->  -900 (2 x 200)
#
# Marks of XYZ: 9,000 at 10 s, 8,800 at 10.5 s, 10,600 at 60 s, 10,800 at 61 s, 11,000 at 61.5 s;
# ABC: 5,000 at 10.7 s.

XYZ = Instrument("XYZ", 1.0, 1, 0, perpetual=True)
ABC = Instrument("ABC", 1.0, 1, 1, perpetual=True)
S1, S2, L1, L2 = 2, 3, 4, 5


def adl_rows() -> np.ndarray:
    rows = [
        # time_ns, liquidation_id, wave, bankrupt, counterparty, side, lots, price, mark, before, after
        (10 * S, 1, 1, 0, S1, 1, 6, 9_500, 9_000, 6_000, 3_000),
        (10 * S + S // 1000, 1, 1, 0, S2, 1, 4, 9_500, 9_000, 2_500, 500),
        (10 * S + 2 * S // 1000, 2, 1, 6, S1, 1, 2, 9_400, 9_000, 3_000, 2_200),
        (60 * S, 5, 2, 1, L1, -1, 3, 10_400, 10_600, 3_000, 2_400),
        (60 * S, 5, 2, 1, L2, -1, 2, 10_400, 10_600, -500, -900),
    ]
    adl = np.zeros(len(rows), dtype=ADL.dtype)
    for k, (t, liq, wave, bankrupt, cp, side, lots, price, mark, before, after) in enumerate(rows):
        adl[k]["seq"] = 100 + k
        adl[k]["time_ns"] = t
        adl[k]["liquidation_id"] = liq
        adl[k]["wave"] = wave
        adl[k]["policy"] = ADL_POLICIES.index("bitmex")
        adl[k]["instrument"] = 0
        adl[k]["bankrupt"] = bankrupt
        adl[k]["counterparty"] = cp
        adl[k]["side"] = side
        adl[k]["rank_score"] = 1.0
        adl[k]["qty_lots"] = lots
        adl[k]["price_ticks"] = price
        adl[k]["mark_ticks"] = mark
        adl[k]["pnl_before"] = before * Q
        adl[k]["pnl_after"] = after * Q
        adl[k]["equity_after"] = 10_000 * Q
    return adl


def liquidation_rows() -> np.ndarray:
    rows = [
        # liquidation_id, agent, side, qty, filled, takeover, adl_lots, deficit (quote)
        (1, 0, -1, 10, 0, 0, 10, 5_000),
        (2, 6, -1, 2, 0, 0, 2, 800),
        (3, 7, -1, 4, 4, 0, 0, 0),
        (4, 8, 1, 3, 0, 3, 0, 300),
        (5, 1, 1, 5, 0, 0, 5, 1_000),
    ]
    liq = np.zeros(len(rows), dtype=LIQUIDATIONS.dtype)
    for k, (lid, agent, side, qty, filled, takeover, adl_lots, deficit) in enumerate(rows):
        liq[k]["liquidation_id"] = lid
        liq[k]["agent"] = agent
        liq[k]["side"] = side
        liq[k]["qty_lots"] = qty
        liq[k]["filled_lots"] = filled
        liq[k]["takeover_lots"] = takeover
        liq[k]["adl_lots"] = adl_lots
        liq[k]["deficit"] = deficit * Q
    return liq


def mark_rows() -> np.ndarray:
    rows = [(10 * S, 0, 9_000.0), (10 * S + S // 2, 0, 8_800.0), (10 * S + 7 * S // 10, 1, 5_000.0),
            (60 * S, 0, 10_600.0), (61 * S, 0, 10_800.0), (61 * S + S // 2, 0, 11_000.0)]  # fmt: skip
    ev = np.zeros(len(rows), dtype=EVENTS.dtype)
    for k, (t, ii, value) in enumerate(rows):
        ev[k]["seq"] = k + 1
        ev[k]["time_ns"] = t
        ev[k]["kind"] = KIND_CODE["mark"]
        ev[k]["instrument"] = ii
        ev[k]["agent"] = -1
        ev[k]["value"] = value
    return ev


def summary(horizon_ns: int, *, events: bool = True) -> dict[str, Any]:
    arrays = {"adl": adl_rows(), "liquidations": liquidation_rows()}
    if events:
        arrays["events"] = mark_rows()
    return adl_summary(arrays, [XYZ, ABC], horizon_ns)


def test_counts_and_who_was_hit() -> None:
    s = summary(0)
    assert s["policy"] == "bitmex"
    assert (s["closes"], s["clawbacks"], s["lots_closed"], s["waves"], s["horizon_ns"]) == (5, 0, 17, 2, 0)
    # S1, S2, L1, L2; L2 was losing (-500) when first hit: 3 of the 4 were in profit
    assert s["accounts_hit"] == 4
    assert s["share_in_profit"] == 0.75
    # liquidation 4 had a deficit and left lots to the fund; 1, 2 and 5 were closed in full
    assert s["remainders_partly_left_to_fund"] == 1


def test_at_the_wave_end_the_haircut_is_the_deficit() -> None:
    """Horizon 0: each wave valued at the mark at its last close, which is every close's own mark."""
    s = summary(0)
    # deficit: 5,000 + 800 + 1,000 = 6,800; liquidation 4's 300 has no close, so no wave counts it
    # wave 1 (ends 10.002 s, mark 9,000): 6 x 500 + 4 x 500 + 2 x 400 = 5,800 against 5,000 + 800
    # wave 2 (ends 60 s, mark 10,600):    3 x 200 + 2 x 200 = 1,000 against 1,000
    assert (s["deficit_quote"], s["haircut_quote"], s["overshoot_quote"]) == (6_800.0, 6_800.0, 0.0)
    assert s["haircut_at_close_quote"] == 6_800.0
    assert s["by_wave"] == [
        {"wave": 1, "start_s": 10.0, "end_s": 10.002, "deficit_quote": 5_800.0, "haircut_quote": 5_800.0,
         "overshoot_quote": 0.0, "accounts_hit": 2},
        {"wave": 2, "start_s": 60.0, "end_s": 60.0, "deficit_quote": 1_000.0, "haircut_quote": 1_000.0,
         "overshoot_quote": 0.0, "accounts_hit": 2},
    ]  # fmt: skip


def test_a_horizon_values_the_closes_at_a_later_mark() -> None:
    """Horizon 1 s: the closed positions are valued at the mark 1 s after each wave's last close."""
    s = summary(S)
    # wave 1 ends 10.002 s: the last XYZ mark at or before 11.002 s is 8,800 (ABC's 5,000 is not XYZ's)
    #   S1 6 x (9,500 - 8,800) = 4,200; S2 4 x 700 = 2,800; S1 2 x (9,400 - 8,800) = 1,200: 8,200
    #   overshoot 8,200 - 5,800 = 2,400: the shorts would have gained 200 a lot more by keeping them
    # wave 2 ends 60 s: the mark at 61 s (at the horizon exactly: included) is 10,800; 11,000 is later
    #   L1 3 x (10,800 - 10,400) = 1,200; L2 2 x 400 = 800: 2,000, overshoot 1,000
    assert (s["deficit_quote"], s["haircut_quote"], s["overshoot_quote"]) == (6_800.0, 10_200.0, 3_400.0)
    assert s["haircut_at_close_quote"] == 6_800.0  # at each close's own mark: the horizon does not move it
    assert [(w["deficit_quote"], w["haircut_quote"], w["overshoot_quote"]) for w in s["by_wave"]] == [
        (5_800.0, 8_200.0, 2_400.0),
        (1_000.0, 2_000.0, 1_000.0),
    ]
    cut = haircuts(adl_rows(), mark_rows(), [XYZ, ABC], S) / Q
    assert cut.tolist() == [4_200.0, 2_800.0, 1_200.0, 1_200.0, 800.0]


def test_largest_haircut_share_is_taken_at_the_closes() -> None:
    # Against the PnL before ADL first reached each account, what it gave at its closes (at their marks):
    #   S1 (3,000 + 800) / 6,000 = 0.6333; S2 2,000 / 2,500 = 0.8; L1 600 / 3,000 = 0.2; L2 not in profit
    for horizon in (0, S):
        assert summary(horizon)["largest_haircut_share"] == 0.8


def test_without_mark_rows_each_close_is_valued_at_its_own_mark() -> None:
    s = summary(S, events=False)
    assert (s["haircut_quote"], s["overshoot_quote"]) == (6_800.0, 0.0)


def test_clawbacks_count_the_money_taken() -> None:
    """Socialized loss: no close, each row's haircut is pnl_before - pnl_after, whatever the marks."""
    adl = adl_rows()[:2]
    adl["policy"] = ADL_POLICIES.index("socialized_loss")
    adl["side"] = 0
    adl["qty_lots"] = 0
    adl["price_ticks"] = math.nan
    adl["pnl_after"] = adl["pnl_before"] - np.array([1_500, 500]) * Q  # S1 gives 1,500, S2 500
    liq = liquidation_rows()[:1]
    liq["adl_lots"] = 0
    liq["takeover_lots"] = 10  # the fund took the remainder at the mark; the hole was clawed back
    liq["deficit"] = 2_000 * Q
    s = adl_summary({"adl": adl, "liquidations": liq, "events": mark_rows()}, [XYZ, ABC], S)
    assert s["policy"] == "socialized_loss"
    assert (s["closes"], s["clawbacks"], s["lots_closed"]) == (0, 2, 0)
    assert (s["deficit_quote"], s["haircut_quote"], s["overshoot_quote"]) == (2_000.0, 2_000.0, 0.0)
    assert s["largest_haircut_share"] == 0.25  # S1 1,500 / 6,000; S2 500 / 2,500 = 0.2
    assert s["remainders_partly_left_to_fund"] == 0  # by design: socialized loss closes nothing
