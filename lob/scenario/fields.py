"""Field types shared by the config models: strict numbers, durations, symbols, fee rates."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

from lob.scenario.durations import Duration, format_duration

SYMBOL_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")


def _reject_bool(expected: str) -> Callable[[Any], Any]:
    """A before-validator: YAML reads yes/no/on/off as booleans, and pydantic would take them as 1/0."""

    def check(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("bool_not_number", f"expected {expected}, got {str(value).lower()}")
        return value

    return check


def _positive_duration(ns: int) -> int:
    if ns <= 0:
        raise PydanticCustomError(
            "duration_not_positive", f"expected a duration > 0, got {format_duration(ns)}"
        )
    return ns


def _symbol(text: str) -> str:
    if not SYMBOL_PATTERN.fullmatch(text):
        message = f"expected a symbol of letters, digits, '_', '.' or '-', got {text!r}"
        raise PydanticCustomError("symbol", message)
    return text


def _whole_ppm(bps: float) -> float:
    # 0.01 bps is one millionth: a fee rate must be whole ppm, checked on the decimal as written.
    if (Decimal(repr(bps)) * 100) % 1:
        raise PydanticCustomError("fee_precision", f"expected a multiple of 0.01 bps, got {bps!r}")
    return bps


def empty_if_none(value: Any) -> Any:
    # `venue:` with nothing under it is null in YAML; it means "all defaults", as leaving the key out does.
    return {} if value is None else value


def calendar_time(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise PydanticCustomError(
            "calendar_time", f"expected an ISO date-time such as 2026-01-05T09:30:00, got {value!r}"
        )
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    return value


NoneIsEmpty = BeforeValidator(empty_if_none)
Int = Annotated[int, BeforeValidator(_reject_bool("an integer"))]
Float = Annotated[float, BeforeValidator(_reject_bool("a number")), Field(allow_inf_nan=False)]
PositiveFloat = Annotated[Float, Field(gt=0)]
NonNegativeFloat = Annotated[Float, Field(ge=0)]
PositiveDuration = Annotated[Duration, AfterValidator(_positive_duration)]
Symbol = Annotated[str, AfterValidator(_symbol)]
Bps = Annotated[Float, Field(ge=-1000, le=1000), AfterValidator(_whole_ppm)]
Bool = Annotated[bool, Strict()]


class ConfigModel(BaseModel):
    """Base of every config model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")
