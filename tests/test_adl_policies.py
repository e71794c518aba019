"""ADL policies (lob.risk.adl): hand-computed scores, venue examples, allocation and clawback invariants.

Sources of the documented rules and numbers:

* BitMEX, "Auto-Deleveraging", https://www.bitmex.com/app/autoDeleveraging (the
  ranking formula) and "Auto-Deleveraging Further Information",
  https://www.bitmex.com/app/autoDeleveragingExamples (six longs ranked, a short
  of 20 contracts liquidated: account 2 closes 10, account 5 the other 10).
* Binance, "What Is Auto-Deleveraging (ADL) and How Does It Work?",
  https://www.binance.com/en/support/faq/360033525471 (LeveragePnL).
* Hyperliquid, "Auto-deleveraging",
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging
  (the sorting index).
* dYdX, "Contract loss mechanisms on dYdX Chain",
  https://help.dydx.trade/en/articles/166973-contract-loss-mechanisms-on-dydx-chain
  (randomly selected offsetting accounts).

The other numbers here are worked out by hand in the comments beside them.
"""

from __future__ import annotations

import doctest
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lob.risk.adl as adl_module
from lob.risk.adl import (
    POLICIES,
    AdlPolicy,
    Allocation,
    BinanceRanking,
    BitMexRanking,
    Candidate,
    Clawback,
    DydxWalk,
    HyperliquidRanking,
    ProRataProfit,
    ProRataSize,
    SocializedLoss,
    _apportion,
    make_policy,
)
from lob.risk.margin import bankruptcy_price

NAMES = ("bitmex", "binance", "hyperliquid", "dydx", "pro_rata_size", "pro_rata_profit", "socialized_loss")
RANKINGS = ("bitmex", "binance", "hyperliquid")


def cand(
    owner: int,
    side: int,
    lots: int,
    entry: float,
    mark: float,
    wallet: float,
    bankruptcy: float,
    *,
    maintenance: float = 1.0,
    max_lots: int | None = None,
    lot_size: float = 1.0,
) -> Candidate:
    """A candidate with ``qty = lots x lot_size`` and ``upnl = side x qty x (mark - entry)``."""
    qty = lots * lot_size
    return Candidate(
        owner=owner,
        side=side,
        lots=lots,
        qty=qty,
        entry_price=entry,
        mark_price=mark,
        bankruptcy_price=bankruptcy,
        wallet=wallet,
        upnl=side * qty * (mark - entry),
        maintenance=maintenance,
        max_lots=lots if max_lots is None else max_lots,
    )


def closes(allocations: list[Allocation]) -> list[tuple[int, int]]:
    return [(a.candidate.owner, a.lots) for a in allocations]


RNG = np.random.default_rng(0)


# -- the module -----------------------------------------------------------------


def test_doctests() -> None:
    result = doctest.testmod(adl_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_policies_by_name_in_config_order() -> None:
    assert tuple(POLICIES) == NAMES
    for name, cls in POLICIES.items():
        policy = make_policy(name)
        assert type(policy) is cls
        assert policy.name == name
        assert isinstance(policy, AdlPolicy)


def test_make_policy_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown ADL policy 'okx'") as info:
        make_policy("okx")
    for name in NAMES:
        assert name in str(info.value)


def test_only_socialized_loss_claws_back() -> None:
    c = cand(1, 1, 1, 100.0, 110.0, 50.0, 50.0)
    for name in NAMES:
        policy = make_policy(name)
        assert policy.closes_positions is (name != "socialized_loss")
        if name != "socialized_loss":
            with pytest.raises(NotImplementedError, match=name):
                policy.clawback([c], 5.0)


def test_base_is_abstract() -> None:
    with pytest.raises(TypeError):
        AdlPolicy()  # type: ignore[abstract]


# -- candidates -----------------------------------------------------------------


def test_candidate_equity() -> None:
    c = cand(1, -1, 2, 100.0, 80.0, 60.0, 130.0)
    assert c.upnl == 40.0
    assert c.equity == 100.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("side", 0, "side must be"),
        ("lots", 0, "lots must be > 0"),
        ("qty", 0.0, "qty must be > 0"),
        ("entry_price", -1.0, "entry_price must be > 0"),
        ("mark_price", math.nan, "mark_price must be > 0"),
        ("max_lots", 3, "max_lots must be in 0..2"),
        ("max_lots", -1, "max_lots must be in 0..2"),
        ("bankruptcy_price", math.nan, "bankruptcy_price must be >= 0"),
        ("bankruptcy_price", -5.0, "bankruptcy_price must be >= 0"),
        ("wallet", math.inf, "wallet must be finite"),
        ("upnl", math.nan, "upnl must be finite"),
        ("maintenance", -1.0, "maintenance must be >= 0"),
    ],
)
def test_candidate_rejects(field: str, value: float, message: str) -> None:
    fields = {
        "owner": 9,
        "side": 1,
        "lots": 2,
        "qty": 2.0,
        "entry_price": 100.0,
        "mark_price": 110.0,
        "bankruptcy_price": 90.0,
        "wallet": 20.0,
        "upnl": 20.0,
        "maintenance": 1.0,
        "max_lots": 2,
    }
    fields[field] = value
    with pytest.raises(ValueError, match=f"candidate 9: {message}"):
        Candidate(**fields)  # type: ignore[arg-type]


