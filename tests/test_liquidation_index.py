"""LiquidationIndex finds exactly the accounts a mark crosses, in trigger order, touching only those.

Every answer is checked against a brute-force scan of a plain dict model:
after each step of a Hypothesis state machine and of a seeded random walk over
a few hundred accounts, both as a set and in the documented order. Item
counting on 100,000 accounts shows ``crossed`` reads only what it returns.
"""

from __future__ import annotations

import doctest
import math
import random
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sortedcontainers import SortedList

import lob.risk.index as index_module
from lob.risk.index import LONG, SHORT, LiquidationIndex

Model = dict[int, tuple[int, float]]  # account -> (side, liq_price)


def brute_crossed(model: Model, mark: float) -> list[int]:
    """The documented answer by scanning every account: triggered longs, highest price first, then shorts."""
    longs = [a for a, (side, p) in model.items() if side == LONG and p >= mark]
    shorts = [a for a, (side, p) in model.items() if side == SHORT and p <= mark]
    longs.sort(key=lambda a: (-model[a][1], a))
    shorts.sort(key=lambda a: (model[a][1], a))
    return longs + shorts


def brute_between(model: Model, old_mark: float, new_mark: float) -> list[int]:
    """Triggered at ``new_mark`` and not at ``old_mark``, in trigger order, by definition."""
    before = set(brute_crossed(model, old_mark))
    return [a for a in brute_crossed(model, new_mark) if a not in before]


def brute_side(model: Model, side: int) -> list[tuple[int, float]]:
    sign = -1.0 if side == LONG else 1.0
    rows = [(a, p) for a, (s, p) in model.items() if s == side]
    return sorted(rows, key=lambda row: (sign * row[1], row[0]))


def check_against(index: LiquidationIndex, model: Model, marks: Iterable[float], ids: Iterable[int]) -> None:
    """Every query of ``index`` agrees with the scan of ``model``."""
    assert len(index) == len(model)
    for a in ids:
        assert (a in index) == (a in model)
        side, price = model.get(a, (None, None))
        assert index.side_of(a) == side
        assert index.price_of(a) == price
    assert list(index.longs()) == brute_side(model, LONG)
    assert list(index.shorts()) == brute_side(model, SHORT)
    marks = list(marks)
    for m in marks:
        got = index.crossed(m)
        want = brute_crossed(model, m)
        assert set(got) == set(want), m
        assert got == want, m
    for old, new in zip(marks, marks[1:] + marks[:1], strict=True):
        assert index.crossed_between(old, new) == brute_between(model, old, new), (old, new)


# Few distinct prices, so that ties are common; plus the edges and any non-NaN float.
GRID = [0.0, -0.0, 1.0, 5.0, 10.0, 10.5, 100.0, math.inf, -math.inf, -3.0, 5e-324]
prices = st.one_of(
    st.sampled_from(GRID),
    st.integers(1, 30).map(float),
    st.floats(allow_nan=False),
)
marks = st.one_of(
    st.sampled_from(GRID), st.integers(0, 31).map(lambda i: i + 0.5), st.floats(allow_nan=False)
)
sides = st.sampled_from([LONG, SHORT])
accounts = st.integers(0, 399)
FIXED_MARKS = [0.0, 5e-324, 1.0, 5.0, 7.5, 10.0, 30.5, 100.0, 1e300, math.inf, -1.0, -math.inf]


class IndexMachine(RuleBasedStateMachine):
    """Random inserts, moves (price and side) and removes; every step is checked by a full scan."""

    def __init__(self) -> None:
        super().__init__()
        self.index = LiquidationIndex()
        self.model: Model = {}
        self.probes: list[float] = []

    @initialize(entries=st.lists(st.tuples(accounts, sides, prices), max_size=300))
    def bulk_load(self, entries: list[tuple[int, int, float]]) -> None:
        for account, side, price in entries:
            self.index.set(account, side, price)
            self.model[account] = (side, price)

    @rule(account=accounts, side=sides, price=prices, probes=st.lists(marks, max_size=3))
    def set(self, account: int, side: int, price: float, probes: list[float]) -> None:
        self.index.set(account, side, price)
        self.model[account] = (side, price)
        # The new price itself and its neighbours are where an off-by-one would show.
        self.probes = [*probes, price, math.nextafter(price, math.inf), math.nextafter(price, -math.inf)]

    @rule(account=accounts, probes=st.lists(marks, max_size=3))
    def remove(self, account: int, probes: list[float]) -> None:  # accounts may well be absent
        self.index.remove(account)
        self.model.pop(account, None)
        self.probes = probes

    @rule(data=st.data())
    def move_existing(self, data: st.DataObject) -> None:
        if not self.model:
            return
        account = data.draw(st.sampled_from(sorted(self.model)))
        side = data.draw(sides)
        price = data.draw(st.sampled_from([p for _, p in self.model.values()]) | prices)
        self.set(account, side, price, [])

    @invariant()
    def agrees_with_scan(self) -> None:
        some_ids = [*list(self.model)[:20], 400, -1]
        check_against(self.index, self.model, FIXED_MARKS + self.probes, some_ids)


IndexMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestIndexMachine = IndexMachine.TestCase


@pytest.mark.parametrize("seed", range(2))
def test_random_walk_over_hundreds_of_accounts(seed: int) -> None:
    rng = random.Random(seed)
    index = LiquidationIndex()
    model: Model = {}
    n_ids = 500
    for step in range(3000):
        account = rng.randrange(n_ids)
        if rng.random() < 0.2:
            index.remove(account)
            model.pop(account, None)
        else:
            side = rng.choice((LONG, SHORT))
            r = rng.random()
            price = float(rng.randrange(40, 60)) if r < 0.5 else (0.0 if side == LONG else math.inf)
            price = rng.uniform(40.0, 60.0) if r > 0.9 else price
            index.set(account, side, price)
            model[account] = (side, price)
        probes = [rng.uniform(39.0, 61.0) for _ in range(3)] + [float(rng.randrange(40, 61))]
        ids = [account, rng.randrange(n_ids)]
        check_against(index, model, probes, ids if step % 50 else range(n_ids))
    assert len(model) > 300  # the walk did reach a few hundred accounts


def test_equal_prices_are_ordered_by_account() -> None:
    index = LiquidationIndex()
    for a in (5, 2, 9, 1):
        index.set(a, LONG, 100.0)
    for a in (8, 3, 7):
        index.set(a, SHORT, 100.0)
    index.set(4, LONG, 101.0)
    index.set(6, SHORT, 99.0)
    assert index.crossed(100.0) == [4, 1, 2, 5, 9, 6, 3, 7, 8]
    assert index.crossed(math.nextafter(100.0, math.inf)) == [4, 6, 3, 7, 8]
    assert index.crossed(math.nextafter(100.0, -math.inf)) == [4, 1, 2, 5, 9, 6]
    assert index.crossed_between(100.5, 100.0) == [1, 2, 5, 9]
    assert index.crossed_between(99.5, 100.0) == [3, 7, 8]
    assert index.crossed_between(100.0, 100.0) == []


def test_zero_long_and_infinite_short_are_stored_but_never_crossed_by_a_finite_positive_mark() -> None:
    index = LiquidationIndex()
    index.set(1, LONG, 0.0)
    index.set(2, SHORT, math.inf)
    assert len(index) == 2 and 1 in index and 2 in index
    assert (index.price_of(1), index.price_of(2)) == (0.0, math.inf)
    for m in (5e-324, 2.2250738585072014e-308, 1e-9, 1.0, 1e6, 1.7976931348623157e308):
        assert index.crossed(m) == []
        assert index.crossed_between(m, 5e-324) == [] and index.crossed_between(5e-324, m) == []
    # The limits themselves trigger them, by the same rule as any other price.
    assert index.crossed(0.0) == [1]
    assert index.crossed(math.inf) == [2]
    index.set(3, LONG, -0.0)
    stored = index.price_of(3)
    assert stored == 0.0 and stored is not None and math.copysign(1.0, stored) == 1.0
    assert index.crossed(0.0) == [1, 3]


def test_removing_an_absent_account_changes_nothing() -> None:
    index = LiquidationIndex()
    index.remove(1)
    assert len(index) == 0 and index.crossed(math.inf) == []
    index.set(1, LONG, 50.0)
    index.set(2, SHORT, 60.0)
    index.remove(3)
    index.remove(1)
    index.remove(1)
    assert len(index) == 1 and 1 not in index and index.price_of(1) is None and index.side_of(1) is None
    assert list(index.longs()) == [] and list(index.shorts()) == [(2, 60.0)]
    assert index.crossed(0.0) == [] and index.crossed(60.0) == [2]


def test_moving_an_account_from_long_to_short_and_back() -> None:
    index = LiquidationIndex()
    index.set(7, LONG, 90.0)
    index.set(8, LONG, 80.0)
    index.set(7, SHORT, 110.0)
    assert len(index) == 2 and index.side_of(7) == SHORT and index.price_of(7) == 110.0
    assert list(index.longs()) == [(8, 80.0)] and list(index.shorts()) == [(7, 110.0)]
    assert index.crossed(85.0) == [] and index.crossed(80.0) == [8] and index.crossed(110.0) == [7]
    index.set(7, LONG, 85.0)
    assert list(index.shorts()) == [] and list(index.longs()) == [(7, 85.0), (8, 80.0)]
    index.set(7, LONG, 85.0)  # same side and price: nothing to move
    index.set(7, LONG, 70.0)
    assert list(index.longs()) == [(8, 80.0), (7, 70.0)] and len(index) == 2


def test_bad_input_is_refused_and_leaves_the_index_unchanged() -> None:
    index = LiquidationIndex()
    index.set(1, LONG, 50.0)
    for side, price in ((0, 40.0), (2, 40.0), (SHORT, math.nan), (LONG, math.nan)):
        with pytest.raises(ValueError):
            index.set(1, side, price)
        assert list(index.longs()) == [(1, 50.0)] and len(index) == 1
    with pytest.raises(ValueError):
        index.crossed(math.nan)
    with pytest.raises(ValueError):
        index.crossed_between(50.0, math.nan)


