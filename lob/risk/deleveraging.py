"""Auto-deleveraging: the venue's last resort when the insurance fund cannot absorb a bankrupt position.

The liquidation engine (:mod:`lob.risk.engine`) first sends a liquidated
position to the book, limited at its bankruptcy price. What does not fill —
the *remainder* — would be taken over by the insurance fund at that price. At
the mark it is worth less: the fund would lose the *deficit*,
``remainder x |bankruptcy - mark|``. When the fund's marked value cannot cover
the deficit (or, as an option, when the fund has fallen by a set fraction
within a time window), :class:`Deleveraging` closes the remainder against
accounts holding the opposite side, at the bankruptcy price (or at the mark,
as a policy option), in the order and amounts an
:class:`~lob.risk.adl.AdlPolicy` decides. The socialized-loss policy closes
nothing: the fund takes the remainder at the mark and the deficit is clawed
back from profitable accounts' money, pro rata to their unrealized profit.

Rules kept by every policy, and tested:

* only margined accounts on the opposite side are closed, never the fund, the
  vault or an account being liquidated;
* never more than the remainder;
* no account is pushed below zero equity at the mark: each close is capped at
  ``floor(equity / loss per lot)``;
* money and positions move between accounts only (``Venue.transfer_position``
  and collateral transfers), so conservation stays exact.

What the remainder cannot place (every candidate capped) goes to the fund as
before. Closes less than ``wave_gap_ns`` apart form one *wave*, as in the
study of Hyperliquid's 2025-10-10 ADL (16 waves, 5-second gap;
https://github.com/pluriholonomic/autodeleveraging-analysis, methodology.md).

Cost: building the candidates walks the opposite side of the instrument's
liquidation index, O(n) for n positions on that side, once per deleveraged
remainder (rare: only when the fund is exhausted).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lob.eventlog.recorder import Recorder
from lob.eventlog.schema import ADL_POLICIES, KIND_CODE
from lob.market.instrument import MONEY_PER_QUOTE
from lob.risk.adl import POLICIES, AdlPolicy, Candidate, make_policy, resolve_policy

if TYPE_CHECKING:
    from lob.risk.engine import RiskEngine, _Step

_ADL = KIND_CODE["adl"]
_CLAWBACK = KIND_CODE["clawback"]
PRICES = ("bankruptcy", "mark")


@dataclass(frozen=True)
class AdlRules:
    """When and how the venue deleverages. Durations in ns, ``fund_drop`` a fraction."""

    policy: str  # a built-in name (lob.risk.adl.POLICIES) or package.module:ClassName
    price: str = "bankruptcy"  # the closes' price: the bankrupt position's, or the mark
    fund_drop: float | None = None  # also deleverage while the fund is this far below its recent high
    fund_drop_window_ns: int = 600_000_000_000
    wave_gap_ns: int = 5_000_000_000

    def __post_init__(self) -> None:
        resolve_policy(self.policy)  # a ValueError naming the built-in ones if it names none
        if self.price not in PRICES:
            raise ValueError(f"ADL price must be one of {', '.join(PRICES)}, got {self.price!r}")
        if self.fund_drop is not None and not 0 < self.fund_drop <= 1:
            raise ValueError(f"fund_drop must be in (0, 1], got {self.fund_drop}")
        if self.fund_drop_window_ns <= 0 or self.wave_gap_ns <= 0:
            raise ValueError("the fund-drop window and the wave gap must be > 0")


class Deleveraging:
    """Auto-deleveraging for one :class:`~lob.risk.engine.RiskEngine`, under one policy."""

    def __init__(
        self,
        engine: RiskEngine,
        rules: AdlRules,
        rng: np.random.Generator,
        recorder: Recorder,
        policy: AdlPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.policy = policy if policy is not None else make_policy(rules.policy)
        self.rng = rng
        self.policy_code = ADL_POLICIES.index(rules.policy if rules.policy in POLICIES else "custom")
        self.wave = 0
        self.closes = 0
        self._last_ns = -(1 << 62)
        # (time, fund value) samples; a decreasing deque, so its head is the window's high.
        self._highs: deque[tuple[int, float]] = deque()
        self._log = recorder["adl"].append if "adl" in recorder.enabled else None

    # -- THE TRIGGER ---------------------------------------------------------

    def triggered(self, deficit: int) -> bool:
        """Whether a remainder costing the fund ``deficit`` money units at the mark is deleveraged.

        Yes when the fund's marked value (balance plus the positions it took
        over, at the mark) is below a positive deficit — the account is past
        bankruptcy at the mark and the fund cannot pay for it — or, with
        ``fund_drop``, when that value is more than ``fund_drop`` below its
        high within the window.
        """
        value = self.engine.equity(self.engine.fund_owner)
        self.sample_fund(value)
        if deficit > 0 and value < deficit:
            return True
        drop = self.rules.fund_drop
        if drop is None or not self._highs:
            return False
        high = self._highs[0][1]
        return high > 0 and value < high * (1 - drop)

    def sample_fund(self, value: float | None = None) -> None:
        """Records the fund's marked value now (the engine calls this after every settlement)."""
        if self.rules.fund_drop is None:
            return
        if value is None:
            value = self.engine.equity(self.engine.fund_owner)
        now: int = self.engine.env._now  # type: ignore[assignment]
        highs = self._highs
        while highs and highs[-1][1] <= value:
            highs.pop()
        highs.append((now, value))
        horizon = now - self.rules.fund_drop_window_ns
        while highs[0][0] < horizon:
            highs.popleft()

    # -- CLOSING -------------------------------------------------------------

    def close(self, step: _Step, side: int, lots: int, limit: int) -> int:
        """Closes up to ``lots`` of the bankrupt remainder against the opposite side; returns lots closed.

        ``side`` is the forced order's side (-1 sells a long); ``limit`` the
        bankruptcy price in ticks the forced order was limited at.
        """
        engine = self.engine
        ii = step.ii
        mark = engine._mark(ii)
        price = limit if self.rules.price == "bankruptcy" else max(1, round(mark))
        # The counterparty buys back a short (side -1 remainder) or sells a long: it loses
        # (price - mark) a lot at the mark when price is worse for it than the mark.
        inst = engine.instruments[ii]
        loss_per_lot = max(0.0, -side * (price - mark)) * inst.money_unit
        candidates = self._candidates(step.owner, ii, cp_side=side, mark=mark, loss_per_lot=loss_per_lot)
        if not candidates:
            return 0
        allocations = self.policy.allocate(candidates, lots, self.rng)
        closed = 0
        venue = engine.venue
        for alloc in allocations:
            cp = alloc.candidate.owner
            q = min(alloc.lots, lots - closed, alloc.candidate.max_lots)
            if q <= 0:
                continue
            before = self._pnl(cp, ii, mark)
            # The bankrupt account hands q lots (as it holds them: -side) to the counterparty at price.
            venue.transfer_position(step.owner, cp, ii, -side * q, price, step.liq_id, kind=_ADL)
            closed += q
            self._row(step, cp, -side, alloc.score, q, float(price), mark, before, self._pnl(cp, ii, mark))
        return closed

    def socialize(self, step: _Step, side: int, lots: int) -> None:
        """Socialized loss: the fund takes ``lots`` at the mark; the bankrupt's hole is clawed back.

        Profitable accounts (either side) give up to their unrealized profit,
        pro rata to it, never more than their equity; what they cannot cover
        stays a hole for the fund and, past it, bad debt.
        """
        engine = self.engine
        ii = step.ii
        venue = engine.venue
        mark = engine._mark(ii)
        venue.transfer_position(
            step.owner, engine.fund_owner, ii, -side * lots, max(1, round(mark)), step.liq_id
        )
        a = venue.accounts[step.owner]
        hole = -(a.collateral + sum(a.cash[j.index] * j.money_unit for j in engine.instruments))
        if hole <= 0:
            return
        candidates = self._candidates(step.owner, ii, cp_side=0, mark=mark, loss_per_lot=0.0)
        claws = self.policy.clawback(candidates, hole / MONEY_PER_QUOTE)
        accounts = venue.accounts
        taken = 0
        for claw in claws:
            cp = claw.candidate.owner
            # Whole money units, rounded down (never more than the policy allowed), never past the hole.
            amount = min(math.floor(claw.amount * MONEY_PER_QUOTE), hole - taken)
            if amount <= 0:
                continue
            before = self._pnl(cp, ii, mark)
            accounts[cp].collateral -= amount
            a.collateral += amount
            taken += amount
            venue.log_row(
                _CLAWBACK, cp, ii, step.liq_id, 0, 0, amount / MONEY_PER_QUOTE, step.liq_id, step.owner
            )
            self._row(step, cp, 0, claw.score, 0, math.nan, mark, before, before - amount)

    # -- HELPERS -------------------------------------------------------------

    def _candidates(
        self, bankrupt: int, ii: int, cp_side: int, mark: float, loss_per_lot: float
    ) -> list[Candidate]:
        """The accounts that can be deleveraged: ``cp_side`` positions (0: profitable ones of either side)."""
        engine = self.engine
        inst = engine.instruments[ii]
        tiers = engine.tiers[ii]
        assert tiers is not None
        index = engine.indexes[ii]
        if cp_side > 0:
            owners = [o for o, _ in index.longs()]
        elif cp_side < 0:
            owners = [o for o, _ in index.shorts()]
        else:
            owners = [o for o, _ in index.longs()] + [o for o, _ in index.shorts()]
        owners.sort()
        accounts = engine.venue.accounts
        out = []
        for owner in owners:
            m = engine.accounts.get(owner)
            if owner == bankrupt or m is None or m.busy:
                continue
            a = accounts[owner]
            pos = a.position[ii]
            if not pos:
                continue
            lots = abs(pos)
            qty = lots * inst.lot_size
            upnl = (a.cash[ii] + pos * mark) * inst.notional_unit  # quote; realised PnL and fees included
            if cp_side == 0 and upnl <= 0:
                continue
            entry = -a.cash[ii] * inst.notional_unit / (pos * inst.lot_size)
            equity = engine.equity(owner)  # money units
            if loss_per_lot > 0:
                max_lots = 0 if equity <= 0 else min(lots, math.floor(equity / loss_per_lot))
                if max_lots and max_lots * loss_per_lot > equity:
                    max_lots -= 1
            else:
                max_lots = lots if equity >= 0 else 0
            wallet = equity / MONEY_PER_QUOTE - upnl  # collateral plus the other positions' value, quote
            # Where equity would be zero (RiskEngine.prices' bankruptcy price, without the costlier
            # liquidation price): a position bought for nothing cannot go bankrupt.
            if entry > 0:
                bankruptcy = max(entry - wallet / (pos * inst.lot_size), 0.0)
            else:
                bankruptcy = 0.0 if pos > 0 else math.inf
            notional = qty * mark * inst.tick_size
            out.append(
                Candidate(
                    owner=owner,
                    side=1 if pos > 0 else -1,
                    lots=lots,
                    qty=qty,
                    entry_price=max(entry, 1e-300),  # Candidate needs > 0
                    mark_price=mark * inst.tick_size,
                    bankruptcy_price=bankruptcy,
                    wallet=wallet,
                    upnl=upnl,
                    maintenance=tiers.maintenance_margin(notional),
                    max_lots=max_lots,
                )
            )
        return out

    def _pnl(self, owner: int, ii: int, mark: float) -> int:
        """``owner``'s PnL in instrument ``ii`` at ``mark`` (realised and unrealised), money units."""
        a = self.engine.venue.accounts[owner]
        return round((a.cash[ii] + a.position[ii] * mark) * self.engine.instruments[ii].money_unit)

    def _row(
        self,
        step: _Step,
        cp: int,
        side: int,
        score: float,
        lots: int,
        price: float,
        mark: float,
        before: int,
        after: int,
    ) -> None:
        engine = self.engine
        now: int = engine.env._now  # type: ignore[assignment]
        if now - self._last_ns > self.rules.wave_gap_ns:
            self.wave += 1
        self._last_ns = now
        self.closes += 1
        if self._log is None:
            return
        equity = round(engine.equity(cp))
        self._log(
            (engine.venue.seq, now, step.liq_id, self.wave, self.policy_code, step.ii, step.owner, cp, side,
             score, lots, price, mark, before, after, equity)
        )  # fmt: skip
