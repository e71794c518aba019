"""The built-in traders, each in a small World: behaviour, and conservation of lots and cash.

Every test ends with :func:`check_conservation`: positions over the venue's
accounts sum to zero, cash plus the venue's fee income sums to zero, and each
trader's own view (fills heard) equals its venue account. The traders stop
before the run ends so that every delivery has arrived.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, TypeVar

import numpy as np
import pytest
import simpy
from pydantic import BaseModel, ConfigDict

from lob.agents import ExecutionAgent, MarketMaker, MomentumTrader, NoiseTrader, Trader, ValueTrader
from lob.eventlog.schema import KIND_CODE
from lob.market.fundamental import FundamentalProcess, Shock
from lob.market.instrument import Instrument
from lob.scenario.world import SECOND, LatencySpec, World

INSTRUMENT = Instrument("XYZ", 0.01, 1)
PRICE = 100.0  # quote currency: 10_000 ticks
LIMIT, IOC, MARKET, CANCEL = (KIND_CODE[k] for k in ("limit", "ioc", "market", "cancel"))


# -- helpers ---------------------------------------------------------------------------------------


class Provider(Trader):
    """Test liquidity: every ``interval`` it cancels and re-quotes ``levels`` levels a tick apart.

    Centred on ``center`` ticks, or on the rounded fundamental when that is None.
    """

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        interval: int = SECOND
        half_spread: int = 1
        levels: int = 5
        size: int = 1000
        center: int | None = None
        end: int | None = None

    params: Provider.Params

    def run(self) -> Generator[simpy.Event, Any, None]:
        p = self.params
        while p.end is None or self.now < p.end:
            self.cancel_all()
            c = p.center if p.center is not None else round(self.fundamental())
            for i in range(p.levels):
                self.submit_limit("buy", p.size, c - p.half_spread - i)
                self.submit_limit("sell", p.size, c + p.half_spread + i)
            yield self.wait(p.interval)
        self.cancel_all()


class Scripted(Trader):
    """Test taker: sends market orders ``(time_ns, side, lots)`` at the given times."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        orders: tuple[tuple[int, int, int], ...] = ()

    params: Scripted.Params

    def run(self) -> Generator[simpy.Event, Any, None]:
        for t, side, lots in self.params.orders:
            yield self.wait_until(t)
            self.submit_market(side, lots)


T = TypeVar("T", bound=Trader)


def add(world: World, cls: type[T], name: str, params: BaseModel | None = None, **kwargs: Any) -> T:
    """``world.add_trader``, typed as the class added."""
    trader = world.add_trader(cls, name, params, **kwargs)
    assert isinstance(trader, cls)
    return trader


def make_world(
    seconds: float, fundamental: FundamentalProcess | None = None, *, seed: int = 1, **kwargs: Any
) -> World:
    duration = int(seconds * SECOND)
    return World(
        [INSTRUMENT],
        seed=seed,
        duration_ns=duration,
        fundamentals=[fundamental or FundamentalProcess.constant(PRICE, duration)],
        latency=LatencySpec(100_000, 20_000),
        **kwargs,
    )


def path(
    seconds: float, *, mean: float = PRICE, kappa: float = 0.0, vol: float = 0.0, shocks: Any = ()
) -> Any:
    """A fundamental process on a 100 ms grid (quote currency)."""
    return FundamentalProcess(
        mean=mean,
        start=PRICE,
        mean_reversion=kappa,
        volatility=vol,
        jump_rate=0.0,
        jump_mean=0.0,
        jump_std=0.0,
        step_ns=SECOND // 10,
        duration_ns=int(seconds * SECOND),
        shocks=shocks,
        rng=np.random.default_rng(7),
    )


def check_conservation(world: World) -> None:
    accounts = world.venue.accounts
    assert sum(a.position[0] for a in accounts) == 0
    assert sum(a.cash[0] for a in accounts) + world.venue.fee_income[0] == 0
    for trader, account in zip(world.traders, accounts, strict=True):
        assert (trader.position(), trader.cash()) == (account.position[0], account.cash[0]), trader.name


def commands(world: World, trader: Trader, *kinds: int) -> np.ndarray:
    """The event-log rows of ``trader``'s commands of the given kinds."""
    events = world.arrays()["events"]
    agent = world.traders.index(trader)
    return events[(events["agent"] == agent) & np.isin(events["kind"], kinds)]


def book_rows(world: World, t_s: float, level: int = 0) -> np.void:
    """The book snapshot row of ``level`` at ``t_s`` seconds (snapshots every second)."""
    book = world.arrays()["book"]
    return book[(book["time_ns"] == int(t_s * SECOND)) & (book["level"] == level)][0]


