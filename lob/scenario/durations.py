"""Durations in configs: integer nanoseconds, written as ``500us``, ``2s``, ``1h`` or a bare integer.

The simulation clock counts integer nanoseconds (see DESIGN.md), so a duration
must resolve to a whole number of ns: ``1.5s`` is fine, ``0.5ns`` is not.
Parsing is exact (decimal text to a fraction), never through binary floats, so ``0.1s`` is
exactly 100_000_000 ns.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

#: Nanoseconds per unit, largest first (the order :func:`format_duration` tries them in).
UNIT_NS: dict[str, int] = {
    "h": 3_600_000_000_000,
    "m": 60_000_000_000,
    "s": 1_000_000_000,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}

#: The longest duration: the clock is an int64 count of ns.
MAX_NS = 2**63 - 1

_EXPECTED = "expected a duration such as 500us, 2s, 1h, 6h30m or an integer of nanoseconds"
_DURATION_RE = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(ns|us|µs|ms|s|m|h)$")
# A compound duration: whole numbers of units, largest first, such as 6h30m or 1m30s.
_COMPOUND_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?(?:(\d+)us)?(?:(\d+)ns)?$")


class DurationError(ValueError):
    """A value that is not a duration; the message says what was expected and what was given."""


def parse_duration(value: object) -> int:
    """Duration ``value`` in integer ns: an int (ns) or a string ``<number><unit>``.

    Units: ns, us (or µs), ms, s, m (minutes), h; whole numbers of several
    units may be combined, largest first (``6h30m``, ``1m30s``). The result
    must be a whole number of ns and >= 0. A string of digits alone is taken as ns.
    Raises :class:`DurationError` otherwise. Runtime: O(len(value)).

    >>> parse_duration("1.5s"), parse_duration("50us"), parse_duration(7), parse_duration("1m30s")
    (1500000000, 50000, 7, 90000000000)
    """
    if isinstance(value, float):
        hint = f"; a bare number is nanoseconds and must be whole: add a unit, e.g. {value:g}s"
        raise DurationError(f"{_EXPECTED}, got {_show(value)}{hint}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DurationError(f"{_EXPECTED}, got {_show(value)}")
    ns = value if isinstance(value, int) else _parse_text(value)
    if ns < 0:
        raise DurationError(f"a duration must be >= 0, got {_show(value)}")
    if ns > MAX_NS:
        raise DurationError(f"a duration must be at most {MAX_NS} ns (about 292 years), got {_show(value)}")
    return ns


def _parse_text(text: str) -> int:
    stripped = text.strip()
    if re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    compound = _COMPOUND_RE.match(stripped)
    if compound is not None and sum(part is not None for part in compound.groups()) > 1:
        return sum(int(n) * size for n, size in zip(compound.groups(), UNIT_NS.values(), strict=True) if n)
    match = _DURATION_RE.match(stripped)
    if match is None:
        raise DurationError(f"{_EXPECTED}, got {_show(text)}")
    number, unit = match.groups()
    size = UNIT_NS["us" if unit == "µs" else unit]
    amount = Decimal(number)  # exact: the regex admits only decimal literals
    if abs(amount) > Decimal(MAX_NS) / size:  # checked before Fraction meets a huge exponent
        raise DurationError(f"a duration must be at most {MAX_NS} ns (about 292 years), got {_show(text)}")
    exact = Fraction(amount) * size
    if exact.denominator != 1:
        raise DurationError(f"a duration must be a whole number of nanoseconds, got {_show(text)}")
    return int(exact)


def format_duration(ns: int) -> str:
    """The shortest exact spelling of ``ns`` nanoseconds: the largest unit that divides it.

    ``parse_duration(format_duration(ns)) == ns`` for every ``ns >= 0``. Runtime: O(1).

    >>> format_duration(3_600_000_000_000), format_duration(1_500_000), format_duration(0)
    ('1h', '1500us', '0s')
    """
    if ns < 0:
        raise ValueError(f"a duration must be >= 0 ns, got {ns}")
    if ns == 0:
        return "0s"
    for unit, size in UNIT_NS.items():
        if ns % size == 0:
            return f"{ns // size}{unit}"
    raise AssertionError("unreachable: 1 ns divides every integer")  # pragma: no cover


def _show(value: object) -> str:
    """``value`` as a config author wrote it: YAML spelling for null and booleans."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _validate(value: Any) -> int:
    try:
        return parse_duration(value)
    except DurationError as exc:
        # A custom error type keeps pydantic from prefixing "Value error, " to the message.
        raise PydanticCustomError("duration", str(exc)) from None


#: A config field holding a duration: validated to int ns, written back as ``format_duration`` text.
Duration = Annotated[int, BeforeValidator(_validate), PlainSerializer(format_duration, when_used="json")]
