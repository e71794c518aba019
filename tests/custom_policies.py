"""A user's own auto-deleveraging policy, named in configs by import path (tests/test_adl.py)."""

from __future__ import annotations

from lob.risk.adl import AdlPolicy, Candidate


class LargestFirst(AdlPolicy):
    """Deleverages the largest opposite positions first: a queue by size in lots."""

    name = "largest_first"

    def score(self, c: Candidate) -> float:
        return float(c.lots)
