"""A LOBSTER day's book, rebuilt message by message from its message file (seeded from its orderbook file).

The files, their format and units are in :mod:`lob.replay.lobster_files`
(its public names are importable from here too): prices are ticks of
0.0001 dollars, sizes lots of one share, row i of the orderbook file the
top N levels after message i.

The rebuild (:func:`rebuild`) keeps, per level, the total resting size and
the part of it no known order accounts for (*unattributed*: liquidity that
rested before the file began, seeded from the first orderbook row, or that
came into view from beyond the file's depth). Orders submitted in the file
are *known* (id -> level, remaining size). Rules:

- Seeding: row 1 is the book after message 1, so the seed is row 1 with
  message 1 undone (a submit's size taken off its level; a cancel's or
  execution's size put back, unattributed); message 1 is then applied.
- Types 1-4 change the level the message names by its size; type 5 (hidden
  execution) and type 7 (halt indicator) leave the book alone.
- A cancel or execution of an unknown order comes off the level's
  unattributed size, never off a known order. If the level has less
  unattributed size than the message removes, it loses what it has and the
  rest is recorded as an inconsistency (so the level is then smaller than the
  file says, and a check reports it).
- A level-N file has no messages about levels below the top N. So when a
  visible level empties, the level that moves up into view at depth N cannot
  be known from the messages: it is read from the same message's orderbook
  row (*a level read from the file*; counted, and those cells are not
  independent evidence in a check). Known orders at that price, and at
  levels the row shows to be gone, become unknown: they may have changed
  unseen while out of view.
- Without an orderbook file there is no seed and nothing comes into view:
  the book starts empty and holds only the orders the file shows. A
  message about an order that rested before the file began names a level
  the book may not have: it then changes nothing (``missing_level``), or
  takes only what the level has that no known order accounts for (none:
  ``unattributed_short``). In a file of few levels, orders that changed out
  of view also stay as last seen. The result is the file's own order flow,
  not the market's book, and the counts say how far it is from it.

Inconsistency codes: ``duplicate_id`` (a submit reuses a live id; the old
order's size becomes unattributed), ``price_mismatch`` (a message names
another level than its known order's; treated as about an unknown order),
``delete_partial`` (a delete of a known order for less than it has; the rest
stays unattributed), ``over_remove`` (more than the order and the level's
unattributed size hold), ``unattributed_short``, ``missing_level``,
``reveal_conflict`` (the row's level N is not below the book's level N-1;
nothing is read).

The ``lob replay lobster`` command, the check against every orderbook row and
the run directory are in :mod:`lob.replay.lobster_check`.
"""

from __future__ import annotations

import gc
import time
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TextIO

import numpy as np

from lob.replay.errors import ReplayError
from lob.replay.lobster_files import (
    EMPTY_ASK,
    EMPTY_BID,
    LOT_SIZE,
    MESSAGE_FIELDS,
    MESSAGE_TYPES,
    TICK_SIZE,
    Messages,
    Orderbook,
    file_identity,
    pair,
    read_messages,
    read_orderbook,
    seconds_text,
)

__all__ = [
    "EMPTY_ASK",
    "EMPTY_BID",
    "LOTS",
    "LOT_SIZE",
    "MAX_NOTES",
    "MESSAGE_FIELDS",
    "MESSAGE_TYPES",
    "REFRESHED",
    "TICK_SIZE",
    "UNATTRIBUTED",
    "LobsterBook",
    "Messages",
    "Orderbook",
    "Rebuild",
    "file_identity",
    "pair",
    "read_messages",
    "read_orderbook",
    "rebuild",
    "replay_lobster",
    "seconds_text",
]

#: At most this many skipped lines and inconsistencies are described one by one.
MAX_NOTES = 5


# -- the book ---------------------------------------------------------------------------------------------

# Fields of a level record, a list so that a message changes it in place after one dict lookup.
LOTS, UNATTRIBUTED, REFRESHED = 0, 1, 2


