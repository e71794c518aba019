"""Open-interest profiles: positions net to zero, cash sums to zero, every account holds something."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lob.errors import LobError
from lob.market.instrument import MONEY_PER_QUOTE, Instrument
from lob.risk.open_interest import open_interest

XYZ = Instrument("XYZ", 0.01, 1, perpetual=True)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_long=st.integers(1, 60),
    n_short=st.integers(1, 20),
    median=st.floats(100.0, 1e6),
    sigma=st.floats(0.0, 2.0),
    lev=st.tuples(st.floats(1.0, 100.0), st.floats(1.0, 100.0)).map(sorted),
    spread=st.floats(0.0, 0.2),
    weighted=st.booleans(),
)
def test_a_profile_creates_no_position_and_no_money(
    seed: int,
    n_long: int,
    n_short: int,
    median: float,
    sigma: float,
    lev: list[float],
    spread: float,
    weighted: bool,
) -> None:
    rng = np.random.default_rng(seed)
    try:
        longs, shorts = open_interest(
            rng,
            XYZ,
            100.0,
            (n_long, median, sigma, lev[0], lev[1], spread),
            (n_short, 1.0 if weighted else None, 1.0, 1.0, 3.0),
        )
    except LobError as e:
        assert "cannot share" in str(e)
        return
    assert sum(h.lots for h in longs) + sum(h.lots for h in shorts) == 0
    assert sum(h.cash for h in longs) + sum(h.cash for h in shorts) == 0  # every lot matched at one price
    assert all(h.lots > 0 for h in longs) and all(h.lots < 0 for h in shorts)
    for h in (*longs, *shorts):
        # collateral backs the entry notional at the leverage, rounded up to the money unit
        notional_money = abs(h.cash) * XYZ.money_unit
        assert h.collateral * h.leverage >= notional_money - h.leverage
        assert lev[0] - 1e-9 <= h.leverage <= lev[1] + 1e-9 or h.lots < 0
    assert MONEY_PER_QUOTE == 10**8


def test_more_short_accounts_than_lots_is_a_clear_error() -> None:
    with pytest.raises(LobError, match="3 short accounts cannot share the longs' 1 lots"):
        open_interest(
            np.random.default_rng(1), XYZ, 100.0, (1, 50.0, 0.0, 2.0, 2.0, 0.0), (3, None, 0.0, 1.0, 1.0)
        )
