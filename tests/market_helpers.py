"""Small worlds and scripted traders for the market-layer tests."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from lob.agents.base import Fill, Order, Trader
from lob.market.feed import Quote
from lob.market.fundamental import FundamentalProcess
from lob.market.instrument import Instrument
from lob.scenario.world import SECOND, LatencySpec, World

XYZ = Instrument("XYZ", 0.01, 1)


def make_world(
    duration_ns: int = 10 * SECOND,
    *,
    seed: int = 1,
    latency: LatencySpec | None = None,
    feed_latency_ns: int = 200_000,
    maker_ppm: int = 0,
    taker_ppm: int = 0,
    instruments: list[Instrument] | None = None,
    feed_depth: int = 0,
) -> World:
    insts = instruments or [XYZ]
    return World(
        insts,
        seed=seed,
        duration_ns=duration_ns,
        fundamentals=[FundamentalProcess.constant(100.0, duration_ns) for _ in insts],
        feed_latency_ns=feed_latency_ns,
        feed_depth=feed_depth,
        maker_ppm=maker_ppm,
        taker_ppm=taker_ppm,
        latency=latency or LatencySpec(100_000, 0),
    )


Step = Callable[["Scripted"], Any]


class Scripted(Trader):
    """Runs ``script``: a list of (time_ns, callable(trader)) steps; records what it hears."""

    script: list[tuple[int, Step]]

    def on_start(self) -> None:
        self.heard_fills: list[tuple[int, Fill]] = []
        self.heard_updates: list[tuple[int, str, str]] = []
        self.heard_rejects: list[tuple[int, int, str, str]] = []
        self.heard_quotes: list[tuple[int, Quote]] = []
        self.ids: list[int] = []

    def run(self) -> Generator[simpy.Event, Any, None]:
        for t, step in getattr(self, "script", []):
            yield self.wait_until(t)
            out = step(self)
            if isinstance(out, int):
                self.ids.append(out)

    def on_fill(self, fill: Fill) -> None:
        self.heard_fills.append((self.now, fill))

    def on_order_update(self, order: Order) -> None:
        self.heard_updates.append((self.now, order.status, order.reason))

    def on_reject(self, order_id: int, kind: str, reason: str) -> None:
        self.heard_rejects.append((self.now, order_id, kind, reason))

    def on_market_data(self, quote: Quote) -> None:
        self.heard_quotes.append((self.now, quote))


def scripted(world: World, name: str, script: list[tuple[int, Step]], **kw: Any) -> Scripted:
    trader = world.add_trader(Scripted, name, **kw)
    assert isinstance(trader, Scripted)
    trader.script = script
    return trader


def assert_conserved(world: World) -> None:
    """Exact conservation: positions sum to zero and cash plus the venue's fees sum to zero."""
    for ii in range(len(world.instruments)):
        accounts = world.venue.accounts
        assert sum(a.position[ii] for a in accounts) == 0
        assert sum(a.cash[ii] for a in accounts) + world.venue.fee_income[ii] == 0
        assert sum(a.fees[ii] for a in accounts) == world.venue.fee_income[ii]


def assert_views_match(world: World) -> None:
    """Each trader's own view equals the venue's ledger (once every reply has been heard)."""
    for trader in world.traders:
        assert trader._conn is not None
        account = world.venue.accounts[trader._conn.index]  # passive accounts (fund, ...) have no trader
        for ii in range(len(world.instruments)):
            assert trader.position(ii) == account.position[ii], trader.name
            assert trader.cash(ii) == account.cash[ii], trader.name
            assert trader.fees_paid(ii) == account.fees[ii], trader.name
