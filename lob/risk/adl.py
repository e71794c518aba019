"""Auto-deleveraging (ADL) policies: which opposite-side accounts absorb a bankrupt remainder, and how much.

When a liquidated position cannot be closed in the book and the insurance fund
cannot cover the loss, a venue closes the bankrupt remainder against accounts
holding the opposite position in the same instrument. A policy decides who
and how many lots; the risk engine (:mod:`lob.risk.deleveraging`) builds the
:class:`Candidate` list, calls the policy and applies what it returns. This
module is pure: no SimPy, no venue, no state between calls.

Three shapes of policy:

* rankings (``bitmex``, ``binance``, ``hyperliquid``): a queue sorted by a
  per-account score, highest first, each account closing as much as it can
  before the next is touched;
* walks and shares (``dydx``, ``pro_rata_size``, ``pro_rata_profit``): no
  ranking; a random starting point, or every account a share;
* ``socialized_loss``: closes nothing, and instead takes the deficit out of
  the profitable accounts' unrealized PnL (the clawback venues used before ADL).

Units: prices in quote per base unit, money in quote, sizes in lots (``qty``
in base units). Runtime is O(n log n) in the number of candidates for the
queues and the walk, O(n^2) at worst for the pro-rata shares (one pass per
cap that binds), which is cheap for the handful of ADL events in a run.

The module imports only the standard library at run time; ``numpy`` is named
in annotations only (the random generator the engine passes in).

References (facts and formulas, cited at each policy):

* BitMEX, "Auto-Deleveraging", https://www.bitmex.com/app/autoDeleveraging and
  "Auto-Deleveraging Further Information", https://www.bitmex.com/app/autoDeleveragingExamples
* Binance, "What Is Auto-Deleveraging (ADL) and How Does It Work?",
  https://www.binance.com/en/support/faq/360033525471
* Hyperliquid, "Auto-deleveraging",
  https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging
* dYdX, "Contract loss mechanisms on dYdX Chain",
  https://help.dydx.trade/en/articles/166973-contract-loss-mechanisms-on-dydx-chain
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "POLICIES",
    "AdlPolicy",
    "Allocation",
    "BinanceRanking",
    "BitMexRanking",
    "Candidate",
    "Clawback",
    "DydxWalk",
    "HyperliquidRanking",
    "PolicyLookupError",
    "ProRataProfit",
    "ProRataSize",
    "SocializedLoss",
    "make_policy",
    "resolve_policy",
]


# -- records --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """One account that could be deleveraged: its position in the instrument, valued at the mark.

    ``owner`` is the account id (the tie-break: lower first when scores are
    equal); ``side`` the position's side, +1 long or -1 short; ``lots`` its
    size in lots and ``qty`` the same in base units (both > 0);
    ``entry_price`` its average entry price and ``mark_price`` the mark (quote
    per base unit, both > 0); ``bankruptcy_price`` the mark at which the
    account's equity would be 0 (``0.0`` for a long that cannot go bankrupt,
    ``inf`` for such a short); ``wallet`` the account's equity less this
    position's unrealized PnL (collateral plus the value of its other
    positions, quote); ``upnl`` this position's unrealized PnL at the mark,
    ``side x qty x (mark - entry)`` (quote); ``maintenance`` its maintenance
    margin (quote); ``max_lots`` the most lots that can be closed at the ADL
    price without the account's equity going below 0 (the engine computes it;
    ``0 <= max_lots <= lots``).

    Raises ``ValueError`` naming the field for a side other than +1/-1,
    ``lots``/``qty``/``entry_price``/``mark_price`` not > 0, ``max_lots``
    outside ``0..lots``, a negative or NaN ``bankruptcy_price``, a negative
    ``maintenance``, or a non-finite ``wallet``/``upnl``/``maintenance``.

    >>> c = Candidate(7, -1, 2, 2.0, 100.0, 80.0, 130.0, 60.0, 40.0, 1.0, 2)
    >>> c.equity
    100.0
    """

    owner: int
    side: int
    lots: int
    qty: float
    entry_price: float
    mark_price: float
    bankruptcy_price: float
    wallet: float
    upnl: float
    maintenance: float
    max_lots: int

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ValueError(f"candidate {self.owner}: side must be +1 or -1, got {self.side!r}")
        for field in ("lots", "qty", "entry_price", "mark_price"):
            value = getattr(self, field)
            if not value > 0:
                raise ValueError(f"candidate {self.owner}: {field} must be > 0, got {value!r}")
        if not 0 <= self.max_lots <= self.lots:
            raise ValueError(
                f"candidate {self.owner}: max_lots must be in 0..{self.lots}, got {self.max_lots!r}"
            )
        if not self.bankruptcy_price >= 0.0:
            raise ValueError(
                f"candidate {self.owner}: bankruptcy_price must be >= 0 (inf allowed), "
                f"got {self.bankruptcy_price!r}"
            )
        for field in ("wallet", "upnl", "maintenance"):
            value = getattr(self, field)
            if not math.isfinite(value):
                raise ValueError(f"candidate {self.owner}: {field} must be finite, got {value!r}")
        if self.maintenance < 0.0:
            raise ValueError(f"candidate {self.owner}: maintenance must be >= 0, got {self.maintenance!r}")

    @property
    def equity(self) -> float:
        """``wallet + upnl`` (quote): the account's equity at the mark. O(1)."""
        return self.wallet + self.upnl