# -- noise -----------------------------------------------------------------------------------------


def test_noise_poisson_arrivals_balanced_sides_and_passive_limit_prices() -> None:
    world = make_world(300, maker_ppm=-20, taker_ppm=100)
    add(world, Provider, "lp", Provider.Params(center=10_000, end=299 * SECOND))
    params = NoiseTrader.Params(mean_interval="1s", end="298s", market_prob=0.3, offset_ticks=5)
    noise = [add(world, NoiseTrader, f"noise-{i}", params) for i in range(10)]
    world.run()

    rows = np.concatenate([commands(world, t, LIMIT, MARKET) for t in noise])
    n = len(rows)
    expected = 10 * 298
    assert abs(n - expected) < 4 * math.sqrt(expected)  # Poisson count: 4 standard deviations
    assert sum(t.n_orders for t in noise) == n
    gaps = (
        np.concatenate([np.diff(np.sort(commands(world, t, LIMIT, MARKET)["sent_ns"])) for t in noise])
        / SECOND
    )
    assert gaps.mean() == pytest.approx(1.0, rel=0.1)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.1)  # exponential waits: CV 1
    assert abs((rows["side"] == 1).mean() - 0.5) < 0.05
    assert abs((rows["kind"] == MARKET).mean() - 0.3) < 0.05
    # The heard mid stays in [9999.5, 10000.5] (the provider holds 9999 / 10001, noise rests behind the mid),
    # so buys are priced floor(mid) - d in [9994, 10000] and sells ceil(mid) + d in [10000, 10006].
    limits = rows[rows["kind"] == LIMIT]
    buys, sells = limits[limits["side"] == 1]["price_ticks"], limits[limits["side"] == -1]["price_ticks"]
    assert buys.min() == 9994 and buys.max() == 10_000
    assert sells.min() == 10_000 and sells.max() == 10_006
    check_conservation(world)


@pytest.mark.parametrize("max_orders", [1, 3])
def test_noise_max_orders_and_start_window(max_orders: int) -> None:
    world = make_world(150)
    add(world, Provider, "lp", Provider.Params(end=149 * SECOND))
    params = NoiseTrader.Params(
        mean_interval="1s", start="10s", start_window="100s", max_orders=max_orders, market_prob=0.5
    )
    noise = [add(world, NoiseTrader, f"noise-{i}", params) for i in range(40)]
    world.run()
    firsts = []
    for trader in noise:
        rows = commands(world, trader, LIMIT, MARKET)
        assert len(rows) == max_orders == trader.n_orders
        firsts.append(rows["sent_ns"].min())
    firsts_s = np.array(firsts) / SECOND
    assert firsts_s.min() >= 10 and firsts_s.max() <= 110
    assert firsts_s.std() > 20  # spread over the window (uniform over 100 s: std 29), not bunched
    check_conservation(world)


def test_noise_cancel_after() -> None:
    world = make_world(60)
    add(world, Provider, "lp", Provider.Params(end=59 * SECOND))
    params = NoiseTrader.Params(
        mean_interval="1s", end="50s", market_prob=0.0, offset_ticks=50, cancel_after="2s"
    )
    noise = add(world, NoiseTrader, "noise", params)
    world.run()
    sent = {int(r["order_id"]): int(r["sent_ns"]) for r in commands(world, noise, LIMIT)}
    cancels = commands(world, noise, CANCEL)
    assert len(cancels) == len(sent) > 20
    for row in cancels:
        assert row["sent_ns"] - sent[int(row["order_id"])] == 2 * SECOND
    assert not noise.orders
    check_conservation(world)


# -- value -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("market_center", "side"), [(9900, 1), (10_100, -1)])
def test_value_trader_trades_toward_the_fundamental(market_center: int, side: int) -> None:
    world = make_world(120, maker_ppm=-20, taker_ppm=100)
    add(world, Provider, "lp", Provider.Params(center=market_center, size=10_000, end=119 * SECOND))
    params = ValueTrader.Params(mean_interval="2s", end="118s", obs_noise_ticks=5.0, aggression=0.5)
    value = add(world, ValueTrader, "value", params)
    world.run()
    rows = commands(world, value, LIMIT)
    assert len(rows) > 30
    assert (rows["side"] == side).all()
    assert value.position() * side > 0
    # within four posterior standard deviations of the truth (the filter's own variance)
    assert abs(value.estimate - 10_000) <= 4 * value.variance**0.5
    # Never priced beyond its estimate: buys at most about 10_000, sells at least about 10_000.
    assert (side * (rows["price_ticks"] - 10_000) <= 10).all()
    check_conservation(world)


