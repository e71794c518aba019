"""An independent model of the matching core, built from its contract (docs/core.md) alone.

:class:`Ledger` rebuilds the resting orders a book must hold from the book's
outputs (results, fills and STP cancels), command by command, and checks each
command's records against the contract: input validation and the order of its
checks, price-time priority, limit and protection prices, self-trade
prevention, FOK and post-only rejections, and that every lot submitted is
accounted for (taken, expired, cancelled, reduced or still resting).
:func:`audit` replays a whole run against a fresh ledger, then compares the
book with it; :func:`check_cheap_properties` is the vectorised subset, cheap
enough for every chunk of a long run. Nothing here runs either book's code
(only the constants and dtypes of lob.core.codes), so tests/test_differential.py
can check both books against it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from lob.core.codes import MAX_PRICE, MAX_QTY, SNAPSHOT_DTYPE, STP, Kind, Reason, Side, Status

Array = npt.NDArray[np.void]
Outputs = tuple[Array, Array, Array]  # results, fills, stp_cancels

NEW_KINDS = frozenset(int(k) for k in (Kind.LIMIT, Kind.IOC, Kind.FOK, Kind.POST_ONLY, Kind.MARKET))
VALID_KINDS = frozenset(int(k) for k in Kind)
VALID_STPS = frozenset(int(s) for s in STP)
BUY, SELL = int(Side.BUY), int(Side.SELL)
REJECTED, RESTING, FILLED, EXPIRED, CANCELLED = (int(s) for s in Status)


class Ledger:
    """The resting orders as the contract says they must be, rebuilt from a book's outputs alone.

    Dict order is queue order: a reduce keeps an order's place, a re-entry goes
    to the back. Every check costs O(orders), which is fine for short lists.
    """

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}  # id -> [owner, side, price, qty, stp]
        self.lots_in = 0  # lots of accepted new orders and re-entries
        self.lots_out = 0  # lots taken, expired, cancelled, reduced or STP-cancelled

    def best_maker(self, side: int) -> int | None:
        """Id of the first order in the best level of ``side``, None if the side is empty."""
        best_id, best_price = None, None
        for order_id, (_, s, price, _, _) in self.orders.items():
            if s == side and (
                best_price is None or (price > best_price if side == BUY else price < best_price)
            ):
                best_id, best_price = order_id, price
        return best_id

    def expected_input_error(self, cmd: tuple[int, ...]) -> int:
        """The validation reason docs/core.md gives ``cmd`` (NONE if it passes input checks)."""
        order_id, _, price, qty, kind, side, stp = cmd
        qty_ok, price_ok = 1 <= qty <= MAX_QTY, 1 <= price <= MAX_PRICE
        if kind not in VALID_KINDS:
            return Reason.INVALID_KIND
        if kind in NEW_KINDS:
            if kind == Kind.MARKET:
                price_ok = 0 <= price <= MAX_PRICE
            for ok, reason in (
                (side in (BUY, SELL), Reason.INVALID_SIDE),
                (stp in VALID_STPS, Reason.INVALID_STP),
                (order_id >= 0, Reason.INVALID_ORDER_ID),
                (qty_ok, Reason.INVALID_QTY),
                (price_ok, Reason.INVALID_PRICE),
                (order_id not in self.orders, Reason.DUPLICATE_ORDER_ID),
            ):
                if not ok:
                    return reason
            return Reason.NONE
        if kind == Kind.CANCEL:
            return Reason.NONE if order_id in self.orders else Reason.UNKNOWN_ORDER_ID
        if not qty_ok:
            return Reason.INVALID_QTY
        if kind == Kind.REPLACE and not price_ok:
            return Reason.INVALID_PRICE
        if order_id not in self.orders:
            return Reason.UNKNOWN_ORDER_ID
        if kind == Kind.REDUCE and qty > self.orders[order_id][3]:
            return Reason.REDUCE_TOO_LARGE
        return Reason.NONE

    def makers_in_priority(self, side: int, limit: int) -> list[tuple[int, list[int]]]:
        """Orders of ``side`` priced no worse than ``limit`` for a taker, in price-time priority."""
        inside = [
            (i, o)
            for i, o in self.orders.items()
            if o[1] == side and (o[2] >= limit if side == BUY else o[2] <= limit)
        ]
        return sorted(inside, key=lambda item: -item[1][2] if side == BUY else item[1][2])  # stable: FIFO

    def fok_reachable(self, taker: list[int], limit: int) -> int:
        """Lots a FOK could take now, as docs/core.md counts them under its STP mode."""
        owner, side, _, _, stp = taker
        total = 0
        for _, (m_owner, _, _, m_qty, _) in self.makers_in_priority(-side, limit):
            if stp != STP.NONE and m_owner == owner:
                if stp == STP.CANCEL_RESTING:
                    continue
                break
            total += m_qty
        return total

    def take(
        self, cmd: tuple[int, ...], taker: list[int], result: np.void, fills: Array, stps: Array
    ) -> None:
        """Applies one taking order's fills and STP cancels; checks priority, prices, sides and STP."""
        order_id, kind = cmd[0], cmd[4]
        owner, side, limit, qty, stp = taker
        if kind == Kind.MARKET and limit == 0:
            limit = MAX_PRICE if side == BUY else 1
        fills_left, stps_left = list(fills), list(stps)
        stopped = False
        while fills_left or stps_left:
            assert qty > 0 and not stopped, f"order {order_id}: records after it stopped"
            maker_id = self.best_maker(-side)
            assert maker_id is not None, f"order {order_id}: a fill or STP cancel with no maker left"
            m_owner, m_side, m_price, m_qty, _ = self.orders[maker_id]
            assert (m_price <= limit) if side == BUY else (m_price >= limit), "took beyond the limit"
            if stp != STP.NONE and m_owner == owner:
                if stp != STP.CANCEL_INCOMING:
                    assert stps_left, f"no STP cancel of own maker {maker_id}"
                    s = stps_left.pop(0)
                    got = tuple(
                        int(s[k])
                        for k in ("taker_id", "maker_id", "maker_owner", "price", "qty", "maker_side")
                    )
                    assert got == (order_id, maker_id, owner, m_price, m_qty, m_side), f"STP cancel {got}"
                    del self.orders[maker_id]
                    self.lots_out += m_qty
                stopped = stp != STP.CANCEL_RESTING
                continue
            assert fills_left, (
                f"order {order_id}: STP cancel of {int(stps_left[0]['maker_id'])}, priority says {maker_id}"
            )
            f = fills_left.pop(0)
            assert int(f["maker_id"]) == maker_id, (
                f"order {order_id} hit {int(f['maker_id'])}, priority says {maker_id}"
            )
            assert (int(f["taker_id"]), int(f["taker_owner"]), int(f["aggressor_side"])) == (
                order_id,
                owner,
                side,
            )
            assert (int(f["maker_owner"]), int(f["price"])) == (m_owner, m_price), "maker owner / price"
            lots = int(f["qty"])
            assert 0 < lots <= min(m_qty, qty), "fill larger than the maker or the taker"
            assert int(f["maker_remaining"]) == m_qty - lots, "maker_remaining"
            qty -= lots
            self.lots_out += 2 * lots  # the taker's lots and the maker's
            if m_qty == lots:
                del self.orders[maker_id]
            else:
                self.orders[maker_id][3] -= lots
        taker[3] = qty
        if qty == 0:
            return
        reachable = self.makers_in_priority(-side, limit)
        if int(result["reason"]) == Reason.SELF_TRADE:
            own_next = stp == STP.CANCEL_INCOMING and reachable and reachable[0][1][0] == owner
            assert stopped or own_next, f"order {order_id} expired SELF_TRADE with no own maker in the way"
        else:
            assert not stopped, "STP stopped the order but the reason is not SELF_TRADE"
            assert not reachable, f"order {order_id} left matchable maker {reachable[:1]} on the book"

    def apply(self, cmd: tuple[int, ...], result: np.void, fills: Array, stps: Array) -> None:
        """Checks one command's result and records against the ledger, then updates it."""
        order_id, owner, price, qty, kind, side, stp = cmd
        status, reason = int(result["status"]), int(result["reason"])
        filled, resting = int(result["filled"]), int(result["resting"])
        assert int(fills["qty"].sum()) == filled, "fill lots != filled"
        expected = self.expected_input_error(cmd)
        if expected != Reason.NONE:
            assert (status, reason) == (REJECTED, expected), f"expected REJECTED {Reason(expected).name}"
        if status == REJECTED:
            assert len(fills) == 0 and len(stps) == 0 and filled == 0, "a rejected command changed the book"
            if expected == Reason.NONE:
                assert (kind, reason) in (
                    (Kind.POST_ONLY, Reason.POST_ONLY_WOULD_TAKE),
                    (Kind.FOK, Reason.FOK_UNFILLABLE),
                ), f"unexpected rejection {Reason(reason).name}"
                if kind == Kind.POST_ONLY:
                    assert self.makers_in_priority(-side, price), "POST_ONLY_WOULD_TAKE without crossing"
                else:
                    reach = self.fok_reachable([owner, side, price, qty, stp], price)
                    assert reach < qty, f"FOK_UNFILLABLE but {reach} lots reachable"
            return
        if kind == Kind.CANCEL or kind == Kind.REDUCE:
            assert len(fills) == 0 and len(stps) == 0 and filled == 0
            order = self.orders[order_id]
            cut = order[3] if kind == Kind.CANCEL else qty
            self.lots_out += cut
            order[3] -= cut
            if order[3] == 0:
                del self.orders[order_id]
                assert (status, resting) == (CANCELLED, 0), "cancel / reduce to zero"
            else:
                assert (status, resting) == (RESTING, order[3]), "reduce keeps the rest"
            return
        if kind == Kind.REPLACE:
            order = self.orders[order_id]
            if price == order[2] and qty <= order[3]:  # acts as a reduce, keeps its place
                assert len(fills) == 0 and len(stps) == 0 and filled == 0
                self.lots_out += order[3] - qty
                order[3] = qty
                assert (status, resting) == (RESTING, qty), "replace in place"
                return
            del self.orders[order_id]
            self.lots_out += order[3]
            taker = [order[0], order[1], price, qty, order[4]]
            kind = Kind.LIMIT
        else:
            taker = [owner, side, price, qty, stp]
            assert kind != Kind.POST_ONLY or len(fills) == len(stps) == 0, "a post-only order took"
        self.lots_in += qty
        self.take(cmd, taker, result, fills, stps)
        left = taker[3]
        assert filled == qty - left, "filled"
        if status == RESTING:
            assert kind in (Kind.LIMIT, Kind.POST_ONLY) and reason == Reason.NONE
            assert resting == left > 0, "resting != what is left"
            self.orders[order_id] = taker
        elif status == FILLED:
            assert left == 0 and resting == 0 and reason == Reason.NONE
        else:
            assert status == EXPIRED and resting == 0 and left > 0, f"status {status}"
            assert kind in (Kind.IOC, Kind.MARKET) or reason == Reason.SELF_TRADE, "only STP expires a limit"
            assert kind != Kind.FOK, "a FOK expired"
            self.lots_out += left

    def assert_matches(self, book: Any) -> None:
        """The book holds exactly the ledger's orders, in queue order, with consistent level totals."""
        rows = [(i, o[0], o[2], o[3], o[1], o[4]) for i, o in self.orders.items()]
        bids = sorted((r for r in rows if r[4] == BUY), key=lambda r: -r[2])  # stable: FIFO kept
        asks = sorted((r for r in rows if r[4] == SELL), key=lambda r: r[2])
        expected = np.array(bids + asks, dtype=SNAPSHOT_DTYPE)
        snap = book.snapshot()
        assert len(snap) == len(expected) and np.array_equal(snap, expected), "book != ledger"
        resting = sum(o[3] for o in self.orders.values())
        assert self.lots_in == self.lots_out + resting, "lots submitted not accounted for"
        for side in (BUY, SELL):
            prices, totals = book.depth(side, book.level_count(side) + 1)
            mine = snap[snap["side"] == side]
            assert int(totals.sum()) == int(mine["qty"].sum()), f"side {side}: level totals != resting orders"
            for p, t in zip(prices.tolist(), totals.tolist(), strict=True):
                assert book.volume_at(side, p) == t == int(mine["qty"][mine["price"] == p].sum())


