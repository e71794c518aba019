"""The composite index: a weighted median of component prices, sampled on a grid and seen late.

``weighted_median`` is checked by hand on small cases (the exact-half rule
among them), against the plain median of the weight-expanded list for integer
weights, and by its properties (bounds, scaling, permutation, monotonicity,
robustness to one light outlier). ``CompositeIndex`` runs in a real SimPy
world with a real venue: its books are set by direct book calls and by
scripted traders, the value is read by a probe process at instants around the
latency, and causes are followed from ``on_caused_trade`` to ``cause``.
"""

from __future__ import annotations

import doctest
import math
import statistics
from collections.abc import Callable, Generator
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from market_helpers import make_world, scripted

import lob.risk.composite_index as composite_module
from lob.market.instrument import Instrument
from lob.risk.composite_index import CompositeIndex, weighted_median
from lob.scenario.world import SECOND, World

MS = 1_000_000
BUY, SELL = 1, -1
A = Instrument("A", 0.01, 1)  # three stand-ins for one asset's markets, with different ticks
B = Instrument("B", 0.5, 1)
C = Instrument("C", 0.1, 1)


def test_doctests() -> None:
    failed, attempted = doctest.testmod(composite_module)
    assert attempted > 0
    assert failed == 0


# -- weighted_median by hand --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prices", "weights", "expected"),
    [
        ([100.0, 101.0, 99.0], [1, 1, 1], 100.0),
        ([100.0, 90.0], [1, 1], 95.0),  # cumulative weight exactly half: the midpoint
        ([100.0, 90.0], [2, 1], 100.0),
        ([90.0, 100.0, 110.0], [1, 1, 2], 105.0),  # half reached at 100: mean of 100 and 110
        ([110.0, 90.0, 100.0], [2, 1, 1], 105.0),  # the same, unordered
        ([100.0, 110.0, 90.0], [1, 2, 1], 105.0),
        ([90.0, 100.0, 110.0], [1, 3, 2], 100.0),  # passes half at 100
        ([100.0, 1e9, 90.0], [1, 0, 1], 95.0),  # zero weight ignored, however far its price
        ([-5.0, 100.0], [0.0, 0.5], 100.0),
        ([100.0, 100.0, 90.0], [1, 1, 1], 100.0),  # equal prices
        ([100.0, 100.0], [1, 3], 100.0),
        ([7.0], [0.25], 7.0),
        # 0.1 + 0.2 is one unit in the last place above 0.3 (exact sums), so half is passed at 2,
        # although in floating point 0.1 + 0.2 == (0.1 + 0.2 + 0.3) / 2.
        ([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], 2.0),
        ([1.0, 2.0, 3.0], [0.25, 0.25, 0.5], 2.5),  # an exact tie with fractional weights
        ([1e308, 1.7e308], [1, 1], 1.35e308),  # midpoint without overflow
    ],
)
def test_weighted_median_by_hand(prices: list[float], weights: list[float], expected: float) -> None:
    assert weighted_median(prices, weights) == expected


def test_weighted_median_of_nothing_priced_is_none() -> None:
    assert weighted_median([], []) is None
    assert weighted_median([100.0, 90.0], [0, 0.0]) is None