@dataclass(frozen=True, slots=True)
class Allocation:
    """Close ``lots`` lots (``0 < lots <= candidate.max_lots``) of ``candidate``'s position.

    ``score`` is the candidate's score under the policy: its rank score for a
    ranking, its weight (share of the total) for a pro-rata policy, NaN where
    the policy ranks nobody (``dydx``).
    """

    candidate: Candidate
    lots: int
    score: float


@dataclass(frozen=True, slots=True)
class Clawback:
    """Take ``amount`` (quote) out of ``candidate``'s unrealized profit.

    ``0 < amount <= min(upnl, equity)``; ``score`` is the candidate's weight,
    its share of the total profit of the profitable candidates.
    """

    candidate: Candidate
    amount: float
    score: float


# -- the policy base ------------------------------------------------------------


class AdlPolicy(ABC):
    """Base: which opposite-side accounts close how many lots of a bankrupt remainder.

    A subclass sets :attr:`name` (its config name) and :meth:`score`; the
    default :meth:`allocate` is the queue every ranking venue uses. Policies
    that do not rank override :meth:`allocate`; the one that claws back
    profit instead of closing positions sets :attr:`closes_positions` to
    ``False`` and overrides :meth:`clawback`.
    """

    name: ClassVar[str]
    closes_positions: ClassVar[bool] = True

    @abstractmethod
    def score(self, c: Candidate) -> float:
        """The candidate's rank score: higher is deleveraged first. O(1)."""

    def allocate(
        self, candidates: Sequence[Candidate], lots: int, rng: np.random.Generator
    ) -> list[Allocation]:
        """Who closes how many of ``lots`` lots: by default a queue, highest :meth:`score` first.

        Candidates are sorted by score, descending (equal scores: lower owner
        first; a NaN score sorts last); those with ``max_lots == 0`` are
        skipped; each takes ``min(max_lots, remaining)`` until ``lots`` are
        allocated or the candidates run out. Returns the allocations in close
        order, at most one per candidate, totalling ``lots`` if the
        candidates' ``max_lots`` add up to that much and their sum otherwise.
        ``rng`` is not used. Raises ``ValueError`` for ``lots < 0`` or two
        candidates with one owner. Runtime O(n log n).

        >>> c = Candidate(1, 1, 5, 5.0, 100.0, 110.0, 90.0, 50.0, 50.0, 5.0, 5)
        >>> [(a.candidate.owner, a.lots) for a in BitMexRanking().allocate([c], 3, None)]
        [(1, 3)]
        """
        _check_request(candidates, lots)
        ranked = [(self.score(c), c) for c in candidates if c.max_lots > 0]
        ranked.sort(key=_queue_key)
        return _fill(ranked, lots)

    def clawback(self, candidates: Sequence[Candidate], deficit: float) -> list[Clawback]:
        """How much profit each candidate gives up to cover ``deficit`` (quote).

        Only the socialized-loss policy implements it; every other policy
        raises ``NotImplementedError``.
        """
        raise NotImplementedError(f"ADL policy {self.name!r} closes positions; it claws back no profit")