def test_bankruptcy_inf_is_allowed_for_a_short() -> None:
    c = cand(1, -1, 1, 100.0, 90.0, 1e6, math.inf)
    assert c.bankruptcy_price == math.inf


@pytest.mark.parametrize("name", NAMES)
def test_requests_are_checked(name: str) -> None:
    policy = make_policy(name)
    a = cand(1, 1, 1, 100.0, 110.0, 50.0, 50.0)
    twin = cand(1, 1, 2, 100.0, 120.0, 50.0, 75.0)
    with pytest.raises(ValueError, match="lots to deleverage must be >= 0"):
        policy.allocate([a], -1, RNG)
    with pytest.raises(ValueError, match="candidate 1 appears twice"):
        policy.allocate([a, twin], 1, RNG)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_to_do(name: str) -> None:
    policy = make_policy(name)
    a = cand(1, 1, 3, 100.0, 110.0, 50.0, 50.0)
    assert policy.allocate([], 5, RNG) == []
    assert policy.allocate([a], 0, RNG) == []


# -- BitMEX ---------------------------------------------------------------------


def test_bitmex_profitable_short() -> None:
    # Short 2 at 100, mark 80, wallet 60 -> bankruptcy 100 + 60/2 = 130.
    # PnL% = 40 / 200 = 0.2; effective leverage = 80 / (-(80 - 130)) = 1.6; score 0.32.
    c = cand(1, -1, 2, 100.0, 80.0, 60.0, 130.0)
    assert BitMexRanking().score(c) == pytest.approx(0.32, rel=1e-12)


def test_bitmex_profitable_long() -> None:
    # Long 1 at 100, mark 110, wallet 20 -> bankruptcy 80.
    # PnL% = 10 / 100 = 0.1; effective leverage = 110 / (110 - 80) = 11/3; score 11/30.
    c = cand(1, 1, 1, 100.0, 110.0, 20.0, 80.0)
    assert BitMexRanking().score(c) == pytest.approx(11 / 30, rel=1e-12)


def test_bitmex_losing_long_divides_by_leverage() -> None:
    # Long 1 at 100, mark 95, wallet 10 -> bankruptcy 90.
    # PnL% = -5 / 100 = -0.05; effective leverage = 95 / 5 = 19; score -0.05 / 19.
    c = cand(1, 1, 1, 100.0, 95.0, 10.0, 90.0)
    assert BitMexRanking().score(c) == pytest.approx(-0.05 / 19, rel=1e-12)
    # The same loss at lower leverage (wallet 50, bankruptcy 50, leverage 95/45) ranks lower.
    safer = cand(2, 1, 1, 100.0, 95.0, 50.0, 50.0)
    assert BitMexRanking().score(safer) == pytest.approx(-0.05 / (95 / 45), rel=1e-12)
    assert BitMexRanking().score(safer) < BitMexRanking().score(c)


def test_bitmex_edge_cases() -> None:
    policy = BitMexRanking()
    # No PnL: 0, whatever the leverage.
    assert policy.score(cand(1, 1, 1, 100.0, 100.0, 10.0, 90.0)) == 0.0
    assert policy.score(cand(1, -1, 1, 100.0, 100.0, 10.0, math.inf)) == 0.0
    # A long that cannot go bankrupt (bankruptcy 0): leverage 110/110 = 1, score = PnL% = 0.1.
    assert policy.score(cand(1, 1, 1, 100.0, 110.0, 200.0, 0.0)) == pytest.approx(0.1)
    # A short that cannot go bankrupt (bankruptcy inf): leverage 0; profit -> 0, loss -> -inf.
    assert policy.score(cand(1, -1, 1, 100.0, 90.0, 1e9, math.inf)) == 0.0
    assert policy.score(cand(1, -1, 1, 100.0, 110.0, 1e9, math.inf)) == -math.inf
    # At or past bankruptcy at the mark: last.
    assert policy.score(cand(1, 1, 1, 100.0, 95.0, 3.0, 97.0)) == -math.inf
    assert policy.score(cand(1, 1, 1, 100.0, 95.0, 5.0, 95.0)) == -math.inf
    assert policy.score(cand(1, -1, 1, 100.0, 110.0, 5.0, 105.0)) == -math.inf
    # A short bankrupt at every price (bankruptcy 0, as margin.bankruptcy_price reports it): last.
    assert policy.score(cand(1, -1, 1, 100.0, 90.0, -200.0, 0.0)) == -math.inf


