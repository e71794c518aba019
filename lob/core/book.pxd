# The interface of the compiled order book: every field, record layout and
# method of lob/core/book.pyx. Semantics: docs/core.md.
#
# Layout in one paragraph: orders live in a pool of fixed-size structs (slots
# reused through a free list) and are chained into a doubly linked FIFO queue
# per price level; levels live in a second pool. Each side keeps a sorted array
# of level keys (key = side * price, ascending, so the best level is always the
# LAST element and sweeping or adding at the touch costs no memmove). Order ids
# map to slots through an open-addressing hash table (linear probing,
# backward-shift deletion) that stores only the slot: the key is read from the
# order itself, which the caller touches next anyway.

cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t

# -- CODES (mirror lob/core/codes.py; tests/test_codes.py keeps them in step) --
cdef enum:
    BUY = 1
    SELL = -1

cdef enum:
    K_LIMIT = 0
    K_IOC = 1
    K_FOK = 2
    K_POST_ONLY = 3
    K_MARKET = 4
    K_CANCEL = 5
    K_REDUCE = 6
    K_REPLACE = 7

cdef enum:
    STP_NONE = 0
    STP_CANCEL_RESTING = 1
    STP_CANCEL_INCOMING = 2
    STP_CANCEL_BOTH = 3

cdef enum:
    S_REJECTED = 0
    S_RESTING = 1
    S_FILLED = 2
    S_EXPIRED = 3
    S_CANCELLED = 4

cdef enum:
    R_NONE = 0
    R_INVALID_QTY = 1
    R_INVALID_PRICE = 2
    R_INVALID_ORDER_ID = 3
    R_DUPLICATE_ORDER_ID = 4
    R_UNKNOWN_ORDER_ID = 5
    R_REDUCE_TOO_LARGE = 6
    R_INVALID_SIDE = 7
    R_INVALID_KIND = 8
    R_INVALID_STP = 9
    R_POST_ONLY_WOULD_TAKE = 10
    R_FOK_UNFILLABLE = 11
    R_SELF_TRADE = 12

# -- INTERNAL STRUCTURES --
cdef struct Order:
    int64_t order_id
    int64_t owner
    int64_t qty          # remaining lots
    int32_t prev         # slot ahead in the level queue, -1 at the head
    int32_t next         # slot behind, -1 at the tail; free-list link when free
    int32_t level        # slot of its level, -1 when the slot is free
    int8_t side
    int8_t stp

cdef struct Level:
    int64_t price        # ticks
    int64_t qty          # lots resting at this level (sum of its queue)
    int32_t head         # first order slot in time priority
    int32_t tail         # last order slot; free-list link when the level is free

cdef struct Ladder:
    int64_t *keys        # side * price, strictly ascending; best level last
    int32_t *levels      # level slot of each key
    Py_ssize_t n
    Py_ssize_t cap

# -- RECORDS (same layout as the numpy dtypes in codes.py, align=True) --
cdef struct CommandRec:
    int64_t order_id
    int64_t owner
    int64_t price
    int64_t qty
    int8_t kind
    int8_t side
    int8_t stp

cdef struct ResultRec:
    int64_t seq
    int64_t filled
    int64_t resting
    int8_t status
    int8_t reason

cdef struct FillRec:
    int64_t seq
    int64_t taker_id
    int64_t maker_id
    int64_t taker_owner
    int64_t maker_owner
    int64_t price
    int64_t qty
    int64_t maker_remaining
    int8_t aggressor_side

cdef struct StpCancelRec:
    int64_t seq
    int64_t taker_id
    int64_t maker_id
    int64_t maker_owner
    int64_t price
    int64_t qty
    int8_t maker_side

cdef struct SnapshotRec:
    int64_t order_id
    int64_t owner
    int64_t price
    int64_t qty
    int8_t side
    int8_t stp


