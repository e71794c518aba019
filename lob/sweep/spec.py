"""The sweep file: a base config, the overrides to vary (a grid, a random sample) and the seeds.

::

    name: leverage                    # optional; default: the file's stem
    base: ../flash_crash.yaml         # the scenario config, relative to this file
    set:                              # optional: overrides every run gets
      run.duration: 20m
    grid:                             # every combination of these values
      open_interest[0].longs.leverage.max: [10, 25, 50, 100]
      traders[0].params.withdraw_vol_bps: [40, 50, 80]
    sample:                           # n random points, each crossed with every grid point
      n: 20
      seed: 1
      params:
        venue.insurance_fund: {log_uniform: [1000, 100000]}
        venue.mark.method: {choice: [median, mid]}
    seeds: [1, 2]                     # or {count: 2, start: 1}; default: the base's run.seed

Keys are the key paths of ``lob run --set``. A run is one parameter set (a
grid point, crossed with a sample point if there is a sample) with one seed;
its overrides are the ``set`` ones, then its parameters, then ``run.seed``.
:func:`load_sweep` checks the file and then loads the base config with the
overrides of every distinct parameter set, so a typo fails before anything
runs, with the sweep file's line.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from lob.scenario.loader import (
    OVERRIDE_SOURCE,
    ConfigError,
    Problem,
    _message,
    _read_yaml,
    format_path,
    parse_config,
    parse_key_path,
)
from lob.seeding import spawn_rng

#: Parameter sets validated one by one against the base; past this many, each key's values one at a time.
VALIDATE_ALL_UP_TO = 256

_DISTRIBUTIONS = ("uniform", "log_uniform", "integers", "choice")
_DISTRIBUTION_HELP = "uniform: [low, high], log_uniform: [low, high], integers: [low, high] or choice: [...]"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Strict):
    """Where a sampled parameter's values come from: exactly one of the four fields.

    ``uniform`` and ``log_uniform`` draw floats in ``[low, high)`` (log-uniform:
    uniform in log, ``low > 0``); ``integers`` draws ints in ``[low, high]``;
    ``choice`` picks one of its values with equal probability.
    """

    uniform: tuple[float, float] | None = None
    log_uniform: tuple[float, float] | None = None
    integers: tuple[int, int] | None = None
    choice: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = [kind for kind in _DISTRIBUTIONS if getattr(self, kind) is not None]
        if len(given) != 1:
            got = f"; got {' and '.join(given)}" if given else ""
            raise ValueError(f"expected exactly one of {_DISTRIBUTION_HELP}{got}")
        bounds = self.uniform or self.log_uniform or self.integers
        if bounds is not None:
            low, high = bounds
            if not math.isfinite(low) or not math.isfinite(high) or low >= high:
                raise ValueError(f"{given[0]}: expected [low, high] with low < high, got [{low}, {high}]")
            if self.log_uniform is not None and low <= 0:
                raise ValueError(f"log_uniform: expected low > 0, got {low}")
        return self

    def draw(self, rng: np.random.Generator, n: int) -> list[Any]:
        """``n`` values as plain Python objects (float, int or the choice's own values). O(n)."""
        if self.uniform is not None:
            return [float(x) for x in rng.uniform(*self.uniform, size=n)]
        if self.log_uniform is not None:
            low, high = self.log_uniform
            return [float(x) for x in np.exp(rng.uniform(math.log(low), math.log(high), size=n))]
        if self.integers is not None:
            low, high = self.integers
            return [int(x) for x in rng.integers(low, high, size=n, endpoint=True)]
        assert self.choice is not None  # exactly one kind is set (validated)
        return [self.choice[int(k)] for k in rng.integers(len(self.choice), size=n)]


class Sample(_Strict):
    """``n`` random parameter sets drawn from ``params``; each key has its own stream seeded by ``seed``."""

    n: int = Field(gt=0)
    seed: int = Field(default=0, ge=0)
    params: dict[str, Distribution] = Field(min_length=1)


class SweepSpec(_Strict):
    """The sweep file as written (see the module docstring)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] | None = None
    base: str
    overrides: dict[str, Any] = Field(default_factory=dict, alias="set")
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    sample: Sample | None = None
    seeds: list[Annotated[int, Field(ge=0)]] | None = Field(default=None, min_length=1)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_range(cls, value: Any) -> Any:
        """``{count: N, start: S}`` as the list ``[S, ..., S + N - 1]``."""
        if not isinstance(value, dict):
            return value
        unknown = sorted(str(k) for k in value if k not in ("count", "start"))
        if unknown:
            raise ValueError(f"unknown key {unknown[0]!r} (expected a list of seeds, or count and start)")
        count, start = value.get("count"), value.get("start", 1)
        for key, number, least in (("count", count, 1), ("start", start, 0)):
            if not isinstance(number, int) or isinstance(number, bool) or number < least:
                raise ValueError(f"{key}: expected an integer >= {least}, got {number!r}")
        assert isinstance(count, int) and isinstance(start, int)
        return list(range(start, start + count))


@dataclass(frozen=True)
class Run:
    """One run of a sweep: a parameter set and a seed.

    ``params`` maps each varied key path to its value; ``overrides`` are the
    ``key.path=value`` strings the run applies to the base config (the fixed
    ones, then the parameters), before ``run.seed``; ``run_id`` is
    :func:`run_id` of the base's text, the overrides and the seed.
    """

    run_id: str
    params: dict[str, Any]
    seed: int
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Sweep:
    """A checked sweep file: where its base config is, that config's text, and the runs, in order."""

    name: str
    path: Path
    base: Path
    base_text: str
    spec: SweepSpec
    param_names: tuple[str, ...]
    runs: tuple[Run, ...]

    @property
    def parameter_sets(self) -> int:
        """Distinct parameter sets (runs per seed)."""
        return len({run.overrides for run in self.runs})


# -- public API --------------------------------------------------------------------------------------------


def load_sweep(path: str | Path, *, check_base: bool = True) -> Sweep:
    """Read and check the sweep file at ``path``; raises :class:`ConfigError` naming the file, line and key.

    With ``check_base`` (the default) the base config is also loaded with
    the overrides of every distinct parameter set (up to
    :data:`VALIDATE_ALL_UP_TO`; past that, each key's distinct values one at
    a time), about 10 ms each for ``configs/flash_crash.yaml``.
    """
    source = str(path)
    text = _read_text(Path(path), source, "a sweep file")
    spec, lines = _parse_spec(text, source)
    base = Path(os.path.normpath(Path(path).parent / spec.base))
    base_line = lines.get(("base",))
    base_text = _read_text(base, source, "the base config", line=base_line, key="base")
    params = _param_keys(spec, lines, source)
    seeds = spec.seeds if spec.seeds is not None else [_base_seed(base_text, base)]
    fixed = [_override(key, value) for key, value in spec.overrides.items()]
    runs: dict[str, Run] = {}  # a sample may draw a parameter set twice: the run is kept once
    for param_set in _parameter_sets(spec):
        for seed in seeds:
            overrides = (*fixed, *(_override(k, v) for k, v in param_set.items()))
            rid = run_id(base_text, overrides, seed)
            runs.setdefault(rid, Run(rid, dict(param_set), seed, overrides))
    sweep = Sweep(
        name=spec.name or Path(path).stem,
        path=Path(path),
        base=base,
        base_text=base_text,
        spec=spec,
        param_names=tuple(params),
        runs=tuple(runs.values()),
    )
    if check_base:
        check_against_base(sweep, lines)
    return sweep


def run_id(base_text: str, overrides: Sequence[str], seed: int) -> str:
    """16 hex digits naming a run: SHA-256 of the base config's text, the overrides in order, and the seed.

    A changed base config (even a comment) changes every id: a sweep run
    again after that runs everything again.

    >>> run_id("run: {duration: 1m}", ["run.duration=30s"], 1)
    'f6040b7236952960'
    """
    blob = json.dumps([base_text, list(overrides), seed], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def yaml_text(value: Any) -> str:
    """``value`` as YAML flow text that reads back as the same value (the VALUE of ``key=VALUE``).

    >>> [yaml_text(v) for v in (1, 0.5, 1e-05, "20m", True, None, [1, "a"], {"base": "1ms"})]
    ['1', '0.5', '1.0e-05', '"20m"', 'true', 'null', '[1, "a"]', '{"base": "1ms"}']
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        text = repr(value)
        # PyYAML (YAML 1.1) reads 1e-05 as a string: its floats need a '.' and a signed exponent.
        mantissa, e, exponent = text.partition("e")
        if e:
            mantissa += "" if "." in mantissa else ".0"
            exponent = exponent if exponent[0] in "+-" else "+" + exponent
            text = f"{mantissa}e{exponent}"
        return text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {yaml_text(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as a YAML value")


def check_against_base(sweep: Sweep, lines: dict[tuple[str | int, ...], int] | None = None) -> None:
    """Load the base config alone, then with the overrides of each distinct parameter set.

    Raises :class:`ConfigError`: the base file's own problems with its
    lines (and nothing more); else every problem the overrides cause, each
    once, on the sweep file's line of its key (``lines``, from the sweep
    file; without them, no line).
    """
    lines = lines if lines is not None else {}
    source = str(sweep.path)
    sections = {key: "set" for key in sweep.spec.overrides}
    sections.update({key: "grid" for key in sweep.spec.grid})
    if sweep.spec.sample is not None:
        sections.update({key: "sample" for key in sweep.spec.sample.params})
    try:
        parse_config(sweep.base_text, source=str(sweep.base))
    except ConfigError:
        if not sweep.spec.overrides:  # else the fixed overrides may be what the base needs
            raise
    distinct = list(dict.fromkeys(run.overrides for run in sweep.runs))
    if len(distinct) > VALIDATE_ALL_UP_TO:
        fixed = [_override(k, v) for k, v in sweep.spec.overrides.items()]
        distinct = _one_at_a_time(sweep, fixed)
    problems: dict[Problem, None] = {}
    for overrides in distinct:
        problems.update(dict.fromkeys(_base_problems(sweep, list(overrides), sections, source, lines)))
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))


# -- the sweep file ----------------------------------------------------------------------------------------


def _read_text(file: Path, source: str, what: str, *, line: int | None = None, key: str = "") -> str:
    """The UTF-8 text of ``file``; ConfigError at ``source`` (``line``, ``key``) if it cannot be read."""
    where = f"{what} {str(file)!r}: " if key else ""
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        message = f"{where}no such file"
    except IsADirectoryError:
        message = f"{where}is a directory, expected a YAML file"
    except UnicodeDecodeError as exc:
        message = f"{where}cannot read: not UTF-8 text (byte {exc.start}: {exc.reason})"
    except OSError as exc:
        message = f"{where}cannot read: {exc.strerror or exc}"
    raise ConfigError([Problem(source, line, key, message)])


_SWEEP_KEYS = ", ".join(field.alias or name for name, field in SweepSpec.model_fields.items())


def _parse_spec(text: str, source: str) -> tuple[SweepSpec, dict[tuple[str | int, ...], int]]:
    """The validated spec and the line of every key; ConfigError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = {}  # _read_yaml reports it, with its line
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError(
            [Problem(source, None, "", f"expected a mapping with the keys {_SWEEP_KEYS}, got {got}")]
        )
    try:
        document = _read_yaml(text, source)
    except ConfigError as exc:
        hint = "; quote a key path with [..] inside {...}, or write the mapping in block style"
        if "flow" in str(exc) and "got '['" in str(exc):
            raise ConfigError([p._replace(message=p.message + hint) for p in exc.problems]) from None
        raise
    problems = list(document.problems)
    spec = None
    try:
        spec = SweepSpec.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(_problem(err, source, document.lines) for err in exc.errors())
    if problems or spec is None:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return spec, document.lines


def _problem(err: ErrorDetails, source: str, lines: dict[tuple[str | int, ...], int]) -> Problem:
    """A pydantic error as a Problem on the key's line, in the sweep file's terms."""
    loc = tuple(step for step in err["loc"] if step != "[key]")
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    path = _sweep_path(loc)
    if err["type"] == "extra_forbidden":
        expected = _expected_keys(loc[:-1])
        return Problem(
            source, line, path, f"unknown key {loc[-1]!r} (expected one of: {', '.join(expected)})"
        )
    return Problem(source, line, path, _message(err, {}))


def _sweep_path(loc: Sequence[str | int]) -> str:
    """A location in the sweep file; a key under grid, set or sample.params is a key path, quoted whole."""
    for n in range(1, len(loc)):
        if loc[n - 1] in ("grid", "set", "params") and isinstance(loc[n], str):
            rest = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in loc[n + 1 :])
            return f"{format_path(loc[:n])}[{loc[n]!r}]{rest}"
    return format_path(loc)