@pytest.mark.parametrize(
    ("prices", "weights", "match"),
    [
        ([100.0, 90.0], [1], "2 prices but 1 weights"),
        ([100.0, 90.0], [1, -1], r"weights\[1\] must be finite and >= 0"),
        ([100.0], [math.nan], r"weights\[0\] must be finite"),
        ([100.0], [math.inf], r"weights\[0\] must be finite"),
        ([100.0, math.nan], [1, 1], r"prices\[1\] must be finite"),
        ([math.nan], [0], r"prices\[0\] must be finite"),  # even at weight 0
        ([math.inf], [1], r"prices\[0\] must be finite"),
    ],
)
def test_weighted_median_rejects_bad_input(prices: list[float], weights: list[float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        weighted_median(prices, weights)


# -- weighted_median properties -----------------------------------------------------------------------------

# A small grid makes equal prices and exact halves common; any moderate float covers the rest.
price_st = st.one_of(st.sampled_from([90.0, 95.5, 100.0, 100.25, 101.0, 110.0]), st.floats(1e-3, 1e6))
int_weight_st = st.integers(0, 6)
float_weight_st = st.one_of(int_weight_st.map(float), st.floats(0.0, 1e6), st.floats(1e-6, 1.0))


@st.composite
def components(
    draw: st.DrawFn, weight: st.SearchStrategy[Any] = float_weight_st
) -> tuple[list[float], list[Any]]:
    pairs = draw(st.lists(st.tuples(price_st, weight), min_size=1, max_size=12))
    return [p for p, _ in pairs], [w for _, w in pairs]


def expanded_median(prices: list[float], weights: list[int]) -> float | None:
    """The plain median of the list holding each price as many times as its (integer) weight."""
    expanded = [p for p, w in zip(prices, weights, strict=True) for _ in range(w)]
    return statistics.median(expanded) if expanded else None


@given(components(int_weight_st))
def test_integer_weights_give_the_median_of_the_expanded_list(comp: tuple[list[float], list[int]]) -> None:
    prices, weights = comp
    assert weighted_median(prices, weights) == expanded_median(prices, weights)


@given(components())
def test_the_result_lies_between_the_weighted_prices(comp: tuple[list[float], list[float]]) -> None:
    prices, weights = comp
    counted = [p for p, w in zip(prices, weights, strict=True) if w > 0]
    got = weighted_median(prices, weights)
    if not counted:
        assert got is None
    else:
        assert got is not None
        assert min(counted) <= got <= max(counted)


@given(st.lists(price_st, min_size=1, max_size=15), st.floats(1e-6, 1e6))
def test_equal_weights_give_the_plain_median(prices: list[float], w: float) -> None:
    assert weighted_median(prices, [w] * len(prices)) == statistics.median(prices)
    odd = prices if len(prices) % 2 else prices[:-1]
    if odd:
        assert weighted_median(odd, [w] * len(odd)) == statistics.median(odd)


@given(components(int_weight_st), st.integers(1, 10**6))
def test_scaling_integer_weights_by_an_integer_changes_nothing(
    comp: tuple[list[float], list[int]], factor: int
) -> None:
    prices, weights = comp
    assert weighted_median(prices, [w * factor for w in weights]) == weighted_median(prices, weights)


@given(components(), st.integers(-40, 40))
def test_scaling_weights_by_a_power_of_two_changes_nothing(
    comp: tuple[list[float], list[float]], exponent: int
) -> None:
    prices, weights = comp
    assume(all(w == 0 or w >= 1e-290 for w in weights))  # exact unless the scaled weight leaves the normals
    scaled = [math.ldexp(w, exponent) for w in weights]
    assert weighted_median(prices, scaled) == weighted_median(prices, weights)


@given(components(), st.randoms(use_true_random=False))
def test_the_order_of_the_components_does_not_matter(comp: tuple[list[float], list[float]], rnd: Any) -> None:
    prices, weights = comp
    pairs = list(zip(prices, weights, strict=True))
    rnd.shuffle(pairs)
    assert weighted_median([p for p, _ in pairs], [w for _, w in pairs]) == weighted_median(prices, weights)


@given(components(int_weight_st), st.data())
def test_one_light_outlier_cannot_drag_the_median_past_the_others(
    comp: tuple[list[float], list[int]], data: st.DataObject
) -> None:
    """Raising one component of weight < half above every price moves the median up, never past the rest."""
    prices, weights = comp
    total = sum(weights)
    light = [j for j, w in enumerate(weights) if 0 < 2 * w < total]
    if not light:
        return
    j = data.draw(st.sampled_from(light))
    before = weighted_median(prices, weights)
    moved = list(prices)
    moved[j] = max(prices) + data.draw(st.floats(1e-3, 1e9))
    after = weighted_median(moved, weights)
    others = [p for k, (p, w) in enumerate(zip(prices, weights, strict=True)) if k != j and w > 0]
    assert before is not None and after is not None
    assert before <= after  # raising a price never lowers the median
    assert min(others) <= after <= max(others)


# -- CompositeIndex in a world ------------------------------------------------------------------------------


def quote(world: World, ii: int, bid: int, ask: int, first_id: int = 1_000_001) -> None:
    """Rests a bid and an ask (ticks) directly on book ``ii``; nothing in these tests trades with them."""
    book = world.venue.books[ii]
    book.limit(first_id, 0, BUY, bid, 1)
    book.limit(first_id + 1, 0, SELL, ask, 1)


def probe(world: World, at: list[int], read: Callable[[int], Any]) -> list[Any]:
    """Calls ``read(now)`` at each time of ``at`` (ascending) while the world runs; returns what it read."""
    out: list[Any] = []

    def run() -> Generator[Any, Any, None]:
        for t in at:
            yield world.env.timeout(t - world.env.now)
            out.append(read(int(world.env.now)))

    world.env.process(run())
    return out


def test_value_is_the_weighted_median_in_quote_currency_seen_after_the_latency() -> None:
    """A (tick 0.01, weight 3), B (0.5, 2), C (0.1, 1); interval 1 s, latency 300 ms.

    B's mid 201 ticks = 100.50, C's 996 ticks = 99.60 from the start: the t = 0
    sample is 100.50 (A's quotes, sent at 0, reach the book 100 us later). A's
    mid 10,001 ticks = 100.01 is in the t = 1 s sample: 100.01 (cumulative
    weight 1, then 4 of 6). At 1.5 s A's bid goes to 10,002: mid 100.025 from
    the t = 2 s sample on. Read in ticks without the conversion, or with one
    tick size for all, the median would be far from these.
    """
    w = make_world(5 * SECOND, instruments=[A, B, C])
    quote(w, 1, 200, 202)
    quote(w, 2, 995, 997)
    scripted(
        w,
        "maker",
        [
            (0, lambda t: t.submit_limit("buy", 1, 9_999, instrument="A")),
            (0, lambda t: t.submit_limit("sell", 1, 10_003, instrument="A")),
            (1500 * MS, lambda t: t.submit_limit("buy", 1, 10_002, instrument="A")),
        ],
    )
    index = CompositeIndex(
        w.env, w.venue, [(0, 3.0), (1, 2.0), (2, 1.0)], interval_ns=SECOND, latency_ns=300 * MS, start=50.0
    )
    times = [0, 299 * MS, 300 * MS, 1200 * MS, 1300 * MS - 1, 1300 * MS, 2300 * MS - 1, 2300 * MS, 4 * SECOND]
    seen = probe(w, times, index.value)
    w.run()
    t0, t1, t2 = 100.5, 100.01, 100.025
    expected = [50.0, 50.0, t0, t0, t0, t1, t1, t2, t2]
    assert seen == pytest.approx(expected, rel=1e-12, abs=0)
    assert [s[0] for s in index.samples] == [k * SECOND for k in range(6)]  # 0..5 s: the run ends at 5 s + 1
    assert [s[1] for s in index.samples] == pytest.approx([t0, t1, t2, t2, t2, t2], rel=1e-12, abs=0)
    assert all(s[2:] == (-1, 0) for s in index.samples)
    # read again after the run, in any order: the same answers
    for now, want in reversed(list(zip(times, expected, strict=True))):
        assert index.value(now) == pytest.approx(want, rel=1e-12, abs=0)


def test_tick_sizes_are_converted_per_component() -> None:
    """Two components at the same quote price in different ticks: equal weights give that price."""
    w = make_world(2 * SECOND, instruments=[A, B])
    quote(w, 0, 10_049, 10_051)  # 100.50 at 0.01
    quote(w, 1, 200, 202)  # 100.50 at 0.5
    index = CompositeIndex(w.env, w.venue, [(0, 1.0), (1, 1.0)], interval_ns=SECOND, latency_ns=0, start=1.0)
    w.run()
    assert index.value(0) == pytest.approx(100.5, rel=1e-12)
    # and the midpoint of two different quote prices: A 101.00, B 100.50 -> 100.75
    w = make_world(2 * SECOND, instruments=[A, B])
    quote(w, 0, 10_099, 10_101)
    quote(w, 1, 200, 202)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0), (1, 1.0)], interval_ns=SECOND, latency_ns=0, start=1.0)
    w.run()
    assert index.value(0) == pytest.approx(100.75, rel=1e-12)


