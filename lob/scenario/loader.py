"""Reading scenario configs: YAML in, a validated :class:`ScenarioConfig` out, or every problem at once.

A :class:`ConfigError` lists each problem with its file, line and key path and
says what was expected, e.g.::

    configs/x.yaml:12: traders[2].params.spread: Input should be greater than 0 (got -1)

Lines come from the YAML node tree (each key's own line; for a missing key, its
parent's). Overrides (``--set run.seed=3``) are applied to the parsed data
before validation; problems they cause name the source ``--set``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from lob.agents.registry import TraderLookupError, resolve_trader
from lob.errors import LobError
from lob.scenario.config import ScenarioConfig, TraderGroupConfig

Loc = tuple[str | int, ...]
OVERRIDE_SOURCE = "--set"
_SECTIONS = ", ".join(ScenarioConfig.model_fields)


class Problem(NamedTuple):
    """One thing wrong with a config: where (``source`` file, 1-based ``line``, key ``path``) and what."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(LobError, ValueError):
    """A config that cannot be used; ``problems`` lists all that were found, ``str()`` one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[Problem]]]:
        # Rebuilt from the problems, not the message, so it survives pickling (e.g. from a Dask worker).
        return (ConfigError, (self.problems,))


# -- public API --------------------------------------------------------------------------------------------


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ScenarioConfig:
    """Read, override and validate the config file at ``path``. Raises :class:`ConfigError`.

    ``overrides`` are ``key.path=value`` strings (see :func:`parse_config`).
    A run that names no ``run.name`` is called after the file's stem.
    """
    source = str(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(source, None, "", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(
            [Problem(source, None, "", "is a directory, expected a YAML config file")]
        ) from None
    except UnicodeDecodeError as exc:
        message = f"cannot read: not UTF-8 text (byte {exc.start}: {exc.reason})"
        raise ConfigError([Problem(source, None, "", message)]) from None
    except OSError as exc:
        raise ConfigError([Problem(source, None, "", f"cannot read: {exc.strerror or exc}")]) from None
    return parse_config(text, source=source, overrides=overrides)


def parse_config(text: str, source: str = "<string>", overrides: Sequence[str] = ()) -> ScenarioConfig:
    """Validate the YAML config ``text``; ``source`` names it in messages and gives the default run name.

    Each override is ``key.path=value``: dotted keys with list indices
    (``traders[0].params.size=4``; a key with dots in it is quoted,
    ``fundamental['BRK.B'].volatility=0.2``); the value is read as YAML
    (``1ms``, ``[events, trades]``, ``{base: 1ms}``). Missing mappings on the
    way are created. Raises :class:`ConfigError` listing every problem, sorted
    by line, the file's before the overrides'.
    """
    document = _read_yaml(text, source)
    problems = list(document.problems)
    data = document.data
    set_locs: list[Loc] = []
    for override in overrides:
        loc, error = _apply_override(data, override)
        if error is not None:
            problems.append(error)
        elif loc is not None:
            set_locs.append(loc)
    # Files a config names (background recordings) are relative to the config file.
    base_dir = Path.cwd() if source.startswith("<") else Path(source).resolve().parent
    run = data.get("run")
    if isinstance(run, dict) and "name" not in run:
        run["name"] = "run" if source.startswith("<") else Path(source).stem
    try:
        config = ScenarioConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(_problem(err, data, source, document.lines, set_locs))
        config = None
    if problems or config is None:
        problems.sort(
            key=lambda p: (p.source == OVERRIDE_SOURCE, p.line or 0)
        )  # stable: ties keep their order
        raise ConfigError(problems)
    for background in config.background:
        background.resolve(base_dir)
    return config


def dump_config(config: ScenarioConfig) -> str:
    """The resolved config as YAML: every default filled in, durations as text, keys in model order.

    Parsing the result gives a config equal to ``config``. The sections of
    several venues (``venues``, ``indexes``, ``correlations``) appear only
    when used; with ``venues``, the one-venue ``venue`` section does not.
    """
    data = config.model_dump(mode="json")
    for key in ("venues", "indexes", "correlations"):
        if not data[key]:
            del data[key]
    if "venues" in data:
        del data["venue"]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000)


def format_path(loc: Sequence[str | int]) -> str:
    """``('traders', 2, 'params', 'spread')`` as ``traders[2].params.spread``; odd keys quoted."""
    out = ""
    for step in loc:
        if step == "[key]":  # pydantic's marker for an error in a dict key rather than its value
            continue
        if isinstance(step, int):
            out += f"[{step}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", step):
            out += f".{step}" if out else step
        else:
            out += f"[{step!r}]"
    return out


# -- YAML with line numbers --------------------------------------------------------------------------------


class _Document(NamedTuple):
    data: dict[Any, Any]
    lines: dict[Loc, int]
    problems: list[Problem]


def _read_yaml(text: str, source: str) -> _Document:
    """Parse ``text`` into data and a map from key path to line; raises ConfigError if it cannot."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            message = f"the file is empty (expected a mapping with the sections {_SECTIONS})"
            raise ConfigError([Problem(source, None, "", message)])
        lines: dict[Loc, int] = {}
        problems: list[Problem] = []
        _map_lines(loader, node, (), lines, problems, source, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_yaml_problem(exc, source)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(source, None, "", f"invalid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        message = f"expected a mapping with the sections {_SECTIONS} at the top level, got {_kind(data)}"
        raise ConfigError([Problem(source, node.start_mark.line + 1, "", message)])
    return _Document(data, lines, problems)


def _map_lines(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    problems: list[Problem],
    source: str,
    active: set[int],
) -> None:
    """Record the line of every key and list item under ``node``; report keys given twice."""
    if id(node) in active:  # a recursive alias: its lines are already mapped
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in first:
                message = f"duplicate key {key!r} (first at line {first[key]}); YAML would keep only the last"
                problems.append(Problem(source, line, format_path((*loc, key)), message))
            else:
                first[key] = line
            lines.setdefault((*loc, key), line)
            _map_lines(loader, value_node, (*loc, key), lines, problems, source, active)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _map_lines(loader, item, (*loc, i), lines, problems, source, active)
    active.discard(id(node))


def _yaml_problem(exc: yaml.MarkedYAMLError, source: str) -> Problem:
    """A parser error in PyYAML's order (context, then problem), on the problem's line."""
    mark = exc.problem_mark or exc.context_mark
    parts = []
    if exc.context:
        where = "" if exc.context_mark is None else f" (line {exc.context_mark.line + 1})"
        parts.append(f"{exc.context}{where}")
    if exc.problem:
        where = "" if exc.problem_mark is None else f" (column {exc.problem_mark.column + 1})"
        parts.append(f"{exc.problem}{where}")
    message = "invalid YAML: " + ": ".join(parts)
    if exc.problem and "'\\t'" in exc.problem:
        message += "; indent with spaces, not tabs"
    elif "block" in f"{exc.problem} {exc.context}":
        message += "; check the indentation"
    return Problem(source, None if mark is None else mark.line + 1, "", message)


# -- overrides ---------------------------------------------------------------------------------------------


def _apply_override(data: dict[Any, Any], override: str) -> tuple[Loc | None, Problem | None]:
    """Set one ``key.path=value`` in ``data``; the key path set, or the problem that stopped it."""
    key, eq, text = override.partition("=")
    key = key.strip()
    if not eq:
        message = f"malformed override {override!r}: no '=' (expected KEY.PATH=VALUE, e.g. run.seed=3)"
        return None, Problem(OVERRIDE_SOURCE, None, "", message)
    try:
        loc = parse_key_path(key)
    except ValueError as exc:
        return None, Problem(OVERRIDE_SOURCE, None, "", f"malformed override {override!r}: {exc}")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = getattr(exc, "problem", None) or exc
        message = f"cannot read the value {text!r} as YAML: {detail}"
        return None, Problem(OVERRIDE_SOURCE, None, key, message)
    container: Any = data
    for i, step in enumerate(loc):
        where = format_path(loc[:i]) or "the top level"
        if isinstance(step, int):
            if not isinstance(container, list):
                message = f"cannot index {where} with [{step}]: it is {_kind(container)}, not a list"
                return None, Problem(OVERRIDE_SOURCE, None, key, message)
            if step >= len(container):
                message = f"index [{step}] is out of range: {where} has {len(container)} item(s)"
                return None, Problem(OVERRIDE_SOURCE, None, key, message)
        elif not isinstance(container, dict):
            message = f"cannot set key {step!r} in {where}: it is {_kind(container)}, not a mapping"
            return None, Problem(OVERRIDE_SOURCE, None, key, message)
        if i == len(loc) - 1:
            container[step] = value
        elif isinstance(step, str) and container.get(step) is None:
            first_index = next((j for j in range(i + 1, len(loc)) if isinstance(loc[j], int)), None)
            if first_index is not None:  # checked before anything is created
                message = f"cannot index into {format_path(loc[:first_index])}: it is not in the config"
                return None, Problem(OVERRIDE_SOURCE, None, key, message)
            container[step] = {}  # create the missing mapping, as writing the key in the file would
            container = container[step]
        else:
            container = container[step]
    return loc, None


def parse_key_path(text: str) -> Loc:
    """``traders[0].params.spread`` as ``('traders', 0, 'params', 'spread')``; ValueError if malformed.

    Keys are separated by dots; ``[N]`` indexes a list (N >= 0); ``['a.b']``
    is a key that contains dots.
    """
    loc: list[str | int] = []
    pos = 0
    while pos < len(text):
        if text[pos] == "[":
            end = text.find("]", pos)
            if end < 0:
                raise ValueError(f"unclosed '[' in {text!r}")
            inner = text[pos + 1 : end]
            if re.fullmatch(r"\d+", inner):
                loc.append(int(inner))
            elif re.fullmatch(r"'[^']*'|\"[^\"]*\"", inner):
                loc.append(inner[1:-1])
            else:
                raise ValueError(f"bad index [{inner}] in {text!r} (expected a list index such as [0])")
            pos = end + 1
            continue
        if loc:
            if text[pos] != ".":
                raise ValueError(f"expected '.' or '[' after {format_path(loc)!r} in {text!r}")
            pos += 1
        match = re.match(r"[^.\[\]]+", text[pos:])
        if match is None:
            raise ValueError(f"empty key in {text!r}")
        loc.append(match.group().strip())
        pos += match.end()
    if not loc:
        raise ValueError("empty key path")
    return tuple(loc)


# -- pydantic errors in the config's terms -----------------------------------------------------------------

_EXPECTED_TYPE = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "an ISO date-time such as 2026-01-05T09:30:00",
    "datetime_parsing": "an ISO date-time such as 2026-01-05T09:30:00",
    "datetime_from_date_parsing": "an ISO date-time such as 2026-01-05T09:30:00",
}


_PYDANTIC_TYPES = frozenset(typing.get_args(ErrorType))


def _problem(
    err: ErrorDetails, data: dict[Any, Any], source: str, lines: dict[Loc, int], set_locs: list[Loc]
) -> Problem:
    loc = tuple(step for step in err["loc"] if step != "[key]")
    path = format_path(loc)
    message = _message(err, data)
    if any(loc[: len(set_loc)] == set_loc for set_loc in set_locs):
        return Problem(OVERRIDE_SOURCE, None, path, message)
    line = None
    for n in range(len(loc), 0, -1):  # the key's own line, else the nearest enclosing key's
        line = lines.get(loc[:n])
        if line is not None:
            break
    return Problem(source, line, path, message)


def _message(err: ErrorDetails, data: dict[Any, Any]) -> str:
    """What was expected and what was given, in the words of the config rather than of pydantic."""
    kind, value, msg = err["type"], err.get("input"), err["msg"]
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "required key missing"
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        expected = _expected_keys(err["loc"][:-1], data)
        hint = ""
        if expected == []:
            hint = " (this trader type takes no params)" if err["loc"][-2:-1] == ("params",) else ""
        elif expected:
            hint = f" (expected one of: {', '.join(expected)}"
            close = difflib.get_close_matches(str(key), expected, n=1)
            hint += f"; did you mean {close[0]!r}?)" if close else ")"
        return f"unknown key {key!r}{hint}"
    if kind in _EXPECTED_TYPE:
        message = f"expected {_EXPECTED_TYPE[kind]}, got {_show(value)}"
        if kind == "string_type" and isinstance(value, bool | int | float):
            message += " (quote it to make it text)"
        return message
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        message = f"expected one of: {', '.join(choices)}; got {_show(value)}"
        close = difflib.get_close_matches(str(value), choices, n=1)
        return message + (f"; did you mean {close[0]!r}?" if close else "")
    if kind == "too_short" and "min_length" in ctx:
        n = ctx["min_length"]
        return f"expected at least {n} item{'s' if n != 1 else ''}, got {ctx.get('actual_length', 0)}"
    if kind == "too_long" and "max_length" in ctx:
        n = ctx["max_length"]
        return f"expected at most {n} item{'s' if n != 1 else ''}, got {ctx.get('actual_length')}"
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    # Pydantic's own messages do not name the value given; ours (custom error types) do, or need not.
    if isinstance(value, dict) and value:  # a check across a whole section: its message says what is wrong
        return msg
    return f"{msg} (got {_show(value)})" if kind in _PYDANTIC_TYPES and "got " not in msg else msg


def _expected_keys(loc: Sequence[str | int], data: Any) -> list[str] | None:
    """The keys the model at ``loc`` accepts (the trader's Params model under ``traders[i].params``)."""
    model: Any = ScenarioConfig
    raw = data
    for step in loc:
        if model is TraderGroupConfig and step == "params":
            try:
                model = resolve_trader(raw["type"]).Params
            except (TraderLookupError, KeyError, TypeError):
                return None
        else:
            model = _step_type(model, step)
        if isinstance(raw, dict):
            raw = raw.get(step)
        else:
            raw = raw[step] if isinstance(raw, list) and isinstance(step, int) and step < len(raw) else None
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [field.alias or name for name, field in model.model_fields.items()]
    return None


def _step_type(tp: Any, step: str | int) -> Any:
    """The type found one step (a field name, list index or dict key) inside the type ``tp``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next((arg for arg in typing.get_args(tp) if arg is not type(None)), None)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(str(step))
        return None if field is None else field.annotation
    args = typing.get_args(tp)
    if typing.get_origin(tp) is list and args:
        return args[0]
    if typing.get_origin(tp) is dict and len(args) == 2:
        return args[1]
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"the value {_show(value)}"


def _show(value: Any) -> str:
    """``value`` as it would read in YAML, shortened to one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, dict | list):
        text = (
            "an empty list"
            if value == []
            else yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
        )
        if value == {}:
            text = "an empty mapping"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