def test_bitmex_order() -> None:
    # Three shorts at mark 80, entry 100 (PnL% 0.2 each) and one losing short:
    #   owner 4, qty 1, wallet 10 -> bankruptcy 110, leverage 80/30 -> 0.2 x 8/3 = 0.5333
    #   owner 2, qty 2, wallet 60 -> bankruptcy 130, leverage 80/50 -> 0.32
    #   owner 3, qty 1, wallet 100 -> bankruptcy 200, leverage 80/120 -> 0.1333
    #   owner 1, entered at 70 (PnL% -10/70), qty 1, wallet 30 -> bankruptcy 100, leverage 4 -> -0.0357
    shorts = [
        cand(1, -1, 1, 70.0, 80.0, 30.0, 100.0),
        cand(2, -1, 2, 100.0, 80.0, 60.0, 130.0),
        cand(3, -1, 1, 100.0, 80.0, 100.0, 200.0),
        cand(4, -1, 1, 100.0, 80.0, 10.0, 110.0),
    ]
    policy = BitMexRanking()
    assert [policy.score(c) for c in shorts] == pytest.approx(
        [-10 / 70 / 4, 0.32, 0.2 * 80 / 120, 0.2 * 8 / 3]
    )
    allocations = policy.allocate(shorts, 4, RNG)
    assert closes(allocations) == [(4, 1), (2, 2), (3, 1)]
    assert [a.score for a in allocations] == [policy.score(shorts[i]) for i in (3, 1, 2)]


class _TableRanking(AdlPolicy):
    """A ranking whose scores are given outright, to replay a venue's table."""

    name = "table"

    def __init__(self, scores: dict[int, float]) -> None:
        self.scores = scores

    def score(self, c: Candidate) -> float:
        return self.scores[c.owner]


def test_bitmex_documented_example() -> None:
    # BitMEX's example: six longs with quantity and PnL ranking; a short of 20 contracts is
    # liquidated; accounts 2 and 5 are deleveraged, 2 for all of its 10, 5 for 10 of its 20.
    table = {1: (10, 3.0), 2: (10, 6.0), 3: (20, 1.0), 4: (30, 4.0), 5: (20, 5.0), 6: (10, 2.0)}
    longs = [cand(owner, 1, qty, 600.0, 650.0, 1_000.0, 0.0) for owner, (qty, _) in table.items()]
    policy = _TableRanking({owner: score for owner, (_, score) in table.items()})
    assert closes(policy.allocate(longs, 20, RNG)) == [(2, 10), (5, 10)]


def test_queue_ties_go_to_the_lower_owner_and_skip_empty_capacity() -> None:
    policy = _TableRanking({1: 1.0, 2: 5.0, 3: 5.0, 4: 9.0, 5: math.nan})
    cs = [
        cand(5, 1, 4, 100.0, 110.0, 50.0, 90.0),
        cand(3, 1, 4, 100.0, 110.0, 50.0, 90.0),
        cand(2, 1, 4, 100.0, 110.0, 50.0, 90.0),
        cand(1, 1, 4, 100.0, 110.0, 50.0, 90.0),
        cand(4, 1, 4, 100.0, 110.0, 50.0, 90.0, max_lots=0),
    ]
    assert closes(policy.allocate(cs, 7, RNG)) == [(2, 4), (3, 3)]
    # NaN sorts after every number.
    assert closes(policy.allocate(cs, 100, RNG)) == [(2, 4), (3, 4), (1, 4), (5, 4)]


# -- Binance --------------------------------------------------------------------


def test_binance_score() -> None:
    # Long 2 at 100, mark 125: upnl 50, wallet 100, maintenance 6.
    # 50 / max(1, 100) x 6 / 150 = 0.5 x 0.04 = 0.02.
    c = cand(1, 1, 2, 100.0, 125.0, 100.0, 50.0, maintenance=6.0)
    assert BinanceRanking().score(c) == pytest.approx(0.02, rel=1e-12)


def test_binance_small_wallet_counts_as_one() -> None:
    # Short 1 at 100, mark 90: upnl 10, wallet 0.5 -> max(1, 0.5) = 1; maintenance 2.
    # 10 / 1 x 2 / 10.5 = 1.9047...
    c = cand(1, -1, 1, 100.0, 90.0, 0.5, 100.5, maintenance=2.0)
    assert BinanceRanking().score(c) == pytest.approx(20 / 10.5, rel=1e-12)
    # A cross wallet below zero (other positions losing) also counts as 1.
    c = cand(2, -1, 1, 100.0, 90.0, -5.0, 95.0, maintenance=2.0)
    assert BinanceRanking().score(c) == pytest.approx(10 * 2 / 5, rel=1e-12)


