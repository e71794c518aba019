"""Network latency between a trader and the venue: a constant plus random jitter."""

from __future__ import annotations

import numpy as np

UNIFORM = "uniform"
EXPONENTIAL = "exponential"
# Draws are made in blocks, one numpy call per block rather than per message.
# Blocks start small and double, so a trader that sends one order a day holds
# a few ints, not a thousand (a run has two latency streams per trader).
_FIRST_BLOCK = 2
_MAX_BLOCK = 512


class LatencyModel:
    """Latency draws in integer nanoseconds.

    ``base_ns`` is the fixed part. ``jitter_ns`` is the random part: the upper
    bound of a uniform integer draw in ``[0, jitter_ns]``, or the mean of an
    exponential draw (rounded to whole ns), which has the long right tail of
    a congested network. Each model owns its generator so that latency draws
    never shift a trader's decision draws.
    """

    __slots__ = ("_block", "_i", "_next_size", "_rng", "base_ns", "distribution", "jitter_ns")

    def __init__(
        self,
        base_ns: int,
        jitter_ns: int = 0,
        distribution: str = UNIFORM,
        rng: np.random.Generator | None = None,
    ) -> None:
        if base_ns < 0 or jitter_ns < 0:
            raise ValueError(f"latency must be >= 0 ns, got base {base_ns}, jitter {jitter_ns}")
        if distribution not in (UNIFORM, EXPONENTIAL):
            raise ValueError(
                f"latency distribution must be {UNIFORM!r} or {EXPONENTIAL!r}, got {distribution!r}"
            )
        if jitter_ns and rng is None:
            raise ValueError("a latency with jitter needs a random generator")
        self.base_ns = int(base_ns)
        self.jitter_ns = int(jitter_ns)
        self.distribution = distribution
        self._rng = rng
        self._block: list[int] = []
        self._i = 0
        self._next_size = _FIRST_BLOCK

    def draw(self) -> int:
        """One latency in ns. Runtime: O(1) amortised."""
        if not self.jitter_ns:
            return self.base_ns
        i = self._i
        if i == len(self._block):
            self._refill()
            i = 0
        self._i = i + 1
        return self.base_ns + self._block[i]

    def _refill(self) -> None:
        rng = self._rng
        assert rng is not None
        n = self._next_size
        if self.distribution == UNIFORM:
            self._block = rng.integers(0, self.jitter_ns + 1, n).tolist()
        else:
            self._block = np.rint(rng.exponential(self.jitter_ns, n)).astype(np.int64).tolist()
        self._i = 0
        self._next_size = min(2 * n, _MAX_BLOCK)
