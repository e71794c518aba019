# cython: language_level=3
"""Compiled price-time priority order book. Contract: docs/core.md; layout: book.pxd.

Costs (L = price levels on a side, d = levels between a price and the touch,
k = fills an order makes). Measured ns are from benchmarks/bench_ops.py on a
2-vCPU EPYC, batch API, a book of 2,000 levels a side (see README):

- add a resting order: O(1) at an existing level after an O(log d) search
  (~240 ns at random levels, memory-latency bound; far less near the touch);
  a new level also moves the d better levels (~20-40 ns an add/cancel pair);
- cancel / reduce: O(1) (~100 / ~60 ns); an emptied level is removed in O(log d + d);
- a taking order: O(1) per fill (~16 ns) plus O(1) per level it empties;
- FOK check: O(levels reached), or O(makers reached) with STP (~9 ns when unfillable);
- best bid/ask, spread, mid: O(1); volume_at: O(log d); depth(n): O(n).
"""

cimport numpy as cnp
from libc.stdint cimport INT64_MAX, INT64_MIN, int8_t, int32_t, int64_t, uint64_t
from libc.math cimport NAN
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy, memmove

import operator

import numpy as np

from lob.core import codes
from lob.core.codes import (
    COMMAND_DTYPE,
    FILL_DTYPE,
    INPUT_ERRORS,
    RESULT_DTYPE,
    SNAPSHOT_DTYPE,
    STP_CANCEL_DTYPE,
)
from lob.errors import SnapshotError, order_error

cnp.import_array()

cdef extern from *:
    int LOB_DEBUG_BUILD  # set by setup.py: 1 for LOB_DEBUG=1 builds

#: True when this module was built with LOB_DEBUG=1 (bounds checks, line tracing).
DEBUG_BUILD = bool(LOB_DEBUG_BUILD)

# Bounds and sentinels are defined once, in codes.py; C copies for the hot path.
cdef int64_t MAX_QTY = codes.MAX_QTY
cdef int64_t MAX_PRICE = codes.MAX_PRICE
cdef int64_t NO_BID = codes.NO_BID
cdef int64_t NO_ASK = codes.NO_ASK
# Fibonacci hashing: multiply by 2**64 / golden ratio and keep the top bits.
cdef uint64_t HASH_MULT = 0x9E3779B97F4A7C15ULL

cdef frozenset _INPUT_ERRORS = frozenset(int(r) for r in INPUT_ERRORS)

for _dtype, _size in (
    (COMMAND_DTYPE, sizeof(CommandRec)),
    (RESULT_DTYPE, sizeof(ResultRec)),
    (FILL_DTYPE, sizeof(FillRec)),
    (STP_CANCEL_DTYPE, sizeof(StpCancelRec)),
    (SNAPSHOT_DTYPE, sizeof(SnapshotRec)),
):
    if _dtype.itemsize != _size:  # the arrays are read and written as these structs
        raise ImportError(f"lob.core.book: record layout out of step with codes.py ({_dtype})")


cdef inline Py_ssize_t _off(void *field, void *base) noexcept:
    return <char *>field - <char *>base


def record_layouts():
    """Field offsets of the C records, by dtype name: tests check them against codes.py."""
    cdef CommandRec c
    cdef ResultRec r
    cdef FillRec f
    cdef StpCancelRec s
    cdef SnapshotRec n

    return {
        "command": {
            "order_id": _off(&c.order_id, &c), "owner": _off(&c.owner, &c), "price": _off(&c.price, &c),
            "qty": _off(&c.qty, &c), "kind": _off(&c.kind, &c), "side": _off(&c.side, &c),
            "stp": _off(&c.stp, &c),
        },
        "result": {
            "seq": _off(&r.seq, &r), "filled": _off(&r.filled, &r), "resting": _off(&r.resting, &r),
            "status": _off(&r.status, &r), "reason": _off(&r.reason, &r),
        },
        "fill": {
            "seq": _off(&f.seq, &f), "taker_id": _off(&f.taker_id, &f), "maker_id": _off(&f.maker_id, &f),
            "taker_owner": _off(&f.taker_owner, &f), "maker_owner": _off(&f.maker_owner, &f),
            "price": _off(&f.price, &f), "qty": _off(&f.qty, &f),
            "maker_remaining": _off(&f.maker_remaining, &f), "aggressor_side": _off(&f.aggressor_side, &f),
        },
        "stp_cancel": {
            "seq": _off(&s.seq, &s), "taker_id": _off(&s.taker_id, &s), "maker_id": _off(&s.maker_id, &s),
            "maker_owner": _off(&s.maker_owner, &s), "price": _off(&s.price, &s), "qty": _off(&s.qty, &s),
            "maker_side": _off(&s.maker_side, &s),
        },
        "snapshot": {
            "order_id": _off(&n.order_id, &n), "owner": _off(&n.owner, &n), "price": _off(&n.price, &n),
            "qty": _off(&n.qty, &n), "side": _off(&n.side, &n), "stp": _off(&n.stp, &n),
        },
    }