def test_binance_no_profit_and_no_equity() -> None:
    policy = BinanceRanking()
    assert policy.score(cand(1, 1, 1, 100.0, 90.0, 50.0, 50.0, maintenance=2.0)) == 0.0
    # Equity 40 + (-50) < 0: last, below the accounts without profit.
    assert policy.score(cand(1, 1, 1, 100.0, 50.0, 40.0, 60.0, maintenance=2.0)) == -math.inf
    assert policy.score(cand(1, -1, 1, 100.0, 90.0, -10.0, 90.0, maintenance=2.0)) == -math.inf


def test_binance_order() -> None:
    # owner 1: upnl 50, wallet 100, mm 6 -> 0.02
    # owner 2: upnl 50, wallet 100, mm 12 -> 0.04 (same profit, more margin used)
    # owner 3: upnl 10, wallet 10, mm 2 -> 1 x 2/20 = 0.1
    # owner 4: losing -> 0
    cs = [
        cand(1, 1, 2, 100.0, 125.0, 100.0, 50.0, maintenance=6.0),
        cand(2, 1, 2, 100.0, 125.0, 100.0, 50.0, maintenance=12.0),
        cand(3, 1, 1, 100.0, 110.0, 10.0, 90.0, maintenance=2.0),
        cand(4, 1, 1, 100.0, 90.0, 50.0, 50.0, maintenance=2.0),
    ]
    assert [BinanceRanking().score(c) for c in cs] == pytest.approx([0.02, 0.04, 0.1, 0.0])
    assert closes(BinanceRanking().allocate(cs, 6, RNG)) == [(3, 1), (2, 2), (1, 2), (4, 1)]


# -- Hyperliquid ----------------------------------------------------------------


def test_hyperliquid_long() -> None:
    # Long 2 at 100, mark 120: upnl 40, wallet 20, equity 60, notional 240.
    # (120 / 100) x (240 / 60) = 1.2 x 4 = 4.8.
    c = cand(1, 1, 2, 100.0, 120.0, 20.0, 90.0)
    assert HyperliquidRanking().score(c) == pytest.approx(4.8, rel=1e-12)


def test_hyperliquid_short() -> None:
    # Short 2 at 100, mark 80: upnl 40, wallet 60, equity 100, notional 160.
    # (100 / 80) x (160 / 100) = 1.25 x 1.6 = 2.0 (= qty x entry / equity = 200 / 100).
    c = cand(1, -1, 2, 100.0, 80.0, 60.0, 130.0)
    assert HyperliquidRanking().score(c) == pytest.approx(2.0, rel=1e-12)
    # Read side-aware: at the shared mark, the short entered higher (in profit) outranks one
    # entered lower (in loss) with the same equity. Short 2 at 60, mark 80: upnl -40, wallet 140,
    # equity 100: (60 / 80) x (160 / 100) = 1.2 < 2.0. (Read literally, mark / entry, it would be
    # (80 / 60) x 1.6 = 2.13 against (80 / 100) x 1.6 = 1.28: the losing short first.)
    losing = cand(2, -1, 2, 60.0, 80.0, 140.0, 130.0)
    assert HyperliquidRanking().score(losing) == pytest.approx(1.2, rel=1e-12)
    assert closes(HyperliquidRanking().allocate([losing, c], 2, RNG)) == [(1, 2)]


def test_hyperliquid_no_equity_and_order() -> None:
    policy = HyperliquidRanking()
    assert policy.score(cand(1, 1, 1, 100.0, 50.0, 40.0, 60.0)) == -math.inf
    # owner 1: long 1 at 100, mark 120, wallet 100 -> 1.2 x 120/120 = 1.2
    # owner 2: long 1 at 100, mark 120, wallet 10 -> 1.2 x 120/30 = 4.8
    # owner 3: long 1 at 130, mark 120, wallet 40 -> (120/130) x 120/30 = 3.692
    cs = [
        cand(1, 1, 1, 100.0, 120.0, 100.0, 0.0),
        cand(2, 1, 1, 100.0, 120.0, 10.0, 90.0),
        cand(3, 1, 1, 130.0, 120.0, 40.0, 90.0),
    ]
    assert [policy.score(c) for c in cs] == pytest.approx([1.2, 4.8, 12 / 13 * 4])
    assert closes(policy.allocate(cs, 3, RNG)) == [(2, 1), (3, 1), (1, 1)]


# -- dYdX -----------------------------------------------------------------------


