"""Circuit breakers and price protection: bands, limit up/limit down, market-wide halts, held orders."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from market_helpers import XYZ, Scripted, assert_conserved, assert_views_match, make_world, scripted

from lob.eventlog.breaker_summary import breaker_summary
from lob.eventlog.schema import KIND_CODE, REASON_CODE, REASONS, STATUSES
from lob.market.breakers import (
    LULD_HALT,
    MARKET_WIDE_HALT,
    BandRule,
    BreakerRules,
    CircuitBreakers,
    LuldRule,
    MarketWideRule,
)
from lob.market.instrument import Instrument
from lob.scenario.world import SECOND, LatencySpec, World

US = 1_000
MS = 1_000_000
LAT = 100 * US  # the default entry latency of make_world
ABC = Instrument("ABC", 0.01, 1)


def rows(world: World, kind: str) -> np.ndarray:
    ev = world.arrays()["events"]
    return ev[ev["kind"] == KIND_CODE[kind]]


def attach(world: World, rules: BreakerRules) -> CircuitBreakers:
    return CircuitBreakers(world.env, world.venue, rules, [10_000] * len(world.instruments))


def at(world: World, t: int, action: Callable[[], Any]) -> None:
    """Runs ``action()`` at venue time ``t`` (a test's hand on the venue, without latency)."""
    ev = world.env.timeout(t)
    ev.callbacks.append(lambda _ev: action())


def reasons(r: np.ndarray) -> list[str]:
    return [REASONS[x] for x in r["reason"]]


def statuses(r: np.ndarray) -> list[str]:
    return [STATUSES[x] for x in r["status"]]


# -- price bands -------------------------------------------------------------------------------------------


class TestBands:
    def test_rejects_beyond_either_edge_and_accepts_at_it_around_the_mark(self) -> None:
        w = make_world()
        cb = attach(w, BreakerRules(band=BandRule(0.05, "mark")))
        t = scripted(
            w,
            "t",
            [
                # no mark, no trade: the day's reference, 10_000 -> band [9_500, 10_500]
                (0, lambda t: t.submit_limit("buy", 1, 10_501)),
                (1 * MS, lambda t: t.submit_limit("sell", 1, 9_499)),
                (2 * MS, lambda t: t.submit_limit("buy", 1, 10_500)),
                (3 * MS, lambda t: t.submit_ioc("sell", 1, 9_500)),
                # the mark at 11_000 -> band [10_450, 11_550]
                (5 * MS, lambda t: t.submit_post_only("buy", 1, 11_551)),
                (6 * MS, lambda t: t.submit_fok("sell", 1, 10_449)),
                (7 * MS, lambda t: t.submit_limit("buy", 1, 11_550)),
                (8 * MS, lambda t: t.submit_ioc("sell", 1, 10_450)),
            ],
        )
        at(w, 4 * MS, lambda: cb.set_mark(0, 11_000.0))
        w.run()
        ev = w.arrays()["events"]
        commands = ev[ev["kind"] <= KIND_CODE["replace"]]
        assert commands["price_ticks"].tolist() == [
            10_501,
            9_499,
            10_500,
            9_500,
            11_551,
            10_449,
            11_550,
            10_450,
        ]
        assert reasons(commands) == ["price_band", "price_band", "none", "none"] * 2
        assert statuses(commands) == ["rejected", "rejected", "resting", "filled"] * 2
        assert (commands["reason"][[0, 1, 4, 5]] == REASON_CODE["price_band"]).all()
        assert [r[2:] for r in t.heard_rejects] == [
            ("limit", "price_band"),
            ("limit", "price_band"),
            ("post_only", "price_band"),
            ("fok", "price_band"),
        ]
        assert cb.band_rejections == [4]
        assert len(rows(w, "fill")) == 2
        assert (
            breaker_summary(w.arrays(), w.instruments, w.duration_ns)["instruments"]["XYZ"]["band_rejections"]
            == 4
        )

    def test_the_trades_reference_follows_the_mean_of_recent_trades(self) -> None:
        w = make_world()
        cb = attach(w, BreakerRules(band=BandRule(0.05, "trades", window_ns=SECOND)))
        scripted(
            w,
            "maker",
            [
                (0, lambda t: t.submit_limit("sell", 1, 10_400)),
                (0, lambda t: t.submit_limit("sell", 1, 10_200)),
            ],
        )
        t = scripted(
            w,
            "t",
            [
                (1 * MS, lambda t: t.submit_market("buy", 2)),  # trades 10_200 and 10_400: mean 10_300
                (2 * MS, lambda t: t.submit_limit("buy", 1, 10_815)),  # 10_300 * 1.05 = 10_815: the edge
                (3 * MS, lambda t: t.submit_limit("buy", 1, 10_816)),
                # no trade in the last second: the last mean stays
                (3 * SECOND, lambda t: t.submit_limit("buy", 1, 10_816)),
            ],
        )
        w.run()
        assert cb.band_reference(0) == 10_300.0
        assert [r[3] for r in t.heard_rejects] == ["price_band", "price_band"]
        assert statuses(rows(w, "limit")) == ["resting", "resting", "resting", "rejected", "rejected"]

    def test_a_market_order_takes_up_to_the_band_edge_and_no_further(self) -> None:
        w = make_world()
        attach(w, BreakerRules(band=BandRule(0.05)))
        scripted(
            w,
            "maker",
            [
                (0, lambda t: t.submit_limit("sell", 2, 10_400)),
                (0, lambda t: t.submit_limit("sell", 5, 10_600)),
            ],
        )
        taker = scripted(w, "taker", [(1 * MS, lambda t: t.submit_market("buy", 5))])
        w.run()
        (market,) = rows(w, "market")
        assert (market["price_ticks"], STATUSES[market["status"]]) == (10_500, "expired")
        assert rows(w, "fill")["price_ticks"].tolist() == [10_400]
        assert taker.position() == 2
        assert_conserved(w)


# -- halts ---------------------------------------------------------------------------------------------------

HALT_AT = 1 * MS + LAT  # the crash trade below reaches the book here


def crash_world(
    during_halt: str = "reject", halt_ns: int = SECOND, **kw: Any
) -> tuple[World, CircuitBreakers]:
    """A maker with a bid at 9_500 and 4 lots asked at 10_000; a 1-lot sale at 1 ms falls 5%: a halt."""
    w = make_world(**kw)
    rules = BreakerRules(market_wide=MarketWideRule(((0.05, halt_ns),)), during_halt=during_halt)
    cb = attach(w, rules)
    scripted(
        w,
        "maker",
        [(0, lambda t: t.submit_limit("buy", 1, 9_500)), (0, lambda t: t.submit_limit("sell", 4, 10_000))],
    )
    scripted(w, "crasher", [(1 * MS, lambda t: t.submit_market("sell", 1))])
    return w, cb


class TestHalts:
    def test_a_halt_rejects_an_order_that_would_cross_and_trading_resumes_after_it(self) -> None:
        w, cb = crash_world()
        buyer = scripted(
            w,
            "buyer",
            [
                (2 * MS, lambda t: t.submit_limit("buy", 2, 10_000)),
                (HALT_AT + SECOND, lambda t: t.submit_limit("buy", 2, 10_000)),
            ],
        )
        w.run()
        (halt,) = rows(w, "halt")
        assert (halt["time_ns"], halt["order_id"], halt["qty_lots"], halt["value"]) == (
            HALT_AT,
            MARKET_WIDE_HALT,
            1,
            1.0,
        )
        (resume,) = rows(w, "resume")
        assert resume["time_ns"] == HALT_AT + SECOND
        buys = rows(w, "limit")[2:]
        assert statuses(buys) == ["rejected", "filled"] and reasons(buys) == ["halted", "none"]
        assert [r[3] for r in buyer.heard_rejects] == ["halted"]
        fills = rows(w, "fill")
        assert fills["time_ns"].tolist() == [HALT_AT, HALT_AT + SECOND + LAT]
        assert buyer.position() == 2 and cb.halt_rejections == [1]
        assert_conserved(w)
        assert_views_match(w)

    def test_held_orders_enter_at_the_resumption_in_arrival_order(self) -> None:
        w, cb = crash_world("queue")
        a = scripted(w, "a", [(10 * MS, lambda t: t.submit_limit("buy", 3, 10_000))])
        b = scripted(w, "b", [(20 * MS, lambda t: t.submit_limit("buy", 3, 10_000))])
        resumed: list[tuple[int, int]] = []
        at(w, 500 * MS, lambda: cb.on_resume(0, lambda: resumed.append((w.env.now, len(w.venue.books[0])))))
        w.run()
        resume_at = HALT_AT + SECOND
        buys = rows(w, "limit")[2:]
        assert buys["order_id"].tolist() == [a.ids[0], b.ids[0]]
        assert buys["time_ns"].tolist() == [resume_at] * 2
        assert buys["sent_ns"].tolist() == [10 * MS, 20 * MS]  # logged when entered, with their send time
        assert statuses(buys) == ["filled", "resting"]
        fills = rows(w, "fill")[1:]
        assert fills["time_ns"].tolist() == [resume_at, resume_at]
        assert fills["qty_lots"].tolist() == [3, 1]
        assert a.position() == 3 and b.position() == 1 and b.orders[b.ids[0]].leaves == 2
        (resume,) = rows(w, "resume")
        assert resume["qty_lots"] == 2 and cb.held_orders == [2]
        assert resumed == [(resume_at, 1)]  # once, after the held orders were entered: b's remainder rests
        assert_conserved(w)
        assert_views_match(w)

    def test_cancels_and_reduces_go_through_during_a_halt_held_orders_included(self) -> None:
        w, _cb = crash_world("queue")
        maker = w.traders[0]
        assert isinstance(maker, Scripted)
        a = scripted(
            w,
            "a",
            [(10 * MS, lambda t: t.submit_limit("buy", 3, 10_000)), (20 * MS, lambda t: t.cancel(t.ids[0]))],
        )
        b = scripted(
            w,
            "b",
            [
                (10 * MS, lambda t: t.submit_limit("buy", 3, 9_000)),
                (20 * MS, lambda t: t.reduce(t.ids[0], 1)),
            ],
        )
        at(w, 30 * MS, lambda: maker.cancel(2))  # the maker's resting ask, on the book
        w.run()
        cancels = rows(w, "cancel")
        assert cancels["order_id"].tolist() == [a.ids[0], 2]
        assert statuses(cancels) == ["cancelled", "cancelled"]
        assert reasons(cancels) == ["halted", "none"]  # a held order's cancel never reached the book
        (reduce,) = rows(w, "reduce")
        assert (STATUSES[reduce["status"]], reduce["leaves_lots"]) == ("resting", 2)
        # a's order never entered; b's entered at the resumption with 2 lots
        (entered,) = rows(w, "limit")[2:]
        assert (entered["order_id"], entered["qty_lots"], entered["time_ns"]) == (
            b.ids[0],
            2,
            HALT_AT + SECOND,
        )
        assert a.orders == {} and [u[1] for u in a.heard_updates] == ["cancelled"]
        assert b.orders[b.ids[0]].leaves == 2
        assert w.venue.books[0].order_qty(b.ids[0]) == 2 and 2 not in w.venue.books[0]
        assert len(rows(w, "fill")) == 1
        assert_conserved(w)
        assert_views_match(w)

    def test_the_liquidation_engines_cancel_all_drops_held_orders(self) -> None:
        w, _cb = crash_world("queue")
        a = scripted(w, "a", [(10 * MS, lambda t: t.submit_limit("buy", 3, 10_000))])
        owner = w.agent_names.index("a")
        at(w, 30 * MS, lambda: w.venue.cancel_all_for(owner, 9))
        w.run()
        (cancel,) = rows(w, "cancel")
        assert (cancel["order_id"], cancel["cause"], REASONS[cancel["reason"]]) == (a.ids[0], 9, "halted")
        assert len(rows(w, "limit")) == 2 and a.orders == {}

    def test_forced_orders_trade_during_a_halt(self) -> None:
        w, cb = crash_world()
        buyer = scripted(w, "buyer", [(500 * MS, lambda t: t.submit_market("buy", 1))])
        results: list[Any] = []
        owner = w.agent_names.index("buyer")
        at(w, 500 * MS + LAT, lambda: results.append(w.venue.execute_forced(owner, 0, 1, 2, 0, 77)))
        w.run()
        assert not cb.halted(0)
        (forced,) = results
        assert (forced.filled, forced.notional) == (2, 20_000)
        fills = rows(w, "fill")[1:]
        assert fills["time_ns"].tolist() == [500 * MS + LAT] and fills["cause"].tolist() == [77]
        markets = rows(w, "market")
        (client,) = markets[(markets["cause"] == 0) & (markets["time_ns"] > HALT_AT)]
        assert REASONS[client["reason"]] == "halted"
        (forced_row,) = markets[markets["cause"] == 77]
        assert STATUSES[forced_row["status"]] == "filled" and forced_row["qty_lots"] == 2
        assert buyer.position() == 2
        assert_conserved(w)
        assert_views_match(w)


# -- limit up / limit down -----------------------------------------------------------------------------------


class TestLuld:
    def test_limit_state_enters_ends_halts_and_resumes_with_the_book_intact(self) -> None:
        w = make_world()
        rules = BreakerRules(luld=LuldRule(0.05, limit_state_ns=SECOND, halt_ns=2 * SECOND))
        cb = attach(w, rules)
        scripted(
            w,
            "maker",
            [
                (0, lambda t: t.submit_limit("sell", 1, 10_000)),
                (0, lambda t: t.submit_limit("sell", 10, 11_000)),
                (1_500 * MS, lambda t: t.submit_limit("buy", 10, 10_300)),
            ],
        )
        taker = scripted(
            w,
            "taker",
            [
                (1 * SECOND, lambda t: t.submit_market("buy", 1)),  # 10_000: inside
                (2 * SECOND, lambda t: t.submit_market("buy", 1)),  # 11_000 vs 10_000: limit state
                (2_900 * MS, lambda t: t.submit_market("buy", 1)),  # 11_000 vs 10_433.3: limit state again
                (4 * SECOND, lambda t: t.submit_limit("buy", 1, 11_000)),  # halted: would have crossed
            ],
        )
        scripted(w, "seller", [(2_500 * MS, lambda t: t.submit_ioc("sell", 1, 10_300))])  # 10_300 vs 10_500
        books: list[np.ndarray] = []
        for t in (3_500 * MS, 6 * SECOND):
            at(w, t, lambda: books.append(w.venue.books[0].snapshot()))
        w.run()
        entered = rows(w, "limit_state")
        assert entered["time_ns"].tolist() == [2 * SECOND + LAT, 2_900 * MS + LAT]
        assert entered["price_ticks"].tolist() == [11_000, 11_000]
        assert entered["value"].tolist() == pytest.approx([10_000.0, 31_300 / 3])
        (ended,) = rows(w, "limit_state_end")
        assert (ended["time_ns"], ended["price_ticks"], ended["value"]) == (
            2_500 * MS + LAT,
            10_300,
            10_500.0,
        )
        # the first limit state's timer (at 3.0001 s) is stale: the halt comes 1 s after the second entry
        (halt,) = rows(w, "halt")
        halt_at = 3_900 * MS + LAT
        assert (halt["time_ns"], halt["order_id"], halt["value"]) == (halt_at, LULD_HALT, 2.0)
        (resume,) = rows(w, "resume")
        assert (resume["time_ns"], resume["value"]) == (halt_at + 2 * SECOND, 2.0)
        assert [r[3] for r in taker.heard_rejects] == ["halted"]
        assert np.array_equal(books[0], books[1])  # the halt left every resting order as it was
        assert not cb.halted(0) and not cb.in_limit_state(0)
        summary = breaker_summary(w.arrays(), w.instruments, w.duration_ns)["instruments"]["XYZ"]
        assert summary == {
            "halts": 1,
            "halts_luld": 1,
            "halts_market_wide": 0,
            "halted_seconds": 2.0,
            "limit_states": 2,
            "band_rejections": 0,
            "halt_rejections": 1,
        }
        assert_conserved(w)


# -- market-wide ---------------------------------------------------------------------------------------------


class TestMarketWide:
    def test_each_level_fires_once_and_halts_every_instrument(self) -> None:
        w = make_world(instruments=[XYZ, ABC])
        cb = attach(w, BreakerRules(market_wide=MarketWideRule(((0.05, SECOND), (0.10, 2 * SECOND)))))
        scripted(
            w,
            "maker",
            [(0, lambda t, p=p: t.submit_limit("buy", 1, p)) for p in (9_500, 9_400, 8_900)],
        )
        scripted(w, "seller", [(s * SECOND, lambda t: t.submit_market("sell", 1)) for s in (1, 3, 4)])
        scripted(w, "abc-maker", [(0, lambda t: t.submit_limit("sell", 5, 10_000))], instrument="ABC")
        abc = scripted(
            w,
            "abc-buyer",
            [
                (1_500 * MS, lambda t: t.submit_limit("buy", 1, 10_000)),
                (3 * SECOND, lambda t: t.submit_market("buy", 1)),
            ],
            instrument="ABC",
        )
        w.run()
        halts = rows(w, "halt")
        assert halts["time_ns"].tolist() == [SECOND + LAT] * 2 + [4 * SECOND + LAT] * 2
        assert halts["instrument"].tolist() == [0, 1, 0, 1]
        assert halts["order_id"].tolist() == [MARKET_WIDE_HALT] * 4
        assert halts["qty_lots"].tolist() == [1, 1, 2, 2]
        assert halts["value"].tolist() == [1.0, 1.0, 2.0, 2.0]
        assert rows(w, "resume")["time_ns"].tolist() == [2 * SECOND + LAT] * 2 + [6 * SECOND + LAT] * 2
        assert [r[3] for r in abc.heard_rejects] == ["halted"]  # ABC never fell, but it halted too
        assert abc.position() == 1  # bought at 3 s, between the halts
        assert rows(w, "fill")["price_ticks"].tolist() == [9_500, 9_400, 10_000, 8_900]  # 9_400 fired nothing
        assert cb.halts == [2, 2]
        summary = breaker_summary(w.arrays(), w.instruments, w.duration_ns)
        assert summary["market_wide_levels"] == [1, 2]
        assert summary["instruments"]["ABC"]["halted_seconds"] == 3.0

    def test_a_level_without_a_length_halts_to_the_end_of_the_run(self) -> None:
        w = make_world()
        cb = attach(w, BreakerRules(market_wide=MarketWideRule(((0.05, 0),))))
        scripted(w, "maker", [(0, lambda t: t.submit_limit("buy", 1, 9_400))])
        scripted(w, "seller", [(SECOND, lambda t: t.submit_market("sell", 1))])
        w.run()
        (halt,) = rows(w, "halt")
        assert halt["value"] == math.inf and len(rows(w, "resume")) == 0 and cb.halted(0)
        summary = breaker_summary(w.arrays(), w.instruments, w.duration_ns)["instruments"]["XYZ"]
        assert summary["halted_seconds"] == (w.duration_ns - SECOND - LAT) / 1e9


# -- invariants ----------------------------------------------------------------------------------------------


def random_flow(world: World, seed: int, n: int = 600) -> None:
    """Four traders sending a seeded mix of orders, cancels and reduces around 10_000 for 20 s."""
    rng = np.random.default_rng(seed)
    kinds = ["limit", "limit", "ioc", "market", "post_only", "cancel", "reduce", "modify"]
    scripts: list[list[Any]] = [[] for _ in range(4)]
    for at_us in np.sort(rng.integers(0, 20_000_000, n)).tolist():
        who, kind = int(rng.integers(4)), kinds[int(rng.integers(len(kinds)))]
        side, qty, price = (
            ("buy", "sell")[int(rng.integers(2))],
            int(rng.integers(1, 6)),
            int(rng.integers(9_985, 10_016)),
        )
        scripts[who].append((at_us * US, lambda t, k=kind, s=side, q=qty, p=price: act(t, k, s, q, p)))
    for i, script in enumerate(scripts):
        scripted(world, f"t{i}", script)


def act(t: Scripted, kind: str, side: str, qty: int, price: int) -> None:
    live = [o.order_id for o in t.open_orders]
    if kind in ("cancel", "modify", "reduce"):
        if live:
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


def test_money_and_positions_stay_conserved_through_halts_and_held_orders() -> None:
    w = make_world(duration_ns=30 * SECOND, seed=3, latency=LatencySpec(20 * US, 300 * US))
    rules = BreakerRules(
        band=BandRule(0.0012, "trades", window_ns=2 * SECOND),
        luld=LuldRule(0.0005, reference_window_ns=5 * SECOND, limit_state_ns=200 * MS, halt_ns=500 * MS),
        during_halt="queue",
    )
    cb = attach(w, rules)
    random_flow(w, seed=11)
    w.run()
    assert cb.halts[0] >= 2 and cb.held_orders[0] >= 5 and cb.band_rejections[0] >= 5  # it was exercised
    assert_conserved(w)
    assert_views_match(w)
    ev = w.arrays()["events"]
    # no client order matched while halted: between a halt row and its resume row there is no fill
    halted = False
    for kind in ev["kind"].tolist():
        if kind == KIND_CODE["halt"]:
            halted = True
        elif kind == KIND_CODE["resume"]:
            halted = False
        else:
            assert not (halted and kind == KIND_CODE["fill"])
    # every order a trader knows is on the book, or held for a resumption
    book = w.venue.books[0]
    held = {msg[1] for msg in cb.held(0)}
    for i, trader in enumerate(w.traders):
        assert {o: trader.orders[o].leaves for o in trader.orders if o not in held} == {
            o: book.order_qty(o) for o in trader.orders if o in book and book.order_owner(o) == i
        }


def test_no_breaker_enabled_leaves_the_log_byte_for_byte_as_without_breakers() -> None:
    def run(with_breakers: bool) -> dict[str, np.ndarray]:
        w = make_world(duration_ns=25 * SECOND, seed=5, latency=LatencySpec(20 * US, 300 * US))
        if with_breakers:
            attach(w, BreakerRules())
        random_flow(w, seed=7, n=400)
        w.run()
        assert (w.venue.breakers is not None) == with_breakers
        return w.arrays()

    plain, empty = run(False), run(True)
    assert plain.keys() == empty.keys()
    assert all(plain[k].tobytes() == empty[k].tobytes() for k in plain)
    assert len(plain["trades"]) > 50


def test_rules_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="band limit"):
        BandRule(0.0)
    with pytest.raises(ValueError, match="reference"):
        BandRule(0.05, "last")
    with pytest.raises(ValueError, match="increasing"):
        MarketWideRule(((0.13, 1), (0.07, 1)))
    with pytest.raises(ValueError, match="during_halt"):
        BreakerRules(during_halt="wait")
    w = make_world()
    with pytest.raises(ValueError, match="reference prices"):
        CircuitBreakers(w.env, w.venue, BreakerRules(), [10_000, 10_000])
