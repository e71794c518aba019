"""docs/config.md and docs/traders.md stay in step with the code.

A config field, a built-in trader, a trader parameter or a public Trader
method that the pages do not document fails here; so does an example in them
that no longer validates or no longer prints what the page says it prints.
"""

from __future__ import annotations

import itertools
import re
import shlex
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from lob.agents.base import Trader
from lob.agents.registry import BUILTIN_TRADERS, resolve_trader
from lob.cli import main
from lob.scenario.config import ScenarioConfig
from lob.scenario.loader import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent
CONFIG_MD = ROOT / "docs" / "config.md"
TRADERS_MD = ROOT / "docs" / "traders.md"
DOCS = (CONFIG_MD, TRADERS_MD)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def fenced_blocks(text: str, lang: str) -> list[str]:
    """The bodies of the ```lang fenced blocks of ``text``."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def table_keys(text: str) -> list[set[str]]:
    """Per markdown table in ``text``: the names its rows document (backticked, first cell).

    A first cell may name several (``| `order_id`, `side` |``) or a call
    (``| `wait(ns)` |``); each backticked span counts by its leading identifier.
    """
    tables: list[set[str]] = []
    current: set[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        if current is None:
            current = set()
            tables.append(current)
        first_cell = line.split("|")[1]
        current.update(re.findall(r"`(?:self\.)?([A-Za-z_]\w*)", first_cell))
    return tables


def section(text: str, name: str) -> str:
    """The section under the one heading that shows ``name`` in backticks, up to the next heading as high."""
    headings = [m for m in re.finditer(r"^(#+) (.*)$", text, flags=re.MULTILINE) if f"`{name}`" in m.group(2)]
    assert len(headings) == 1, f"expected one heading with `{name}`, found {len(headings)}"
    start = headings[0]
    level = len(start.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", flags=re.MULTILINE).search(text, start.end())
    return text[start.start() : end.start() if end else len(text)]


# -- config.md ---------------------------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds, through Annotated, unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]  # the type, not its metadata
    return [model for arg in args for model in _models_in(arg)]


def config_models() -> dict[type[BaseModel], str]:
    """Every model reachable from ScenarioConfig, with the first key path it is found at."""
    found: dict[type[BaseModel], str] = {}
    queue: list[tuple[type[BaseModel], str]] = [(ScenarioConfig, "")]
    while queue:
        model, path = queue.pop(0)
        if model in found:
            continue
        found[model] = path or "(top level)"
        for name, field in model.model_fields.items():
            queue.extend((sub, f"{path}.{name}".lstrip(".")) for sub in _models_in(field.annotation))
    return found


MODELS = config_models()


def test_the_walk_finds_the_nested_models() -> None:
    names = {model.__name__ for model in MODELS}
    assert {"RunConfig", "LatencyConfig", "FeesConfig", "ShockConfig", "OutputsConfig"} <= names


@pytest.mark.parametrize("model", list(MODELS), ids=[model.__name__ for model in MODELS])
def test_every_config_field_has_a_row(model: type[BaseModel]) -> None:
    # One table must document the whole model: a field added to it needs a row there.
    fields = set(model.model_fields)
    tables = table_keys(_text(CONFIG_MD))
    best = max(tables, key=lambda keys: len(fields & keys))
    missing = sorted(fields - best)
    assert not missing, (
        f"docs/config.md: no table documents every field of {model.__name__} "
        f"(at {MODELS[model]}); missing rows for {missing}"
    )


def test_every_top_level_section_has_a_heading() -> None:
    text = _text(CONFIG_MD)
    for name in ScenarioConfig.model_fields:
        assert re.search(rf"^## `{name}`$", text, flags=re.MULTILINE), f"no '## `{name}`' heading"


# -- traders.md --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("short", list(BUILTIN_TRADERS))
def test_every_builtin_trader_has_a_section_with_its_params(short: str) -> None:
    cls = resolve_trader(short)
    text = section(_text(TRADERS_MD), short)
    assert cls.__name__ in text.splitlines()[0], f"the `{short}` heading should name {cls.__name__}"
    documented = set().union(*table_keys(text))
    missing = sorted(set(cls.Params.model_fields) - documented)
    assert not missing, f"docs/traders.md, section `{short}`: no rows for {cls.__name__}.Params {missing}"


TRADER_API = [name for name in dir(Trader) if not name.startswith("_")]


@pytest.mark.parametrize("name", TRADER_API)
def test_every_public_trader_member_is_documented(name: str) -> None:
    assert re.search(rf"`(?:self\.)?{name}\b", _text(TRADERS_MD)), f"Trader.{name} is not in docs/traders.md"


def test_python_examples_define_traders(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = fenced_blocks(_text(TRADERS_MD), "python")
    assert blocks
    for i, block in enumerate(blocks):
        # A real module, as a user's file would be: pydantic resolves the annotations in its namespace.
        module = types.ModuleType(f"docs_traders_example_{i}")
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(block, str(TRADERS_MD), "exec"), module.__dict__)
        traders = [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, Trader) and value is not Trader
        ]
        assert traders, f"python block {i} of docs/traders.md defines no Trader subclass"
        for cls in traders:
            cls.Params()  # its defaults alone are a valid parameter set


# -- YAML examples -----------------------------------------------------------------------------------------

YAML_BLOCKS = [(doc, i, block) for doc in DOCS for i, block in enumerate(fenced_blocks(_text(doc), "yaml"))]


@pytest.mark.parametrize(
    ("doc", "index", "block"), YAML_BLOCKS, ids=[f"{doc.name}-{i}" for doc, i, _ in YAML_BLOCKS]
)
def test_yaml_examples_are_valid(doc: Path, index: int, block: str) -> None:
    data = yaml.safe_load(block)
    assert isinstance(data, dict), f"{doc.name} yaml block {index} is not a mapping"
    if "run" in data:  # a whole config
        parse_config(block, source=f"<{doc.name} yaml block {index}>")


def test_each_page_has_a_whole_config_example() -> None:
    for doc in DOCS:
        whole = [block for d, _, block in YAML_BLOCKS if d == doc and re.search(r"^run:", block, re.M)]
        assert whole, f"{doc.name} has no whole-config yaml example"


# -- console examples in config.md -------------------------------------------------------------------------


def _sed(text: str, script_args: list[str]) -> str:
    """What ``sed -e 's/A/B/' ...`` makes of ``text``: each script replaces a first match per line."""
    scripts = [arg for flag, arg in itertools.pairwise(script_args) if flag == "-e"]
    lines = text.splitlines(keepends=True)
    for script in scripts:
        match = re.fullmatch(r"s/([^/]*)/([^/]*)/", script)
        assert match, f"only s/A/B/ scripts are supported, got {script!r}"
        lines = [re.sub(match.group(1), match.group(2), line, count=1) for line in lines]
    return "".join(lines)


def console_examples() -> list[tuple[list[list[str]], list[str]]]:
    """Each console block of config.md: its commands (split as the shell would) and its output lines."""
    out = []
    for block in fenced_blocks(_text(CONFIG_MD), "console"):
        lines = block.splitlines()
        commands = [shlex.split(line[2:]) for line in lines if line.startswith("$ ")]
        output = [line for line in lines if line and not line.startswith("$ ")]
        out.append((commands, output))
    return out


def _overrides(args: list[str]) -> list[str]:
    return [value for flag, value in itertools.pairwise(args) if flag == "--set"]


ERROR_EXAMPLES = [(c, o) for c, o in console_examples() if any(cmd[:2] == ["lob", "validate"] for cmd in c)]


@pytest.mark.parametrize(
    ("commands", "output"), ERROR_EXAMPLES, ids=[str(i) for i in range(len(ERROR_EXAMPLES))]
)
def test_error_examples_print_what_the_page_says(commands: list[list[str]], output: list[str]) -> None:
    files: dict[str, str] = {}
    for cmd in commands:
        if cmd[0] == "sed":
            source, redirect, target = cmd[-3:]
            assert redirect == ">"
            files[target] = _sed((ROOT / source).read_text(encoding="utf-8"), cmd[1:-3])
        elif cmd[:2] == ["lob", "validate"]:
            path = cmd[2]
            text = files[path] if path in files else (ROOT / path).read_text(encoding="utf-8")
            with pytest.raises(ConfigError) as err:
                parse_config(text, source=path, overrides=_overrides(cmd))
            assert str(err.value).splitlines() == output
        else:
            raise AssertionError(f"unexpected command in a config.md example: {shlex.join(cmd)}")


def test_the_documented_error_examples_exist() -> None:
    assert len(ERROR_EXAMPLES) >= 3


def test_override_examples_are_valid() -> None:
    runs = [cmd for commands, _ in console_examples() for cmd in commands if cmd[:2] == ["lob", "run"]]
    assert runs
    for cmd in runs:
        path = ROOT / cmd[2]
        parse_config(path.read_text(encoding="utf-8"), source=cmd[2], overrides=_overrides(cmd))


def test_valid_config_summary_matches(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _text(CONFIG_MD)
    match = re.search(r"^\$ lob validate (\S+)\n(ok: .*)$", text, flags=re.MULTILINE)
    assert match, "config.md should show the output of validating a good config"
    monkeypatch.chdir(ROOT)
    assert main(["validate", match.group(1)]) == 0
    assert capsys.readouterr().out.strip() == match.group(2)
