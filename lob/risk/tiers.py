"""Tiered maintenance margin: the rate and the maximum leverage grow with a position's notional.

A schedule is a ladder of notional brackets. A position of notional ``N``
(quote currency, ``|qty| x price``) falls in the bracket ``floor < N <= cap``
and its maintenance margin is, by Binance USD-M's rule,

    MM(N) = N x MMR_n - amount_n,
    amount_n = floor_n x (MMR_n - MMR_(n-1)) + amount_(n-1),  amount_1 = 0,

where ``amount_n`` is the cumulative "maintenance amount". The amount makes
``MM`` continuous at every bracket boundary; because the rates do not decrease,
``MM`` is also convex, and equals the largest of the brackets' lines
``N x MMR_n - amount_n`` at every ``N >= 0``.

Reference: Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures
Contracts", section "Maintenance Amount formula",
https://www.binance.com/en/support/faq/how-to-calculate-liquidation-price-of-usd%E2%93%A2-m-futures-contracts-b3c689c1f50a44cabb3a84e663b81d93
and "Leverage and Margin of USDⓈ-M Futures",
https://www.binance.com/en/support/faq/leverage-and-margin-of-usd%E2%93%A2-m-futures-360033162192
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["BINANCE_BTCUSDT", "PRESETS", "MarginTier", "MarginTiers", "flat"]


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One bracket of a margin schedule.

    ``floor`` and ``cap`` are the notionals (quote currency) where the bracket
    starts (exclusive) and ends (inclusive; ``inf`` for an open last bracket),
    ``mmr`` the maintenance margin rate (a fraction), ``max_leverage`` the
    largest leverage a position in the bracket may use (initial margin rate
    ``1 / max_leverage``), and ``amount`` the cumulative maintenance amount
    (quote currency) that makes the maintenance margin continuous.
    """

    floor: float
    cap: float
    mmr: float
    max_leverage: float
    amount: float = 0.0

    def maintenance_margin(self, notional: float) -> float:
        """``notional x mmr - amount`` (quote currency): this bracket's line, at any notional. O(1)."""
        return notional * self.mmr - self.amount


def _cumulative_amounts(floors: Sequence[float], mmrs: Sequence[float]) -> list[float]:
    """Binance's maintenance amounts for brackets starting at ``floors`` with rates ``mmrs``.

    Computed in exact decimal arithmetic from the shortest decimal form of each
    float, then rounded once to a float, so that a ladder written in round
    numbers (0.4%, 50,000) gives the round amounts a venue's table prints
    (50, 1,300) rather than 1,299.9999999999998. O(tiers).
    """
    amounts = [0.0]
    total = Decimal(0)
    for i in range(1, len(floors)):
        total += Decimal(repr(floors[i])) * (Decimal(repr(mmrs[i])) - Decimal(repr(mmrs[i - 1])))
        amounts.append(float(total))
    return amounts