# -- rankings -------------------------------------------------------------------


class BitMexRanking(AdlPolicy):
    """BitMEX: ``PnL% x effective leverage`` for a profit, ``PnL% / effective leverage`` for a loss.

    With ``side`` the position's sign, BitMEX values a position at a price
    ``p`` as ``side x qty x p`` and defines::

        PnL%               = (mark value - entry value) / |entry value|
                           = upnl / (qty x entry_price)
        effective leverage = |mark value| / (mark value - bankrupt value)
                           = mark_price / (side x (mark_price - bankruptcy_price))
        ranking            = PnL% x effective leverage   if PnL% > 0
                           = PnL% / effective leverage   if PnL% < 0

    Longs and shorts are ranked separately (the engine passes one side),
    highest first. BitMEX, "Auto-Deleveraging",
    https://www.bitmex.com/app/autoDeleveraging (same text at
    https://support.bitmex.com/hc/en-gb/articles/18589621443357-What-is-Auto-Deleveraging).

    Cases the page leaves open, decided here:

    * ``PnL% == 0``: both branches give 0, so the score is ``0.0``.
    * A long with ``bankruptcy_price == 0`` (it cannot go bankrupt) has
      effective leverage ``mark / mark = 1``, as the formula says.
    * A short with ``bankruptcy_price == inf`` has effective leverage 0, the
      least possible; the formula's limits are kept: ``0.0`` for a profit
      (profit times no leverage) and ``-inf`` for a loss (a loss divided by
      no leverage sorts after every leveraged loss).
    * A denominator ``side x (mark - bankruptcy) <= 0`` means the account is
      already at or past bankruptcy at the mark: it has no margin to lose,
      and is ranked last (``-inf``) rather than given an infinite leverage
      that would put an insolvent account first.

    >>> short = Candidate(1, -1, 2, 2.0, 100.0, 80.0, 130.0, 60.0, 40.0, 1.0, 2)
    >>> round(BitMexRanking().score(short), 12)  # PnL% 0.2 x leverage 80/50 = 1.6
    0.32
    """

    name = "bitmex"

    def score(self, c: Candidate) -> float:
        """BitMEX's ranking of ``c`` (dimensionless); ``-inf`` for an account past bankruptcy. O(1)."""
        margin = c.side * (c.mark_price - c.bankruptcy_price)  # mark value - bankrupt value, per qty
        if not margin > 0.0:
            return -math.inf
        pnl_pct = c.upnl / (c.qty * c.entry_price)
        if pnl_pct == 0.0:
            return 0.0
        leverage = c.mark_price / margin  # 0.0 for a short that cannot go bankrupt (margin inf)
        if pnl_pct > 0.0:
            return pnl_pct * leverage
        return pnl_pct / leverage if leverage > 0.0 else -math.inf