class LobsterBook:
    """The rebuilt book: levels by signed price, and the known orders.

    Prices are signed, +ticks for bids and -ticks for asks, so that on both
    sides the best level is the largest key: each side's ladder is an
    ascending list with the best level last, where a level near the touch is
    added or removed by moving only the few entries after it. ``levels`` maps
    a signed price to its record ``[lots, unattributed lots, refreshed]``:
    a message that leaves a level in place costs one dict lookup and no
    search. A known order is *fresh* if it was submitted after the level's
    ``refreshed`` index: the message whose orderbook row last set the level,
    or the one before the submit that made the level (-1 for seeded levels).
    Older orders at that price are *stale*, since they rested on a level the
    file stopped showing (or emptied): they may have changed out of view, so
    a message about one is treated as about an unknown order. ``orders`` maps
    an id to (signed price, remaining lots, submit index).
    """

    __slots__ = ("asks", "bids", "depth", "levels", "orders")

    def __init__(self, depth: int) -> None:
        self.depth = depth  # levels the files show (N); deeper levels may be stale
        self.levels: dict[int, list[int]] = {}
        self.orders: dict[int, tuple[int, int, int]] = {}
        self.bids: list[int] = []
        self.asks: list[int] = []

    # -- queries -------------------------------------------------------------------------------------

    def top(self, side: int, n: int | None = None) -> list[tuple[int, int]]:
        """The best ``n`` (all if None) levels of ``side`` (+1 bid, -1 ask): (price ticks, lots), best first.

        Runtime: O(n).
        """
        ladder = self.bids if side > 0 else self.asks
        keys = ladder[::-1] if n is None or n >= len(ladder) else ladder[: -n - 1 : -1]
        return [(k * side, self.levels[k][LOTS]) for k in keys]

    def row(self, n: int | None = None) -> list[int]:
        """The top ``n`` (default ``depth``) levels in LOBSTER's orderbook-row layout, empty levels filled.

        Runtime: O(n).
        """
        n = self.depth if n is None else n
        return _row(self.asks, self.bids, self.levels, n, _empty_row(n))

    def stale(self, order: tuple[int, int, int]) -> bool:
        """Whether a known order is stale: its level was made again or set from a row since its submit."""
        level = self.levels.get(order[0])
        return level is None or order[2] <= level[REFRESHED]

    def _check(self) -> None:
        """Assert every invariant of the book (for tests; O(levels + orders))."""
        assert all(k < 0 for k in self.asks) and all(k > 0 for k in self.bids)
        for ladder in (self.asks, self.bids):
            assert all(a < b for a, b in pairwise(ladder)), "ladder out of order"
        assert set(self.levels) == set(self.asks) | set(self.bids), "levels and ladders disagree"
        known: Counter[int] = Counter()
        for oid, order in self.orders.items():
            assert order[1] > 0, f"order {oid} rests with {order[1]} lots"
            if not self.stale(order):
                assert order[0] in self.levels, f"order {oid} rests on a level that does not exist"
                known[order[0]] += order[1]
        for sp, (lots, unattributed, _) in self.levels.items():
            assert 0 <= unattributed <= lots and lots > 0, f"level {sp}: bad sizes"
            assert lots - unattributed == known[sp], f"level {sp}: known orders do not add up"

    # -- seeding -------------------------------------------------------------------------------------

    def seed(self, row: np.ndarray) -> None:
        """Set the book to an orderbook row, every level unattributed."""
        self.__init__(self.depth)  # type: ignore[misc]
        for k in range(len(row) // 4):
            ask, ask_lots, bid, bid_lots = (int(x) for x in row[4 * k : 4 * k + 4])
            if ask_lots > 0:
                self._add_level(-ask, ask_lots)
            if bid_lots > 0:
                self._add_level(bid, bid_lots)

    def _add_level(self, sp: int, lots: int) -> None:
        self.levels[sp] = [lots, lots, -1]
        insort(self.bids if sp > 0 else self.asks, sp)

    def undo_first(self, messages: Messages, orderbook: Orderbook) -> None:
        """Take message 0's effect off a book seeded from row 0: the book before the file began.

        Raises :class:`ReplayError` if row 0 cannot be the book after message 0.
        """
        kind, lots, side = int(messages.type[0]), int(messages.size[0]), int(messages.direction[0])
        sp = int(messages.price[0]) * side
        where = f"{'bid' if side > 0 else 'ask'} {abs(sp)}"
        wrong = (
            f"message 1 ({messages.describe(0)}) cannot have led to row 1; "
            f"is this the orderbook file of {messages.path.name}?"
        )
        level = self.levels.get(sp)
        if kind == 1:
            have = level[LOTS] if level else 0
            if level is None or have < lots:
                raise ReplayError(
                    orderbook.path, int(orderbook.line[0]), f"{have} shares at {where}, but {wrong}"
                )
            if have > lots:
                level[LOTS] = level[UNATTRIBUTED] = have - lots
            else:
                del self.levels[sp]
                ladder = self.bids if sp > 0 else self.asks
                del ladder[bisect_left(ladder, sp)]
        elif kind in (2, 3, 4):
            if level is not None:
                level[LOTS] += lots
                level[UNATTRIBUTED] += lots
                return
            ladder = self.bids if side > 0 else self.asks
            if len(ladder) >= self.depth and sp < ladder[-self.depth]:
                raise ReplayError(
                    orderbook.path,
                    int(orderbook.line[0]),
                    f"{where} is below the row's {self.depth} levels, but {wrong}",
                )
            self._add_level(sp, lots)


def _empty_row(n: int) -> list[int]:
    return [EMPTY_ASK, 0, EMPTY_BID, 0] * n


def _row(asks: list[int], bids: list[int], levels: dict[int, list[int]], n: int, row: list[int]) -> list[int]:
    """Fill ``row`` (a fresh empty row) with the top ``n`` levels."""
    m = len(asks)
    for k in range(n if n < m else m):
        sp = asks[m - 1 - k]
        row[4 * k] = -sp
        row[4 * k + 1] = levels[sp][0]
    m = len(bids)
    for k in range(n if n < m else m):
        sp = bids[m - 1 - k]
        row[4 * k + 2] = sp
        row[4 * k + 3] = levels[sp][0]
    return row


# -- the rebuild ------------------------------------------------------------------------------------------


@dataclass
class Rebuild:
    """What :func:`rebuild` made of a message file.

    ``leaves`` (int64, one per message): lots of the message's order resting
    afterwards, -1 where unknown (an order from before the file, or types 5
    and 7). ``from_file`` (int8): +1 / -1 where the message's orderbook row
    supplied the bid / ask level N (see the module docstring), else 0.
    ``snapshots`` (int64, messages x 4N, LOBSTER's row layout) is the top N
    after each message when asked for. ``inconsistencies`` counts by code;
    ``notes`` describes the first few as (message index, text); ``seconds``
    is the wall time of :func:`rebuild`.
    """

    book: LobsterBook
    leaves: np.ndarray
    from_file: np.ndarray
    snapshots: np.ndarray | None
    unknown_ids: int
    inconsistencies: Counter[str]
    notes: list[tuple[int, str]]
    seconds: float

    @property
    def levels_from_file(self) -> int:
        """Levels read from the orderbook file because they came into view from beyond its depth."""
        return int(np.count_nonzero(self.from_file))


class _Notes:
    """Counts inconsistencies and keeps the first few in words (only called when one happens)."""

    def __init__(self, messages: Messages) -> None:
        self.messages = messages
        self.counts: Counter[str] = Counter()
        self.notes: list[tuple[int, str]] = []

    def __call__(self, i: int, code: str, text: str) -> None:
        self.counts[code] += 1
        if len(self.notes) < MAX_NOTES:
            self.notes.append((i, f"{code}: {self.messages.describe(i)}: {text}"))


def rebuild(
    messages: Messages, orderbook: Orderbook | None = None, *, depth: int = 10, snapshots: bool = False
) -> Rebuild:
    """Rebuild the book from ``messages``, seeded from ``orderbook`` row 0 (see the module docstring).

    ``orderbook`` must be paired with ``messages`` (:func:`pair`); without it
    the book starts empty and ``depth`` sets the levels of ``snapshots``.
    Raises :class:`ReplayError` if row 0 cannot be the book after message 0.

    Runtime: O(messages) dict operations, plus O(log L + d) for each level
    made or emptied (L levels on the side, d between it and the best) and
    O(N) per message for ``snapshots``; 1.0-1.9 M messages/s on the AMZN
    sample day without snapshots (0.5-0.7 M with them) on this project's
    2-vCPU machine.
    """
    t0 = time.perf_counter()
    n = len(messages)
    book = LobsterBook(orderbook.levels if orderbook is not None else depth)
    if orderbook is not None and n:
        book.seed(orderbook.rows[0])
        book.undo_first(messages, orderbook)
    notes = _Notes(messages)
    leaves = [-1] * n
    from_file: list[tuple[int, int]] = []
    snaps: list[int] | None = [] if snapshots else None
    # The loop allocates a tuple per submit and a list per new level, and nothing that can form a cycle:
    # the cyclic collector, which would walk every live record once per 700 allocations, is paused.
    collecting = gc.isenabled()
    gc.disable()
    try:
        unknown = _apply(
            book,
            messages.type.tolist(),
            (messages.price * messages.direction).tolist(),
            messages.size.tolist(),
            messages.order_id.tolist(),
            leaves,
            from_file,
            _edges(orderbook) if orderbook is not None else None,
            snaps,
            notes,
        )
    finally:
        if collecting:
            gc.enable()
    sides = np.zeros(n, dtype=np.int8)
    if from_file:
        at, side = np.array(from_file, dtype=np.int64).T
        sides[at] = side
    snap_array = None
    if snaps is not None:
        snap_array = np.array(snaps, dtype=np.int64).reshape(n, 4 * book.depth)
    return Rebuild(
        book,
        np.array(leaves, dtype=np.int64),
        sides,
        snap_array,
        unknown,
        notes.counts,
        notes.notes,
        time.perf_counter() - t0,
    )


def _edges(orderbook: Orderbook) -> dict[int, tuple[list[int], list[int]]]:
    """Per side, level N of every row: (signed prices, lots), lots 0 where the side has fewer levels."""
    n = orderbook.levels
    ask, ask_lots, bid, bid_lots = orderbook.rows[:, 4 * n - 4 :].T.tolist()
    return {1: (bid, bid_lots), -1: ([-p for p in ask], ask_lots)}


def _apply(
    book: LobsterBook,
    types: list[int],
    signed_prices: list[int],
    sizes: list[int],
    ids: list[int],
    leaves: list[int],
    from_file: list[tuple[int, int]],
    edges: dict[int, tuple[list[int], list[int]]] | None,
    snaps: list[int] | None,
    note: _Notes,
) -> int:
    """The message loop; returns how many messages named an unknown order.

    Written for speed: every name it uses per message is a local, the common
    cases come first, a level record is changed in place ([0] lots, [1]
    unattributed, [2] refreshed), and nothing is allocated for a message but
    a submit's order record.
    """
    levels, orders, bids, asks, depth = book.levels, book.orders, book.bids, book.asks, book.depth
    levels_get, orders_get, orders_setdefault = levels.get, orders.get, orders.setdefault
    empty = _empty_row(depth)
    row = book.row()
    unknown = 0
    for i, t in enumerate(types):
        if t == 1:
            sp = signed_prices[i]
            q = sizes[i]
            level = levels_get(sp)
            if level is None:
                levels[sp] = [q, 0, i - 1]  # orders at this price submitted before now are stale
                insort(bids if sp > 0 else asks, sp)
            else:
                level[0] += q
            rec = (sp, q, i)
            old = orders_setdefault(ids[i], rec)
            if old is not rec:
                _duplicate(book, i, old, rec, ids[i], note)
            leaves[i] = q
        elif t < 5:
            sp = signed_prices[i]
            q = sizes[i]
            oid = ids[i]
            o = orders_get(oid)
            level = levels_get(sp)
            if level is None:
                unknown += 1
                if o is not None:
                    _forget(book, i, oid, o, note)
                note(i, "missing_level", "the book has no such level; the message changes nothing")
                if snaps is not None:
                    snaps.extend(row)
                continue
            if o is not None and o[0] == sp and o[2] > level[2]:
                left = o[1] - q
                if left > 0 and t != 3:
                    orders[oid] = (sp, left, o[2])
                    leaves[i] = left
                else:
                    del orders[oid]
                    leaves[i] = 0
                    if left:
                        q = _odd_known(level, i, o[1], q, left, note)
            else:
                unknown += 1
                if o is not None:
                    _forget(book, i, oid, o, note)
                x = level[1]
                if x >= q:
                    level[1] = x - q
                else:
                    note(
                        i,
                        "unattributed_short",
                        f"only {x} lots at the level are not known orders'; took those",
                    )
                    level[1] = 0
                    q = x
            left = level[0] - q
            if left:
                level[0] = left
            else:
                del levels[sp]
                ladder = bids if sp > 0 else asks
                k = bisect_left(ladder, sp)
                del ladder[k]
                if edges is not None and len(ladder) - k < depth:
                    # A visible level emptied: level N comes into view from beyond the file's depth.
                    side = 1 if sp > 0 else -1
                    prices, lots = edges[side]
                    _bring_into_view(book, ladder, i, prices[i], lots[i], note)
                    from_file.append((i, side))
        if snaps is not None:
            if t < 5:
                row = _row(asks, bids, levels, depth, empty[:])
            snaps.extend(row)  # one flat list: a single conversion to numpy at the end
    return unknown


def _duplicate(
    book: LobsterBook, i: int, old: tuple[int, int, int], rec: tuple[int, int, int], oid: int, note: _Notes
) -> None:
    """A submit reusing a live id: the old order's lots stay on its level, unattributed."""
    note(i, "duplicate_id", f"order {oid} is already resting ({old[1]} lots); its lots become unattributed")
    book.orders[oid] = rec
    if not book.stale(old):
        book.levels[old[0]][UNATTRIBUTED] += old[1]


def _forget(book: LobsterBook, i: int, oid: int, o: tuple[int, int, int], note: _Notes) -> None:
    """A message about a stale order, or one naming another level than its order's: forget the order."""
    del book.orders[oid]
    if not book.stale(o):  # fresh, so the message names the wrong level: its lots become unattributed
        note(
            i,
            "price_mismatch",
            f"order {oid} rests at {abs(o[0])} on the {'bid' if o[0] > 0 else 'ask'} side",
        )
        book.levels[o[0]][UNATTRIBUTED] += o[1]


def _odd_known(level: list[int], i: int, had: int, q: int, left: int, note: _Notes) -> int:
    """A delete for less than the order has, or a removal of more: returns the lots the level loses."""
    if left > 0:  # type 3 for less than the order's remainder
        note(
            i, "delete_partial", f"the order had {had} lots; the other {left} stay on the level, unattributed"
        )
        level[UNATTRIBUTED] += left
        return q
    x = level[UNATTRIBUTED]
    extra = min(-left, x)
    if extra < -left:
        note(
            i, "over_remove", f"the order had {had} lots and the level {x} more not known orders'; took those"
        )
    level[UNATTRIBUTED] = x - extra
    return had + extra


def _bring_into_view(book: LobsterBook, ladder: list[int], i: int, sp: int, lots: int, note: _Notes) -> None:
    """Set the level at depth N of ``ladder``'s side from message ``i``'s orderbook row.

    ``sp`` is the row's signed level-N price, ``lots`` its size (0: the side
    has fewer than N levels). Levels the book holds between its level N-1
    and ``sp`` are shown gone by the row and removed; known orders at them
    and at ``sp`` become stale, since they may have changed out of view.
    """
    cut = len(ladder) - book.depth + 1  # ladder[:cut] lie below the book's level N-1
    if cut < 0:
        cut = 0
    if lots and cut < len(ladder) and sp >= ladder[cut]:
        note(
            i,
            "reveal_conflict",
            f"the row's level {book.depth} is not below the book's level {book.depth - 1}",
        )
        return
    start = bisect_right(ladder, sp, 0, cut) if lots else 0
    if start < cut:
        for shown_gone in ladder[start:cut]:
            del book.levels[shown_gone]
        del ladder[start:cut]
    if lots:
        level = book.levels.get(sp)
        if level is None:
            insort(ladder, sp)
            book.levels[sp] = [lots, lots, i]
        else:
            level[LOTS] = level[UNATTRIBUTED] = lots
            level[REFRESHED] = i


# -- the command ------------------------------------------------------------------------------------------


def replay_lobster(
    message_file: Path,
    orderbook_file: Path | None,
    *,
    check: bool,
    out: Path | None,
    skip_bad: bool,
    force: bool,
    stdout: TextIO,
    book_interval_ns: int | None = None,
) -> int:
    """``lob replay lobster MESSAGE_FILE [ORDERBOOK_FILE] [--check] [--out DIR]``: returns the exit status.

    Reads both files (``skip_bad``: bad lines are left out, counted and
    listed, each with its partner line), rebuilds the book, prints what it
    found to ``stdout``, and writes a run directory at ``out`` if given
    (atomically; an existing directory is replaced only with ``force``).
    With ``check`` it compares the book after every message with its
    orderbook row, prints the share of rows matching at each level, the first
    mismatch in full and the throughput, and ends with ``matched R/N rows
    (P%)``. ``book_interval_ns`` sets the book table's interval (default: a
    snapshot after every book change, see :mod:`lob.replay.lobster_check`).

    Returns 0, or 1 if the check found a row that differs (rows left out
    count as differing). Raises :class:`ReplayError` for bad input, and for
    ``check`` without ``orderbook_file``.

    Runtime: O(messages x levels).
    """
    from lob.replay.lobster_check import run_command  # that module builds on this one

    return run_command(
        message_file,
        orderbook_file,
        check_rows=check,
        out=out,
        skip_bad=skip_bad,
        force=force,
        stdout=stdout,
        book_interval_ns=book_interval_ns,
    )