def test_prices_are_stored_as_floats() -> None:
    index = LiquidationIndex()
    index.set(1, SHORT, 3)
    price = index.price_of(1)
    assert type(price) is float and price == 3.0
    assert index.crossed(3) == [1]


class CountingSortedList(SortedList):  # type: ignore[misc]
    """A SortedList that counts every item handed out by any of its ways to read items."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = 0

    def _count(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            self.reads += 1
            yield item

    def __iter__(self) -> Iterator[Any]:
        return self._count(super().__iter__())

    def __reversed__(self) -> Iterator[Any]:
        return self._count(super().__reversed__())

    def irange(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return self._count(super().irange(*args, **kwargs))

    def islice(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return self._count(super().islice(*args, **kwargs))

    def __getitem__(self, i: Any) -> Any:
        got = super().__getitem__(i)
        self.reads += len(got) if isinstance(i, slice) else 1
        return got


class CountingIndex(LiquidationIndex):
    __slots__ = ()

    def _new_side(self) -> CountingSortedList:
        return CountingSortedList()

    def reads(self) -> int:
        return sum(side.reads for side in (self._longs, self._shorts))


def test_crossed_reads_only_the_accounts_it_returns_among_100_000() -> None:
    n = 100_000
    rng = random.Random(11)
    index = CountingIndex()
    model: Model = {}
    ids = list(range(n))
    rng.shuffle(ids)
    for i, a in enumerate(ids):
        # Longs liquidated at or below 50-95, shorts at or above 105-150; a mark near 100 crosses nobody.
        side, price = (LONG, rng.uniform(50.0, 95.0)) if i % 2 else (SHORT, rng.uniform(105.0, 150.0))
        price = 0.0 if i % 10 == 1 else math.inf if i % 10 == 2 else price
        index.set(a, side, price)
        model[a] = (side, price)
    for a, (side, price) in zip(ids[:3], [(LONG, 99.0), (LONG, 97.0), (SHORT, 102.0)], strict=True):
        index.set(a, side, price)
        model[a] = (side, price)
    before = index.reads()
    assert before == 0  # building the index reads nothing back
    cases = [(100.0, []), (98.0, [ids[0]]), (96.0, ids[:2]), (102.0, [ids[2]]), (97.0, ids[:2])]
    for mark, want in cases:
        got = index.crossed(mark)
        assert got == want == brute_crossed(model, mark)
        assert index.reads() - before == len(got)
        before = index.reads()
    moved = index.crossed_between(100.0, 96.0)
    assert moved == ids[:2] == brute_between(model, 100.0, 96.0)
    assert index.reads() - before == 2
    before = index.reads()
    assert index.crossed_between(100.0, 100.0) == [] and index.reads() == before
    # The counting sees a scan: reading the whole long side counts every long.
    n_longs = sum(side == LONG for side, _ in model.values())
    assert list(index.longs()) == brute_side(model, LONG) and n_longs > n // 3
    assert index.reads() - before == n_longs


def test_100_000_accounts_fit_in_a_few_tens_of_mb() -> None:
    rng = random.Random(3)
    tracemalloc.start()
    try:
        index = LiquidationIndex()
        for a in range(100_000, 200_000):
            index.set(a, rng.choice((LONG, SHORT)), rng.uniform(10.0, 1000.0))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(index) == 100_000
    assert used < 32 * 1024 * 1024


def test_docstring_examples() -> None:
    failed, attempted = doctest.testmod(index_module)
    assert attempted > 0 and failed == 0


@given(
    st.lists(
        st.tuples(st.sampled_from([1, -1]), st.sampled_from([0.0, 1.0, 99.5, 100.0, 101.0, math.inf])),
        max_size=60,
    ),
    st.lists(st.floats(0.5, 150.0), min_size=1, max_size=5),
)
def test_set_many_files_accounts_exactly_as_set_does(
    entries: list[tuple[int, float]], marks: list[float]
) -> None:
    one, many = LiquidationIndex(), LiquidationIndex()
    items = [(account, side, price) for account, (side, price) in enumerate(entries)]
    for account, side, price in items:
        one.set(account, side, price)
    many.set_many(items)
    assert list(one.longs()) == list(many.longs()) and list(one.shorts()) == list(many.shorts())
    for mark in marks:
        assert one.crossed(mark) == many.crossed(mark)


def test_set_many_refuses_accounts_already_filed_and_leaves_the_index_unchanged() -> None:
    index = LiquidationIndex()
    index.set(1, 1, 90.0)
    with pytest.raises(ValueError, match="already in the index"):
        index.set_many([(2, 1, 95.0), (1, -1, 110.0)])
    with pytest.raises(ValueError, match="already in the index"):
        index.set_many([(3, 1, 95.0), (3, 1, 96.0)])
    with pytest.raises(ValueError, match="NaN"):
        index.set_many([(4, 1, math.nan)])
    assert list(index.longs()) == [(1, 90.0)] and list(index.shorts()) == [] and len(index) == 1