def test_mid_falls_back_to_the_last_trade_and_last_falls_back_to_the_mid() -> None:
    """One priced component (A); B never has a price, C has weight 0: neither counts.

    0 s: A bid 9,990 / ask 10,010. 1.5 s: a market buy takes the ask: last
    10,010, no ask. 2.5 s: a new ask at 10,050: mid 10,020, last 10,010.
    """
    w = make_world(4 * SECOND, instruments=[A, B, C])
    quote(w, 2, 1, 9_000)  # C: a price far away, at weight 0
    scripted(
        w,
        "maker",
        [
            (0, lambda t: t.submit_limit("buy", 1, 9_990, instrument="A")),
            (0, lambda t: t.submit_limit("sell", 1, 10_010, instrument="A")),
            (2500 * MS, lambda t: t.submit_limit("sell", 1, 10_050, instrument="A")),
        ],
    )
    scripted(w, "taker", [(1500 * MS, lambda t: t.submit_market("buy", 1, instrument="A"))])
    comps = [(0, 1.0), (1, 1.0), (2, 0.0)]
    by_mid = CompositeIndex(w.env, w.venue, comps, interval_ns=SECOND, latency_ns=0, start=42.0)
    by_last = CompositeIndex(
        w.env, w.venue, comps, interval_ns=SECOND, latency_ns=0, start=42.0, source="last"
    )
    w.run()
    assert w.venue.last_price[0] == 10_010
    # t = 0: nothing priced yet (A's orders arrive after 100 us): the start value is held
    assert [s[1] for s in by_mid.samples] == pytest.approx([42.0, 100.0, 100.1, 100.2, 100.2], rel=1e-12)
    assert [s[1] for s in by_last.samples] == pytest.approx([42.0, 100.0, 100.1, 100.1, 100.1], rel=1e-12)