class BinanceRanking(AdlPolicy):
    """Binance: ``max(0, upnl) / max(1, wallet) x maintenance / (wallet + upnl)``.

    Binance ranks by "LeveragePnL", unrealized PnL as a fraction of the
    collateral times the margin ratio::

        PnL percent  = max(0, unrealized profit) / max(1, wallet balance)
        margin ratio = maintenance margin / (wallet balance + unrealized profit)
        LeveragePnL  = PnL percent x margin ratio

    with ``max(1, .)`` one quote unit (1 USDT). Binance, "What Is
    Auto-Deleveraging (ADL) and How Does It Work?",
    https://www.binance.com/en/support/faq/360033525471 (formula at the end
    of the page). Where equity ``wallet + upnl <= 0`` the page sets the
    margin ratio to 0; here such an account is ranked last (``-inf``), below
    the accounts without profit (score 0), so that an account with nothing
    left is never deleveraged before a solvent one.

    >>> c = Candidate(1, 1, 2, 2.0, 100.0, 125.0, 50.0, 100.0, 50.0, 6.0, 2)
    >>> round(BinanceRanking().score(c), 12)  # 50/100 x 6/150
    0.02
    """

    name = "binance"

    def score(self, c: Candidate) -> float:
        """Binance's LeveragePnL of ``c`` (dimensionless); ``-inf`` when its equity is <= 0. O(1)."""
        equity = c.equity
        if not equity > 0.0:
            return -math.inf
        pnl_pct = max(0.0, c.upnl) / max(1.0, c.wallet)
        if pnl_pct == 0.0:  # else 0 x inf = NaN when a tiny equity overflows the margin ratio
            return 0.0
        return pnl_pct * (c.maintenance / equity)


class HyperliquidRanking(AdlPolicy):
    """Hyperliquid: ``(mark / entry) x (notional / account value)``, the ratio read in the position's favour.

    Hyperliquid's page ranks "by unrealized pnl and leverage used" with the
    sorting index ``(mark_price / entry_price) * (notional_position /
    account_value)``. Here ``notional_position = qty x mark_price`` and
    ``account_value`` is the equity. The page prints ``mark / entry`` without
    a side. All candidates share the mark, so that ratio orders them by
    entry: read literally for shorts it would put the shorts entered lowest,
    the ones losing most, first, against the page's own "ranked by
    unrealized pnl" and "affected users in profit". For a short the ratio is
    therefore taken as ``entry / mark`` (above 1 in profit, as ``mark /
    entry`` is for a long). That inversion is our reading, not Hyperliquid's
    text. For a
    short the mark cancels: ``(entry / mark) x (qty x mark / equity) = qty x
    entry / equity``, which is how it is computed. An account with equity
    <= 0 is ranked last (``-inf``).

    Hyperliquid closes the selected positions at the previous mark price, not
    at the bankruptcy price; that choice belongs to the engine
    (``venue.adl.price``). Hyperliquid, "Auto-deleveraging",
    https://hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging

    >>> long = Candidate(1, 1, 2, 2.0, 100.0, 120.0, 90.0, 20.0, 40.0, 1.0, 2)
    >>> round(HyperliquidRanking().score(long), 12)  # 1.2 x 240/60
    4.8
    """

    name = "hyperliquid"

    def score(self, c: Candidate) -> float:
        """Hyperliquid's sorting index of ``c`` (dimensionless); ``-inf`` when its equity is <= 0. O(1)."""
        equity = c.equity
        if not equity > 0.0:
            return -math.inf
        if c.side > 0:
            return (c.mark_price / c.entry_price) * (c.qty * c.mark_price / equity)
        return c.qty * c.entry_price / equity


# -- walks and shares -----------------------------------------------------------


class DydxWalk(AdlPolicy):
    """dYdX v4: no ranking; a walk over the opposite side from a random starting account.

    Candidates are sorted by owner id; the walk starts at the index
    ``rng.integers(len(candidates))`` and goes round cyclically, each
    candidate taking ``min(max_lots, remaining)``. On dYdX Chain, "existing
    accounts holding opposing positions (randomly selected)" offset a
    negative-balance account (dYdX, "Contract loss mechanisms on dYdX Chain",
    https://help.dydx.trade/en/articles/166973-contract-loss-mechanisms-on-dydx-chain);
    its keeper starts at a pseudo-random index into the accounts holding the
    opposite side and iterates cyclically, each offsetting its whole position
    or the remainder, whichever is smaller
    (``OffsetSubaccountPerpetualPosition`` in
    https://github.com/dydxprotocol/v4-chain/blob/main/protocol/x/clob/keeper/deleveraging.go).
    dYdX's cap on the accounts visited per block is not modelled.
    """

    name = "dydx"

    def score(self, c: Candidate) -> float:
        """NaN: dYdX ranks nobody. O(1)."""
        return math.nan

    def allocate(
        self, candidates: Sequence[Candidate], lots: int, rng: np.random.Generator
    ) -> list[Allocation]:
        """The walk from a random start: allocations in close order, scores NaN.

        Draws exactly one integer from ``rng`` when there is at least one
        candidate and ``lots > 0``, none otherwise, so that a run's random
        stream does not depend on the candidates' ``max_lots``. The start is
        drawn over all candidates, including those with ``max_lots == 0``
        (skipped when the walk reaches them). Raises ``ValueError`` as
        :meth:`AdlPolicy.allocate`. Runtime O(n log n).
        """
        _check_request(candidates, lots)
        if lots == 0 or not candidates:
            return []
        ring = sorted(candidates, key=_owner)
        start = int(rng.integers(len(ring)))
        walk = ring[start:] + ring[:start]
        return _fill(((math.nan, c) for c in walk if c.max_lots > 0), lots)