# final: no Python subclass can override a cpdef method, so calls skip that check.
@cython.final
cdef class OrderBook:
    # order pool
    cdef Order *_orders
    cdef int32_t _order_cap
    cdef int32_t _free_order
    cdef int32_t _n_orders
    # order id -> slot
    cdef int32_t *_index
    cdef uint64_t _index_mask
    cdef int _index_shift
    # level pool and the two sides
    cdef Level *_levels
    cdef int32_t _level_cap
    cdef int32_t _free_level
    cdef Ladder _bids
    cdef Ladder _asks
    # output buffers
    cdef FillRec *_fills
    cdef Py_ssize_t _n_fills
    cdef Py_ssize_t _fill_cap
    cdef StpCancelRec *_stp_cancels
    cdef Py_ssize_t _n_stp_cancels
    cdef Py_ssize_t _stp_cancel_cap

    cdef readonly int64_t seq
    cdef readonly int last_status
    cdef readonly int last_reason
    cdef readonly int64_t last_filled
    cdef readonly int64_t last_resting

    # -- COMMANDS --
    cpdef int limit(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=*) except -1
    cpdef int ioc(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=*) except -1
    cpdef int fok(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=*) except -1
    cpdef int post_only(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp=*) except -1
    cpdef int market(self, int64_t order_id, int64_t owner, int side, int64_t qty, int64_t protection=*, int stp=*) except -1
    cpdef int cancel(self, int64_t order_id) except -1
    cpdef int reduce(self, int64_t order_id, int64_t qty) except -1
    cpdef int replace(self, int64_t order_id, int64_t price, int64_t qty) except -1
    cpdef int submit(self, int kind, int64_t order_id, int64_t owner=*, int side=*, int64_t price=*, int64_t qty=*, int stp=*) except -1

    # -- QUERIES --
    cpdef int64_t best_bid(self) noexcept
    cpdef int64_t best_ask(self) noexcept
    cpdef int64_t spread(self) noexcept
    cpdef double mid(self) noexcept
    cpdef int64_t volume_at(self, int side, int64_t price) except? -1

    # -- INTERNALS --
    cdef void _reset_pools(self) noexcept
    cdef void _finish(self, int status, int reason, int64_t filled, int64_t resting) noexcept
    cdef int _reject(self, int reason) noexcept
    cdef int _shrink(self, Order *o, int64_t lots) noexcept
    cdef Ladder *_ladder(self, int side) except NULL
    cdef int32_t _require(self, int64_t order_id) except -1
    cdef int32_t _add_level(self, int side, int64_t key, Py_ssize_t pos) except -1
    cdef uint64_t _home(self, int64_t order_id) noexcept
    cdef object _copy_fills(self, Py_ssize_t start, Py_ssize_t stop)
    cdef object _copy_stp_cancels(self, Py_ssize_t start, Py_ssize_t stop)
    cdef int _apply(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1
    cdef int _call(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1
    cdef int _dispatch(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1
    cdef int _raise_if_input_error(self, int kind, int64_t order_id, int side, int64_t price, int64_t qty, int stp) except -1
    cdef int _new_order(self, int kind, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1
    cdef int _replace(self, int64_t order_id, int64_t price, int64_t qty) except -1
    cdef int64_t _take(self, int64_t order_id, int64_t owner, int side, int64_t threshold, int64_t qty, int stp, bint *stp_stopped) except -1
    cdef int64_t _available(self, int64_t owner, int side, int64_t threshold, int64_t want, int stp) noexcept
    cdef int _rest(self, int64_t order_id, int64_t owner, int side, int64_t price, int64_t qty, int stp) except -1
    cdef void _unlink(self, int32_t slot) noexcept
    cdef void _remove_level(self, Ladder *ladder, int32_t level_slot) noexcept
    cdef int32_t _find(self, int64_t order_id) noexcept
    cdef int _index_insert(self, int32_t slot) except -1
    cdef void _index_delete(self, int32_t slot) noexcept
    cdef int _grow_orders(self) except -1
    cdef int _grow_levels(self) except -1
    cdef int _grow_index(self) except -1
    cdef int _push_fill(self, int64_t taker_id, int64_t taker_owner, Order *maker, int64_t price, int64_t qty, int side) except -1
    cdef int _push_stp_cancel(self, int64_t taker_id, Order *maker, int64_t price) except -1
    cdef str _check(self)
