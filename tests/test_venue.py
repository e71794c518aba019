"""The venue: latency on the way in and out, acks, fills, fees, market data, and the log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from market_helpers import Scripted, assert_conserved, assert_views_match, make_world, scripted

from lob.core.reference import ReferenceBook
from lob.errors import OrderError
from lob.eventlog.schema import EVENT_KINDS, KIND_CODE, REASONS, STATUSES
from lob.market.feed import Quote
from lob.scenario.world import SECOND, LatencySpec

US = 1_000
MS = 1_000_000


def rows(world: Any, kind: str) -> np.ndarray:
    ev = world.arrays()["events"]
    return ev[ev["kind"] == KIND_CODE[kind]]


class TestLatency:
    def test_an_order_reaches_the_book_after_its_entry_latency(self) -> None:
        w = make_world(latency=LatencySpec(100 * US))
        scripted(w, "a", [(1 * SECOND, lambda t: t.submit_limit("sell", 5, 10_000))])
        w.run()
        (row,) = rows(w, "limit")
        assert (row["time_ns"], row["sent_ns"]) == (SECOND + 100 * US, SECOND)

    def test_nothing_matches_before_the_resting_order_has_arrived(self) -> None:
        w = make_world()
        scripted(
            w, "maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))], latency=LatencySpec(100 * US)
        )
        # sent later but faster: arrives at 80 us, before the sell (100 us), and finds an empty book
        early = scripted(
            w, "early", [(50 * US, lambda t: t.submit_market("buy", 1))], latency=LatencySpec(30 * US)
        )
        late = scripted(
            w, "late", [(90 * US, lambda t: t.submit_market("buy", 1))], latency=LatencySpec(30 * US)
        )
        w.run()
        trades = w.arrays()["trades"]
        assert len(trades) == 1
        assert trades["time_ns"][0] == 120 * US
        assert trades["taker"][0] == w.agent_names.index("late")
        assert early.heard_updates[-1][1:] == ("expired", "none")
        assert late.position() == 1 and early.position() == 0

    def test_fills_are_heard_after_the_return_latency_never_before_the_match(self) -> None:
        w = make_world()
        maker = scripted(
            w,
            "maker",
            [(0, lambda t: t.submit_limit("sell", 5, 10_000))],
            latency=LatencySpec(100 * US),
            return_latency=LatencySpec(700 * US),
        )
        taker = scripted(
            w,
            "taker",
            [(SECOND, lambda t: t.submit_market("buy", 2))],
            latency=LatencySpec(50 * US),
            return_latency=LatencySpec(20 * US),
        )
        w.run()
        match_t = SECOND + 50 * US
        ((heard_m, fill_m),) = maker.heard_fills
        ((heard_t, fill_t),) = taker.heard_fills
        assert fill_m.time_ns == fill_t.time_ns == match_t
        assert heard_m == match_t + 700 * US and heard_t == match_t + 20 * US
        assert (fill_m.maker, fill_t.maker, fill_m.side, fill_t.side) == (True, False, -1, 1)
        assert_conserved(w)
        assert_views_match(w)

    def test_the_trader_does_not_know_a_fill_before_hearing_it(self) -> None:
        w = make_world()
        seen: list[tuple[int, int]] = []
        scripted(
            w, "maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))], return_latency=LatencySpec(SECOND)
        )
        scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 5))])
        w.run()
        maker = w.traders[0]
        assert isinstance(maker, Scripted)
        (heard_at, _), *_ = maker.heard_fills
        # the venue booked it at once; the maker's own view changed only when the reply landed
        assert w.venue.accounts[0].position[0] == -5
        assert heard_at == 1 * MS + 100 * US + SECOND
        seen.append((heard_at, maker.position()))
        assert seen == [(heard_at, -5)]

    def test_next_fill_is_one_event_for_every_waiter_and_fires_with_the_fill(self) -> None:
        w = make_world()
        maker = scripted(w, "maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))])
        scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 2))])
        first = maker.next_fill()
        assert maker.next_fill() is first  # an abandoned wait leaves nothing behind
        w.run()
        assert first.triggered and first.value.qty == 2 and first.value.maker
        assert maker.next_fill() is not first

    def test_jitter_never_lets_a_later_message_overtake(self) -> None:
        w = make_world(latency=LatencySpec(10 * US, 500 * US, "exponential"))
        script = [(i * US, lambda t, i=i: t.submit_limit("buy", 1, 9_000 + i)) for i in range(300)]
        trader = scripted(w, "jittery", script)
        w.run()
        ev = rows(w, "limit")
        assert ev["order_id"].tolist() == sorted(trader.ids)
        assert np.all(np.diff(ev["time_ns"]) >= 0)
        latency = ev["time_ns"] - ev["sent_ns"]
        assert latency.min() >= 10 * US and latency.max() > 500 * US  # the jitter is there

    def test_orders_sent_at_one_instant_travel_together(self) -> None:
        w = make_world(latency=LatencySpec(10 * US, 500 * US))

        def burst(t: Scripted) -> None:
            for i in range(20):
                t.submit_limit("buy", 1, 9_000 + i)

        scripted(w, "burst", [(0, burst)])
        w.run()
        assert len(set(rows(w, "limit")["time_ns"].tolist())) == 1


class TestOrders:
    def test_cancel_after_the_order_filled_is_rejected_and_heard(self) -> None:
        w = make_world()
        maker = scripted(
            w,
            "maker",
            [(0, lambda t: t.submit_limit("sell", 5, 10_000)), (2 * MS, lambda t: t.cancel(t.ids[0]))],
        )
        scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 5))])
        w.run()
        (cancel,) = rows(w, "cancel")
        assert STATUSES[cancel["status"]] == "rejected"
        assert REASONS[cancel["reason"]] == "unknown_order_id"
        assert [r[2:] for r in maker.heard_rejects] == [("cancel", "unknown_order_id")]
        assert maker.orders == {}

    def test_a_trader_cannot_cancel_another_traders_order(self) -> None:
        w = make_world()
        scripted(w, "maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))])
        thief = scripted(w, "thief", [(1 * MS, lambda t: t.cancel(1))])
        w.run()
        assert w.venue.books[0].order_qty(1) == 5
        assert [r[2:] for r in thief.heard_rejects] == [("cancel", "unknown_order_id")]

    def test_cancel_is_acknowledged_with_the_lots_removed(self) -> None:
        w = make_world()
        maker = scripted(
            w,
            "maker",
            [(0, lambda t: t.submit_limit("buy", 7, 9_000)), (SECOND, lambda t: t.cancel(t.ids[0]))],
        )
        w.run()
        (cancel,) = rows(w, "cancel")
        assert (cancel["qty_lots"], STATUSES[cancel["status"]]) == (7, "cancelled")
        assert [u[1] for u in maker.heard_updates] == ["open", "cancelled"]
        assert len(w.venue.books[0]) == 0

    def test_modify_keeps_priority_only_when_shrinking_at_the_same_price(self) -> None:
        w = make_world()
        a = scripted(
            w,
            "a",
            [(0, lambda t: t.submit_limit("sell", 5, 10_000)), (2 * MS, lambda t: t.modify(t.ids[0], qty=3))],
        )
        b = scripted(
            w,
            "b",
            [
                (1 * MS, lambda t: t.submit_limit("sell", 5, 10_000)),
                (2 * MS, lambda t: t.modify(t.ids[0], qty=6)),
            ],
        )
        scripted(w, "taker", [(3 * MS, lambda t: t.submit_market("buy", 4))])
        w.run()
        # a shrank and kept its place at the front; b grew and went to the back, behind nobody new
        assert a.position() == -3 and b.position() == -1
        assert a.orders == {} and b.orders[b.ids[0]].leaves == 5
        assert_views_match(w)

    def test_impossible_orders_are_rejected_by_the_venue_and_logged(self) -> None:
        w = make_world()
        t = scripted(
            w,
            "t",
            [
                (0, lambda t: t.submit_limit("buy", 0, 9_000)),
                (1, lambda t: t.submit_limit("buy", 5, -3)),
                (2, lambda t: t.submit_limit("buy", 10**18, 9_000)),
            ],
        )
        w.run()
        ev = rows(w, "limit")
        assert [REASONS[r] for r in ev["reason"]] == ["invalid_qty", "invalid_price", "invalid_qty"]
        assert [STATUSES[s] for s in ev["status"]] == ["rejected"] * 3
        assert [u[1] for u in t.heard_updates] == ["rejected"] * 3
        assert t.orders == {}

    def test_mistyped_orders_raise_in_the_trader(self) -> None:
        w = make_world()
        t = w.add_trader(Scripted, "t")
        with pytest.raises(TypeError, match="whole number of lots"):
            t.submit_limit("buy", 1.5, 9_000)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="side must be"):
            t.submit_limit("bye", 1, 9_000)
        with pytest.raises(KeyError, match="not one of t's live orders"):
            t.modify(12345, qty=1)

    def test_fees_are_truncated_toward_zero_and_conserved(self) -> None:
        w = make_world(maker_ppm=-100, taker_ppm=350)
        scripted(w, "maker", [(0, lambda t: t.submit_limit("sell", 7, 10_001))])
        scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 7))])
        w.run()
        (trade,) = w.arrays()["trades"]
        notional = 7 * 10_001
        assert trade["taker_fee"] == notional * 350 // 10**6 == 24
        assert trade["maker_fee"] == -(notional * 100 // 10**6) == -7
        assert w.venue.fee_income[0] == 17
        assert_conserved(w)
        assert_views_match(w)


class TestMarketData:
    def test_pulled_quotes_lag_by_the_feed_latency(self) -> None:
        w = make_world(feed_latency_ns=300 * US)
        seen: list[tuple[int, int]] = []

        def look(t: Scripted) -> None:
            seen.append((t.now, t.best_ask()))

        scripted(w, "maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))])
        scripted(w, "watcher", [(at, look) for at in (100 * US, 399 * US, 400 * US, 1 * MS)])
        w.run()
        assert seen == [(100 * US, 0), (399 * US, 0), (400 * US, 10_000), (1 * MS, 10_000)]

    def test_subscribers_hear_each_quote_once_after_the_feed_latency(self) -> None:
        w = make_world(feed_latency_ns=300 * US, feed_depth=3)
        subs = [scripted(w, f"sub-{i}", [(0, lambda t: t.subscribe())]) for i in range(3)]
        scripted(
            w,
            "maker",
            [
                (0, lambda t: t.submit_limit("sell", 5, 10_000)),
                (0, lambda t: t.submit_limit("sell", 2, 10_003)),
            ],
        )
        scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 6))])
        w.run()
        for sub in subs:
            times = [t for t, _ in sub.heard_quotes]
            quotes: list[Quote] = [q for _, q in sub.heard_quotes]
            assert times == [400 * US, 1 * MS + 400 * US]
            assert quotes[0].asks == ((10_000, 5), (10_003, 2))
            assert (quotes[1].ask, quotes[1].ask_lots, quotes[1].last, quotes[1].volume) == (
                10_003,
                1,
                10_003,
                6,
            )
            assert quotes[1].trades == ((10_000, 5, 1), (10_003, 1, 1))

    def test_push_costs_one_event_per_quote_not_per_subscriber(self) -> None:
        def events_scheduled(n_subscribers: int) -> int:
            w = make_world()
            for i in range(n_subscribers):
                scripted(w, f"sub-{i}", [(0, lambda t: t.subscribe())])
            scripted(w, "maker", [(SECOND, lambda t: t.submit_limit("sell", 5, 10_000))])
            w.run()
            return next(w.env._eid)  # type: ignore[attr-defined]

        # each subscriber's own process costs a fixed few events; the quote costs one, shared
        assert events_scheduled(41) - events_scheduled(1) == 40 * (events_scheduled(2) - events_scheduled(1))


# -- the log is complete: replaying its commands through the reference book gives the same fills --


def replay_through_reference(events: np.ndarray) -> tuple[list[tuple[int, ...]], list[int]]:
    ref = ReferenceBook()
    fills: list[tuple[int, ...]] = []
    statuses: list[int] = []
    for row in events[events["kind"] <= KIND_CODE["replace"]]:
        try:
            status = ref.submit(
                int(row["kind"]),
                int(row["order_id"]),
                int(row["agent"]),
                int(row["side"]),
                int(row["price_ticks"]),
                int(row["qty_lots"]),
                int(row["stp"]),
            )
        except (OrderError, OverflowError):
            status = 0
        statuses.append(status)
        fills.extend((f[1], f[2], f[5], f[6]) for f in ref.take_fill_tuples())
    return fills, statuses


actions = st.lists(
    st.tuples(
        st.integers(0, 3),  # trader
        st.integers(0, 2_000),  # time, us
        st.sampled_from(["limit", "ioc", "market", "post_only", "fok", "cancel", "modify", "reduce"]),
        st.sampled_from(["buy", "sell"]),
        st.integers(1, 9),  # qty
        st.integers(9_995, 10_005),  # price
    ),
    min_size=1,
    max_size=120,
)


def act(t: Scripted, kind: str, side: str, qty: int, price: int) -> None:
    live = [o.order_id for o in t.open_orders]
    if kind in ("cancel", "modify", "reduce"):
        if not live:
            return
        oid = live[(qty + price) % len(live)]
        if kind == "cancel":
            t.cancel(oid)
        elif kind == "modify":
            t.modify(oid, price=price, qty=qty)
        else:
            t.reduce(oid, 1)
    elif kind == "market":
        t.submit_market(side, qty)
    else:
        getattr(t, f"submit_{kind}")(side, qty, price)


@settings(max_examples=60, deadline=None)
@given(actions=actions, seed=st.integers(0, 2**32 - 1), fee=st.sampled_from([(0, 0), (-25, 400), (100, 100)]))
def test_random_flow_conserves_money_and_the_log_replays_exactly(
    actions: list[tuple[int, int, str, str, int, int]], seed: int, fee: tuple[int, int]
) -> None:
    w = make_world(seed=seed, latency=LatencySpec(20 * US, 300 * US), maker_ppm=fee[0], taker_ppm=fee[1])
    scripts: list[list[Any]] = [[] for _ in range(4)]
    for who, at, kind, side, qty, price in sorted(actions, key=lambda a: a[1]):
        scripts[who].append((at * US, lambda t, k=kind, s=side, q=qty, p=price: act(t, k, s, q, p)))
    for i, script in enumerate(scripts):
        scripted(w, f"t{i}", script)
    w.run()
    assert_conserved(w)
    assert_views_match(w)
    arrays = w.arrays()
    events, trades = arrays["events"], arrays["trades"]
    assert np.all(np.diff(events["seq"]) == 1)
    fills, statuses = replay_through_reference(events)
    logged = [
        (int(r["taker_order_id"]), int(r["maker_order_id"]), int(r["price_ticks"]), int(r["qty_lots"]))
        for r in trades
    ]
    assert fills == logged
    commands = events[events["kind"] <= KIND_CODE["replace"]]
    assert statuses == commands["status"].tolist()
    # every trader's live orders are exactly its orders left on the book
    book = w.venue.books[0]
    for i, trader in enumerate(w.traders):
        assert {o: trader.orders[o].leaves for o in trader.orders} == {
            int(o): book.order_qty(int(o)) for o in trader.orders if book.order_owner(int(o)) == i
        }


def test_same_seed_same_log_and_another_seed_differs() -> None:
    def run(seed: int) -> dict[str, np.ndarray]:
        w = make_world(seed=seed, latency=LatencySpec(20 * US, 300 * US))
        for i in range(3):
            scripted(
                w,
                f"t{i}",
                [
                    (k * 37 * US, lambda t, k=k: t.submit_ioc("buy" if k % 2 else "sell", 1 + k % 3, 10_000))
                    for k in range(30)
                ],
            )
            scripted(
                w,
                f"m{i}",
                [
                    (
                        k * 41 * US,
                        lambda t, k=k: t.submit_limit("sell" if k % 2 else "buy", 2, 10_000 + (k % 3) - 1),
                    )
                    for k in range(30)
                ],
            )
        w.run()
        return w.arrays()

    a, b, c = run(5), run(5), run(6)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["events"], c["events"])
    assert EVENT_KINDS[a["events"]["kind"][0]] in ("limit", "ioc")
