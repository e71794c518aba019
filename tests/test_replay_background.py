"""Historical depth as background flow (lob.replay.background): the queue model, number by number.

XYZ has a tick of 0.01 and a lot of 1; prices below are ticks. Scripted
traders act at whole seconds; the recorded updates land at their own times.
"""

from __future__ import annotations

import numpy as np
from market_helpers import Scripted, make_world, scripted

from lob.eventlog.schema import KIND_CODE
from lob.replay.background import UPDATE_DTYPE, DepthStream
from lob.scenario.world import SECOND, World

BUY, SELL = 1, -1


def stream(snapshot: list[tuple[int, int, int]], updates: list[tuple[float, int, int, int]]) -> DepthStream:
    rows = np.array([(round(t * SECOND), s, p, q) for t, s, p, q in updates], dtype=UPDATE_DTYPE)
    return DepthStream(snapshot, rows)


def levels(world: World, side: int) -> list[tuple[int, int]]:
    prices, lots = world.venue.books[0].depth(side, 10)
    return list(zip(prices.tolist(), lots.tolist(), strict=True))


def fills(world: World) -> list[tuple[int, int, int, int]]:
    """(maker, price, lots, taker) of every fill, in order."""
    t = world.arrays()["trades"]
    return list(
        zip(
            t["maker"].tolist(),
            t["price_ticks"].tolist(),
            t["qty_lots"].tolist(),
            t["taker"].tolist(),
            strict=True,
        )
    )


def owner(world: World, trader: Scripted) -> int:
    return world.agent_names.index(trader.name)


def test_simulated_takers_consume_history_and_decreases_are_cut() -> None:
    world = make_world(5 * SECOND)
    depth = world.add_historical_depth(
        stream(
            [(BUY, 10_000, 10), (BUY, 9_900, 5), (SELL, 10_100, 10)],
            [
                (2.0, BUY, 9_900, 1),  # recorded 5 -> 1: take 4 off; only 3 rest after the sale: cut 1
                (3.0, BUY, 10_000, 14),  # recorded 10 -> 14: 4 more at 10,000, where the sale took all 10
            ],
        )
    )
    seller = scripted(world, "seller", [(1 * SECOND, lambda t: t.submit_market("sell", 12))])
    world.run()
    history = depth.owner
    # The sale took the 10 at 10,000 and 2 of the 5 at 9,900, all from the history account.
    assert fills(world) == [
        (history, 10_000, 10, owner(world, seller)),
        (history, 9_900, 2, owner(world, seller)),
    ]
    assert levels(world, BUY) == [(10_000, 4)]  # 9,900 emptied by the cut decrease; 10,000 refilled by 4
    assert levels(world, SELL) == [(10_100, 10)]
    assert (depth.conflicts, depth.cut_lots, depth.updates) == (1, 1, 2)
    assert depth.summary()["history_position_lots"] == 12
    assert world.venue.accounts[owner(world, seller)].position[0] == -12
    assert sum(a.position[0] for a in world.venue.accounts) == 0
    assert sum(a.cash[0] for a in world.venue.accounts) == 0


def test_a_simulated_order_queues_behind_history_and_moves_up_on_decreases() -> None:
    world = make_world(6 * SECOND)
    depth = world.add_historical_depth(
        stream(
            [(BUY, 10_000, 10), (SELL, 10_100, 10)],
            [
                (2.0, BUY, 10_000, 16),  # +6: a new history order behind the simulated bid
                (
                    3.0,
                    BUY,
                    10_000,
                    12,
                ),  # -4: off the front history order (10 -> 6), ahead of the simulated bid
            ],
        )
    )
    bidder = scripted(world, "bidder", [(1 * SECOND, lambda t: t.submit_limit("buy", 5, 10_000))])
    seller = scripted(world, "seller", [(4 * SECOND, lambda t: t.submit_market("sell", 8))])
    world.run()
    history = depth.owner
    # Queue at 10,000 before the sale: history 6 (front), bidder 5, history 6 (back).
    assert fills(world) == [
        (history, 10_000, 6, owner(world, seller)),
        (owner(world, bidder), 10_000, 2, owner(world, seller)),
    ]
    assert levels(world, BUY) == [(10_000, 3 + 6)]
    assert (depth.conflicts, depth.cut_lots) == (0, 0)
    ev = world.arrays()["events"]
    mine = ev[ev["agent"] == history]
    kinds = [k for k in mine["kind"].tolist() if k != KIND_CODE["fill"]]
    assert kinds == [KIND_CODE["limit"]] * 3 + [KIND_CODE["reduce"]]  # snapshot 2, the raise, the fall


def test_updates_after_the_end_are_not_applied() -> None:
    world = make_world(2 * SECOND)
    depth = world.add_historical_depth(
        stream([(BUY, 10_000, 10)], [(1.0, BUY, 10_000, 11), (3.0, BUY, 10_000, 1)])
    )
    world.run()
    assert depth.updates == 1 and levels(world, BUY) == [(10_000, 11)]