class MarginTiers:
    """An ordered, validated ladder of :class:`MarginTier` brackets.

    Build one with :meth:`from_brackets` (caps, rates and leverages; floors and
    amounts are derived) or from complete tiers, which are then checked for
    contiguity and for amounts that follow the recurrence. Lookups bisect the
    caps: O(log tiers). A notional above the last cap is priced with the last
    bracket (its line extended): a venue refuses such a position at order
    entry, and the margin arithmetic must not fail on the way there;
    :attr:`max_notional` is that cap.

    Raises ``ValueError`` naming the tier index and the field for: no tiers;
    a cap that is not > 0 or not strictly above the previous one; a floor that
    is not 0 (first tier) or the previous cap; an MMR outside (0, 1] or below
    the previous tier's; a max leverage below 1 or above the previous tier's;
    an initial margin rate ``1/max_leverage`` below the MMR; an amount that
    does not follow the recurrence.

    >>> tiers = MarginTiers.from_brackets([(50_000, 0.004, 125), (250_000, 0.005, 100)])
    >>> tiers.amount(100_000), tiers.maintenance_margin(100_000), tiers.max_leverage(50_000)
    (50.0, 450.0, 125.0)
    """

    __slots__ = ("_caps", "_tiers")

    def __init__(self, tiers: Iterable[MarginTier]) -> None:
        self._tiers: tuple[MarginTier, ...] = tuple(tiers)
        _validate(self._tiers)
        self._caps: tuple[float, ...] = tuple(t.cap for t in self._tiers)

    @classmethod
    def from_brackets(cls, brackets: Iterable[tuple[float, float, float]]) -> MarginTiers:
        """Tiers from ``(cap, mmr, max_leverage)`` rows in increasing order of cap.

        The first floor is 0 and each next floor is the previous cap; the
        amounts follow Binance's recurrence. O(tiers).
        """
        rows = [(float(cap), float(mmr), float(lev)) for cap, mmr, lev in brackets]
        floors = [0.0] + [cap for cap, _, _ in rows[:-1]]
        # Validate the raw fields first, so that a bad row is reported as such and
        # not as an odd amount computed from it.
        _validate_fields([(floors[i], *rows[i]) for i in range(len(rows))])
        amounts = _cumulative_amounts(floors, [mmr for _, mmr, _ in rows])
        return cls(
            MarginTier(floor=f, cap=cap, mmr=mmr, max_leverage=lev, amount=a)
            for f, (cap, mmr, lev), a in zip(floors, rows, amounts, strict=True)
        )

    # -- lookups ------------------------------------------------------------

    def index_for(self, notional: float) -> int:
        """The index of the bracket holding ``notional`` (``floor < N <= cap``; 0 for N = 0).

        Above the last cap, the last index. Raises ``ValueError`` for a
        negative or NaN notional. O(log tiers).
        """
        if not notional >= 0.0:
            raise ValueError(f"notional must be >= 0, got {notional!r}")
        return min(bisect_left(self._caps, notional), len(self._caps) - 1)

    def tier_for(self, notional: float) -> MarginTier:
        """The bracket holding ``notional`` (quote currency). O(log tiers)."""
        return self._tiers[self.index_for(notional)]

    def maintenance_margin(self, notional: float) -> float:
        """``MM = N x MMR_n - amount_n`` (quote currency) for notional ``N``. O(log tiers)."""
        return self.tier_for(notional).maintenance_margin(notional)

    def mmr(self, notional: float) -> float:
        """The maintenance margin rate (fraction) of the bracket holding ``notional``. O(log tiers)."""
        return self.tier_for(notional).mmr

    def amount(self, notional: float) -> float:
        """The cumulative maintenance amount (quote) of the bracket holding ``notional``. O(log tiers)."""
        return self.tier_for(notional).amount

    def max_leverage(self, notional: float) -> float:
        """The largest leverage allowed for a position of ``notional``. O(log tiers)."""
        return self.tier_for(notional).max_leverage

    # -- the ladder ---------------------------------------------------------

    @property
    def tiers(self) -> tuple[MarginTier, ...]:
        """The brackets, in increasing order of notional."""
        return self._tiers

    @property
    def max_notional(self) -> float:
        """The last bracket's cap (quote): the largest position the schedule provides for."""
        return self._caps[-1]

    def __len__(self) -> int:
        return len(self._tiers)

    def __iter__(self) -> Iterator[MarginTier]:
        return iter(self._tiers)

    def __getitem__(self, index: int) -> MarginTier:
        return self._tiers[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MarginTiers) and self._tiers == other._tiers

    def __hash__(self) -> int:
        return hash(self._tiers)

    def __repr__(self) -> str:
        rows = ", ".join(f"({t.cap!r}, {t.mmr!r}, {t.max_leverage!r})" for t in self._tiers)
        return f"MarginTiers.from_brackets([{rows}])"


