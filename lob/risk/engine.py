"""The venue's margin checks, liquidation engine and insurance fund.

One :class:`RiskEngine` per venue. It knows which accounts are margined and
with what leverage, keeps each margined position in a
:class:`~lob.risk.index.LiquidationIndex` by liquidation price, and on every
mark update asks the index which accounts the move crossed: O(log n + k) for
k accounts, never a scan of all n. ``check_latency_ns`` after the update it
confirms each breach at the then-current mark and liquidates:

- ``market``: cancel the account's orders; one IOC for the whole position
  limited at the bankruptcy price (Binance-like); what does not fill is taken
  over by the insurance fund at the bankruptcy price. What equity is left goes
  to the fund (it gains when the order filled better than bankruptcy); a
  negative balance is paid by the fund, and what the fund cannot pay is bad
  debt.
- ``partial``: close ``partial_fraction`` of the position (at least one lot)
  by IOC at the bankruptcy price, pay the liquidation fee on it, wait
  ``cooldown_ns`` and check again (Bybit/OKX/Hyperliquid-like stepping);
  the last step settles as ``market`` does.
- ``backstop``: as ``market``, unless the account's margin ratio has passed
  ``backstop_ratio`` (equity below maintenance margin / backstop_ratio): then
  the backstop vault takes the whole position at the mark with the remaining
  collateral, like Hyperliquid's HLP backstop, and unwinds it as a trader:
  every ``vault_unwind_interval_ns`` it sends a market order for
  ``vault_unwind_fraction`` of what it holds (at least one lot).

Money is exact: collateral, fund and vault balances are integer money units
(1e-8 quote); a position's cash is folded into collateral when it closes, so
``sum(collateral) + sum(cash x money unit) + fee income`` over all accounts
never changes (bad debt is the negative collateral left behind).

Cross margin: an account's collateral backs all its positions on the venue,
so a loss in one instrument can breach it in another. A breached account
with several positions is closed in the order ``LiquidationRules.order``
sets (see :data:`ORDERS`): one position at a time, largest notional first or
most liquid book first, re-checking the account after each and stopping once
it is back above maintenance; or ``pro_rata``, every position at once (in
``partial`` mode, the same fraction of each per step). Each position closed
is its own forced order and row in the liquidations table. Isolated margin is
the same engine with one account per position (see lob.risk.open_interest).

Several venues: each venue of a run has its own engine, fund and ADL, and
watches only its own accounts; liquidation ids come from one venue-wide
counter so that a cascade can be traced from one venue to another.

Cascades: every forced order carries its liquidation id; the venue passes the
deepest such id that traded to the next mark update; a breach found on that
update is its child, one generation deeper. Generation 0 is a breach no
liquidation caused.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import numpy as np
import simpy

from lob.eventlog.recorder import Recorder
from lob.eventlog.schema import KIND_CODE, LIQUIDATION_MODES
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.market.venue import Venue
from lob.risk.deleveraging import AdlRules, Deleveraging
from lob.risk.index import LiquidationIndex
from lob.risk.margin import liquidation_price
from lob.risk.tiers import MarginTiers

_LIQUIDATION = KIND_CODE["liquidation"]
MODES = LIQUIDATION_MODES
#: The order in which a breached cross-margined account's positions are closed.
ORDERS = ("largest_first", "most_liquid_first", "pro_rata")


@dataclass(frozen=True)
class LiquidationRules:
    """How the venue liquidates. Durations in ns, fees and ratios as fractions."""

    mode: str = "market"
    check_latency_ns: int = 100_000_000
    fee_rate: float = 0.005  # of the closed notional, to the insurance fund
    partial_fraction: float = 0.2
    cooldown_ns: int = 5_000_000_000
    backstop_ratio: float = 1.5  # margin ratio beyond which the vault takes over (backstop mode)
    vault_unwind_interval_ns: int = 10_000_000_000  # the vault sells down what it took this often
    vault_unwind_fraction: float = 0.1  # of its position each time, at market
    order: str = "largest_first"  # which position of a cross-margined account goes first (ORDERS)
    liquidity_band: float = 0.01  # most_liquid_first: depth counted within this fraction of the mark

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"liquidation mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.order not in ORDERS:
            raise ValueError(f"liquidation order must be one of {', '.join(ORDERS)}, got {self.order!r}")
        if not 0 < self.liquidity_band < 1:
            raise ValueError(f"liquidity_band must be in (0, 1), got {self.liquidity_band}")
        if not 0 < self.partial_fraction <= 1:
            raise ValueError(f"partial_fraction must be in (0, 1], got {self.partial_fraction}")
        if self.fee_rate < 0 or self.check_latency_ns < 0 or self.cooldown_ns < 0:
            raise ValueError("fee_rate, check latency and cooldown must be >= 0")
        if self.backstop_ratio <= 1:
            raise ValueError(f"backstop_ratio must be > 1, got {self.backstop_ratio}")
        if self.vault_unwind_interval_ns <= 0 or not 0 < self.vault_unwind_fraction <= 1:
            raise ValueError("the vault's unwind interval must be > 0 and its fraction in (0, 1]")


class _Margined:
    """What the engine keeps about one margined account."""

    __slots__ = ("busy", "leverage", "owner")

    def __init__(self, owner: int, leverage: float) -> None:
        self.owner = owner
        self.leverage = leverage
        self.busy = False  # a liquidation of it is under way


class RiskEngine:
    """Margin checks for orders, liquidation prices kept current, liquidations, fund and vault."""

    def __init__(
        self,
        env: simpy.Environment,
        venue: Venue,
        recorder: Recorder,
        tiers: Sequence[MarginTiers | None],
        rules: LiquidationRules,
        fund_owner: int,
        vault_owner: int | None = None,
        adl: AdlRules | None = None,
        adl_rng: np.random.Generator | None = None,
        halt_wait: bool = True,
    ) -> None:
        self.env = env
        self.venue = venue
        self.instruments: list[Instrument] = venue.instruments
        self.tiers = list(tiers)
        self.rules = rules
        self.fund_owner = fund_owner
        self.vault_owner = vault_owner
        self.indexes = [LiquidationIndex() for _ in self.instruments]
        self.marks: list[float] = [math.nan] * len(self.instruments)  # ticks
        self.accounts: dict[int, _Margined] = {}
        self.liquidations = 0
        self.bad_debt = 0  # money units nobody could cover
        self.fund_min = venue.accounts[fund_owner].collateral
        self._log_liquidation = (
            recorder["liquidations"].append if "liquidations" in recorder.enabled else None
        )
        venue.attach_risk(self)
        #: Auto-deleveraging, when a policy is set; without it the fund takes every remainder.
        self.adl = (
            Deleveraging(self, adl, adl_rng if adl_rng is not None else np.random.default_rng(0), recorder)
            if adl is not None
            else None
        )
        #: During a trading halt: wait for the resumption (True), or go on liquidating into the halted book.
        self.halt_wait = halt_wait
        if vault_owner is not None:
            env.process(self._unwind_vault(vault_owner))

    def _unwind_vault(self, vault: int) -> Generator[simpy.Event, Any, None]:
        """The backstop vault sells down (or buys back) what it took over, a slice at a time, at market."""
        while True:
            yield self.env.timeout(self.rules.vault_unwind_interval_ns)
            for inst in self.instruments:
                pos = self.venue.accounts[vault].position[inst.index]
                if pos and not self._waits(inst.index):
                    lots = max(1, math.ceil(abs(pos) * self.rules.vault_unwind_fraction))
                    self.venue.execute_forced(vault, inst.index, -1 if pos > 0 else 1, lots, 0, 0)

    # -- ACCOUNTS ------------------------------------------------------------

    def add_account(self, owner: int, leverage: float) -> None:
        """Watch ``owner``'s positions; ``leverage`` bounds the margin its orders may use."""
        self.add_accounts([owner], [leverage])

    def add_accounts(self, owners: list[int], leverages: list[float]) -> None:
        """:meth:`add_account` for many new accounts, filed in the liquidation index in bulk."""
        batches: dict[int, list[tuple[int, int, float]]] = {}
        for owner, leverage in zip(owners, leverages, strict=True):
            if not leverage >= 1:
                raise ValueError(f"leverage must be >= 1, got {leverage}")
            self.accounts[owner] = _Margined(owner, leverage)
            position = self.venue.accounts[owner].position
            for ii, pos in enumerate(position):
                if pos and self.tiers[ii] is not None:
                    lp, _ = self.prices(owner, ii)
                    batches.setdefault(ii, []).append((owner, 1 if pos > 0 else -1, lp))
        for ii, items in batches.items():
            self.indexes[ii].set_many(items)

    def leverage(self, owner: int) -> float | None:
        """The leverage ``owner`` may use, or None if this engine does not watch it."""
        m = self.accounts.get(owner)
        return None if m is None else m.leverage

    @property
    def fund_balance(self) -> int:
        """The insurance fund's money (positions it took over are not in it)."""
        return self.venue.accounts[self.fund_owner].collateral

    def equity(self, owner: int) -> float:
        """Money units at the current marks (the last trade where no mark yet)."""
        a = self.venue.accounts[owner]
        total = float(a.collateral)
        for inst in self.instruments:
            ii = inst.index
            if a.position[ii] or a.cash[ii]:
                total += (a.cash[ii] + a.position[ii] * self._mark(ii)) * inst.money_unit
        return total

    def maintenance(self, owner: int) -> float:
        """Maintenance margin in money units at the current marks."""
        a = self.venue.accounts[owner]
        total = 0.0
        for inst in self.instruments:
            ii = inst.index
            tiers = self.tiers[ii]
            if a.position[ii] and tiers is not None:
                notional = abs(a.position[ii]) * inst.lot_size * self._mark(ii) * inst.tick_size
                total += tiers.maintenance_margin(notional) * MONEY_PER_QUOTE
        return total

    def _mark(self, ii: int) -> float:
        mark = self.marks[ii]
        return float(self.venue.last_price[ii]) if math.isnan(mark) else mark

    def prices(self, owner: int, ii: int) -> tuple[float, float]:
        """``(liquidation price, bankruptcy price)`` of ``owner``'s position in ``ii``, ticks."""
        a = self.venue.accounts[owner]
        inst = self.instruments[ii]
        tiers = self.tiers[ii]
        pos = a.position[ii]
        if not pos or tiers is None:
            return (0.0, 0.0)
        qty = pos * inst.lot_size
        other_value, other_mm = self._others(owner, ii)
        wallet = a.collateral / MONEY_PER_QUOTE + other_value
        cash_quote = a.cash[ii] * inst.notional_unit
        entry = (
            -cash_quote / qty
        )  # quote; includes realised PnL and fees: wallet - side|Q|EP == wallet + cash
        if entry <= 0:  # a position bought for nothing (or less): cannot go bankrupt above zero
            return (0.0, 0.0) if pos > 0 else (math.inf, math.inf)
        lp = liquidation_price(qty, entry, wallet, tiers, other_mm=other_mm)
        bp = max(entry - wallet / qty, 0.0)
        return lp / inst.tick_size, bp / inst.tick_size

    def _others(self, owner: int, ii: int) -> tuple[float, float]:
        """Value (quote) and maintenance margin (quote) of ``owner``'s positions other than in ``ii``."""
        a = self.venue.accounts[owner]
        value = mm = 0.0
        for inst in self.instruments:
            j = inst.index
            if j == ii or not (a.position[j] or a.cash[j]):
                continue
            mark = self._mark(j)
            value += (a.cash[j] + a.position[j] * mark) * inst.notional_unit
            tiers = self.tiers[j]
            if a.position[j] and tiers is not None:
                mm += tiers.maintenance_margin(abs(a.position[j]) * inst.lot_size * mark * inst.tick_size)
        return value, mm

    def _reindex(self, owner: int, ii: int) -> None:
        index = self.indexes[ii]
        pos = self.venue.accounts[owner].position[ii]
        if not pos or self.tiers[ii] is None or owner not in self.accounts:
            index.remove(owner)
            return
        lp, _ = self.prices(owner, ii)
        index.set(owner, 1 if pos > 0 else -1, lp)

    # -- THE VENUE'S HOOKS (RiskHooks) ---------------------------------------

    def allows(self, owner: int, ii: int, side: int, qty: int, price: int) -> bool:
        """Initial margin: the position this order could leave must fit equity x leverage.

        An order that reduces the position is always allowed. ``price`` 0
        (a market order) is valued at the mark. O(instruments).
        """
        m = self.accounts.get(owner)
        if m is None or m.busy:
            return m is None
        a = self.venue.accounts[owner]
        pos = a.position[ii]
        after = pos + side * qty
        if abs(after) <= abs(pos):
            return True
        # Orders already resting on the same side would add to the position too (Binance counts open
        # orders in the initial margin): the worst case is that they all fill.
        live = self.venue.connections[owner].live
        if live:
            book = self.venue.books[ii]
            after += side * sum(book.order_qty(o) for o in live if o in book and book.order_side(o) == side)
        inst = self.instruments[ii]
        value_ticks = price or self._mark(ii)
        need = abs(after) * value_ticks * inst.money_unit / m.leverage
        for inst_j in self.instruments:
            j = inst_j.index
            if j != ii and a.position[j]:
                need += abs(a.position[j]) * self._mark(j) * inst_j.money_unit / m.leverage
        return self.equity(owner) >= need

    def positions_changed(self, changed: list[tuple[int, int]]) -> None:
        """Re-files each changed position under its new liquidation price. O(log n) each."""
        for owner, ii in changed:
            if owner in self.accounts:
                self._reindex(owner, ii)

    # -- MARK UPDATES AND BREACHES -------------------------------------------

    def on_mark(self, ii: int, mark: float, cause: tuple[int, int], seq: int) -> None:
        """A mark update: the accounts it crossed are checked ``check_latency_ns`` later."""
        self.marks[ii] = mark
        crossed = [o for o in self.indexes[ii].crossed(mark) if not self.accounts[o].busy]
        if not crossed:
            return
        ev = self.env.timeout(self.rules.check_latency_ns)
        seen: int = self.env._now  # type: ignore[assignment]
        ev.callbacks.append(lambda _ev: self._check(ii, crossed, mark, cause, seq, seen))

    def _waits(self, ii: int) -> bool:
        """Whether liquidations in ``ii`` wait now: it is halted and the engine waits out halts."""
        breakers = self.venue.breakers
        return breakers is not None and self.halt_wait and breakers.halted(ii)

    def _check(
        self, ii: int, candidates: list[int], trigger: float, cause: tuple[int, int], seq: int, seen: int
    ) -> None:
        for k, owner in enumerate(candidates):
            if self._waits(ii):
                # Halted, maybe by the forced order just sent: the rest are checked again when trading
                # resumes, at the marks of that moment.
                rest = candidates[k:]
                breakers = self.venue.breakers
                assert breakers is not None
                breakers.on_resume(ii, functools.partial(self._check, ii, rest, trigger, cause, seq, seen))
                return
            m = self.accounts[owner]
            if m.busy or not self.venue.accounts[owner].position[ii]:
                continue
            if self.equity(owner) >= self.maintenance(owner):
                self._reindex(owner, ii)  # a tier or another position moved it: re-file, no breach
                continue
            self._liquidate(owner, ii, trigger, cause, seq, seen)

    def _liquidate(
        self, owner: int, ii: int, trigger: float, cause: tuple[int, int], seq: int, seen: int
    ) -> None:
        """Closes a breached account: the position in ``ii`` and, under cross margin, the others in order."""
        venue = self.venue
        m = self.accounts[owner]
        m.busy = True
        parent_generation, parent = cause
        generation = parent_generation + 1 if parent else 0
        # The found time is the mark update that showed the breach; execution follows the check latency.
        mode = self.rules.mode
        order = self._closing_order(owner, ii)
        first = self._step(owner, order[0], trigger if order[0] == ii else self._mark(order[0]),
                           generation, parent, seq, seen)  # fmt: skip
        venue.cancel_all_for(owner, first.liq_id)
        if (
            mode == "backstop"
            and self.vault_owner is not None
            and self.equity(owner) * self.rules.backstop_ratio < self.maintenance(owner)
        ):
            self._to_vault(first)
            return
        if mode == "partial":
            self._partial(first)
            return
        a = venue.accounts[owner]
        step: _Step | None = first
        for jj in order:
            if not a.position[jj]:
                continue
            if step is None:
                # Sequential rules stop once what is left is back above maintenance; pro rata closes all.
                if self.rules.order != "pro_rata" and self.equity(owner) >= self.maintenance(owner):
                    break
                step = self._step(owner, jj, self._mark(jj), generation, parent, seq, seen)
            self._close(step, abs(a.position[jj]), final=True, finish=False)
            step = None
        self._finish(owner)

    def _step(
        self, owner: int, ii: int, trigger: float, generation: int, parent: int, seq: int, seen: int
    ) -> _Step:
        """A new forced order's context, with its liquidation id and ``liquidation`` events row."""
        venue = self.venue
        self.liquidations += 1
        liq_id = venue.new_liquidation_id()
        venue.cause_generation[liq_id] = generation
        lp, bp = self.prices(owner, ii)
        lots = abs(venue.accounts[owner].position[ii])
        venue.log_row(_LIQUIDATION, owner, ii, liq_id, round(trigger), lots, trigger, parent)
        return _Step(liq_id, owner, ii, seen, trigger, lp, bp, generation, parent, seq)

    def _closing_order(self, owner: int, breached: int) -> list[int]:
        """The account's margined positions in the order the venue's rule closes them.

        ``largest_first``: by notional at the mark; ``most_liquid_first``: by
        the notional resting on the closing side within ``liquidity_band`` of
        the mark; ``pro_rata``: instrument order (all go together). Ties go
        to the breached instrument, then the lower index. O(instruments).
        """
        a = self.venue.accounts[owner]
        held = [i.index for i in self.instruments if a.position[i.index] and self.tiers[i.index] is not None]
        if breached not in held:
            held.append(breached)
        if len(held) == 1 or self.rules.order == "pro_rata":
            return sorted(held, key=lambda j: (j != breached, j))
        key = self._notional if self.rules.order == "largest_first" else self._liquidity
        return sorted(held, key=lambda j: (-key(owner, j), j != breached, j))

    def _notional(self, owner: int, ii: int) -> float:
        """Quote notional of ``owner``'s position in ``ii`` at the mark."""
        inst = self.instruments[ii]
        return abs(self.venue.accounts[owner].position[ii]) * self._mark(ii) * inst.notional_unit

    def _liquidity(self, owner: int, ii: int) -> float:
        """Quote notional resting where closing ``owner``'s position in ``ii`` would trade, near the mark."""
        pos = self.venue.accounts[owner].position[ii]
        side = 1 if pos > 0 else -1  # a long is closed into the bids
        mark = self._mark(ii)
        prices, lots = self.venue.books[ii].depth(side, 1000)
        if side > 0:
            near = prices >= mark * (1 - self.rules.liquidity_band)
        else:
            near = prices <= mark * (1 + self.rules.liquidity_band)
        return float((prices[near] * lots[near]).sum()) * self.instruments[ii].notional_unit

    def _partial(self, step: _Step) -> None:
        """One partial step: ``partial_fraction`` of the step's position (of every position, pro rata)."""
        owner = step.owner
        a = self.venue.accounts[owner]
        steps = [step]
        if self.rules.order == "pro_rata":
            for jj in self._closing_order(owner, step.ii)[1:]:
                steps.append(self._step(owner, jj, self._mark(jj), step.generation, step.parent,
                                        step.trigger_seq, step.found_ns))  # fmt: skip
        # A bankrupt account (no equity left) is not stepped down: all of it goes now, as in market mode.
        bankrupt = self.equity(owner) <= 0
        for st in steps:
            pos = abs(a.position[st.ii])
            if not pos:
                continue
            # round() first: 100 x 0.07 is 7.000000000000001 in floats, and a 7% step of 100 lots is 7 lots
            lots = max(1, math.ceil(round(pos * self.rules.partial_fraction, 9)))
            final = lots >= pos or bankrupt
            self._close(st, pos if final else lots, final=final, finish=False)
        if not self._has_margined_positions(owner):
            self._finish(owner)  # closed, or taken over because a step found nothing to fill
            return
        self._reindex_all(owner)

        def again(_ev: simpy.Event | None) -> None:
            held = self._closing_order(owner, step.ii)
            waiting = next((j for j in held if a.position[j] and self._waits(j)), None)
            if waiting is not None:
                breakers = self.venue.breakers
                assert breakers is not None
                breakers.on_resume(waiting, lambda: again(None))
                return
            if not self._has_margined_positions(owner):
                self._finish(owner)
                return
            if self.equity(owner) >= self.maintenance(owner):
                self._finish(owner)  # back above maintenance: the account keeps the rest
                return
            jj = held[0]
            lp, bp = self.prices(owner, jj)
            self.liquidations += 1
            nxt = _Step(self.venue.new_liquidation_id(), owner, jj, self.env._now, self._mark(jj), lp, bp,  # type: ignore[arg-type]
                        step.generation, step.parent, step.trigger_seq)  # fmt: skip
            self.venue.cause_generation[nxt.liq_id] = step.generation
            self._partial(nxt)

        ev = self.env.timeout(self.rules.cooldown_ns)
        ev.callbacks.append(again)

    def _has_margined_positions(self, owner: int) -> bool:
        a = self.venue.accounts[owner]
        return any(a.position[i.index] for i in self.instruments if self.tiers[i.index] is not None)

    def _reindex_all(self, owner: int) -> None:
        for ii in range(len(self.instruments)):
            self._reindex(owner, ii)

    def _close(self, step: _Step, lots: int, final: bool, finish: bool = True) -> int:
        """Sends the forced IOC; takes over what it left if ``final``; settles money; logs the row.

        A non-final (partial) step that fills nothing becomes final: the fund
        takes over the whole position. A final close ends the account's
        liquidation unless ``finish`` is False (more positions to close).
        Returns the lots filled in the book.
        """
        venue, ii, owner = self.venue, step.ii, step.owner
        a = venue.accounts[owner]
        inst = self.instruments[ii]
        pos = a.position[ii]
        side = -1 if pos > 0 else 1
        # Never trade through bankruptcy: a sell is limited at or above it, a buy at or below.
        limit = max(1, math.ceil(step.bp)) if side < 0 else max(1, math.floor(step.bp))
        result = venue.execute_forced(owner, ii, side, lots, limit, step.liq_id)
        if not final and not result.filled:
            # A partial step that found no bid above bankruptcy: stepping again would find the same,
            # so the fund takes the whole position over now (one row for the breach, not two).
            final = True
            lots = abs(a.position[ii])
        left = lots - result.filled
        takeover = adl_lots = deficit = 0
        if final and left and self.adl is not None:
            # What the fund would lose at the mark by taking the remainder at the bankruptcy price.
            deficit = round(left * max(0.0, side * (self._mark(ii) - limit)) * inst.money_unit)
            if not self.adl.triggered(deficit):
                deficit = 0
            elif self.adl.policy.closes_positions:
                adl_lots = self.adl.close(step, side, left, limit)
                left -= adl_lots
            else:
                self.adl.socialize(step, side, left)
                takeover, left = left, 0
        if final and left:
            takeover += left
            venue.transfer_position(owner, self.fund_owner, ii, -side * left, limit, step.liq_id)
        closed_notional = result.notional + (takeover + adl_lots) * limit  # notional units
        fee = round(closed_notional * inst.money_unit * self.rules.fee_rate)
        if final and not a.position[ii] and not self._has_positions(owner):
            shortfall, fee, bad = self._settle_closed(owner, fee)
        else:
            fee = max(0, min(fee, a.collateral))
            self._move(owner, self.fund_owner, fee)
            shortfall, bad = 0, 0
        if final and finish:
            self._finish(owner)
        else:
            self._reindex(owner, ii)
        if self.adl is not None:
            self.adl.sample_fund()
        mode = "partial" if self.rules.mode == "partial" else "market"
        self._record(step, side, lots, result, takeover, shortfall, fee, bad, inst, mode, adl_lots, deficit)
        return result.filled

    def _has_positions(self, owner: int) -> bool:
        return any(self.venue.accounts[owner].position)

    def _settle_closed(self, owner: int, fee: int) -> tuple[int, int, int]:
        """A closed account: what is left goes to the fund, a deficit comes from it.

        Returns ``(shortfall, fee, bad_debt)`` in money units; shortfall is
        what the fund gained (+) or paid (-), the fee included.
        """
        kept, paid, bad = self._settle(owner, self.fund_owner)
        return (kept, min(fee, kept), 0) if kept else (-paid, 0, bad)

    def _settle(self, owner: int, heir: int) -> tuple[int, int, int]:
        """Folds ``owner``'s cash into its collateral; ``heir`` takes what is left, the fund covers a hole.

        Returns ``(taken by the heir, paid by the fund, bad debt)``, money units.
        """
        a = self.venue.accounts[owner]
        for inst in self.instruments:
            ii = inst.index
            a.collateral += a.cash[ii] * inst.money_unit
            a.cash[ii] = 0
        left = a.collateral
        if left >= 0:
            self._move(owner, heir, left)
            return left, 0, 0
        paid = min(-left, max(self.fund_balance, 0))
        self._move(self.fund_owner, owner, paid)
        bad = -left - paid
        self.bad_debt += bad
        return 0, paid, bad

    def _move(self, src: int, dst: int, money: int) -> None:
        if money:
            accounts = self.venue.accounts
            accounts[src].collateral -= money
            accounts[dst].collateral += money
            self.fund_min = min(self.fund_min, self.fund_balance)

    def _to_vault(self, step: _Step) -> None:
        """The backstop: the vault takes every position at the mark and whatever collateral is left.

        One row per position taken; the last carries the settlement of the account.
        """
        venue, owner = self.venue, step.owner
        assert self.vault_owner is not None
        a = venue.accounts[owner]
        taken: list[tuple[_Step, int]] = []
        for jj in self._closing_order(owner, step.ii):
            pos = a.position[jj]
            if not pos:
                continue
            st = (
                step
                if not taken
                else self._step(
                    owner, jj, self._mark(jj), step.generation, step.parent, step.trigger_seq, step.found_ns
                )
            )
            price = max(1, round(self._mark(jj)))
            venue.transfer_position(owner, self.vault_owner, jj, pos, price, st.liq_id)
            taken.append((st, pos))
        # The vault takes what collateral is left; a bankrupt account's hole is the fund's, as far as it can.
        _, paid, bad = self._settle(owner, self.vault_owner)
        self._finish(owner)
        empty = _NoFill(math.nan)
        for k, (st, pos) in enumerate(taken):
            last = k == len(taken) - 1
            self._record(st, -1 if pos > 0 else 1, abs(pos), empty, abs(pos), -paid if last else 0, 0,
                         bad if last else 0, self.instruments[st.ii], mode="backstop")  # fmt: skip

    def _finish(self, owner: int) -> None:
        self.accounts[owner].busy = False
        for ii in range(len(self.instruments)):
            self._reindex(owner, ii)

    # -- THE LIQUIDATIONS TABLE ----------------------------------------------

    def _record(
        self,
        step: _Step,
        side: int,
        lots: int,
        result: _Filled,
        takeover: int,
        shortfall: int,
        fee: int,
        bad: int,
        inst: Instrument,
        mode: str,
        adl_lots: int = 0,
        deficit: int = 0,
    ) -> None:
        if self._log_liquidation is None:
            return
        now: int = self.env._now  # type: ignore[assignment]
        vwap = result.notional / result.filled if result.filled else math.nan
        mid = result.arrival_mid
        # Cost of the forced order against a reference, in bps; positive means it did worse.
        slip_mid = side * (vwap - mid) / mid * 1e4 if result.filled and mid == mid else math.nan
        slip_mark = side * (vwap - step.trigger) / step.trigger * 1e4 if result.filled else math.nan
        self._log_liquidation(
            (step.liq_id, step.found_ns, now, step.owner, step.ii, side, lots, result.filled, takeover,
             step.trigger, step.lp, step.bp, mid, vwap, slip_mid, slip_mark, shortfall, fee, bad,
             self.fund_balance, result.levels, result.fills, now - step.found_ns,
             MODES.index(mode), step.generation, step.parent, step.trigger_seq, adl_lots, deficit)
        )  # fmt: skip