def test_causes_reach_a_reader_only_once_their_sample_is_visible() -> None:
    """Interval 1 s, latency 300 ms. Reports in (0, 1 s]: generations 1, 3, 2 -> the t = 1 s sample carries 3.

    In (1 s, 2 s]: two of generation 0 -> the later. In (2 s, 3 s]: only a
    report on an instrument outside the index. In (3 s, 4 s]: generation 3
    again -> the t = 4 s sample; across samples, the later of equal depth wins.
    """
    w = make_world(5 * SECOND, instruments=[A, B, C])
    quote(w, 0, 9_999, 10_001)
    quote(w, 1, 199, 201)
    comps = [(0, 1.0), (1, 1.0), (2, 0.0)]
    index = CompositeIndex(w.env, w.venue, comps, interval_ns=SECOND, latency_ns=300 * MS, start=100.0)
    reports = [
        (200 * MS, 0, 1, 11),
        (400 * MS, 1, 3, 12),
        (600 * MS, 0, 2, 13),
        (1500 * MS, 0, 0, 21),
        (1600 * MS, 1, 0, 22),
        (2500 * MS, 2, 9, 31),  # weight 0: cannot move the index
        (3500 * MS, 0, 3, 41),
    ]
    probe(
        w,
        [t for t, *_ in reports],
        lambda now: index.on_caused_trade(*next(r[1:] for r in reports if r[0] == now)),
    )
    # a mark-like reader: each read asks about (its previous read, now]
    reads = [1200 * MS, 1300 * MS, 2 * SECOND, 3500 * MS, 4300 * MS - 1, 4300 * MS]
    previous = [0]

    def mark_read(now: int) -> tuple[int, int]:
        got = index.cause(previous[0], now)
        previous[0] = now
        return got

    seen = probe(w, reads, mark_read)
    w.run()
    assert [s[2:] for s in index.samples] == [(-1, 0), (3, 12), (0, 22), (-1, 0), (3, 41), (-1, 0)]
    assert seen == [(-1, 0), (3, 12), (-1, 0), (0, 22), (-1, 0), (3, 41)]
    # windows read after the run, in any order
    assert index.cause(0, 1300 * MS - 1) == (-1, 0)
    assert index.cause(1300 * MS - 1, 1300 * MS) == (3, 12)  # now is inside the window
    assert index.cause(1300 * MS, 2300 * MS - 1) == (-1, 0)  # since is not
    assert index.cause(0, 3500 * MS) == (3, 12)  # the deepest of (3, 12) and (0, 22)
    assert index.cause(0, 5 * SECOND) == (3, 41)  # equal depth: the later sample
    assert index.cause(2 * SECOND, 2 * SECOND) == (-1, 0)
    assert index.cause(3 * SECOND, 1 * SECOND) == (-1, 0)