class ProRataSize(AdlPolicy):
    """Every candidate closes a share of the remainder in proportion to its position size.

    The weight of a candidate is ``lots / total lots`` over all candidates;
    the integer lots are apportioned by the largest-remainder method (equal
    remainders: lower owner first), each capped at ``max_lots``; lots a
    capped candidate cannot take are re-shared among the others with
    capacity, again in proportion to their weights, until all are allocated
    or no capacity is left. Not a venue's rule: a benchmark that spreads the
    cost over the whole opposite side. :meth:`score` is the unnormalised
    weight (``lots``); the allocations carry the normalised one.
    """

    name = "pro_rata_size"

    def score(self, c: Candidate) -> float:
        """The candidate's unnormalised weight: its size in lots. O(1)."""
        return float(c.lots)

    def allocate(
        self, candidates: Sequence[Candidate], lots: int, rng: np.random.Generator
    ) -> list[Allocation]:
        """Shares in proportion to size, capped at ``max_lots``; allocations in owner order.

        ``rng`` is not used. Raises ``ValueError`` as :meth:`AdlPolicy.allocate`.
        Runtime O(n^2) at worst (one pass per binding cap), O(n log n) when no cap binds.

        >>> a = Candidate(1, 1, 3, 3.0, 100.0, 110.0, 90.0, 50.0, 30.0, 3.0, 3)
        >>> b = Candidate(2, 1, 1, 1.0, 100.0, 110.0, 90.0, 50.0, 10.0, 1.0, 1)
        >>> [(x.candidate.owner, x.lots, x.score) for x in ProRataSize().allocate([b, a], 3, None)]
        [(1, 2, 0.75), (2, 1, 0.25)]
        """
        _check_request(candidates, lots)
        ring = sorted(candidates, key=_owner)
        shares = _apportion(lots, [Fraction(c.lots) for c in ring], [c.max_lots for c in ring])
        total = sum(c.lots for c in ring)
        return [Allocation(c, n, c.lots / total) for c, n in zip(ring, shares, strict=True) if n > 0]


class ProRataProfit(AdlPolicy):
    """The profitable candidates close the remainder in proportion to their unrealized profit.

    Weight ``max(upnl, 0) / total profit``; only candidates with ``upnl > 0``
    take part in this first round, apportioned and capped as in
    :class:`ProRataSize`. If the profitable candidates cannot absorb every
    lot (all of them are then at ``max_lots``), the lots left over are shared
    pro rata by size (``lots``) among the remaining candidates with capacity,
    the ones without profit, in a second round. Not a venue's rule: a
    benchmark that takes the cost from profit alone. :meth:`score` is the
    unnormalised weight (``max(upnl, 0)``); the allocations carry the
    profit share, ``0.0`` for a candidate without profit that took lots only
    in the second round.
    """

    name = "pro_rata_profit"

    def score(self, c: Candidate) -> float:
        """The candidate's unnormalised weight: ``max(upnl, 0)`` (quote). O(1)."""
        return max(c.upnl, 0.0)

    def allocate(
        self, candidates: Sequence[Candidate], lots: int, rng: np.random.Generator
    ) -> list[Allocation]:
        """Shares in proportion to profit, then to size for what profit cannot absorb; owner order.

        ``rng`` is not used. Raises ``ValueError`` as :meth:`AdlPolicy.allocate`.
        Runtime O(n^2) at worst.
        """
        _check_request(candidates, lots)
        ring = sorted(candidates, key=_owner)
        profits = [max(c.upnl, 0.0) for c in ring]
        caps = [c.max_lots for c in ring]
        shares = _apportion(lots, [Fraction(p) for p in profits], caps)
        rest = lots - sum(shares)
        if rest > 0:
            room = [cap - n for cap, n in zip(caps, shares, strict=True)]
            extra = _apportion(rest, [Fraction(c.lots) for c in ring], room)
            shares = [n + e for n, e in zip(shares, extra, strict=True)]
        total_profit = math.fsum(profits)
        return [
            Allocation(c, n, p / total_profit if total_profit > 0.0 else 0.0)
            for c, n, p in zip(ring, shares, profits, strict=True)
            if n > 0
        ]