def _keyed(section: str, key: str) -> str:
    """How a problem names the key ``key`` of ``section``: ``grid['traders[0].params.size']``."""
    return f"{'sample.params' if section == 'sample' else section}[{key!r}]"


def _expected_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys the sweep file accepts at ``loc`` (a mapping in it)."""
    if not loc:
        model: type[BaseModel] = SweepSpec
    elif loc[0] == "sample" and len(loc) == 1:
        model = Sample
    else:
        model = Distribution
    return [field.alias or name for name, field in model.model_fields.items()]


def _param_keys(spec: SweepSpec, lines: dict[tuple[str | int, ...], int], source: str) -> list[str]:
    """The varied key paths, grid then sample; ConfigError for a malformed, repeated or reserved one."""
    problems: list[Problem] = []
    seen: dict[tuple[str | int, ...], str] = {}
    sections: list[tuple[str, Sequence[str], tuple[str, ...]]] = [
        ("set", list(spec.overrides), ("set",)),
        ("grid", list(spec.grid), ("grid",)),
    ]
    if spec.sample is not None:
        sections.append(("sample", list(spec.sample.params), ("sample", "params")))
    params: list[str] = []
    for section, keys, at in sections:
        for key in keys:
            line = lines.get((*at, key))
            try:
                loc = parse_key_path(key)
            except ValueError as exc:
                problems.append(Problem(source, line, _keyed(section, key), f"malformed key path: {exc}"))
                continue
            where = _keyed(section, key)
            if loc == ("run", "seed"):
                problems.append(
                    Problem(source, line, where, "the seed is set by seeds: (a list, or count and start)")
                )
            elif loc in seen:
                problems.append(
                    Problem(source, line, where, f"{format_path(loc)} is already set in {seen[loc]}")
                )
            elif (clash := next((s for s in seen if _nested(s, loc)), None)) is not None:
                message = f"{format_path(loc)} overlaps {format_path(clash)} in {seen[clash]}"
                problems.append(Problem(source, line, where, message))
            else:
                seen[loc] = section
                if section != "set":
                    params.append(key)
    if problems:
        raise ConfigError(problems)
    return params


def _nested(a: tuple[str | int, ...], b: tuple[str | int, ...]) -> bool:
    """One key path inside the other (``venue.mark`` and ``venue.mark.interval``)."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _override(key: str, value: Any) -> str:
    return f"{key}={yaml_text(value)}"


