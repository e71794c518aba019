"""Trader types by name: the built-in short names and ``package.module:ClassName`` import paths."""

from __future__ import annotations

import difflib
import importlib
import inspect
import re

from lob.agents.base import Trader
from lob.errors import LobError

#: Short name -> import path of every built-in trader.
BUILTIN_TRADERS: dict[str, str] = {
    "noise": "lob.agents.noise:NoiseTrader",
    "value": "lob.agents.value:ValueTrader",
    "momentum": "lob.agents.momentum:MomentumTrader",
    "market_maker": "lob.agents.market_maker:MarketMaker",
    "execution": "lob.agents.execution:ExecutionAgent",
    "stop_loss": "lob.agents.stop_loss:StopLossTrader",
    "pyramid": "lob.agents.pyramid:PyramidTrader",
}

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_PATH_FORM = "'package.module:ClassName'"


class TraderLookupError(LobError, LookupError):
    """A trader spec that names no usable Trader class; the message says why and what was expected."""


def resolve_trader(spec: str) -> type[Trader]:
    """The Trader subclass named by ``spec``: a short name from :data:`BUILTIN_TRADERS` or an import path.

    An import path is ``package.module:ClassName`` (``ClassName`` may be dotted,
    for a class nested in another). Imports the module (Python caches it, so a
    repeated call costs a dict lookup). Raises :class:`TraderLookupError` for an
    unknown short name, a malformed path, a module that fails to import, a
    missing attribute, or an object that is not a Trader subclass.
    """
    path = BUILTIN_TRADERS.get(spec)
    if path is None:
        if ":" not in spec:
            raise TraderLookupError(_unknown_short_name(spec))
        path = spec
    module_name, _, attr_path = path.partition(":")
    if not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attr_path):
        raise TraderLookupError(f"malformed trader path {spec!r} (expected {_PATH_FORM})")
    builtin = f"built-in trader {spec!r}: " if spec in BUILTIN_TRADERS else ""
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure while importing user code is a config problem
        raise TraderLookupError(
            f"{builtin}cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: object = module
    for i, attr in enumerate(attr_path.split(".")):
        if not hasattr(obj, attr):
            owner = ".".join([module_name, *attr_path.split(".")[:i]])
            raise TraderLookupError(f"{builtin}{owner!r} has no attribute {attr!r}{_traders_in(obj)}")
        obj = getattr(obj, attr)
    if not (inspect.isclass(obj) and issubclass(obj, Trader)):
        what = "a class" if inspect.isclass(obj) else f"a {type(obj).__name__}"
        raise TraderLookupError(f"{path!r} is {what}, not a subclass of lob.agents.base.Trader")
    return obj


def _unknown_short_name(spec: str) -> str:
    known = ", ".join(sorted(BUILTIN_TRADERS))
    message = f"unknown trader type {spec!r} (built-in types: {known}; or an import path {_PATH_FORM})"
    if "." in spec:
        module, _, name = spec.rpartition(".")
        return f"{message}; did you mean '{module}:{name}'?"
    close = difflib.get_close_matches(spec, list(BUILTIN_TRADERS), n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _traders_in(namespace: object) -> str:
    """`` (Trader classes there: A, B)`` for a hint, or nothing if it holds none."""
    names = sorted(
        name
        for name, value in getattr(namespace, "__dict__", {}).items()
        if inspect.isclass(value) and issubclass(value, Trader) and value is not Trader
    )
    return f" (Trader classes there: {', '.join(names)})" if names else ""