class SocializedLoss(AdlPolicy):
    """Socialized loss: close nothing, take the deficit out of the profitable accounts' unrealized PnL.

    The model venues used before ADL (BitMEX's "Socialised Loss", which its
    ADL replaced, https://www.bitmex.com/app/autoDeleveragingExamples; OKX's
    futures "clawback", a portion of the profit "in equal percentage from all
    profited traders", as its support page was quoted in
    https://hacked.com/okex-activates-clawback-in-416-mil-btc-futures-trade-gone-bad/).

    Each candidate with ``upnl > 0`` gives in proportion to its ``upnl``,
    capped at ``min(upnl, equity)`` (what it has: a clawback never pushes an
    account below zero equity); the part a cap leaves is re-shared among the
    uncapped ones; if the caps add up to less than the deficit, each gives
    its cap and the rest stays uncovered for the engine to handle.
    :meth:`allocate` returns nothing; :meth:`score` is the unnormalised
    weight (``max(upnl, 0)``), the clawbacks carry the share.
    """

    name = "socialized_loss"
    closes_positions = False

    def score(self, c: Candidate) -> float:
        """The candidate's unnormalised weight: ``max(upnl, 0)`` (quote). O(1)."""
        return max(c.upnl, 0.0)

    def allocate(
        self, candidates: Sequence[Candidate], lots: int, rng: np.random.Generator
    ) -> list[Allocation]:
        """Nothing: this policy closes no position (see :meth:`clawback`). O(n) for the checks."""
        _check_request(candidates, lots)
        return []

    def clawback(self, candidates: Sequence[Candidate], deficit: float) -> list[Clawback]:
        """The profit each candidate gives up to cover ``deficit`` (quote); clawbacks in owner order.

        Amounts are floats in quote, each ``0 < amount <= min(upnl, equity)``;
        candidates without profit or without equity give nothing and are left
        out. The amounts add up to ``min(deficit, capacity)`` with
        ``capacity = math.fsum(caps)``. When the caps all bind the amounts
        are the caps, and ``math.fsum`` of them is the capacity exactly.
        Otherwise the shares are computed exactly as fractions and rounded to
        floats, and the rounding residual is folded back into the amounts,
        largest first (:func:`_settle_rounding`): their exact sum then equals
        ``deficit`` in nearly every case (``math.fsum`` agrees in all but
        about 1 in 10^4 random cases, and is then one ulp off). The engine
        converts to integer money units. Returns
        ``[]`` for ``deficit <= 0``. Raises ``ValueError`` for a NaN
        ``deficit`` or two candidates with one owner. Runtime O(n^2) at worst.

        >>> a = Candidate(1, 1, 1, 1.0, 100.0, 130.0, 0.0, 100.0, 30.0, 1.0, 1)
        >>> b = Candidate(2, 1, 1, 1.0, 100.0, 110.0, 0.0, 100.0, 10.0, 1.0, 1)
        >>> [(x.candidate.owner, x.amount, x.score) for x in SocializedLoss().clawback([a, b], 20.0)]
        [(1, 15.0, 0.75), (2, 5.0, 0.25)]
        """
        _check_candidates(candidates)
        if math.isnan(deficit):
            raise ValueError("deficit must be a number, got nan")
        givers = [c for c in sorted(candidates, key=_owner) if c.upnl > 0.0]
        if not deficit > 0.0 or not givers:
            return []
        caps = [min(c.upnl, max(c.equity, 0.0)) for c in givers]
        capacity = math.fsum(caps)
        if deficit >= capacity:
            amounts = list(caps)
        else:
            exact = _share_out(
                Fraction(deficit), [Fraction(c.upnl) for c in givers], [Fraction(x) for x in caps]
            )
            amounts = [float(x) for x in exact]
            _settle_rounding(amounts, caps, deficit)
        total_profit = math.fsum(c.upnl for c in givers)
        return [
            Clawback(c, amount, c.upnl / total_profit)
            for c, amount in zip(givers, amounts, strict=True)
            if amount > 0.0
        ]


