"""Classes named in a config: a built-in short name, or a ``package.module:ClassName`` import path.

Trader types (:mod:`lob.agents.registry`) and auto-deleveraging policies
(:mod:`lob.risk.adl`) are both named this way, so a user's own class is used
exactly like a built-in one.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
PATH_FORM = "'package.module:ClassName'"


def resolve_class(
    spec: str,
    builtins: Mapping[str, str],
    base: type[T],
    noun: str,
    error: type[Exception],
    *,
    unknown: str = "unknown {noun} type {spec!r} (built-in types: {known}; or an import path {path})",
    also: tuple[str, ...] = (),
) -> type[T]:
    """The subclass of ``base`` that ``spec`` names: a key of ``builtins`` or an import path.

    ``builtins`` maps short names to import paths; ``noun`` (``"trader"``)
    words the messages, ``unknown`` the one for an unknown short name, and
    ``also`` lists names the caller accepts besides (they are offered in that
    message and its did-you-mean); ``error`` is raised, with a message saying what was
    expected, for an unknown short name, a malformed path, a module that fails
    to import, a missing attribute, or an object that is not a subclass of
    ``base``. ``ClassName`` may be dotted (a nested class). Python caches
    imports, so a repeated call costs a dict lookup.
    """
    path = builtins.get(spec)
    if path is None:
        if ":" not in spec:
            raise error(_unknown_short_name(spec, [*also, *sorted(builtins)], noun, unknown))
        path = spec
    module_name, _, attr_path = path.partition(":")
    if not _DOTTED.fullmatch(module_name) or not _DOTTED.fullmatch(attr_path):
        raise error(f"malformed {noun} path {spec!r} (expected {PATH_FORM})")
    builtin = f"built-in {noun} {spec!r}: " if spec in builtins else ""
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any failure while importing user code is a config problem
        raise error(f"{builtin}cannot import module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    obj: object = module
    for i, attr in enumerate(attr_path.split(".")):
        if not hasattr(obj, attr):
            owner = ".".join([module_name, *attr_path.split(".")[:i]])
            raise error(f"{builtin}{owner!r} has no attribute {attr!r}{_classes_in(obj, base)}")
        obj = getattr(obj, attr)
    if not (inspect.isclass(obj) and issubclass(obj, base)):
        what = "a class" if inspect.isclass(obj) else f"a {type(obj).__name__}"
        raise error(f"{path!r} is {what}, not a subclass of {base.__module__}.{base.__qualname__}")
    return obj


def _unknown_short_name(spec: str, names: list[str], noun: str, template: str) -> str:
    message = template.format(noun=noun, spec=spec, known=", ".join(names), path=PATH_FORM)
    if "." in spec:
        module, _, name = spec.rpartition(".")
        return f"{message}; did you mean '{module}:{name}'?"
    close = difflib.get_close_matches(spec, names, n=1)
    return f"{message}; did you mean {close[0]!r}?" if close else message


def _classes_in(namespace: object, base: type) -> str:
    """`` (Base classes there: A, B)`` for a hint, or nothing if it holds none."""
    names = sorted(
        name
        for name, value in getattr(namespace, "__dict__", {}).items()
        if inspect.isclass(value) and issubclass(value, base) and value is not base
    )
    return f" ({base.__name__} classes there: {', '.join(names)})" if names else ""
