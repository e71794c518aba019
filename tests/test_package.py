"""The package's public surface: the compiled book, the version and the names in __all__."""

from __future__ import annotations

import importlib.machinery

import lob
import lob.core
import lob.core.book


def test_lob_exposes_the_compiled_book() -> None:
    assert lob.OrderBook is lob.core.book.OrderBook
    assert lob.core.book.__file__ is not None
    assert lob.core.book.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_version_is_the_package_version() -> None:
    from importlib.metadata import version

    assert lob.__version__ == version("lob")


def test_all_names_exist() -> None:
    for module in (lob, lob.core):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
