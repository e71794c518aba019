"""Accounts of one instrument ordered by liquidation price, so a mark move finds whom it crossed.

A long position is liquidated when the mark falls to or below its liquidation
price, a short one when the mark rises to or above it. :class:`LiquidationIndex`
keeps the longs and the shorts in two sorted lists, so the accounts a mark
triggers are a prefix of one list or the other: finding them costs
O(log n + k) for k accounts triggered among n, not a scan of all n.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from sortedcontainers import SortedList

LONG = 1
SHORT = -1

# Larger than every account id: as the second item of a probe ``(price, _AFTER_ALL)``
# it sorts after every key ``(price, account)`` of an equal price.
_AFTER_ALL = math.inf

__all__ = ["LONG", "SHORT", "LiquidationIndex"]


class LiquidationIndex:
    """The accounts holding a position in one instrument, ordered by liquidation price.

    Each account is in the index at most once, as a long (``side=+1``) or a
    short (``side=-1``) with one liquidation price. At a mark price ``m`` a
    long with liquidation price ``p`` is triggered when ``p >= m`` and a short
    when ``p <= m``. A long at ``0.0`` or a short at ``inf`` (a position that
    cannot be liquidated) is stored like any other and is never triggered by a
    finite positive mark. Prices are stored as Python floats (``-0.0`` as
    ``0.0``); NaN is refused.

    Trigger order, in which :meth:`crossed` lists accounts and :meth:`longs`
    and :meth:`shorts` yield them: longs from the highest liquidation price
    down, shorts from the lowest up (the first a falling, respectively rising,
    mark reaches), equal prices by ascending account id, so results are
    deterministic.

    Longs are kept as keys ``(-price, account)`` and shorts as
    ``(price, account)`` in a ``SortedList`` each, so that trigger order is
    ascending key order on both sides; two dicts map an account to its key.
    About 200 bytes an account: 100,000 accounts take about 20 MB.

    Runtime complexity, n accounts, k of them returned:

    * :meth:`set`, :meth:`remove`: approximately O(log n), as
      ``SortedList.add`` and ``SortedList.remove``
    * :meth:`price_of`, :meth:`side_of`, ``len``, ``in``: O(1)
    * :meth:`crossed`, :meth:`crossed_between`: O(log n + k)
    * :meth:`longs`, :meth:`shorts`: O(log n) to start, O(1) an account

    >>> index = LiquidationIndex()
    >>> index.set(7, LONG, 95.0)
    >>> index.set(3, LONG, 98.0)
    >>> index.set(9, SHORT, 104.0)
    >>> index.set(4, LONG, 0.0)  # fully collateralised: never liquidated
    >>> index.crossed(96.0)
    [3]
    >>> index.crossed(90.0)
    [3, 7]
    >>> index.crossed_between(96.0, 90.0)
    [7]
    >>> index.set(3, SHORT, 101.0)  # the account turned short
    >>> index.crossed(105.0), index.price_of(3), len(index)
    ([3, 9], 101.0, 4)
    >>> index.remove(9); index.remove(9)  # removing an absent account is a no-op
    >>> list(index.shorts())
    [(3, 101.0)]
    """

    __slots__ = ("_long_keys", "_longs", "_short_keys", "_shorts")

    def __init__(self) -> None:
        self._longs = self._new_side()
        self._shorts = self._new_side()
        self._long_keys: dict[int, tuple[float, int]] = {}
        self._short_keys: dict[int, tuple[float, int]] = {}

    def _new_side(self) -> SortedList:
        """The sorted list holding one side's keys (a hook for instrumented subclasses). O(1)."""
        return SortedList()

    def set(self, account: int, side: int, liq_price: float) -> None:
        """Insert ``account`` as a long (``side=+1``) or a short (``side=-1``) at ``liq_price``.

        An account already present is moved: to the new price, and to the
        other side if ``side`` changed. Raises ``ValueError`` for a side other
        than +1 or -1 or a NaN price (the index is left unchanged).
        Approximately O(log n).
        """
        price = float(liq_price) + 0.0  # + 0.0 turns -0.0 into 0.0
        if price != price:
            raise ValueError(f"liquidation price of account {account} is NaN")
        if side == LONG:
            keys, entries = self._long_keys, self._longs
            key = (-price, account)
        elif side == SHORT:
            keys, entries = self._short_keys, self._shorts
            key = (price, account)
        else:
            raise ValueError(f"side must be +1 (long) or -1 (short), not {side!r}")
        old = keys.get(account)
        if old is not None:
            if old == key:
                return
            entries.remove(old)
        else:
            self.remove(account)  # from the other side, if it was there
        keys[account] = key
        entries.add(key)

    def set_many(self, items: list[tuple[int, int, float]]) -> None:
        """Insert many new ``(account, side, liq_price)`` at once: one sorted merge per side.

        For loading thousands of accounts (an open-interest profile): sorting n
        keys in C instead of n insertions. Every account must be new, and
        appear once; otherwise (or for a NaN price or a bad side) ``ValueError``
        and the index is left unchanged. Approximately O(n log n).
        """
        longs: list[tuple[float, int]] = []
        shorts: list[tuple[float, int]] = []
        seen: set[int] = set()
        for account, side, liq_price in items:
            if account in seen or account in self._long_keys or account in self._short_keys:
                raise ValueError(f"account {account} is already in the index (use set() to move it)")
            seen.add(account)
            price = float(liq_price) + 0.0  # + 0.0 turns -0.0 into 0.0
            if price != price:
                raise ValueError(f"liquidation price of account {account} is NaN")
            if side == LONG:
                longs.append((-price, account))
            elif side == SHORT:
                shorts.append((price, account))
            else:
                raise ValueError(f"side must be +1 (long) or -1 (short), not {side!r}")
        for key in longs:
            self._long_keys[key[1]] = key
        for key in shorts:
            self._short_keys[key[1]] = key
        self._longs.update(longs)
        self._shorts.update(shorts)

    def remove(self, account: int) -> None:
        """Take ``account`` out of the index; a no-op if it is absent. Approximately O(log n)."""
        key = self._long_keys.pop(account, None)
        if key is not None:
            self._longs.remove(key)
            return
        key = self._short_keys.pop(account, None)
        if key is not None:
            self._shorts.remove(key)

    def price_of(self, account: int) -> float | None:
        """The liquidation price of ``account``, ``None`` if it is not in the index. O(1)."""
        key = self._long_keys.get(account)
        if key is not None:
            return -key[0]
        key = self._short_keys.get(account)
        return None if key is None else key[0]

    def side_of(self, account: int) -> int | None:
        """+1 if ``account`` is in the index as a long, -1 as a short, ``None`` if absent. O(1)."""
        if account in self._long_keys:
            return LONG
        return SHORT if account in self._short_keys else None

    def __len__(self) -> int:
        """The number of accounts in the index. O(1)."""
        return len(self._long_keys) + len(self._short_keys)

    def __contains__(self, account: object) -> bool:
        """Whether ``account`` is in the index. O(1)."""
        return account in self._long_keys or account in self._short_keys

    def crossed(self, mark: float) -> list[int]:
        """The accounts whose liquidation is triggered at ``mark``, in trigger order.

        Longs with liquidation price ``>= mark`` from the highest price down,
        then shorts with liquidation price ``<= mark`` from the lowest up;
        equal prices by account id. Raises ``ValueError`` for a NaN mark.
        O(log n + k) for k accounts returned.
        """
        mark = _checked(mark)
        longs = self._longs.irange(maximum=(-mark, _AFTER_ALL))
        shorts = self._shorts.irange(maximum=(mark, _AFTER_ALL))
        return [account for _, account in longs] + [account for _, account in shorts]

    def crossed_between(self, old_mark: float, new_mark: float) -> list[int]:
        """The accounts triggered at ``new_mark`` that were not at ``old_mark``, in trigger order.

        A falling mark newly triggers the longs with liquidation price in
        ``[new_mark, old_mark)``, a rising one the shorts with liquidation
        price in ``(old_mark, new_mark]``; an unchanged mark, nobody.
        Raises ``ValueError`` for a NaN mark. O(log n + k) for k accounts returned.
        """
        old_mark = _checked(old_mark)
        new_mark = _checked(new_mark)
        if new_mark < old_mark:
            hit = self._longs.irange(
                minimum=(-old_mark, _AFTER_ALL), maximum=(-new_mark, _AFTER_ALL), inclusive=(False, True)
            )
        elif new_mark > old_mark:
            hit = self._shorts.irange(
                minimum=(old_mark, _AFTER_ALL), maximum=(new_mark, _AFTER_ALL), inclusive=(False, True)
            )
        else:
            return []
        return [account for _, account in hit]

    def longs(self) -> Iterator[tuple[int, float]]:
        """``(account, liq_price)`` of every long, from the highest liquidation price down.

        Do not change the index while iterating. O(1) an account.
        """
        return ((account, -neg_price) for neg_price, account in self._longs)

    def shorts(self) -> Iterator[tuple[int, float]]:
        """``(account, liq_price)`` of every short, from the lowest liquidation price up.

        Do not change the index while iterating. O(1) an account.
        """
        return ((account, price) for price, account in self._shorts)

    def __repr__(self) -> str:
        return f"<LiquidationIndex: {len(self._long_keys)} longs, {len(self._short_keys)} shorts>"


def _checked(mark: float) -> float:
    """``mark`` as a Python float; ``ValueError`` if it is NaN. O(1)."""
    mark = float(mark)
    if mark != mark:
        raise ValueError("mark price is NaN")
    return mark