#: The policies by config name, in the order of ``venue.adl.policy``'s labels.
POLICIES: dict[str, type[AdlPolicy]] = {
    cls.name: cls
    for cls in (
        BitMexRanking,
        BinanceRanking,
        HyperliquidRanking,
        DydxWalk,
        ProRataSize,
        ProRataProfit,
        SocializedLoss,
    )
}


class PolicyLookupError(ValueError, LookupError):
    """A policy spec that names no usable AdlPolicy class; the message says why and what was expected."""


def resolve_policy(spec: str) -> type[AdlPolicy]:
    """The AdlPolicy subclass ``spec`` names: a key of :data:`POLICIES` or ``package.module:ClassName``.

    Raises :class:`PolicyLookupError` (a ``ValueError``) saying what was
    expected, with a did-you-mean for a near miss.

    >>> resolve_policy("dydx").__name__
    'DydxWalk'
    """
    from lob.imports import resolve_class  # importlib and difflib: only when a policy is looked up

    builtins = {name: f"{cls.__module__}:{cls.__qualname__}" for name, cls in POLICIES.items()}
    return resolve_class(
        spec,
        builtins,
        AdlPolicy,  # type: ignore[type-abstract]  # the class to subclass, never instantiated here
        "ADL policy",
        PolicyLookupError,
        unknown="unknown {noun} {spec!r} (expected one of {known}; or an import path {path})",
        also=("none",),
    )


def make_policy(name: str) -> AdlPolicy:
    """A new policy for its config ``name`` (or import path); ``ValueError`` naming the valid names otherwise.

    >>> make_policy("bitmex").name
    'bitmex'
    """
    return resolve_policy(name)()


# -- helpers --------------------------------------------------------------------


def _owner(c: Candidate) -> int:
    return c.owner


def _queue_key(item: tuple[float, Candidate]) -> tuple[float, int]:
    """Sort key for a queue: score descending (NaN last), then owner ascending."""
    score, c = item
    return (math.inf if math.isnan(score) else -score, c.owner)


def _check_candidates(candidates: Sequence[Candidate]) -> None:
    """``ValueError`` if two candidates share an owner: one position per account and instrument. O(n)."""
    seen: set[int] = set()
    for c in candidates:
        if c.owner in seen:
            raise ValueError(f"candidate {c.owner} appears twice; one position per account is expected")
        seen.add(c.owner)


def _check_request(candidates: Sequence[Candidate], lots: int) -> None:
    """``ValueError`` for ``lots < 0`` or a repeated owner. O(n)."""
    if lots < 0:
        raise ValueError(f"lots to deleverage must be >= 0, got {lots!r}")
    _check_candidates(candidates)


def _fill(ordered: Iterable[tuple[float, Candidate]], lots: int) -> list[Allocation]:
    """Walk ``ordered`` (score, candidate) pairs, each taking ``min(max_lots, remaining)``. O(n)."""
    allocations: list[Allocation] = []
    remaining = lots
    for score, c in ordered:
        if remaining <= 0:
            break
        take = min(c.max_lots, remaining)
        if take > 0:
            allocations.append(Allocation(c, take, score))
            remaining -= take
    return allocations