class _FixedStart:
    """A stand-in generator whose ``integers(n)`` returns a chosen index and counts the draws."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.draws: list[int] = []

    def integers(self, n: int) -> int:
        self.draws.append(n)
        return self.start


def test_dydx_walks_cyclically_from_the_drawn_start() -> None:
    cs = [
        cand(30, 1, 3, 100.0, 110.0, 50.0, 90.0),
        cand(10, 1, 2, 100.0, 110.0, 50.0, 90.0),
        cand(40, 1, 5, 100.0, 110.0, 50.0, 90.0, max_lots=0),
        cand(20, 1, 4, 100.0, 110.0, 50.0, 90.0, max_lots=1),
    ]
    rng = _FixedStart(2)  # owners sorted: 10, 20, 30, 40 -> start at 30
    allocations = DydxWalk().allocate(cs, 5, rng)  # type: ignore[arg-type]
    assert rng.draws == [4]
    # 30 takes 3, 40 has no capacity, wrap to 10 for 2.
    assert closes(allocations) == [(30, 3), (10, 2)]
    assert all(math.isnan(a.score) for a in allocations)
    # More than all capacity: everyone with capacity, once.
    assert closes(DydxWalk().allocate(cs, 50, _FixedStart(3))) == [(10, 2), (20, 1), (30, 3)]  # type: ignore[arg-type]


def test_dydx_draws_only_when_there_is_work() -> None:
    c = cand(1, 1, 1, 100.0, 110.0, 50.0, 90.0)
    rng = _FixedStart(0)
    DydxWalk().allocate([], 5, rng)  # type: ignore[arg-type]
    DydxWalk().allocate([c], 0, rng)  # type: ignore[arg-type]
    assert rng.draws == []


def test_dydx_seeded_start() -> None:
    cs = [cand(owner, 1, 1, 100.0, 110.0, 50.0, 90.0) for owner in range(10)]
    start = int(np.random.default_rng(42).integers(10))
    allocations = DydxWalk().allocate(cs, 3, np.random.default_rng(42))
    assert closes(allocations) == [((start + i) % 10, 1) for i in range(3)]
    assert math.isnan(DydxWalk().score(cs[0]))


# -- the integer apportionment --------------------------------------------------


def F(*xs: float) -> list[Fraction]:
    return [Fraction(x) for x in xs]


def test_apportion_all_weights_zero() -> None:
    assert _apportion(5, F(0, 0, 0), [3, 3, 3]) == [0, 0, 0]


def test_apportion_one_taker() -> None:
    assert _apportion(5, F(2.5), [9]) == [5]
    assert _apportion(5, F(2.5), [3]) == [3]
    assert _apportion(0, F(2.5), [3]) == [0]
    assert _apportion(4, [], []) == []


def test_apportion_largest_remainder() -> None:
    # Quotas 10 x (5, 3, 2) / 10 = 5, 3, 2: exact.
    assert _apportion(10, F(5, 3, 2), [99, 99, 99]) == [5, 3, 2]
    # Quotas 4 x (5, 3, 2) / 10 = 2, 1.2, 0.8: floors 2, 1, 0, one left -> largest remainder 0.8.
    assert _apportion(4, F(5, 3, 2), [99, 99, 99]) == [2, 1, 1]
    # Equal remainders go to the lower index: quotas 1/3 each, one unit.
    assert _apportion(1, F(1, 1, 1), [9, 9, 9]) == [1, 0, 0]
    assert _apportion(2, F(1, 1, 1), [9, 9, 9]) == [1, 1, 0]


def test_apportion_caps_binding() -> None:
    # Quotas 4 x (5, 3, 2)/10 = 2, 1.2, 0.8; the first capped at 1 -> 3 left for (3, 2): 1.8, 1.2 -> 2, 1.
    assert _apportion(4, F(5, 3, 2), [1, 99, 99]) == [1, 2, 1]
    # A cap binding only after another's: 6 x (1, 1, 1)/3 = 2 each; first cap 0 -> 3 each; second cap 2 -> 4.
    assert _apportion(6, F(1, 1, 1), [0, 2, 99]) == [0, 2, 4]
    # A quota exactly at the cap takes the cap.
    assert _apportion(6, F(1, 1), [3, 3]) == [3, 3]


def test_apportion_more_than_capacity() -> None:
    assert _apportion(100, F(5, 3, 2), [1, 2, 3]) == [1, 2, 3]
    # Zero weight takes nothing even with room.
    assert _apportion(100, F(5, 0, 2), [1, 2, 3]) == [1, 0, 3]


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(0, 200),
    rows=st.lists(st.tuples(st.integers(0, 50), st.integers(0, 30)), max_size=10),
)
def test_apportion_properties(total: int, rows: list[tuple[int, int]]) -> None:
    weights = [Fraction(w) for w, _ in rows]
    caps = [c for _, c in rows]
    shares = _apportion(total, weights, caps)
    capacity = sum(c for w, c in rows if w > 0)
    assert sum(shares) == min(total, capacity)
    for share, w, cap in zip(shares, weights, caps, strict=True):
        assert 0 <= share <= cap
        if w == 0:
            assert share == 0
    if capacity and all(cap >= total for cap in caps):  # no cap can bind: within 1 of the quota
        weight_sum = sum(weights)
        for share, w in zip(shares, weights, strict=True):
            assert abs(share - total * w / weight_sum) < 1


# -- pro rata -------------------------------------------------------------------


def test_pro_rata_size() -> None:
    # Sizes 5, 3, 2 share 4 lots: quotas 2, 1.2, 0.8 -> 2, 1, 1.
    cs = [
        cand(3, -1, 2, 100.0, 90.0, 50.0, 125.0),
        cand(1, -1, 5, 100.0, 90.0, 50.0, 110.0),
        cand(2, -1, 3, 100.0, 90.0, 50.0, 116.0),
    ]
    allocations = ProRataSize().allocate(cs, 4, RNG)
    assert closes(allocations) == [(1, 2), (2, 1), (3, 1)]
    assert [a.score for a in allocations] == pytest.approx([0.5, 0.3, 0.2])
    assert [ProRataSize().score(c) for c in cs] == [2.0, 5.0, 3.0]


def test_pro_rata_size_caps_reshare() -> None:
    # Owner 1 can close only 1: the rest (3) goes to sizes 3, 2 -> 1.8, 1.2 -> 2, 1.
    cs = [
        cand(1, -1, 5, 100.0, 90.0, 50.0, 110.0, max_lots=1),
        cand(2, -1, 3, 100.0, 90.0, 50.0, 116.0),
        cand(3, -1, 2, 100.0, 90.0, 50.0, 125.0),
    ]
    assert closes(ProRataSize().allocate(cs, 4, RNG)) == [(1, 1), (2, 2), (3, 1)]
    # Weights stay shares of the whole side, capacity or not.
    assert [a.score for a in ProRataSize().allocate(cs, 4, RNG)] == pytest.approx([0.5, 0.3, 0.2])


def test_pro_rata_profit() -> None:
    # Profits 30, 10, and a loss: 4 lots -> quotas 3, 1 -> 3, 1; the losing account untouched.
    cs = [
        cand(1, 1, 3, 100.0, 110.0, 50.0, 90.0),  # upnl 30
        cand(2, 1, 2, 100.0, 105.0, 50.0, 80.0),  # upnl 10
        cand(3, 1, 4, 100.0, 90.0, 500.0, 0.0),  # upnl -40
    ]
    allocations = ProRataProfit().allocate(cs, 4, RNG)
    assert closes(allocations) == [(1, 3), (2, 1)]
    assert [a.score for a in allocations] == pytest.approx([0.75, 0.25])
    assert [ProRataProfit().score(c) for c in cs] == [30.0, 10.0, 0.0]


def test_pro_rata_profit_falls_back_to_size() -> None:
    # The profitable ones absorb 3 + 2 = 5 of 8; the other 3 go by size to the rest with capacity.
    cs = [
        cand(1, 1, 3, 100.0, 110.0, 50.0, 90.0),  # upnl 30, capacity 3
        cand(2, 1, 2, 100.0, 105.0, 50.0, 80.0),  # upnl 10, capacity 2
        cand(3, 1, 4, 100.0, 90.0, 500.0, 0.0),  # loss, size 4
        cand(4, 1, 2, 100.0, 100.0, 500.0, 0.0),  # flat PnL, size 2
    ]
    allocations = ProRataProfit().allocate(cs, 8, RNG)
    # Fallback quotas 3 x (4, 2) / 6 = 2, 1.
    assert closes(allocations) == [(1, 3), (2, 2), (3, 2), (4, 1)]
    assert [a.score for a in allocations] == pytest.approx([0.75, 0.25, 0.0, 0.0])


def test_pro_rata_profit_without_profit() -> None:
    cs = [cand(1, 1, 3, 100.0, 90.0, 500.0, 0.0), cand(2, 1, 1, 100.0, 95.0, 500.0, 0.0)]
    allocations = ProRataProfit().allocate(cs, 2, RNG)
    # Sizes 3, 1 share 2: 1.5, 0.5 -> tie of remainders -> lower owner: 2, 0.
    assert closes(allocations) == [(1, 2)]
    assert allocations[0].score == 0.0


# -- socialized loss ------------------------------------------------------------


def test_socialized_loss_closes_nothing() -> None:
    c = cand(1, 1, 1, 100.0, 110.0, 50.0, 50.0)
    assert SocializedLoss().allocate([c], 1, RNG) == []
    assert SocializedLoss.closes_positions is False


def test_clawback_pro_rata() -> None:
    # Profits 30 and 10 cover 20: 15 and 5; the losing account untouched.
    cs = [
        cand(2, 1, 1, 100.0, 110.0, 100.0, 0.0),
        cand(3, 1, 1, 100.0, 80.0, 100.0, 0.0),
        cand(1, 1, 1, 100.0, 130.0, 100.0, 0.0),
    ]
    claws = SocializedLoss().clawback(cs, 20.0)
    assert [(c.candidate.owner, c.amount, c.score) for c in claws] == [(1, 15.0, 0.75), (2, 5.0, 0.25)]


def test_clawback_cap_reshared() -> None:
    # Owner 1: upnl 30 but equity 8 (wallet -22) -> cap 8; owner 2: upnl 10, equity 110 -> cap 10.
    # 12 to cover: quotas 9 and 3; owner 1 capped at 8, the remaining 4 to owner 2.
    cs = [cand(1, 1, 1, 100.0, 130.0, -22.0, 122.0), cand(2, 1, 1, 100.0, 110.0, 100.0, 0.0)]
    claws = SocializedLoss().clawback(cs, 12.0)
    assert [(c.candidate.owner, c.amount) for c in claws] == [(1, 8.0), (2, 4.0)]
    assert [c.score for c in claws] == pytest.approx([0.75, 0.25])
    # More than all capacity: each gives its cap, 18 in all.
    claws = SocializedLoss().clawback(cs, 100.0)
    assert [(c.candidate.owner, c.amount) for c in claws] == [(1, 8.0), (2, 10.0)]


def test_clawback_skips_accounts_without_equity() -> None:
    # Owner 1 in profit on this position but with equity <= 0: gives nothing.
    cs = [cand(1, 1, 1, 100.0, 130.0, -40.0, 140.0), cand(2, 1, 1, 100.0, 110.0, 100.0, 0.0)]
    claws = SocializedLoss().clawback(cs, 5.0)
    assert [(c.candidate.owner, c.amount) for c in claws] == [(2, 5.0)]
    assert claws[0].score == pytest.approx(0.25)


def test_clawback_nothing_to_cover() -> None:
    c = cand(1, 1, 1, 100.0, 110.0, 100.0, 0.0)
    assert SocializedLoss().clawback([c], 0.0) == []
    assert SocializedLoss().clawback([c], -3.0) == []
    assert SocializedLoss().clawback([], 3.0) == []
    assert SocializedLoss().clawback([cand(1, 1, 1, 100.0, 90.0, 100.0, 0.0)], 3.0) == []
    with pytest.raises(ValueError, match="deficit must be a number"):
        SocializedLoss().clawback([c], math.nan)


def test_clawback_rounding_folds_into_the_sum() -> None:
    # Thirds do not exist in binary: the amounts still add up to the deficit.
    cs = [cand(owner, 1, 1, 100.0, 110.0, 100.0, 0.0) for owner in range(3)]
    claws = SocializedLoss().clawback(cs, 1.0)
    assert math.fsum(c.amount for c in claws) == 1.0
    assert all(c.amount == pytest.approx(1 / 3) for c in claws)


# -- properties -----------------------------------------------------------------


@st.composite
def candidate_lists(draw: st.DrawFn, max_size: int = 12) -> list[Candidate]:
    """Candidates on one side: consistent upnl and bankruptcy price, random capacity."""
    owners = draw(st.lists(st.integers(0, 1_000), max_size=max_size, unique=True))
    side = draw(st.sampled_from((1, -1)))
    out = []
    for owner in owners:
        lots = draw(st.integers(1, 40))
        entry = draw(st.floats(1.0, 1_000.0))
        mark = draw(st.one_of(st.just(entry), st.floats(1.0, 1_000.0)))
        wallet = draw(st.floats(-500.0, 5_000.0))
        qty = lots * 0.1
        if side < 0 and draw(st.booleans()) and wallet > 0:
            bankrupt = math.inf  # a short that cannot go bankrupt
        else:
            bankrupt = bankruptcy_price(side * qty, entry, wallet)
        out.append(
            Candidate(
                owner=owner,
                side=side,
                lots=lots,
                qty=qty,
                entry_price=entry,
                mark_price=mark,
                bankruptcy_price=bankrupt,
                wallet=wallet,
                upnl=side * qty * (mark - entry),
                maintenance=draw(st.floats(0.0, 100.0)),
                max_lots=draw(st.integers(0, lots)),
            )
        )
    return out


def _as_rows(allocations: list[Allocation]) -> list[tuple[int, int, str]]:
    return [(a.candidate.owner, a.lots, repr(a.score)) for a in allocations]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=200, deadline=None)
@given(cs=candidate_lists(), lots=st.integers(0, 300), seed=st.integers(0, 2**32 - 1))
def test_allocate_invariants(name: str, cs: list[Candidate], lots: int, seed: int) -> None:
    policy = make_policy(name)
    allocations = policy.allocate(cs, lots, np.random.default_rng(seed))
    total = sum(a.lots for a in allocations)
    assert total <= lots
    owners = [a.candidate.owner for a in allocations]
    assert len(owners) == len(set(owners))
    for a in allocations:
        assert any(a.candidate is c for c in cs)
        assert a.candidate.max_lots > 0
        assert 0 < a.lots <= a.candidate.max_lots
    if not policy.closes_positions:
        assert allocations == []
    elif sum(c.max_lots for c in cs) >= lots:
        assert total == lots
    else:
        assert total == sum(c.max_lots for c in cs)
    again = policy.allocate(cs, lots, np.random.default_rng(seed))
    assert _as_rows(again) == _as_rows(allocations)


@pytest.mark.parametrize("name", RANKINGS)
@settings(max_examples=200, deadline=None)
@given(cs=candidate_lists(), lots=st.integers(1, 300))
def test_rankings_are_queues(name: str, cs: list[Candidate], lots: int) -> None:
    policy = make_policy(name)
    scores = [policy.score(c) for c in cs]
    assert not any(math.isnan(s) for s in scores)
    allocations = policy.allocate(cs, lots, RNG)
    for a in allocations:
        assert a.score == policy.score(a.candidate)
    # Scores never rise along the queue; everyone but the last closes all it can.
    assert all(x.score >= y.score for x, y in itertools.pairwise(allocations))
    assert all(a.lots == a.candidate.max_lots for a in allocations[:-1])
    # Nobody with capacity is skipped for a lower score.
    if allocations:
        chosen = {a.candidate.owner for a in allocations}
        last = allocations[-1]
        for c in cs:
            if c.max_lots > 0 and c.owner not in chosen:
                s = policy.score(c)
                assert (s, -c.owner) <= (last.score, -last.candidate.owner)


@settings(max_examples=200, deadline=None)
@given(cs=candidate_lists(), lots=st.integers(1, 300))
def test_pro_rata_size_is_proportional_without_caps(cs: list[Candidate], lots: int) -> None:
    full = [
        Candidate(c.owner, c.side, c.lots, c.qty, c.entry_price, c.mark_price, c.bankruptcy_price,
                  c.wallet, c.upnl, c.maintenance, c.lots)
        for c in cs
    ]  # fmt: skip
    size = sum(c.lots for c in full)
    lots = min(lots, size)
    shares = {a.candidate.owner: a.lots for a in ProRataSize().allocate(full, lots, RNG)}
    for c in full:
        assert abs(shares.get(c.owner, 0) - Fraction(lots * c.lots, size)) < 1


@settings(max_examples=200, deadline=None)
@given(cs=candidate_lists(), deficit=st.floats(0.0, 10_000.0))
def test_clawback_invariants(cs: list[Candidate], deficit: float) -> None:
    claws = SocializedLoss().clawback(cs, deficit)
    caps = {c.owner: min(c.upnl, max(c.equity, 0.0)) for c in cs if c.upnl > 0}
    capacity = math.fsum(caps.values())
    owners = [k.candidate.owner for k in claws]
    assert owners == sorted(set(owners))
    for k in claws:
        c = k.candidate
        assert c.upnl > 0.0 and c.equity > 0.0  # zero-profit and zero-equity accounts untouched
        assert 0.0 < k.amount <= min(c.upnl, c.equity)
        assert k.amount <= min(max(c.upnl, 0.0), max(c.equity, 0.0))
    paid = math.fsum(k.amount for k in claws)
    if deficit >= capacity:
        assert paid == capacity
    else:
        assert paid == pytest.approx(deficit, rel=1e-12, abs=1e-300)
        # Pro rata to profit among the uncapped; a capped one gives no more than that rate.
        rates = [
            k.amount / k.candidate.upnl for k in claws if k.amount < caps[k.candidate.owner] * (1 - 1e-12)
        ]
        if rates:
            assert max(rates) == pytest.approx(min(rates), rel=1e-9)
            for k in claws:
                assert k.amount / k.candidate.upnl <= max(rates) * (1 + 1e-9)
    total_profit = math.fsum(c.upnl for c in cs if c.upnl > 0)
    for k in claws:
        assert k.score == pytest.approx(k.candidate.upnl / total_profit)
    assert all(isinstance(k, Clawback) for k in claws)
