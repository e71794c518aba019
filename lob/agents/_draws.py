"""Random draws for the built-in traders, served from blocks so a wake-up costs no numpy call.

A scalar numpy draw costs about a microsecond of call overhead; a trader that
needs a few numbers per decision would spend more on that than on deciding.
:func:`uniforms` draws uniform floats in blocks (4 first, doubling up to
1024, so a trader that decides once a day draws 4 numbers, not 1024) and
yields them one at a time: ``next(stream)`` costs tens of nanoseconds. Every
other distribution the traders need (coin flips, integer sizes and offsets,
exponential waits) is derived from these uniforms, so each trader's stream is
one deterministic sequence of its ``rng``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

_FIRST_BLOCK = 4
_MAX_BLOCK = 1024


def uniforms(rng: np.random.Generator) -> Iterator[float]:
    """An endless stream of uniform floats in ``[0, 1)`` drawn from ``rng`` in growing blocks.

    Runtime: O(1) amortised per value.

    >>> stream = uniforms(np.random.default_rng(0))
    >>> all(0.0 <= next(stream) < 1.0 for _ in range(100))
    True
    """
    n = _FIRST_BLOCK
    while True:
        yield from rng.random(n).tolist()
        if n < _MAX_BLOCK:
            n *= 2


def exponential_ns(u: float, mean_ns: int) -> int:
    """An exponential wait in whole ns with mean ``mean_ns``, from a uniform ``u`` in ``[0, 1)``.

    >>> exponential_ns(0.0, 1000), exponential_ns(0.5, 1000)
    (0, 693)
    """
    return int(-mean_ns * math.log(1.0 - u))


def integer(u: float, low: int, high: int) -> int:
    """A uniform integer in ``[low, high]`` (inclusive) from one uniform ``u`` in ``[0, 1)``.

    >>> integer(0.0, 3, 5), integer(0.999, 3, 5)
    (3, 5)
    """
    return low + int(u * (high - low + 1))
