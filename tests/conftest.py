"""Shared fixtures: both book implementations, and the size of the differential run."""

from __future__ import annotations

import importlib
import os

import pytest

BOOK_CLASSES = {
    "reference": ("lob.core.reference", "ReferenceBook"),
    "compiled": ("lob.core.book", "OrderBook"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--diff-commands",
        type=int,
        default=None,
        help="commands in the seeded differential run (default 200000; env LOB_DIFF_COMMANDS)",
    )


@pytest.fixture(scope="session")
def diff_commands(request: pytest.FixtureRequest) -> int:
    """How many seeded commands the differential test pushes through both books."""
    opt = request.config.getoption("--diff-commands")
    if opt is not None:
        return int(opt)
    return int(os.environ.get("LOB_DIFF_COMMANDS", "200000"))


def _load(name: str) -> type:
    module, attr = BOOK_CLASSES[name]
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


@pytest.fixture(params=sorted(BOOK_CLASSES))
def book_cls(request: pytest.FixtureRequest) -> type:
    """Each book class in turn: every unit test runs on both implementations."""
    return _load(request.param)


@pytest.fixture
def book(book_cls: type) -> object:
    return book_cls()