def test_value_trader_filter_averages_observations_of_a_constant() -> None:
    # With a belief of a constant fundamental (sigma = kappa = 0) the Kalman filter is the running mean:
    # its variance after k observations is noise^2 / k.
    world = make_world(100)
    add(world, Provider, "lp", Provider.Params(end=99 * SECOND))
    params = ValueTrader.Params(
        mean_interval="1s", end="98s", obs_noise_ticks=20.0, fundamental_vol_ticks=0.0
    )
    value = add(world, ValueTrader, "value", params)
    world.run()
    k = value.observations
    assert k > 50
    assert value.variance == pytest.approx(400.0 / k)
    assert value.estimate == pytest.approx(10_000, abs=4 * 20 / math.sqrt(k))
    check_conservation(world)


# -- momentum --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mean", "side"), [(200.0, 1), (50.0, -1), (PRICE, 0)])
def test_momentum_follows_the_trend(mean: float, side: int) -> None:
    # An OU path from 100 drifting to `mean` at kappa 0.002/s: about 10 ticks a second up or down, or flat.
    world = make_world(60, path(60, mean=mean, kappa=0.002), maker_ppm=-20, taker_ppm=100)
    add(world, Provider, "lp", Provider.Params(interval=SECOND // 2, end=59 * SECOND))
    params = MomentumTrader.Params(
        interval="1s", short_window=3, long_window=10, threshold_bps=1.0, slippage_ticks=1, end="58s"
    )
    momentum = add(world, MomentumTrader, "momentum", params)
    world.run()
    rows = commands(world, momentum, IOC)
    if side == 0:
        assert len(rows) == 0 and momentum.position() == 0
    else:
        assert len(rows) > 30
        assert (rows["side"] == side).all()
        assert momentum.position() * side > 0
        assert rows["sent_ns"].min() >= 9 * SECOND  # no signal before long_window samples
    check_conservation(world)


# -- market maker ----------------------------------------------------------------------------------


def _mm(**kwargs: Any) -> MarketMaker.Params:
    base: dict[str, Any] = {
        "refresh_interval": "1s",
        "levels": 3,
        "half_spread_ticks": 5,
        "level_spacing_ticks": 2,
    }
    return MarketMaker.Params(**{**base, "size": 7, **kwargs})


def test_market_maker_quotes_both_sides_around_the_heard_mid() -> None:
    world = make_world(10)
    # A wide provider centred away from the fundamental: the maker quotes around the heard mid, 10_050.
    add(world, Provider, "lp", Provider.Params(center=10_050, half_spread=20, levels=1, size=50))
    mm = add(world, MarketMaker, "mm", _mm(start="1s", end="9s"))
    world.snapshot_book(SECOND, 4)
    world.run()
    book = world.venue.books[0]
    assert book.depth(1, 4)[0].tolist() == [10_030] and book.depth(-1, 4)[0].tolist() == [
        10_070
    ]  # the maker cancelled at its end
    snap = world.arrays()["book"]
    snap = snap[snap["time_ns"] == 5 * SECOND]
    assert snap["bid_ticks"].tolist() == [10_045, 10_043, 10_041, 10_030]
    assert snap["ask_ticks"].tolist() == [10_055, 10_057, 10_059, 10_070]
    assert snap["bid_lots"].tolist()[:3] == [7, 7, 7] and snap["ask_lots"].tolist()[:3] == [7, 7, 7]
    assert mm.withdrawals == []
    # A quiet maker sends nothing after its first quotes: 6 orders, then 6 cancels at its end.
    assert mm.sent == 12
    check_conservation(world)


@pytest.mark.parametrize("side", [1, -1])
def test_market_maker_skews_against_inventory(side: int) -> None:
    world = make_world(5)
    add(world, Scripted, "taker", Scripted.Params(orders=((SECOND + SECOND // 2, side, 10),)))
    mm = add(world, MarketMaker, "mm", _mm(fundamental_weight=1.0, skew_ticks_per_lot=0.5, end="4s"))
    world.snapshot_book(SECOND, 3)
    world.run()
    assert mm.position() == -10 * side
    before, after = book_rows(world, 1), book_rows(world, 3)
    assert (before["bid_ticks"], before["ask_ticks"]) == (9995, 10_005)
    # Short 10 lots (the taker bought) raises both quotes by 5 ticks; long 10 lowers them.
    assert (after["bid_ticks"], after["ask_ticks"]) == (9995 + 5 * side, 10_005 + 5 * side)
    assert (after["bid_lots"], after["ask_lots"]) == (7, 7)
    check_conservation(world)


def test_market_maker_widens_with_volatility() -> None:
    spreads = {}
    for widen in (0.0, 2.0):
        # Fundamental noise 0.05 per sqrt(s) at 100: 5 ticks, i.e. 5 bps, per 1 s refresh.
        world = make_world(200, path(200, vol=0.05))
        params = _mm(levels=1, fundamental_weight=1.0, vol_widen=widen, vol_halflife="20s", end="199s")
        mm = add(world, MarketMaker, "mm", params)
        world.snapshot_book(SECOND, 1)
        world.run()
        book = world.arrays()["book"]
        book = book[(book["time_ns"] >= 60 * SECOND) & (book["time_ns"] < 199 * SECOND)]
        spreads[widen] = book["ask_ticks"] - book["bid_ticks"]
        assert mm.vol_bps == pytest.approx(5.0, rel=0.4)
        check_conservation(world)
    assert spreads[0.0].min() >= 10 and spreads[0.0].max() <= 11
    # Widened by 2 x 5 ticks a side: about 30 ticks.
    assert spreads[2.0].mean() == pytest.approx(30, abs=6)


def test_market_maker_withdraws_when_volatile_and_returns_when_calm() -> None:
    # The fundamental drops 5% at 30 s; the maker quotes around it, so its reference jumps.
    world = make_world(120, path(120, shocks=(Shock(30 * SECOND, -0.05),)))
    params = _mm(
        fundamental_weight=1.0,
        vol_halflife="5s",
        withdraw_vol_bps=20.0,
        reenter_vol_bps=5.0,
        withdraw_for="10s",
        end="119s",
    )
    mm = add(world, MarketMaker, "mm", params)
    world.snapshot_book(SECOND, 1)
    world.run()
    # vol after the jump: sqrt(alpha) |ln 0.95| = 185 bps, alpha = 1 - 2^(-1/5); it decays by (1 - alpha) a
    # refresh and falls below 5 bps after 53 refreshes.
    assert mm.withdrawals == [(30 * SECOND, "volatility"), (83 * SECOND, "return")]
    quoted = book_rows(world, 29)
    assert (quoted["bid_ticks"], quoted["ask_ticks"]) == (9995, 10_005)
    for t in (31, 50, 83):
        empty = book_rows(world, t)
        assert (empty["bid_lots"], empty["ask_lots"]) == (0, 0), t
    back = book_rows(world, 90)
    assert (back["bid_ticks"], back["ask_ticks"]) == (9495, 9505)
    check_conservation(world)


def test_market_maker_withdraws_on_loss() -> None:
    world = make_world(30, path(30, shocks=(Shock(10 * SECOND, 0.02),)), maker_ppm=-20, taker_ppm=100)
    add(world, Scripted, "taker", Scripted.Params(orders=((5 * SECOND + SECOND // 2, 1, 50),)))
    params = _mm(
        levels=5, size=10, level_spacing_ticks=1, fundamental_weight=1.0, max_loss=50.0, withdraw_for="5s"
    )
    mm = add(world, MarketMaker, "mm", params.model_copy(update={"end": 29 * SECOND}))
    world.run()
    # Short 50 lots near 10_007 when the fundamental jumps to 10_200: about $96 lost.
    assert mm.position() == -50
    assert mm.withdrawals == [(10 * SECOND, "loss"), (15 * SECOND, "return")]
    check_conservation(world)


def test_market_maker_inventory_limit_stops_the_adding_side() -> None:
    world = make_world(8)
    orders = ((SECOND + SECOND // 2, -1, 21), (3 * SECOND + SECOND // 2, 1, 10))
    add(world, Scripted, "taker", Scripted.Params(orders=orders))
    mm = add(world, MarketMaker, "mm", _mm(fundamental_weight=1.0, max_inventory=20, end="7s"))
    world.snapshot_book(SECOND, 3)
    world.run()
    full, long_limit, back = book_rows(world, 1), book_rows(world, 3), book_rows(world, 5)
    assert (full["bid_lots"], full["ask_lots"]) == (7, 7)
    assert (long_limit["bid_lots"], long_limit["ask_lots"]) == (0, 7)  # long 21 >= 20: no bids
    assert (back["bid_lots"], back["ask_lots"]) == (7, 7)  # long 11 after selling 10: bids again
    assert mm.position() == 11
    check_conservation(world)


@pytest.mark.parametrize("requote", [False, True])
def test_market_maker_requotes_on_fills(requote: bool) -> None:
    world = make_world(5)
    add(world, Scripted, "taker", Scripted.Params(orders=((SECOND, 1, 5),)))
    params = _mm(levels=1, refresh_interval="100s", requote_on_fill=requote, end="4s")
    add(world, MarketMaker, "mm", params)
    world.snapshot_book(SECOND, 1)
    world.run()
    row = book_rows(world, 2)
    assert (row["ask_ticks"], row["ask_lots"]) == ((10_005, 7) if requote else (10_005, 2))
    check_conservation(world)


# -- execution -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "extra", "price"),
    [("market", {}, 0), ("ioc", {"limit_ticks": 2}, 9997), ("market", {"protection_ticks": 3}, 9996)],
)
def test_twap_sells_exactly_the_quantity_in_even_slices(
    order_type: str, extra: dict[str, int], price: int
) -> None:
    world = make_world(120, maker_ppm=-20, taker_ppm=100)
    add(world, Provider, "lp", Provider.Params(end=119 * SECOND))
    params = ExecutionAgent.Params.model_validate(
        {"quantity": 103, "slices": 10, "start": "10s", "end": "110s", "order_type": order_type, **extra}
    )
    agent = add(world, ExecutionAgent, "twap", params)
    world.run()
    sizes = [(k + 1) * 103 // 10 - k * 103 // 10 for k in range(10)]
    assert agent.children == [((10 + 10 * k) * SECOND, sizes[k]) for k in range(10)]
    assert sorted(set(sizes)) == [10, 11]
    assert agent.filled == 103 and agent.remaining == 0 and agent.position() == -103
    rows = commands(world, agent, IOC if order_type == "ioc" else MARKET)
    assert (rows["price_ticks"] == price).all() and (rows["side"] == -1).all()
    trades = world.arrays()["trades"]
    mine = trades[trades["taker"] == world.traders.index(agent)]
    assert mine["qty_lots"].sum() == 103
    assert ((mine["time_ns"] - rows["sent_ns"].min()) % (10 * SECOND) < SECOND // 100).all()  # at slice times
    check_conservation(world)


def test_pov_participates_at_the_rate() -> None:
    world = make_world(200, maker_ppm=-20, taker_ppm=100)
    add(world, Provider, "lp", Provider.Params(size=500, end=199 * SECOND))
    noise = NoiseTrader.Params(mean_interval="1s", market_prob=1.0, end="195s")
    for i in range(20):
        add(world, NoiseTrader, f"noise-{i}", noise)
    params = ExecutionAgent.Params(
        mode="pov", quantity=100_000, participation=0.1, interval="5s", min_child=0, end="190s"
    )
    agent = add(world, ExecutionAgent, "pov", params)
    world.run()
    trades = world.arrays()["trades"]
    me = world.traders.index(agent)
    others = trades[(trades["time_ns"] <= 190 * SECOND) & (trades["taker"] != me) & (trades["maker"] != me)]
    assert others["qty_lots"].sum() > 10_000
    assert agent.filled / others["qty_lots"].sum() == pytest.approx(0.1, rel=0.1)
    assert len(agent.children) == 38
    check_conservation(world)


def test_execution_never_oversells_with_children_in_flight() -> None:
    # Fills come back 3 s after each child while the agent checks every second: children in flight count.
    world = make_world(20)
    add(world, Provider, "lp", Provider.Params(end=19 * SECOND))
    params = ExecutionAgent.Params(mode="pov", quantity=12, min_child=5, interval="1s", end="15s")
    agent = add(world, ExecutionAgent, "pov", params, return_latency=LatencySpec(3 * SECOND))
    world.run()
    assert agent.children == [(SECOND, 5), (2 * SECOND, 5), (3 * SECOND, 2)]
    assert agent.filled == 12 and agent.position() == -12
    check_conservation(world)


def test_params_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="size_min"):
        NoiseTrader.Params(size_min=5, size_max=2)
    with pytest.raises(ValueError, match="short_window"):
        MomentumTrader.Params(short_window=50, long_window=20)
    with pytest.raises(ValueError, match="reenter_vol_bps"):
        MarketMaker.Params(withdraw_vol_bps=10.0, reenter_vol_bps=20.0)
    with pytest.raises(ValueError, match="end"):
        ExecutionAgent.Params(start="10s", end="5s")
    with pytest.raises(ValueError, match="extra"):
        ValueTrader.Params(colour="blue")  # type: ignore[call-arg]
    assert NoiseTrader.Params(mean_interval="2s").mean_interval == 2 * SECOND