def _validate_fields(rows: Sequence[tuple[float, float, float, float]]) -> None:
    """Check ``(floor, cap, mmr, max_leverage)`` rows; ``ValueError`` names the first bad field. O(tiers)."""
    if not rows:
        raise ValueError("a margin schedule needs at least one tier")
    prev_cap = prev_mmr = 0.0
    prev_lev = math.inf
    for i, (floor, cap, mmr, lev) in enumerate(rows):
        where = f"tiers[{i}]"
        if i == 0 and floor != 0.0:
            raise ValueError(f"{where}.floor must be 0, got {floor!r}")
        if i > 0 and floor != prev_cap:
            raise ValueError(f"{where}.floor = {floor!r} must equal tiers[{i - 1}].cap = {prev_cap!r}")
        if not cap > 0.0:
            raise ValueError(f"{where}.cap must be > 0, got {cap!r}")
        if i > 0 and not cap > prev_cap:
            raise ValueError(
                f"{where}.cap = {cap!r} must be greater than tiers[{i - 1}].cap = {prev_cap!r} "
                "(caps strictly increasing)"
            )
        if not 0.0 < mmr <= 1.0:
            raise ValueError(f"{where}.mmr must be in (0, 1], got {mmr!r}")
        if mmr < prev_mmr:
            raise ValueError(
                f"{where}.mmr = {mmr!r} is below tiers[{i - 1}].mmr = {prev_mmr!r} (rates must not decrease)"
            )
        if not (lev >= 1.0 and math.isfinite(lev)):
            raise ValueError(f"{where}.max_leverage must be a finite number >= 1, got {lev!r}")
        if lev > prev_lev:
            raise ValueError(
                f"{where}.max_leverage = {lev!r} is above tiers[{i - 1}].max_leverage = {prev_lev!r} "
                "(leverage must not increase)"
            )
        if 1.0 / lev < mmr:
            raise ValueError(
                f"{where}: initial margin rate 1/max_leverage = {1.0 / lev!r} is below mmr = {mmr!r} "
                "(initial margin must cover maintenance margin)"
            )
        prev_cap, prev_mmr, prev_lev = cap, mmr, lev


def _validate(tiers: Sequence[MarginTier]) -> None:
    """Check complete tiers: the fields, then the amounts against the recurrence. O(tiers)."""
    _validate_fields([(t.floor, t.cap, t.mmr, t.max_leverage) for t in tiers])
    expected = _cumulative_amounts([t.floor for t in tiers], [t.mmr for t in tiers])
    for i, (tier, want) in enumerate(zip(tiers, expected, strict=True)):
        if not math.isclose(tier.amount, want, rel_tol=1e-9, abs_tol=1e-9):
            raise ValueError(
                f"tiers[{i}].amount = {tier.amount!r} does not follow the recurrence "
                f"floor x (mmr - previous mmr) + previous amount = {want!r}"
            )


def flat(mmr: float, max_leverage: float) -> MarginTiers:
    """A single open bracket: ``MM = N x mmr`` at every notional. O(1).

    >>> flat(0.005, 50).maintenance_margin(10_000.0)
    50.0
    """
    return MarginTiers.from_brackets([(math.inf, mmr, max_leverage)])


# Binance's BTCUSDT perpetual (USDⓈ-M) tiers as announced in "Updates to Leverage and
# Margin Tiers of Binance Futures Contracts (2021-03-18)",
# https://www.binance.com/en/support/announcement/86cf9aa472574b8cb2e05bb751c2a9a6
# (caps in USDT). The table stops at 500,000,000 USDT, the largest position allowed.
BINANCE_BTCUSDT = MarginTiers.from_brackets(
    [
        (50_000.0, 0.004, 125.0),
        (250_000.0, 0.005, 100.0),
        (1_000_000.0, 0.01, 50.0),
        (10_000_000.0, 0.025, 20.0),
        (20_000_000.0, 0.05, 10.0),
        (50_000_000.0, 0.10, 5.0),
        (100_000_000.0, 0.125, 4.0),
        (200_000_000.0, 0.15, 3.0),
        (300_000_000.0, 0.25, 2.0),
        (500_000_000.0, 0.50, 1.0),
    ]
)

PRESETS: dict[str, MarginTiers] = {"binance_btcusdt": BINANCE_BTCUSDT}