def test_a_report_at_generation_minus_one_or_for_another_instrument_is_ignored() -> None:
    w = make_world(2 * SECOND, instruments=[A, B])
    quote(w, 0, 9_999, 10_001)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=SECOND, latency_ns=0, start=100.0)
    index.on_caused_trade(1, 5, 7)
    index.on_caused_trade(0, -1, 8)
    w.run()
    assert all(s[2:] == (-1, 0) for s in index.samples)
    assert index.cause(-1, 2 * SECOND) == (-1, 0)


def test_an_index_created_mid_run_samples_on_the_grid() -> None:
    w = make_world(4 * SECOND, instruments=[A])
    quote(w, 0, 9_999, 10_001)
    made: list[CompositeIndex] = []

    def create(_now: int) -> None:
        made.append(CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=SECOND, latency_ns=0, start=100.0))

    probe(w, [1500 * MS], create)
    w.run()
    assert [s[0] for s in made[0].samples] == [2 * SECOND, 3 * SECOND, 4 * SECOND]


def test_a_sample_with_nothing_priced_holds_the_previous_value() -> None:
    """A's quotes are pulled at 1.5 s and it never traded: the 2 s sample repeats 100.00, not ``start``."""
    w = make_world(3 * SECOND, instruments=[A])
    quote(w, 0, 9_999, 10_001)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=SECOND, latency_ns=0, start=42.0)

    def pull(_now: int) -> None:
        w.venue.books[0].cancel(1_000_001)
        w.venue.books[0].cancel(1_000_002)

    probe(w, [1500 * MS], pull)
    w.run()
    assert [s[1] for s in index.samples] == pytest.approx([100.0, 100.0, 100.0, 100.0], rel=1e-12)
    assert len(w.venue.books[0]) == 0


def test_every_jump_between_two_reads_gives_the_scanned_answer() -> None:
    """From each read to each other (forward and back, near and far), value and cause match a scan."""
    n = 20
    latency = 300 * MS
    w = make_world(n * SECOND, instruments=[A])
    quote(w, 0, 9_999, 10_001)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=SECOND, latency_ns=latency, start=7.0)
    probe(
        w,
        [k * SECOND + 500 * MS for k in range(n)],
        lambda now: index.on_caused_trade(0, now // SECOND % 3, now),
    )
    w.run()
    samples = index.samples
    assert len(samples) == n + 1
    # just before and at each sample's visible time, and before the first
    times = [-1] + [k * SECOND + latency + d for k in range(n + 1) for d in (-1, 0)]

    def scan_value(now: int) -> float:
        visible = [s for s in samples if s[0] + latency <= now]
        return visible[-1][1] if visible else 7.0

    def scan_cause(since: int, now: int) -> tuple[int, int]:
        best = (-1, 0)
        for taken, _, gen, liq in samples:
            if since < taken + latency <= now and gen >= 0 and gen >= best[0]:
                best = (gen, liq)
        return best

    for a in times:
        for b in times:
            assert index.value(a) == scan_value(a), (a, b)
            assert index.value(b) == scan_value(b), (a, b)
            assert index.cause(a, b) == scan_cause(a, b), (a, b)


@given(
    st.lists(st.integers(0, 12 * SECOND), max_size=10),
    st.lists(st.tuples(st.integers(-SECOND, 14 * SECOND), st.integers(-SECOND, 14 * SECOND)), max_size=30),
    st.sampled_from([100 * MS, 250 * MS, SECOND, 2500 * MS]),
    st.sampled_from([0, 300 * MS, SECOND, 3 * SECOND]),
)
@settings(max_examples=60, deadline=None)
def test_value_and_cause_agree_with_a_scan_of_the_samples(
    report_times: list[int], queries: list[tuple[int, int]], interval: int, latency: int
) -> None:
    """Whatever the order of the reads (the cursors move both ways), the answers are those of a full scan."""
    w = make_world(12 * SECOND, instruments=[A])
    quote(w, 0, 9_999, 10_001)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=interval, latency_ns=latency, start=7.0)
    times = sorted(report_times)
    probe(w, times, lambda now: index.on_caused_trade(0, now % 5, now))
    w.run()
    samples = index.samples
    assert len(samples) == 12 * SECOND // interval + 1

    def scan_value(now: int) -> float:
        visible = [s for s in samples if s[0] + latency <= now]
        return visible[-1][1] if visible else 7.0

    def scan_cause(since: int, now: int) -> tuple[int, int]:
        best = (-1, 0)
        for taken, _, gen, liq in samples:
            if since < taken + latency <= now and gen >= 0 and gen >= best[0]:
                best = (gen, liq)
        return best

    for since, now in queries:
        assert index.value(now) == scan_value(now)
        assert index.cause(since, now) == scan_cause(since, now)
        assert index.value(since) == scan_value(since)


