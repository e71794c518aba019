"""The queue model for simulated orders behind historical L2 depth: its rules, errors and a stress test."""

from __future__ import annotations

import doctest
import random

import pytest

import lob.replay.l2_queue
from lob.errors import OrderError
from lob.replay.l2_queue import L2Queue, QueueFill


def test_doctests() -> None:
    result = doctest.testmod(lob.replay.l2_queue)
    assert result.attempted > 0 and result.failed == 0


def test_a_simulated_order_joins_the_back_of_its_level() -> None:
    level = L2Queue(8)
    assert level.add(1, 2) == 8
    assert level.add(2, 3) == 8  # behind order 1 too, which is not historical depth
    assert level.orders() == [(1, 8, 2), (2, 8, 3)]
    assert level.simulated_lots == 5 and level.historical_lots == 8 and len(level) == 2


def test_an_increase_queues_behind_and_moves_nobody() -> None:
    level = L2Queue(5)
    level.add(1, 1)
    level.on_historical_change(9)
    assert level.ahead(1) == 5
    assert level.add(2, 1) == 9


def test_a_decrease_comes_off_the_historical_queue_in_front() -> None:
    level = L2Queue(10)
    level.add(1, 1)
    level.on_historical_change(15)  # 5 behind order 1
    level.add(2, 1)
    level.on_historical_change(12)  # 3 off the front
    assert level.orders() == [(1, 7, 1), (2, 12, 1)]
    level.on_historical_change(2)  # 10 more: the 7 ahead of order 1, then 3 from behind it
    assert level.orders() == [(1, 0, 1), (2, 2, 1)]
    level.on_historical_change(0)
    assert level.orders() == [(1, 0, 1), (2, 0, 1)]


def test_a_trade_fills_a_simulated_order_only_past_the_historical_lots_ahead() -> None:
    level = L2Queue(4)
    level.add(1, 3)
    assert level.on_trade(4) == []
    assert level.ahead(1) == 0 and level.historical_lots == 0
    assert level.on_trade(2) == [QueueFill(1, 2, 1)]
    assert level.leaves(1) == 1


def test_a_trade_walks_the_queue_in_order_and_its_size_is_conserved() -> None:
    level = L2Queue(2)
    level.add(1, 2)
    level.on_historical_change(5)  # 3 historical behind order 1
    level.add(2, 4)
    level.on_historical_change(6)  # 1 behind order 2
    fills = level.on_trade(10)  # 2 hist, order 1's 2, 3 hist, then 3 of order 2's 4
    assert fills == [QueueFill(1, 2, 0), QueueFill(2, 3, 1)]
    assert 1 not in level and level.orders() == [(2, 0, 1)]
    assert level.historical_lots == 1 and level.excess_lots == 0
    # The feed then shows the level down by the whole 10: the 5 we still hold come off the front.
    level.on_historical_change(0)
    assert level.orders() == [(2, 0, 1)]


def test_volume_beyond_the_level_is_counted_not_invented() -> None:
    level = L2Queue(1)
    level.add(1, 1)
    assert level.on_trade(5) == [QueueFill(1, 1, 0)]
    assert level.excess_lots == 3 and level.historical_lots == 0 and len(level) == 0


def test_cancel_and_reduce_keep_the_others_places() -> None:
    level = L2Queue(3)
    level.add(1, 2)
    level.on_historical_change(4)
    level.add(2, 2)
    assert level.cancel(1) == 2
    assert level.orders() == [(2, 4, 2)]
    assert level.reduce(2, 1) == 1 and level.ahead(2) == 4
    assert level.reduce(2, 1) == 0 and len(level) == 0


def test_errors_name_the_order() -> None:
    level = L2Queue(1)
    level.add(1, 1)
    with pytest.raises(OrderError, match="order 1: a live order already has this id"):
        level.add(1, 1)
    with pytest.raises(OrderError, match="order 2: quantity must be"):
        level.add(2, 0)
    with pytest.raises(OrderError, match="order 9: no live order"):
        level.ahead(9)
    with pytest.raises(OrderError, match="cannot reduce by 2 lots, only 1 remain"):
        level.reduce(1, 2)
    with pytest.raises(ValueError, match=">= 0"):
        level.on_historical_change(-1)
    with pytest.raises(ValueError, match=">= 1 lot"):
        level.on_trade(0)
    with pytest.raises(ValueError, match=">= 0"):
        L2Queue(-1)


class SegmentQueue:
    """The model spelt out: a list of ``[kind, id, lots]`` segments, front first, ``kind`` "H" or "S"."""

    def __init__(self, historical: int) -> None:
        self.segments: list[list[object]] = [["H", 0, historical]] if historical else []

    def historical(self) -> int:
        return sum(int(s[2]) for s in self.segments if s[0] == "H")  # type: ignore[call-overload]

    def orders(self) -> list[tuple[int, int, int]]:
        out, ahead = [], 0
        for kind, oid, lots in self.segments:
            if kind == "H":
                ahead += lots  # type: ignore[operator]
            else:
                out.append((oid, ahead, lots))
        return out  # type: ignore[return-value]

    def add(self, oid: int, lots: int) -> None:
        self.segments.append(["S", oid, lots])

    def change(self, new: int) -> None:
        delta = new - self.historical()
        if delta > 0:
            self.segments.append(["H", 0, delta])
        for seg in self.segments:  # a decrease: historical segments from the front
            if delta >= 0:
                break
            if seg[0] == "H":
                take = min(-delta, seg[2])  # type: ignore[type-var]
                seg[2] -= take  # type: ignore[operator]
                delta += take
        self._tidy()

    def trade(self, lots: int) -> list[QueueFill]:
        fills = []
        for seg in self.segments:
            if not lots:
                break
            take = min(lots, seg[2])  # type: ignore[type-var]
            seg[2] -= take  # type: ignore[operator]
            lots -= take
            if seg[0] == "S" and take:
                fills.append(QueueFill(seg[1], take, seg[2]))  # type: ignore[arg-type]
        self._tidy()
        return fills

    def cancel(self, oid: int) -> None:
        self.segments = [s for s in self.segments if not (s[0] == "S" and s[1] == oid)]

    def _tidy(self) -> None:
        self.segments = [s for s in self.segments if s[2]]


@pytest.mark.parametrize("seed", range(20))
def test_randomized_against_the_segment_model(seed: int) -> None:
    rng = random.Random(seed)
    start = rng.randrange(0, 20)
    queue, model = L2Queue(start), SegmentQueue(start)
    next_id = 1
    for _ in range(400):
        op = rng.random()
        if op < 0.2:
            lots = rng.randrange(1, 6)
            queue.add(next_id, lots)
            model.add(next_id, lots)
            next_id += 1
        elif op < 0.6:
            new = max(0, queue.historical_lots + rng.randrange(-8, 9))
            queue.on_historical_change(new)
            model.change(new)
        elif op < 0.85:
            lots = rng.randrange(1, 10)
            assert queue.on_trade(lots) == model.trade(lots)
        elif len(queue):
            oid = rng.choice([o for o, _, _ in queue.orders()])
            queue.cancel(oid)
            model.cancel(oid)
        queue._check()
        assert queue.orders() == model.orders()
        assert queue.historical_lots == model.historical()