def _apportion(total: int, weights: Sequence[Fraction], caps: Sequence[int]) -> list[int]:
    """Split ``total`` units in proportion to ``weights``, none above its cap, by largest remainder.

    Only entries with a positive weight and a positive cap take part. Each
    pass gives every taking part its quota ``remaining x w / W``; an entry
    whose quota reaches its cap takes the cap and leaves, and the pass is
    repeated on the rest with what is left (the quotas of the others can
    only grow, so a capped entry stays capped). When no cap binds, each gets
    the floor of its quota and the units left over go one each to the
    largest fractional remainders, equal remainders to the lower index;
    ``ceil(quota) <= cap`` there, so no cap is exceeded. The arithmetic is
    exact (fractions), so ties are real ties. Gives ``min(total, sum of the
    caps taking part)`` units in all. Runtime O(n^2) at worst (one pass per
    binding cap), O(n log n) for one pass.
    """
    shares = [0] * len(weights)
    active = [i for i, w in enumerate(weights) if w > 0 and caps[i] > 0]
    remaining = total
    while remaining > 0 and active:
        weight_sum = sum((weights[i] for i in active), Fraction(0))
        quotas = {i: remaining * weights[i] / weight_sum for i in active}
        capped = [i for i in active if quotas[i] >= caps[i]]
        if capped:
            for i in capped:
                shares[i] = caps[i]
                remaining -= caps[i]
            active = [i for i in active if quotas[i] < caps[i]]
            continue
        floors = {i: math.floor(quotas[i]) for i in active}
        leftover = remaining - sum(floors.values())
        by_remainder = sorted(active, key=lambda i: (floors[i] - quotas[i], i))
        for i in active:
            shares[i] = floors[i]
        for i in by_remainder[:leftover]:
            shares[i] += 1
        remaining = 0
    return shares


def _share_out(total: Fraction, weights: Sequence[Fraction], caps: Sequence[Fraction]) -> list[Fraction]:
    """Split ``total`` (a real amount) in proportion to ``weights``, none above its cap, exactly.

    The continuous counterpart of :func:`_apportion`: capped entries take
    their cap and leave, the rest is re-shared, until no cap binds. Assumes
    ``total`` is below the sum of the caps with positive weight, so every
    unit finds a taker. Runtime O(n^2) at worst.
    """
    shares = [Fraction(0)] * len(weights)
    active = [i for i, w in enumerate(weights) if w > 0 and caps[i] > 0]
    remaining = total
    while remaining > 0 and active:
        weight_sum = sum((weights[i] for i in active), Fraction(0))
        quotas = {i: remaining * weights[i] / weight_sum for i in active}
        capped = [i for i in active if quotas[i] >= caps[i]]
        if not capped:
            for i in active:
                shares[i] = quotas[i]
            break
        for i in capped:
            shares[i] = caps[i]
            remaining -= caps[i]
        active = [i for i in active if quotas[i] < caps[i]]
    return shares


def _settle_rounding(amounts: list[float], caps: Sequence[float], target: float) -> None:
    """Fold the float rounding residual ``target - sum(amounts)`` into the amounts, largest first.

    The residual is computed exactly (fractions of the floats) and added to
    the largest amount that stays in ``(0, cap]``; what that addition itself
    rounds off (at most half an ulp of that amount) goes to the next largest,
    whose finer grid can usually hold it, and so on until nothing is left or
    every amount has been tried. O(n^2) at worst, O(n log n) in practice.
    """
    residual = Fraction(target) - sum((Fraction(a) for a in amounts), Fraction(0))
    for i in sorted(range(len(amounts)), key=lambda i: -amounts[i]):
        if residual == 0:
            return
        adjusted = amounts[i] + float(residual)
        if 0.0 < adjusted <= caps[i]:
            residual -= Fraction(adjusted) - Fraction(amounts[i])
            amounts[i] = adjusted