def _parameter_sets(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every grid point (in the file's order, the last key varying fastest) with every sample point."""
    keys = list(spec.grid)
    grid = [dict(zip(keys, values, strict=True)) for values in itertools.product(*spec.grid.values())]
    if spec.sample is None:
        return grid
    n = spec.sample.n
    # Each key its own stream: adding a parameter to the sample does not change the others' draws.
    columns = {
        key: dist.draw(spawn_rng(spec.sample.seed, f"sweep:{key}"), n)
        for key, dist in spec.sample.params.items()
    }
    points = [{key: column[i] for key, column in columns.items()} for i in range(n)]
    return [{**g, **p} for g in grid for p in points]


def _base_seed(base_text: str, base: Path) -> int:
    """The base config's ``run.seed`` (validated elsewhere; 1 if it cannot be read here)."""
    try:
        return parse_config(base_text, source=str(base)).run.seed
    except ConfigError:
        return 1  # the base is checked, with its problems, by check_against_base


# -- the base config under the overrides -------------------------------------------------------------------


def _one_at_a_time(sweep: Sweep, fixed: list[str]) -> list[tuple[str, ...]]:
    """The first parameter set, then each key's distinct values (at most 16: the extremes) with it."""
    first = sweep.runs[0].params
    out: list[tuple[str, ...]] = []
    for key in sweep.param_names:
        values: dict[str, Any] = {}
        for run in sweep.runs:
            values.setdefault(yaml_text(run.params[key]), run.params[key])
        chosen = list(values.values())
        if len(chosen) > 16 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in chosen):
            chosen = [min(chosen), max(chosen)]
        for value in chosen:
            param_set = {**first, key: value}
            out.append((*fixed, *(_override(k, v) for k, v in param_set.items())))
    return out


def _base_problems(
    sweep: Sweep,
    overrides: list[str],
    sections: dict[str, str],
    source: str,
    lines: dict[tuple[str | int, ...], int],
) -> list[Problem]:
    """parse_config of the base with ``overrides``: its problems, on the sweep file's lines.

    A problem at or under an override's key path, or at a mapping holding it
    (a check across fields), is put on that key's line in the sweep file;
    any other is the base config's, quoted with the overrides in force.
    """
    try:
        parse_config(sweep.base_text, source=str(sweep.base), overrides=overrides)
    except ConfigError as exc:
        found = exc.problems
    else:
        return []
    paths = {format_path(parse_key_path(key)): key for key in sections}
    values = {o.partition("=")[0]: o.partition("=")[2] for o in overrides}
    problems = []
    for p in found:
        key = next((k for path, k in paths.items() if _within(p.path, path)), None)
        if key is None and p.path:
            key = next((k for path, k in paths.items() if _within(path, p.path)), None)
        if key is None or key not in values:
            first = next(iter(sections), None)
            line = lines.get((*_section_loc(sections[first]), first)) if first else None
            problems.append(Problem(source, line, "", f"with {', '.join(overrides)}: {p}"))
            continue
        line = lines.get((*_section_loc(sections[key]), key))
        if p.source == OVERRIDE_SOURCE:
            what = p.message
        elif p.message.startswith("unknown key"):  # a key the override added: the base has no line of it
            what = f"{p.path}: {p.message}"
        else:  # a check across fields of the base, at a mapping that holds the key
            what = str(p)
        problems.append(Problem(source, line, _keyed(sections[key], key), f"{values[key]}: {what}"))
    return problems


def _within(path: str, outer: str) -> bool:
    """Key path ``path`` is ``outer`` or inside it."""
    return path == outer or path.startswith((outer + ".", outer + "["))


def _section_loc(section: str) -> tuple[str, ...]:
    return ("sample", "params") if section == "sample" else (section,)