class _Step:
    """One forced order's context: the breach that caused it and the prices at that moment."""

    __slots__ = (
        "bp",
        "found_ns",
        "generation",
        "ii",
        "liq_id",
        "lp",
        "owner",
        "parent",
        "trigger",
        "trigger_seq",
    )

    def __init__(
        self,
        liq_id: int,
        owner: int,
        ii: int,
        found_ns: int,
        trigger: float,
        lp: float,
        bp: float,
        generation: int,
        parent: int,
        trigger_seq: int,
    ) -> None:
        self.liq_id = liq_id
        self.owner = owner
        self.ii = ii
        self.found_ns = found_ns
        self.trigger = trigger
        self.lp = lp
        self.bp = bp
        self.generation = generation
        self.parent = parent
        self.trigger_seq = trigger_seq


class _Filled(Protocol):
    """The part of :class:`lob.market.venue.ForcedResult` the table needs."""

    @property
    def filled(self) -> int: ...
    @property
    def notional(self) -> int: ...
    @property
    def levels(self) -> int: ...
    @property
    def fills(self) -> int: ...
    @property
    def arrival_mid(self) -> float: ...


class _NoFill(NamedTuple):
    """A takeover without any fill."""

    arrival_mid: float
    filled: int = 0
    notional: int = 0
    levels: int = 0
    fills: int = 0
