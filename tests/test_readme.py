"""The README's Python examples run as written, and its table columns are the schema's."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lob.eventlog.schema import TABLES

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # As a user would, from a checkout: relative paths such as configs/calm.yaml resolve,
    # and whatever the example writes lands in a scratch directory.
    for name in ("configs", "examples"):
        os.symlink(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})


YAML_CONFIGS = [b for b in re.findall(r"```yaml\n(.*?)```", TEXT, flags=re.DOTALL) if b.startswith("run:")]


@pytest.mark.parametrize("block", YAML_CONFIGS, ids=[f"yaml{i}" for i in range(len(YAML_CONFIGS))])
def test_readme_config_examples_validate(block: str) -> None:
    from lob.scenario.loader import parse_config

    parse_config(block, "README.md")


@pytest.mark.parametrize("table", sorted(TABLES))
def test_readme_names_every_column(table: str) -> None:
    for column in TABLES[table].names:
        assert f"`{column}`" in TEXT, f"README does not describe {table}.{column}"
