"""Column layouts of the run directory's tables.

Each table is described once here: its columns in order, their storage type
and, for categorical columns, where their labels come from. The recorder
buffers rows in these numpy layouts; the writer turns them into Parquet with
the same column names, categorical columns as dictionary-encoded strings.

Units are in the names: ``*_ns`` int64 nanoseconds from the run start;
``*_ticks`` ticks (int64, or float64 for computed prices); ``*_lots`` int64
lots; money columns of the liquidations table are int64 money units
(:data:`lob.market.instrument.MONEY_PER_QUOTE` per quote unit); ``*_fee`` int64 notional
units (``price_ticks * qty_lots``; one unit is ``tick_size * lot_size`` quote
currency); ``side`` int8, +1 buy / -1 sell. A categorical code of -1 is null.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lob.core.codes import Kind, Reason, Status

#: Labels of ``events.kind``. Codes 0-7 are the core's command kinds, so an
#: order arrival row carries exactly the command the book executed.
EVENT_KINDS: tuple[str, ...] = (
    *(k.name.lower() for k in sorted(Kind)),  # limit ioc fok post_only market cancel reduce replace
    "fill",  # one row per fill, from the taker's side
    "stp_cancel",  # a resting order cancelled by self-trade prevention
    "shock",  # a scripted jump of the fundamental
    "mark",  # a mark-price update: ``value`` is the mark in ticks, ``cause`` what moved it
    "index",  # an index-price update as the venue received it: ``value`` in ticks
    "liquidation",  # a margin breach found: ``order_id`` is the liquidation id, ``value`` the trigger mark
    "takeover",  # a position moved off-book: to the insurance fund or backstop vault (``counterparty``)
    "funding",  # a funding round: ``value`` is the rate paid by longs to shorts
    "adl",  # an auto-deleveraging close: ``agent`` the bankrupt account, ``counterparty`` the one closed
    "clawback",  # socialized loss: ``value`` the money (quote) taken from ``agent``'s profit
    "halt",  # trading stops: ``order_id`` 1 limit up/limit down, 2 market-wide; ``value`` its length in s
    "resume",  # trading resumes after a halt
    "limit_state",  # a trade outside the LULD band: ``value`` the reference price, ticks
    "limit_state_end",  # trades are back inside the band
)
KIND_CODE: dict[str, int] = {name: i for i, name in enumerate(EVENT_KINDS)}

#: Labels of ``events.status``: the core's statuses.
STATUSES: tuple[str, ...] = tuple(s.name.lower() for s in sorted(Status))
#: Labels of ``events.reason``: the core's reasons, then the venue's own.
REASONS: tuple[str, ...] = (
    *(r.name.lower() for r in sorted(Reason)),
    "insufficient_margin",  # a margined account's order would need more margin than it has
    "price_band",  # priced beyond the venue's band around its reference price
    "halted",  # the instrument is halted and the venue rejects orders while it is
)
REASON_CODE: dict[str, int] = {name: i for i, name in enumerate(REASONS)}

# Sources of categorical labels: a fixed vocabulary above, or a list the run provides.
AGENTS = "agents"
INSTRUMENTS = "instruments"


@dataclass(frozen=True)
class Column:
    """One column: ``dtype`` is the numpy storage type; ``labels`` makes it categorical."""

    name: str
    dtype: str
    labels: tuple[str, ...] | str | None = None  # fixed labels, or AGENTS / INSTRUMENTS
    doc: str = ""


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    doc: str = ""

    @property
    def dtype(self) -> np.dtype:
        """The packed numpy record layout the recorder buffers rows in."""
        return np.dtype([(c.name, c.dtype) for c in self.columns])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


EVENTS = TableSchema(
    "events",
    (
        Column("seq", "i8", doc="venue sequence number; rows are in this order"),
        Column("time_ns", "i8", doc="venue time of the event"),
        Column("kind", "i1", EVENT_KINDS, "command kind, fill, stp_cancel or shock"),
        Column("agent", "i4", AGENTS, "owner of order_id"),
        Column("instrument", "i2", INSTRUMENTS),
        Column("order_id", "i8", doc="the command's order; for a fill the taker's"),
        Column("side", "i1", doc="+1 buy, -1 sell (0 for cancel and shock rows)"),
        Column("price_ticks", "i8", doc="limit price, market protection (0 none), fill price"),
        Column("qty_lots", "i8", doc="order qty, reduce amount, new total of a replace, fill qty"),
        Column("leaves_lots", "i8", doc="lots of order_id resting after the event; for a fill the maker's"),
        Column("status", "i1", STATUSES, "outcome of a command (null for fills)"),
        Column("reason", "i1", REASONS, "why a command was rejected or stopped early"),
        Column("stp", "i1", doc="self-trade prevention mode of the command"),
        Column("sent_ns", "i8", doc="when the agent sent the command; time_ns - sent_ns is its latency"),
        Column("other_order_id", "i8", doc="fill: the maker's order; stp_cancel: the taker's"),
        Column("counterparty", "i4", AGENTS, "fill: the maker's owner"),
        Column("value", "f8", doc="shock: the jump (fraction); mark, index, liquidation: a price in ticks"),
        Column(
            "cause",
            "i8",
            doc="id of the liquidation whose forced order (or price move) led to this row; 0 none",
        ),
    ),
    "every command arrival, fill, self-trade cancel and scripted shock, in sequence order",
)

TRADES = TableSchema(
    "trades",
    (
        Column("seq", "i8", doc="sequence number of the fill's row in events"),
        Column("time_ns", "i8"),
        Column("instrument", "i2", INSTRUMENTS),
        Column("price_ticks", "i8", doc="the maker's price"),
        Column("qty_lots", "i8"),
        Column("aggressor_side", "i1", doc="the taker's side"),
        Column("taker_order_id", "i8"),
        Column("maker_order_id", "i8"),
        Column("taker", "i4", AGENTS),
        Column("maker", "i4", AGENTS),
        Column("taker_fee", "i8", doc="notional units the taker paid (negative: received)"),
        Column("maker_fee", "i8", doc="notional units the maker paid (negative: a rebate)"),
        Column("cause", "i8", doc="id of the liquidation whose forced order took here; 0 none"),
    ),
    "one row per fill",
)

BOOK = TableSchema(
    "book",
    (
        Column("time_ns", "i8"),
        Column("instrument", "i2", INSTRUMENTS),
        Column("level", "i2", doc="0 is the best level"),
        Column("bid_ticks", "i8", doc="0 where the side has fewer levels"),
        Column("bid_lots", "i8", doc="0 where absent"),
        Column("ask_ticks", "i8", doc="0 where absent"),
        Column("ask_lots", "i8", doc="0 where absent"),
        Column("fundamental", "f8", doc="the fundamental price at the snapshot, quote currency"),
    ),
    "top-N book snapshots at the configured interval",
)

#: Labels of ``liquidations.mode``.
LIQUIDATION_MODES: tuple[str, ...] = ("market", "partial", "backstop")

LIQUIDATIONS = TableSchema(
    "liquidations",
    (
        Column("liquidation_id", "i8", doc="1, 2, ... in the order breaches were found"),
        Column("time_ns", "i8", doc="when the engine found the breach"),
        Column("exec_ns", "i8", doc="when the forced order reached the book (or the takeover happened)"),
        Column("agent", "i4", AGENTS, "the liquidated account"),
        Column("instrument", "i2", INSTRUMENTS),
        Column("side", "i1", doc="side of the forced order: -1 sells a long"),
        Column("qty_lots", "i8", doc="lots the forced order tried to close"),
        Column("filled_lots", "i8", doc="lots it closed in the book"),
        Column("takeover_lots", "i8", doc="lots moved off-book at the bankruptcy price (fund or vault)"),
        Column("trigger_mark_ticks", "f8", doc="the mark that triggered it"),
        Column("liquidation_price_ticks", "f8", doc="the account's liquidation price at the breach"),
        Column("bankruptcy_price_ticks", "f8", doc="where its equity would be zero"),
        Column(
            "arrival_mid_ticks", "f8", doc="the book's mid when the forced order arrived (NaN: a side empty)"
        ),
        Column("vwap_ticks", "f8", doc="volume-weighted price of its fills (NaN: none)"),
        Column("slippage_mid_bps", "f8", doc="cost against the arrival mid, bps; positive is worse"),
        Column("slippage_mark_bps", "f8", doc="cost against the trigger mark, bps; positive is worse"),
        Column("shortfall", "i8", doc="money units the insurance fund gained (+) or paid (-) on it"),
        Column("fee", "i8", doc="liquidation fee paid to the insurance fund, money units"),
        Column("bad_debt", "i8", doc="loss nobody could cover, money units"),
        Column("fund_balance", "i8", doc="insurance fund balance after it, money units"),
        Column("levels", "i4", doc="price levels the forced order took from"),
        Column("fills", "i4", doc="fills of the forced order"),
        Column("latency_ns", "i8", doc="exec_ns - time_ns"),
        Column("mode", "i1", LIQUIDATION_MODES),
        Column(
            "generation", "i2", doc="0: triggered by a move no liquidation caused; k+1: by a move a k caused"
        ),
        Column("parent_id", "i8", doc="the liquidation whose price move triggered this one; 0 none"),
        Column("trigger_seq", "i8", doc="events.seq of the mark update that triggered it"),
        Column("adl_lots", "i8", doc="lots closed against other accounts by auto-deleveraging"),
        Column(
            "deficit",
            "i8",
            doc="money units the remainder would have cost the fund at the mark, covered by ADL instead",
        ),
    ),
    "one row per forced order, with its slippage and what it cost the insurance fund",
)

#: Labels of ``adl.policy``: the ranking and allocation rules of :mod:`lob.risk.adl`.
ADL_POLICIES: tuple[str, ...] = (
    "bitmex",
    "binance",
    "hyperliquid",
    "dydx",
    "pro_rata_size",
    "pro_rata_profit",
    "socialized_loss",
    "custom",  # a user's own AdlPolicy, named in the config by import path
)

ADL = TableSchema(
    "adl",
    (
        Column("seq", "i8", doc="sequence number of the close's row (kind adl or clawback) in events"),
        Column("time_ns", "i8"),
        Column("liquidation_id", "i8", doc="the liquidation whose bankrupt remainder this covers"),
        Column("wave", "i4", doc="1, 2, ...: closes less than the wave gap apart share a wave"),
        Column("policy", "i1", ADL_POLICIES),
        Column("instrument", "i2", INSTRUMENTS),
        Column("bankrupt", "i4", AGENTS, "the liquidated account"),
        Column("counterparty", "i4", AGENTS, "the account deleveraged (or clawed back from)"),
        Column("side", "i1", doc="the counterparty's side in the close: +1 buys back a short"),
        Column("rank_score", "f8", doc="its score under the policy (NaN where the policy ranks nobody)"),
        Column("qty_lots", "i8", doc="lots closed (0 for a clawback)"),
        Column("price_ticks", "f8", doc="price of the close (NaN for a clawback)"),
        Column("mark_ticks", "f8", doc="the mark at the close"),
        Column("pnl_before", "i8", doc="counterparty's PnL in the instrument at the mark, money units"),
        Column("pnl_after", "i8", doc="the same just after the close or clawback, money units"),
        Column("equity_after", "i8", doc="counterparty's equity at the mark after it, money units"),
    ),
    "one row per auto-deleveraging close or clawback",
)

TABLES: dict[str, TableSchema] = {t.name: t for t in (EVENTS, TRADES, BOOK, LIQUIDATIONS, ADL)}
