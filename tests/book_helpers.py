"""Helpers shared by the unit tests of the matching core (tests/test_book_*.py).

Those tests run on both books (reference and compiled) through the ``book``
fixture defined here as ``checked_book``: it wraps the conftest ``book`` (each
implementation in turn) and checks the book's invariants after each test. A
test module overrides the conftest fixture with it by importing
``checked_book``.

Fill tuples are in FILL_DTYPE order: (seq, taker_id, maker_id, taker_owner,
maker_owner, price, qty, maker_remaining, aggressor_side); STP-cancel tuples in
STP_CANCEL_DTYPE order: (seq, taker_id, maker_id, maker_owner, price, qty,
maker_side); snapshot tuples in SNAPSHOT_DTYPE order: (order_id, owner, price,
qty, side, stp). Prices are ticks, quantities lots.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from lob.core.codes import Kind, Side, Status, commands

BUY = int(Side.BUY)
SELL = int(Side.SELL)
LIMIT, IOC, FOK, POST_ONLY, MARKET = Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET
CANCEL, REDUCE, REPLACE = Kind.CANCEL, Kind.REDUCE, Kind.REPLACE

#: One command as (kind, order_id, owner, side, price, qty, stp).
Cmd = tuple[int, int, int, int, int, int, int]


@pytest.fixture(name="book")
def checked_book(book: Any) -> Iterator[Any]:
    """The conftest book (each implementation in turn), invariants checked at the end."""
    yield book
    book.check_invariants()


# -- HELPERS --------------------------------------------------------------------


def rest(book: Any, *orders: tuple[int, int, int, int, int]) -> None:
    """Places (order_id, owner, side, price, qty) limit orders that must rest untouched."""
    for order_id, owner, side, price, qty in orders:
        assert book.limit(order_id, owner, side, price, qty) == Status.RESTING
        assert book.last_filled == 0


def fills(book: Any) -> list[tuple[int, ...]]:
    rows: list[tuple[int, ...]] = book.take_fills().tolist()
    return rows


def stp_cancels(book: Any) -> list[tuple[int, ...]]:
    rows: list[tuple[int, ...]] = book.take_stp_cancels().tolist()
    return rows


def snap(book: Any) -> list[tuple[int, ...]]:
    rows: list[tuple[int, ...]] = book.snapshot().tolist()
    return rows


def last(book: Any) -> tuple[int, int, int, int]:
    """(status, reason, filled, resting) of the book's last command."""
    return (book.last_status, book.last_reason, book.last_filled, book.last_resting)


def command_array(*rows: Cmd) -> np.ndarray:
    out = commands(len(rows))
    for i, (kind, order_id, owner, side, price, qty, stp) in enumerate(rows):
        out[i] = (order_id, owner, price, qty, kind, side, stp)
    return out


def call(book: Any, cmd: Cmd) -> int:
    """Runs ``cmd`` through the named per-call method of its kind (``submit`` for a bad kind)."""
    kind, order_id, owner, side, price, qty, stp = cmd
    if kind == LIMIT:
        return int(book.limit(order_id, owner, side, price, qty, stp))
    if kind == IOC:
        return int(book.ioc(order_id, owner, side, price, qty, stp))
    if kind == FOK:
        return int(book.fok(order_id, owner, side, price, qty, stp))
    if kind == POST_ONLY:
        return int(book.post_only(order_id, owner, side, price, qty, stp))
    if kind == MARKET:
        return int(book.market(order_id, owner, side, qty, price, stp))
    if kind == CANCEL:
        return int(book.cancel(order_id))
    if kind == REDUCE:
        return int(book.reduce(order_id, qty))
    if kind == REPLACE:
        return int(book.replace(order_id, price, qty))
    return int(book.submit(kind, order_id, owner, side, price, qty, stp))
