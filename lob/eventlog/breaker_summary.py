"""Headline metrics of circuit breakers: halts, halted time, limit states, band and halt rejections.

Read from the events table alone (numpy only, no pandas), like
:mod:`lob.eventlog.summary`; the row layouts are those of
:mod:`lob.market.breakers`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lob.core.codes import Status
from lob.eventlog.schema import EVENTS, KIND_CODE, REASON_CODE
from lob.eventlog.summary import round_sig
from lob.market.instrument import Instrument

_HALT = KIND_CODE["halt"]
_RESUME = KIND_CODE["resume"]
_LIMIT_STATE = KIND_CODE["limit_state"]
_LAST_COMMAND = KIND_CODE["replace"]
# halt.order_id codes of lob.market.breakers, repeated: reading a log needs no simulator
_LULD_HALT = 1
_MARKET_WIDE_HALT = 2


def halted_ns(time_ns: np.ndarray, is_halt: np.ndarray, duration_ns: int) -> int:
    """Nanoseconds halted, from one instrument's halt and resume rows in sequence order.

    A halt of an instrument already halted (an extension) starts nothing new;
    a halt still running at the end counts to ``duration_ns``; time past the
    end does not count.

    >>> import numpy as np
    >>> halted_ns(np.array([10, 12, 20]), np.array([True, True, False]), 100)
    10
    >>> halted_ns(np.array([10, 20, 90]), np.array([True, False, True]), 100)
    20
    """
    total = 0
    start = -1
    for t, halt in zip(time_ns.tolist(), is_halt.tolist(), strict=True):
        if halt:
            if start < 0:
                start = min(t, duration_ns)
        elif start >= 0:
            total += min(t, duration_ns) - start
            start = -1
    if start >= 0:
        total += duration_ns - start
    return total


def breaker_summary(
    arrays: Mapping[str, np.ndarray], instruments: Sequence[Instrument], duration_ns: int
) -> dict[str, Any]:
    """Circuit-breaker metrics per instrument symbol, and the market-wide levels that fired.

    ``arrays`` is ``Recorder.arrays()`` (a missing events table counts as
    empty). Per symbol:

    - ``halts``: halt rows (each time a breaker halted it, extensions
      included), split into ``halts_luld`` and ``halts_market_wide``;
    - ``halted_seconds``: time halted, overlapping halts counted once, a halt
      still running at the end clipped at ``duration_ns``;
    - ``limit_states``: LULD limit states entered;
    - ``band_rejections``: commands rejected with reason ``price_band``;
    - ``halt_rejections``: commands rejected with reason ``halted``.

    ``market_wide_levels`` lists the levels (1, 2, ...) that fired, in order.
    Runtime: O(rows) plus O(halt rows) in Python.
    """
    events = arrays.get("events", np.zeros(0, EVENTS.dtype))
    kind, inst = events["kind"], events["instrument"]
    commands = (kind <= _LAST_COMMAND) & (events["status"] == Status.REJECTED)
    band = commands & (events["reason"] == REASON_CODE["price_band"])
    halted = commands & (events["reason"] == REASON_CODE["halted"])
    halt_rows = kind == _HALT
    stops = events[halt_rows | (kind == _RESUME)]
    per: dict[str, Any] = {}
    for code, symbol in enumerate(i.symbol for i in instruments):
        mine = inst == code
        halts = halt_rows & mine
        source = events["order_id"][halts]
        own_stops = stops[stops["instrument"] == code]
        per[symbol] = {
            "halts": int(halts.sum()),
            "halts_luld": int((source == _LULD_HALT).sum()),
            "halts_market_wide": int((source == _MARKET_WIDE_HALT).sum()),
            "halted_seconds": round_sig(
                halted_ns(own_stops["time_ns"], own_stops["kind"] == _HALT, duration_ns) / 1e9
            ),
            "limit_states": int(((kind == _LIMIT_STATE) & mine).sum()),
            "band_rejections": int((band & mine).sum()),
            "halt_rejections": int((halted & mine).sum()),
        }
    wide = events[halt_rows & (events["order_id"] == _MARKET_WIDE_HALT)]
    levels = list(dict.fromkeys(int(level) for level in wide["qty_lots"].tolist()))
    return {"instruments": per, "market_wide_levels": levels}