def codes():
    """The C enum values, by name: tests check them against codes.py."""
    return {
        "BUY": BUY, "SELL": SELL,
        "LIMIT": K_LIMIT, "IOC": K_IOC, "FOK": K_FOK, "POST_ONLY": K_POST_ONLY, "MARKET": K_MARKET,
        "CANCEL": K_CANCEL, "REDUCE": K_REDUCE, "REPLACE": K_REPLACE,
        "STP_NONE": STP_NONE, "STP_CANCEL_RESTING": STP_CANCEL_RESTING,
        "STP_CANCEL_INCOMING": STP_CANCEL_INCOMING, "STP_CANCEL_BOTH": STP_CANCEL_BOTH,
        "REJECTED": S_REJECTED, "RESTING": S_RESTING, "FILLED": S_FILLED, "EXPIRED": S_EXPIRED,
        "CANCELLED": S_CANCELLED,
        "R_NONE": R_NONE, "R_INVALID_QTY": R_INVALID_QTY, "R_INVALID_PRICE": R_INVALID_PRICE,
        "R_INVALID_ORDER_ID": R_INVALID_ORDER_ID, "R_DUPLICATE_ORDER_ID": R_DUPLICATE_ORDER_ID,
        "R_UNKNOWN_ORDER_ID": R_UNKNOWN_ORDER_ID, "R_REDUCE_TOO_LARGE": R_REDUCE_TOO_LARGE,
        "R_INVALID_SIDE": R_INVALID_SIDE, "R_INVALID_KIND": R_INVALID_KIND, "R_INVALID_STP": R_INVALID_STP,
        "R_POST_ONLY_WOULD_TAKE": R_POST_ONLY_WOULD_TAKE, "R_FOK_UNFILLABLE": R_FOK_UNFILLABLE,
        "R_SELF_TRADE": R_SELF_TRADE,
    }


cdef inline void *_grow(void *ptr, Py_ssize_t *cap, size_t item, Py_ssize_t minimum) except NULL:
    """Double an array's capacity (at least to ``minimum``); MemoryError if the OS refuses."""
    cdef Py_ssize_t new_cap = cap[0] * 2 if cap[0] > 0 else 16
    if new_cap < minimum:
        new_cap = minimum
    cdef void *out = realloc(ptr, <size_t>new_cap * item)
    if out == NULL:
        raise MemoryError("lob.core.book: out of memory")
    cap[0] = new_cap
    return out