class CountingList(list[int]):
    """A list that counts item reads (bisect reads a list subclass through ``__getitem__``)."""

    reads = 0

    def __getitem__(self, i: Any) -> Any:
        CountingList.reads += 1
        return super().__getitem__(i)


def test_a_reader_moving_forward_pays_a_constant_number_of_reads_per_call() -> None:
    n = 100_000
    w = make_world(n, instruments=[A])
    quote(w, 0, 9_999, 10_001)
    index = CompositeIndex(w.env, w.venue, [(0, 1.0)], interval_ns=1, latency_ns=3, start=100.0)
    w.env.run(until=n)
    assert len(index.samples) == n
    index._taken = CountingList(index._taken)
    CountingList.reads = 0
    assert index.value(n // 2) == pytest.approx(100.0)  # a jump: logarithmic
    assert CountingList.reads <= 4 * math.ceil(math.log2(n))
    calls = 2_000
    CountingList.reads = 0
    for now in range(n // 2, n // 2 + calls):
        index.value(now)
        index.cause(now - 1, now)
    # three searches a loop (value, and since and now in cause), each a few reads; a bisect over the whole
    # list would read ~17 items per search, a scan from the start thousands
    assert CountingList.reads <= 3 * 4 * calls


@pytest.mark.parametrize(
    ("components", "kwargs", "match"),
    [
        ([], {}, "components must name at least one"),
        ([(3, 1.0)], {}, r"components\[0\] instrument must be an index in 0\.\.2, got 3"),
        ([(0, 1.0), (-1, 1.0)], {}, r"components\[1\] instrument"),
        ([(1.0, 1.0)], {}, r"components\[0\] instrument"),
        ([(True, 1.0)], {}, r"components\[0\] instrument"),
        ([(0, -1.0)], {}, r"components\[0\] weight must be finite and >= 0"),
        ([(0, 1.0), (1, math.nan)], {}, r"components\[1\] weight"),
        ([(0, math.inf)], {}, r"components\[0\] weight"),
        ([(0, "heavy")], {}, r"components\[0\] weight must be finite and >= 0, got 'heavy'"),
        ([(0, 0.0), (1, 0.0)], {}, "positive sum"),
        ([(0, 1.0)], {"interval_ns": 0}, "interval_ns must be > 0"),
        ([(0, 1.0)], {"latency_ns": -1}, "latency_ns must be >= 0"),
        ([(0, 1.0)], {"source": "index"}, "source must be one of mid, last"),
        ([(0, 1.0)], {"start": 0.0}, "start must be a finite price > 0"),
        ([(0, 1.0)], {"start": math.nan}, "start must be"),
    ],
)
def test_bad_configuration_is_rejected_naming_the_field(
    components: list[tuple[Any, float]], kwargs: dict[str, Any], match: str
) -> None:
    w = make_world(SECOND, instruments=[A, B, C])
    args: dict[str, Any] = {"interval_ns": SECOND, "latency_ns": 0, "start": 100.0, **kwargs}
    with pytest.raises(ValueError, match=match):
        CompositeIndex(w.env, w.venue, components, name="btc", **args)
    with pytest.raises(ValueError, match="composite index 'btc'"):
        CompositeIndex(w.env, w.venue, components, name="btc", **args)