def audit(cmds: Array, outputs: Outputs, book: Any) -> None:
    """Replays ``outputs`` against a :class:`Ledger`; ``book`` started empty and ran ``cmds``."""
    results, fills, stps = outputs
    check_cheap_properties(cmds, results, fills, "audit")
    ledger = Ledger()
    seq0 = int(results["seq"][0]) if len(results) else 0
    fill_at = np.searchsorted(fills["seq"], seq0 + np.arange(len(cmds) + 1))
    stp_at = np.searchsorted(stps["seq"], seq0 + np.arange(len(cmds) + 1))
    for i, cmd in enumerate(cmds.tolist()):
        try:
            ledger.apply(cmd, results[i], fills[fill_at[i] : fill_at[i + 1]], stps[stp_at[i] : stp_at[i + 1]])
        except AssertionError as exc:
            raise AssertionError(f"command {i} {describe(cmds[i])}: {exc}") from exc
    ledger.assert_matches(book)


def check_cheap_properties(cmds: Array, results: Array, fills: Array, where: str) -> None:
    """Vectorised conservation checks, cheap enough for every chunk of the long run."""
    assert int(fills["qty"].sum()) == int(results["filled"].sum()), f"{where}: fill lots != filled"
    assert np.all(fills["qty"] > 0), f"{where}: empty fill"
    if len(results):
        assert np.array_equal(results["seq"], results["seq"][0] + np.arange(len(results))), f"{where}: seq"
    if len(fills):
        taker = cmds[fills["seq"] - results["seq"][0]]
        new = np.isin(taker["kind"], list(NEW_KINDS))
        assert np.array_equal(fills["aggressor_side"][new], taker["side"][new]), f"{where}: aggressor side"
        assert np.array_equal(fills["taker_id"], taker["order_id"]), f"{where}: taker id"
        limited = new & (taker["kind"] != Kind.MARKET) | (taker["kind"] == Kind.MARKET) & (taker["price"] > 0)
        side, px, lim = fills["aggressor_side"], fills["price"], taker["price"]
        worse = limited & (((side == BUY) & (px > lim)) | ((side == SELL) & (px < lim)))
        assert not worse.any(), f"{where}: fill worse than the taker's limit: {fills[worse][:3]}"


def describe(cmd: np.void) -> str:
    kind, side, stp = int(cmd["kind"]), int(cmd["side"]), int(cmd["stp"])
    name = Kind(kind).name if kind in VALID_KINDS else f"kind={kind}"
    return (
        f"{name} id={int(cmd['order_id'])} owner={int(cmd['owner'])} side={side} "
        f"price={int(cmd['price'])} qty={int(cmd['qty'])} stp={stp}"
    )