cdef inline Py_ssize_t _lower_bound(Ladder *ladder, int64_t key) noexcept:
    """First index whose key is >= ``key``.

    Gallops down from the touch (the last element) in steps of 1, 2, 4, ...
    before bisecting, so a price d levels from the touch costs O(log d):
    most orders land near the touch, where this is a couple of compares.
    """
    cdef Py_ssize_t hi = ladder.n, lo, step = 1, mid
    if hi == 0 or ladder.keys[hi - 1] < key:
        return hi
    # Invariant: keys[hi - 1] >= key. Find lo with keys[lo - 1] < key (or lo = 0).
    lo = hi - 1
    while lo > 0 and ladder.keys[lo - 1] >= key:
        hi = lo
        lo = lo - step if lo > step else 0
        step *= 2
    while lo < hi:
        mid = (lo + hi) >> 1
        if ladder.keys[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline int _ladder_insert(Ladder *ladder, Py_ssize_t pos, int64_t key, int32_t level) except -1:
    """Insert at ``pos``; moves the n - pos better levels (cheap near the touch)."""
    cdef Py_ssize_t cap
    if ladder.n == ladder.cap:
        cap = ladder.cap
        ladder.keys = <int64_t *>_grow(ladder.keys, &cap, sizeof(int64_t), 0)
        cap = ladder.cap
        ladder.levels = <int32_t *>_grow(ladder.levels, &cap, sizeof(int32_t), 0)
        ladder.cap = cap
    if pos < ladder.n:
        memmove(&ladder.keys[pos + 1], &ladder.keys[pos], <size_t>(ladder.n - pos) * sizeof(int64_t))
        memmove(&ladder.levels[pos + 1], &ladder.levels[pos], <size_t>(ladder.n - pos) * sizeof(int32_t))
    ladder.keys[pos] = key
    ladder.levels[pos] = level
    ladder.n += 1
    return 0


cdef class OrderBook:
    """A price-time priority limit order book for one instrument (ticks, lots, int64 ids).

    ``capacity`` pre-sizes the order pool; everything grows on demand.
    Memory: 40 bytes per order slot, 4-8 bytes per order in the id index,
    36 bytes per price level, plus the fill buffers until they are taken.
    """

    def __cinit__(self, Py_ssize_t capacity=1024):
        if capacity < 16:
            capacity = 16
        cdef Py_ssize_t index_cap = 32
        while index_cap < 2 * capacity:
            index_cap *= 2
        self._orders = <Order *>malloc(<size_t>capacity * sizeof(Order))
        self._levels = <Level *>malloc(<size_t>capacity * sizeof(Level))
        self._index = <int32_t *>malloc(<size_t>index_cap * sizeof(int32_t))
        if self._orders == NULL or self._levels == NULL or self._index == NULL:
            raise MemoryError("lob.core.book: out of memory")
        self._order_cap = <int32_t>capacity
        self._level_cap = <int32_t>capacity
        self._index_mask = <uint64_t>(index_cap - 1)
        self._index_shift = 64
        while index_cap > 1:
            index_cap >>= 1
            self._index_shift -= 1
        self._reset_pools()

    def __dealloc__(self):
        free(self._orders)
        free(self._levels)
        free(self._index)
        free(self._bids.keys)
        free(self._bids.levels)
        free(self._asks.keys)
        free(self._asks.levels)
        free(self._fills)
        free(self._stp_cancels)

    cdef void _reset_pools(self) noexcept:
        cdef int32_t i
        for i in range(self._order_cap):
            self._orders[i].level = -1
            self._orders[i].next = i + 1 if i + 1 < self._order_cap else -1
        self._free_order = 0
        self._n_orders = 0
        for i in range(self._level_cap):
            self._levels[i].tail = i + 1 if i + 1 < self._level_cap else -1
        self._free_level = 0
        for i in range(<int32_t>(self._index_mask + 1)):
            self._index[i] = -1
        self._bids.n = 0
        self._asks.n = 0

    # -- COMMANDS --------------------------------------------------------------

    cpdef int limit(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=0) except -1:
        """Good-till-cancelled limit order; returns its Status. O(k) + rest cost."""
        return self._call(K_LIMIT, order_id, owner, side, price, qty, stp)

    cpdef int ioc(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=0) except -1:
        """Immediate-or-cancel: takes up to ``price``; the remainder expires."""
        return self._call(K_IOC, order_id, owner, side, price, qty, stp)

    cpdef int fok(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=0) except -1:
        """Fill-or-kill: all ``qty`` now, or REJECTED (FOK_UNFILLABLE) with no change."""
        return self._call(K_FOK, order_id, owner, side, price, qty, stp)

    cpdef int post_only(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=0) except -1:
        """Rests, or is REJECTED (POST_ONLY_WOULD_TAKE) if it would take; never repriced."""
        return self._call(K_POST_ONLY, order_id, owner, side, price, qty, stp)

    cpdef int market(self, int64_t order_id, int64_t owner, int side, int64_t qty, int64_t protection=0, int stp=0) except -1:
        """Takes until filled, the other side is empty or the next level is beyond ``protection`` (0: none)."""
        return self._call(K_MARKET, order_id, owner, side, protection, qty, stp)

    cpdef int cancel(self, int64_t order_id) except -1:
        """Removes a live order. O(1), plus O(log L + d) if its level empties."""
        return self._call(K_CANCEL, order_id, 0, BUY, 0, 0, STP_NONE)

    cpdef int reduce(self, int64_t order_id, int64_t qty) except -1:
        """Takes ``qty`` lots off a live order, keeping its priority; to zero removes it. O(1)."""
        return self._call(K_REDUCE, order_id, 0, BUY, 0, qty, STP_NONE)

    cpdef int replace(self, int64_t order_id, int64_t price, int64_t qty) except -1:
        """New price and remaining qty; keeps priority only when merely shrinking at the same price."""
        return self._call(K_REPLACE, order_id, 0, BUY, price, qty, STP_NONE)

    cpdef int submit(self, int kind, int64_t order_id, int64_t owner=0, int side=BUY, int64_t price=0,
                     int64_t qty=0, int stp=STP_NONE) except -1:
        """Any command by its Kind code (MARKET: ``price`` is the protection price)."""
        return self._call(kind, order_id, owner, side, price, qty, stp)

    def execute(self, commands, bint check=False):
        """Run a COMMAND_DTYPE array in one Cython loop; returns (results, fills, stp_cancels).

        Never raises for a bad command (its result row says REJECTED and why);
        the per-call fill buffers are left as they were. ``check=True`` runs
        check_invariants() after every command (O(orders) each; for tests).
        """
        if not isinstance(commands, np.ndarray) or commands.dtype != COMMAND_DTYPE or commands.ndim != 1:
            raise TypeError("execute() takes a 1-d numpy array of lob.core.codes.COMMAND_DTYPE")
        cdef cnp.ndarray cmds = np.ascontiguousarray(commands)
        cdef Py_ssize_t n = cmds.shape[0], i
        cdef cnp.ndarray results = np.zeros(n, dtype=RESULT_DTYPE)
        cdef CommandRec *cmd = <CommandRec *>cnp.PyArray_DATA(cmds)
        cdef ResultRec *res = <ResultRec *>cnp.PyArray_DATA(results)
        cdef Py_ssize_t fill_start = self._n_fills, stp_start = self._n_stp_cancels
        cdef str problem
        try:
            for i in range(n):
                res[i].seq = self.seq
                self._apply(cmd[i].kind, cmd[i].order_id, cmd[i].owner, cmd[i].side, cmd[i].price,
                            cmd[i].qty, cmd[i].stp)
                res[i].status = <int8_t>self.last_status
                res[i].reason = <int8_t>self.last_reason
                res[i].filled = self.last_filled
                res[i].resting = self.last_resting
                if check:
                    problem = self._check()
                    if problem is not None:
                        raise AssertionError(f"after command row {i} (seq {res[i].seq}): {problem}")
            fills = self._copy_fills(fill_start, self._n_fills)
            cancels = self._copy_stp_cancels(stp_start, self._n_stp_cancels)
        finally:
            self._n_fills = fill_start
            self._n_stp_cancels = stp_start
        return results, fills, cancels

    def take_fills(self):
        """The buffered fills as a FILL_DTYPE array, emptying the buffer. O(fills)."""
        out = self._copy_fills(0, self._n_fills)
        self._n_fills = 0
        return out

    def take_stp_cancels(self):
        """The buffered self-trade cancels as a STP_CANCEL_DTYPE array, emptying the buffer."""
        out = self._copy_stp_cancels(0, self._n_stp_cancels)
        self._n_stp_cancels = 0
        return out

    def fill_tuples(self):
        """The buffered fills as tuples in FILL_DTYPE field order (the buffer is kept)."""
        cdef Py_ssize_t i
        cdef FillRec *f
        out = []
        for i in range(self._n_fills):
            f = &self._fills[i]
            out.append((f.seq, f.taker_id, f.maker_id, f.taker_owner, f.maker_owner, f.price, f.qty,
                        f.maker_remaining, f.aggressor_side))
        return out

    def take_fill_tuples(self):
        """The buffered fills as tuples, emptying the buffer: the simulator's per-command path. O(fills)."""
        out = self.fill_tuples()
        self._n_fills = 0
        return out

    def clear(self):
        """Removes every order; buffers and ``seq`` are kept. O(capacity)."""
        self._reset_pools()

    def restore(self, snapshot):
        """Replace the book's orders with a snapshot's (see snapshot()). O(n log n).

        Every row is checked first; a bad row raises SnapshotError naming it
        and leaves the book unchanged.
        """
        if not isinstance(snapshot, np.ndarray) or snapshot.dtype != SNAPSHOT_DTYPE:
            raise SnapshotError("snapshot must be a numpy array of lob.core.codes.SNAPSHOT_DTYPE")
        cdef cnp.ndarray snap = np.ascontiguousarray(snapshot)
        cdef SnapshotRec *rows = <SnapshotRec *>cnp.PyArray_DATA(snap)
        cdef Py_ssize_t n = snap.shape[0], i
        cdef int64_t top_bid = NO_BID, low_ask = NO_ASK
        cdef SnapshotRec *r
        cdef int side
        seen = set()
        for i in range(n):
            r = &rows[i]
            if r.side != BUY and r.side != SELL:
                raise SnapshotError(f"snapshot row {i}: side must be 1 or -1, got {r.side}")
            if r.stp < STP_NONE or r.stp > STP_CANCEL_BOTH:
                raise SnapshotError(f"snapshot row {i}: stp must be 0..3, got {r.stp}")
            if r.order_id < 0:
                raise SnapshotError(f"snapshot row {i}: order id must be >= 0, got {r.order_id}")
            if r.qty <= 0 or r.qty > MAX_QTY:
                raise SnapshotError(f"snapshot row {i}: qty must be in 1..{MAX_QTY}, got {r.qty}")
            if r.price <= 0 or r.price > MAX_PRICE:
                raise SnapshotError(f"snapshot row {i}: price must be in 1..{MAX_PRICE}, got {r.price}")
            if r.order_id in seen:
                raise SnapshotError(f"snapshot row {i}: duplicate order id {r.order_id}")
            seen.add(r.order_id)
        for i in range(n):
            r = &rows[i]
            if r.side == BUY and r.price > top_bid:
                top_bid = r.price
            if r.side == SELL and r.price < low_ask:
                low_ask = r.price
            if top_bid >= low_ask:
                raise SnapshotError(f"snapshot row {i}: crosses the book (best bid {top_bid} >= best ask {low_ask})")
        self._reset_pools()
        # Create every level first, in key order, so a deep book costs no memmove.
        for side in (BUY, SELL):
            for key in np.unique(snap["price"][snap["side"] == side] * side):
                self._add_level(side, <int64_t>key, self._ladder(side).n)
        for i in range(n):
            self._rest(rows[i].order_id, rows[i].owner, rows[i].side, rows[i].price, rows[i].qty, rows[i].stp)

    @classmethod
    def from_snapshot(cls, snapshot):
        """A new book holding a snapshot's orders."""
        book = cls(max(16, len(snapshot)))
        book.restore(snapshot)
        return book

    # -- QUERIES ---------------------------------------------------------------

    cpdef int64_t best_bid(self) noexcept:
        """Highest bid in ticks, NO_BID (0) if there is none. O(1)."""
        if self._bids.n == 0:
            return NO_BID
        return self._bids.keys[self._bids.n - 1]

    cpdef int64_t best_ask(self) noexcept:
        """Lowest ask in ticks, NO_ASK (2**63 - 1) if there is none. O(1)."""
        if self._asks.n == 0:
            return NO_ASK
        return -self._asks.keys[self._asks.n - 1]

    cpdef int64_t spread(self) noexcept:
        """best_ask - best_bid in ticks, -1 if either side is empty. O(1)."""
        if self._bids.n == 0 or self._asks.n == 0:
            return -1
        return self.best_ask() - self.best_bid()

    cpdef double mid(self) noexcept:
        """(best_bid + best_ask) / 2 in ticks, NaN if either side is empty. O(1)."""
        if self._bids.n == 0 or self._asks.n == 0:
            return NAN
        return (<double>self.best_bid() + <double>self.best_ask()) * 0.5

    cpdef int64_t volume_at(self, int side, int64_t price) except? -1:
        """Lots resting at ``price`` on ``side`` (0 if no level). O(log L)."""
        cdef Ladder *ladder = self._ladder(side)
        cdef int64_t key = side * price
        cdef Py_ssize_t pos = _lower_bound(ladder, key)
        if pos < ladder.n and ladder.keys[pos] == key:
            return self._levels[ladder.levels[pos]].qty
        return 0

    def depth(self, int side, Py_ssize_t n):
        """(prices, qtys): int64 arrays of the best ``n`` levels of ``side``, best first. O(n)."""
        cdef Ladder *ladder = self._ladder(side)
        cdef Py_ssize_t m = min(max(n, 0), ladder.n), i
        cdef cnp.ndarray prices = np.empty(m, dtype=np.int64)
        cdef cnp.ndarray qtys = np.empty(m, dtype=np.int64)
        cdef int64_t *p = <int64_t *>cnp.PyArray_DATA(prices)
        cdef int64_t *q = <int64_t *>cnp.PyArray_DATA(qtys)
        cdef Level *lvl
        for i in range(m):
            lvl = &self._levels[ladder.levels[ladder.n - 1 - i]]
            p[i] = lvl.price
            q[i] = lvl.qty
        return prices, qtys

    def order_qty(self, int64_t order_id):
        """Remaining lots of a live order. O(1)."""
        return self._orders[self._require(order_id)].qty

    def order_price(self, int64_t order_id):
        """Price in ticks of a live order. O(1)."""
        return self._levels[self._orders[self._require(order_id)].level].price

    def order_side(self, int64_t order_id):
        """Side (1 buy, -1 sell) of a live order. O(1)."""
        return self._orders[self._require(order_id)].side

    def order_owner(self, int64_t order_id):
        """Owner (account id) of a live order. O(1)."""
        return self._orders[self._require(order_id)].owner

    def __contains__(self, order_id):
        try:
            oid = operator.index(order_id)
        except TypeError:
            return False
        if oid < 0 or oid > INT64_MAX:
            return False
        return self._find(oid) != -1

    def __len__(self):
        return self._n_orders

    @property
    def order_count(self):
        """Live orders on the book."""
        return self._n_orders

    def level_count(self, int side):
        """Price levels on ``side``."""
        return self._ladder(side).n

    @property
    def fill_count(self):
        """Fills waiting in the per-call buffer."""
        return self._n_fills

    def snapshot(self):
        """Every resting order as SNAPSHOT_DTYPE: bids best first, then asks, FIFO within a level. O(n)."""
        out = np.empty(self._n_orders, dtype=SNAPSHOT_DTYPE)
        cdef SnapshotRec *rows = <SnapshotRec *>cnp.PyArray_DATA(out)
        cdef Py_ssize_t j = 0, i
        cdef Ladder *ladder
        cdef Level *lvl
        cdef Order *o
        cdef int32_t slot
        cdef int side
        for side in (BUY, SELL):
            ladder = self._ladder(side)
            for i in range(ladder.n - 1, -1, -1):
                lvl = &self._levels[ladder.levels[i]]
                slot = lvl.head
                while slot != -1:
                    o = &self._orders[slot]
                    rows[j].order_id = o.order_id
                    rows[j].owner = o.owner
                    rows[j].price = lvl.price
                    rows[j].qty = o.qty
                    rows[j].side = o.side
                    rows[j].stp = o.stp
                    j += 1
                    slot = o.next
        return out

    def check_invariants(self):
        """Raise AssertionError naming the first broken invariant. O(orders + levels)."""
        problem = self._check()
        if problem is not None:
            raise AssertionError(problem)

    def memory_bytes(self):
        """Bytes held by the pools, the id index, the sides and the output buffers."""
        return (
            self._order_cap * sizeof(Order)
            + (self._index_mask + 1) * sizeof(int32_t)
            + self._level_cap * sizeof(Level)
            + (self._bids.cap + self._asks.cap) * (sizeof(int64_t) + sizeof(int32_t))
            + self._fill_cap * sizeof(FillRec)
            + self._stp_cancel_cap * sizeof(StpCancelRec)
        )

    # -- INTERNALS -------------------------------------------------------------

    cdef Ladder *_ladder(self, int side) except NULL:
        if side == BUY:
            return &self._bids
        if side == SELL:
            return &self._asks
        raise ValueError(f"side must be 1 (buy) or -1 (sell), got {side}")

    cdef int32_t _require(self, int64_t order_id) except -1:
        cdef int32_t slot = self._find(order_id)
        if slot == -1:
            raise order_error(R_UNKNOWN_ORDER_ID, order_id)
        return slot

    cdef int _call(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty,
                   int stp) except -1:
        """One per-call command: run it, raise OrderError for an input reject, return the status."""
        self._apply(kind, order_id, owner, side, price, qty, stp)
        if self.last_status == S_REJECTED:
            self._raise_if_input_error(kind, order_id, side, price, qty, stp)
        return self.last_status

    cdef int _raise_if_input_error(self, int kind, int64_t order_id, int side, int64_t price, int64_t qty,
                                   int stp) except -1:
        """Cold path of the per-call API: turn an input reject into OrderError."""
        cdef int reason = self.last_reason
        if reason not in _INPUT_ERRORS:
            return 0
        extra = 0
        if reason == R_INVALID_SIDE:
            extra = side
        elif reason == R_INVALID_KIND:
            extra = kind
        elif reason == R_INVALID_STP:
            extra = stp
        elif reason == R_REDUCE_TOO_LARGE:
            extra = self._orders[self._find(order_id)].qty
        raise order_error(reason, order_id, price, qty, extra)

    cdef int _reject(self, int reason) noexcept:
        self._finish(S_REJECTED, reason, 0, 0)
        return 0

    cdef int _shrink(self, Order *o, int64_t lots) noexcept:
        """Take ``lots`` (< remaining) off a resting order in place; it keeps its place in the queue."""
        o.qty -= lots
        self._levels[o.level].qty -= lots
        self._finish(S_RESTING, R_NONE, 0, o.qty)
        return 0

    cdef void _finish(self, int status, int reason, int64_t filled, int64_t resting) noexcept:
        self.last_status = status
        self.last_reason = reason
        self.last_filled = filled
        self.last_resting = resting

    cdef int _apply(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty,
                    int stp) except -1:
        """Validate and run one command; the outcome goes to last_*. Every command takes a seq."""
        self._dispatch(kind, order_id, owner, side, price, qty, stp)
        self.seq += 1
        return 0

    cdef int _dispatch(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty,
                       int stp) except -1:
        cdef int32_t slot
        cdef Order *o
        if kind <= K_MARKET and kind >= K_LIMIT:
            return self._new_order(kind, order_id, owner, side, price, qty, stp)
        if kind == K_CANCEL:
            slot = self._find(order_id)
            if slot == -1:
                return self._reject(R_UNKNOWN_ORDER_ID)
            self._unlink(slot)
            self._finish(S_CANCELLED, R_NONE, 0, 0)
            return 0
        if kind == K_REDUCE:
            if qty <= 0 or qty > MAX_QTY:
                return self._reject(R_INVALID_QTY)
            slot = self._find(order_id)
            if slot == -1:
                return self._reject(R_UNKNOWN_ORDER_ID)
            o = &self._orders[slot]
            if qty > o.qty:
                return self._reject(R_REDUCE_TOO_LARGE)
            if qty == o.qty:
                self._unlink(slot)
                self._finish(S_CANCELLED, R_NONE, 0, 0)
                return 0
            return self._shrink(o, qty)
        if kind == K_REPLACE:
            return self._replace(order_id, price, qty)
        return self._reject(R_INVALID_KIND)

    cdef int _new_order(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty,
                        int stp) except -1:
        cdef int64_t threshold, filled, rest
        cdef bint stp_stopped = False
        cdef Ladder *opposite
        if side != BUY and side != SELL:
            return self._reject(R_INVALID_SIDE)
        if stp < STP_NONE or stp > STP_CANCEL_BOTH:
            return self._reject(R_INVALID_STP)
        if order_id < 0:
            return self._reject(R_INVALID_ORDER_ID)
        if qty <= 0 or qty > MAX_QTY:
            return self._reject(R_INVALID_QTY)
        if price > MAX_PRICE or price < 0 or (price == 0 and kind != K_MARKET):
            return self._reject(R_INVALID_PRICE)
        if self._find(order_id) != -1:
            return self._reject(R_DUPLICATE_ORDER_ID)
        # A maker is reachable while its key on the opposite ladder (-side * price)
        # is >= threshold; a market order without protection reaches everything.
        if kind == K_MARKET and price == 0:
            threshold = INT64_MIN
        else:
            threshold = -side * price
        if kind == K_POST_ONLY:
            opposite = &self._asks if side == BUY else &self._bids
            if opposite.n > 0 and opposite.keys[opposite.n - 1] >= threshold:
                return self._reject(R_POST_ONLY_WOULD_TAKE)
            self._rest(order_id, owner, side, price, qty, stp)
            self._finish(S_RESTING, R_NONE, 0, qty)
            return 0
        if kind == K_FOK and self._available(owner, side, threshold, qty, stp) < qty:
            return self._reject(R_FOK_UNFILLABLE)
        filled = self._take(order_id, owner, side, threshold, qty, stp, &stp_stopped)
        rest = qty - filled
        if rest == 0:
            self._finish(S_FILLED, R_NONE, filled, 0)
        elif stp_stopped:
            self._finish(S_EXPIRED, R_SELF_TRADE, filled, 0)
        elif kind == K_LIMIT:
            self._rest(order_id, owner, side, price, rest, stp)
            self._finish(S_RESTING, R_NONE, filled, rest)
        else:
            self._finish(S_EXPIRED, R_NONE, filled, 0)
        return 0

    cdef int _replace(self, int64_t order_id, int64_t price, int64_t qty) except -1:
        cdef int32_t slot
        cdef Order *o
        cdef int64_t owner
        cdef int side, stp
        if qty <= 0 or qty > MAX_QTY:
            return self._reject(R_INVALID_QTY)
        if price <= 0 or price > MAX_PRICE:
            return self._reject(R_INVALID_PRICE)
        slot = self._find(order_id)
        if slot == -1:
            return self._reject(R_UNKNOWN_ORDER_ID)
        o = &self._orders[slot]
        if self._levels[o.level].price == price and qty <= o.qty:
            return self._shrink(o, o.qty - qty)  # keeps time priority, as a reduce does
        owner = o.owner
        side = o.side
        stp = o.stp
        self._unlink(slot)
        # Re-enters as a new limit order; _new_order cannot reject it now (fields were checked).
        return self._new_order(K_LIMIT, order_id, owner, side, price, qty, stp)

    cdef int64_t _take(self, int64_t order_id, int64_t owner, int side, int64_t threshold, int64_t qty, int stp,
                       bint *stp_stopped) except -1:
        """Match against the opposite side while makers are reachable; returns lots filled. O(k)."""
        cdef Ladder *opposite = &self._asks if side == BUY else &self._bids
        cdef int64_t remaining = qty, trade, price
        cdef int32_t level_slot, slot, nxt
        cdef Level *lvl
        cdef Order *maker
        while remaining > 0 and opposite.n > 0 and opposite.keys[opposite.n - 1] >= threshold:
            level_slot = opposite.levels[opposite.n - 1]
            lvl = &self._levels[level_slot]
            price = lvl.price
            slot = lvl.head
            while slot != -1 and remaining > 0:
                maker = &self._orders[slot]
                nxt = maker.next
                if stp != STP_NONE and maker.owner == owner:
                    if stp == STP_CANCEL_INCOMING:
                        stp_stopped[0] = True
                        return qty - remaining
                    self._push_stp_cancel(order_id, maker, price)
                    if stp == STP_CANCEL_BOTH:
                        stp_stopped[0] = True
                        self._unlink(slot)  # may free the level: nothing reads lvl after this
                        return qty - remaining
                    if nxt == -1:
                        self._unlink(slot)  # empties and frees the level
                        break
                    self._unlink(slot)
                    slot = nxt
                    continue
                trade = maker.qty if maker.qty < remaining else remaining
                maker.qty -= trade
                lvl.qty -= trade
                remaining -= trade
                self._push_fill(order_id, owner, maker, price, trade, side)
                if maker.qty == 0:
                    if nxt == -1:
                        self._unlink(slot)  # empties and frees the level
                        break
                    self._unlink(slot)
                slot = nxt
        return qty - remaining

    cdef int64_t _available(self, int64_t owner, int side, int64_t threshold, int64_t want, int stp) noexcept:
        """Lots an order could take now, counted until ``want`` is reached (FOK). O(levels or makers)."""
        cdef Ladder *opposite = &self._asks if side == BUY else &self._bids
        cdef int64_t total = 0
        cdef Py_ssize_t i = opposite.n - 1
        cdef int32_t slot
        cdef Order *maker
        while i >= 0 and opposite.keys[i] >= threshold and total < want:
            if stp == STP_NONE:
                total += self._levels[opposite.levels[i]].qty
            else:
                slot = self._levels[opposite.levels[i]].head
                while slot != -1 and total < want:
                    maker = &self._orders[slot]
                    if maker.owner == owner:
                        if stp != STP_CANCEL_RESTING:
                            return total  # matching would stop at this maker
                    else:
                        total += maker.qty
                    slot = maker.next
            i -= 1
        return total

    cdef int32_t _add_level(self, int side, int64_t key, Py_ssize_t pos) except -1:
        """New empty level at ladder position ``pos``; returns its slot."""
        cdef int32_t level_slot
        if self._free_level == -1:
            self._grow_levels()
        level_slot = self._free_level
        self._free_level = self._levels[level_slot].tail
        self._levels[level_slot].price = side * key
        self._levels[level_slot].qty = 0
        self._levels[level_slot].head = -1
        self._levels[level_slot].tail = -1
        _ladder_insert(&self._bids if side == BUY else &self._asks, pos, key, level_slot)
        return level_slot

    cdef int _rest(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1:
        """Append an order at the back of its level's queue. O(1), or O(log L + d) for a new level."""
        cdef Ladder *ladder = &self._bids if side == BUY else &self._asks
        cdef int64_t key = side * price
        cdef Py_ssize_t pos = _lower_bound(ladder, key)
        cdef int32_t level_slot, slot
        cdef Level *lvl
        cdef Order *o
        if pos < ladder.n and ladder.keys[pos] == key:
            level_slot = ladder.levels[pos]
        else:
            level_slot = self._add_level(side, key, pos)
        if self._free_order == -1:
            self._grow_orders()
        slot = self._free_order
        o = &self._orders[slot]
        self._free_order = o.next
        lvl = &self._levels[level_slot]
        o.order_id = order_id
        o.owner = owner
        o.qty = qty
        o.side = <int8_t>side
        o.stp = <int8_t>stp
        o.level = level_slot
        o.next = -1
        o.prev = lvl.tail
        if lvl.tail == -1:
            lvl.head = slot
        else:
            self._orders[lvl.tail].next = slot
        lvl.tail = slot
        lvl.qty += qty
        self._n_orders += 1
        self._index_insert(slot)
        return 0

    cdef void _unlink(self, int32_t slot) noexcept:
        """Take a live order off its level and the index, free its slot (and an emptied level)."""
        cdef Order *o = &self._orders[slot]
        cdef Level *lvl = &self._levels[o.level]
        lvl.qty -= o.qty
        if o.prev == -1:
            lvl.head = o.next
        else:
            self._orders[o.prev].next = o.next
        if o.next == -1:
            lvl.tail = o.prev
        else:
            self._orders[o.next].prev = o.prev
        self._index_delete(slot)
        if lvl.head == -1:
            self._remove_level(&self._bids if o.side == BUY else &self._asks, o.level)
        o.level = -1
        o.next = self._free_order
        self._free_order = slot
        self._n_orders -= 1

    cdef void _remove_level(self, Ladder *ladder, int32_t level_slot) noexcept:
        cdef Level *lvl = &self._levels[level_slot]
        cdef int64_t key = (1 if ladder == &self._bids else -1) * lvl.price
        cdef Py_ssize_t pos
        if ladder.keys[ladder.n - 1] == key:
            pos = ladder.n - 1  # the touch: the common case
        else:
            pos = _lower_bound(ladder, key)
            memmove(&ladder.keys[pos], &ladder.keys[pos + 1], <size_t>(ladder.n - pos - 1) * sizeof(int64_t))
            memmove(&ladder.levels[pos], &ladder.levels[pos + 1], <size_t>(ladder.n - pos - 1) * sizeof(int32_t))
        ladder.n -= 1
        lvl.tail = self._free_level
        self._free_level = level_slot

    # -- ORDER ID INDEX (open addressing, linear probing, backward-shift delete) --

    cdef uint64_t _home(self, int64_t order_id) noexcept:
        return (<uint64_t>order_id * HASH_MULT) >> self._index_shift

    cdef int32_t _find(self, int64_t order_id) noexcept:
        """Slot of a live order, or -1. O(1) expected (load factor <= 1/2)."""
        cdef uint64_t i = self._home(order_id)
        cdef int32_t slot
        while True:
            slot = self._index[i]
            if slot == -1 or self._orders[slot].order_id == order_id:
                return slot
            i = (i + 1) & self._index_mask

    cdef int _index_insert(self, int32_t slot) except -1:
        if 2 * (<uint64_t>self._n_orders) > self._index_mask + 1:
            self._grow_index()
        cdef uint64_t i = self._home(self._orders[slot].order_id)
        while self._index[i] != -1:
            i = (i + 1) & self._index_mask
        self._index[i] = slot
        return 0

    cdef void _index_delete(self, int32_t slot) noexcept:
        cdef uint64_t i = self._home(self._orders[slot].order_id), j, home
        cdef uint64_t mask = self._index_mask
        cdef int32_t other
        while self._index[i] != slot:
            i = (i + 1) & mask
        # Shift back later entries of the probe run whose home is not in (i, j],
        # so every lookup still finds its key without tombstones.
        j = i
        while True:
            j = (j + 1) & mask
            other = self._index[j]
            if other == -1:
                break
            home = self._home(self._orders[other].order_id)
            if ((j - home) & mask) >= ((j - i) & mask):
                self._index[i] = other
                i = j
        self._index[i] = -1

    cdef int _grow_index(self) except -1:
        cdef uint64_t old_cap = self._index_mask + 1, new_cap = old_cap * 2, k, i
        cdef int32_t *old = self._index
        cdef int32_t *new = <int32_t *>malloc(new_cap * sizeof(int32_t))
        if new == NULL:
            raise MemoryError("lob.core.book: out of memory")
        for k in range(new_cap):
            new[k] = -1
        self._index = new
        self._index_mask = new_cap - 1
        self._index_shift -= 1
        for k in range(old_cap):
            if old[k] != -1:
                i = self._home(self._orders[old[k]].order_id)
                while new[i] != -1:
                    i = (i + 1) & self._index_mask
                new[i] = old[k]
        free(old)
        return 0

    # -- POOLS AND BUFFERS ------------------------------------------------------

    cdef int _grow_orders(self) except -1:
        cdef Py_ssize_t cap = self._order_cap, old = self._order_cap, i
        if cap >= 0x40000000:
            raise MemoryError("lob.core.book: more than 2**30 live orders")
        self._orders = <Order *>_grow(self._orders, &cap, sizeof(Order), 0)
        for i in range(old, cap):
            self._orders[i].level = -1
            self._orders[i].next = <int32_t>(i + 1) if i + 1 < cap else self._free_order
        self._free_order = <int32_t>old
        self._order_cap = <int32_t>cap
        return 0

    cdef int _grow_levels(self) except -1:
        cdef Py_ssize_t cap = self._level_cap, old = self._level_cap, i
        if cap >= 0x40000000:
            raise MemoryError("lob.core.book: more than 2**30 price levels")
        self._levels = <Level *>_grow(self._levels, &cap, sizeof(Level), 0)
        for i in range(old, cap):
            self._levels[i].tail = <int32_t>(i + 1) if i + 1 < cap else self._free_level
        self._free_level = <int32_t>old
        self._level_cap = <int32_t>cap
        return 0

    cdef int _push_fill(self, int64_t taker_id, int64_t taker_owner, Order *maker, int64_t price, int64_t qty,
                        int side) except -1:
        cdef FillRec *f
        if self._n_fills == self._fill_cap:
            self._fills = <FillRec *>_grow(self._fills, &self._fill_cap, sizeof(FillRec), 1024)
        f = &self._fills[self._n_fills]
        self._n_fills += 1
        f.seq = self.seq
        f.taker_id = taker_id
        f.maker_id = maker.order_id
        f.taker_owner = taker_owner
        f.maker_owner = maker.owner
        f.price = price
        f.qty = qty
        f.maker_remaining = maker.qty
        f.aggressor_side = <int8_t>side
        return 0

    cdef int _push_stp_cancel(self, int64_t taker_id, Order *maker, int64_t price) except -1:
        cdef StpCancelRec *s
        if self._n_stp_cancels == self._stp_cancel_cap:
            self._stp_cancels = <StpCancelRec *>_grow(self._stp_cancels, &self._stp_cancel_cap,
                                                       sizeof(StpCancelRec), 64)
        s = &self._stp_cancels[self._n_stp_cancels]
        self._n_stp_cancels += 1
        s.seq = self.seq
        s.taker_id = taker_id
        s.maker_id = maker.order_id
        s.maker_owner = maker.owner
        s.price = price
        s.qty = maker.qty
        s.maker_side = maker.side
        return 0

    cdef object _copy_fills(self, Py_ssize_t start, Py_ssize_t stop):
        out = np.empty(stop - start, dtype=FILL_DTYPE)
        if stop > start:
            memcpy(cnp.PyArray_DATA(out), &self._fills[start], <size_t>(stop - start) * sizeof(FillRec))
        return out

    cdef object _copy_stp_cancels(self, Py_ssize_t start, Py_ssize_t stop):
        out = np.empty(stop - start, dtype=STP_CANCEL_DTYPE)
        if stop > start:
            memcpy(cnp.PyArray_DATA(out), &self._stp_cancels[start],
                   <size_t>(stop - start) * sizeof(StpCancelRec))
        return out

    # -- INVARIANTS --------------------------------------------------------------

    cdef str _check(self):
        """The first broken invariant as text, or None. O(orders + levels)."""
        cdef Ladder *ladder
        cdef Py_ssize_t i
        cdef int side
        cdef int32_t slot, prev, level_slot
        cdef int64_t total, seen = 0
        cdef Level *lvl
        cdef Order *o
        cdef uint64_t k
        for side in (BUY, SELL):
            ladder = self._ladder(side)
            name = "bid" if side == BUY else "ask"
            for i in range(ladder.n):
                level_slot = ladder.levels[i]
                lvl = &self._levels[level_slot]
                if i > 0 and ladder.keys[i - 1] >= ladder.keys[i]:
                    return f"{name} levels out of order at position {i}"
                if lvl.price * side != ladder.keys[i] or lvl.price <= 0:
                    return f"{name} level {lvl.price}: key {ladder.keys[i]} does not match its price"
                if lvl.head == -1:
                    return f"{name} level {lvl.price} is empty but still listed"
                total = 0
                prev = -1
                slot = lvl.head
                while slot != -1:
                    o = &self._orders[slot]
                    if o.level != level_slot or o.side != side:
                        return f"order {o.order_id} in {name} level {lvl.price} names another level or side"
                    if o.prev != prev:
                        return f"order {o.order_id}: broken queue link in {name} level {lvl.price}"
                    if o.qty <= 0:
                        return f"order {o.order_id}: non-positive qty {o.qty} resting"
                    if self._find(o.order_id) != slot:
                        return f"order {o.order_id}: the id index does not point at its slot"
                    total += o.qty
                    seen += 1
                    prev = slot
                    slot = o.next
                if lvl.tail != prev:
                    return f"{name} level {lvl.price}: tail is not the last order of its queue"
                if total != lvl.qty:
                    return f"{name} level {lvl.price}: total {lvl.qty} != sum of its queue {total}"
        if seen != self._n_orders:
            return f"order count {self._n_orders} != {seen} orders found in the levels"
        total = 0
        for k in range(self._index_mask + 1):
            if self._index[k] != -1:
                total += 1
                if self._orders[self._index[k]].level == -1:
                    return f"the id index points at free slot {self._index[k]}"
        if total != self._n_orders:
            return f"the id index holds {total} entries for {self._n_orders} orders"
        if self._bids.n > 0 and self._asks.n > 0 and self.best_bid() >= self.best_ask():
            return f"book is crossed: best bid {self.best_bid()} >= best ask {self.best_ask()}"
        return None
