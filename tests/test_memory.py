"""The compiled book holds 1,000,000 resting orders in 100 MB or less."""

from __future__ import annotations

import numpy as np

from lob.core import COMMAND_DTYPE, Kind, OrderBook, Side, Status


def test_one_million_resting_orders_fit_in_100_mb() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    cmds = np.zeros(n, dtype=COMMAND_DTYPE)
    cmds["kind"] = Kind.LIMIT
    cmds["order_id"] = rng.permutation(n) * 7 + 3  # scattered ids exercise the index
    cmds["owner"] = rng.integers(0, 1000, n)
    buy = rng.random(n) < 0.5
    cmds["side"] = np.where(buy, Side.BUY, Side.SELL)
    # 2,000 levels a side, bids below 10,000 and asks above: nothing crosses.
    offset = rng.integers(1, 2001, n)
    cmds["price"] = np.where(buy, 10_000 - offset, 10_000 + offset)
    cmds["qty"] = rng.integers(1, 100, n)
    book = OrderBook()
    results, fills, _ = book.execute(cmds)
    assert (results["status"] == Status.RESTING).all()
    assert len(fills) == 0
    assert len(book) == n
    assert book.level_count(Side.BUY) + book.level_count(Side.SELL) == len(np.unique(cmds["price"]))
    assert book.memory_bytes() <= 100 * 1024 * 1024
    book.check_invariants()
