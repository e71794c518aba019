"""The run directory's names and rules that need no Arrow: checked before a run, used by writer and reader.

Kept apart from :mod:`lob.eventlog.writer` so that a simulation can check its
output directory, and write JSON, without importing pyarrow (about 40 MB of
resident memory) until it writes its tables.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lob.errors import LobError

#: Version of the run directory's layout (tables, columns, manifest keys); bump on any change.
SCHEMA_VERSION = 3

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"


class RunDirExistsError(LobError):
    """The run directory already exists and replacing it was not asked for."""


def _jsonable(value: Any) -> Any:
    """``value`` with numpy scalars made Python, tuples made lists, NaN and infinities made None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    raise TypeError(f"cannot write a {type(value).__name__} to JSON: {value!r}")


def dumps_json(value: Any) -> str:
    """The run directory's JSON form: sorted keys, indent 2, trailing newline, null for NaN."""
    return json.dumps(_jsonable(value), sort_keys=True, indent=2, allow_nan=False) + "\n"


def absolute(out_dir: Path | str) -> Path:
    return Path(os.path.abspath(out_dir))


def check_replaceable(out_dir: Path) -> None:
    """Refuse to delete anything that is not a run directory, even when asked to replace it."""
    if not out_dir.is_dir():
        raise LobError(f"{out_dir} exists and is not a directory; not replacing it")
    if not (out_dir / MANIFEST_FILE).is_file() and any(out_dir.iterdir()):
        raise LobError(
            f"{out_dir} exists and is not a run directory (no {MANIFEST_FILE}); not replacing it with --force"
        )


def check_writable(out_dir: Path | str, force: bool = False) -> None:
    """Fail now, before a long run, if :func:`write_run` could not write ``out_dir``.

    Raises :class:`RunDirExistsError` if ``out_dir`` exists and not ``force``;
    :class:`~lob.errors.LobError` if it exists but is not a run directory (or
    an empty one), or if its parent cannot be created or written. Creates the
    parent directory if it is missing.
    """
    out_dir = absolute(out_dir)
    if out_dir.exists() or out_dir.is_symlink():
        if not force:
            raise RunDirExistsError(f"run directory {out_dir} already exists; use --force to replace it")
        check_replaceable(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        probe = out_dir.parent / f".{out_dir.name}.probe-{secrets.token_hex(4)}"
        probe.mkdir()
        probe.rmdir()
    except OSError as e:
        raise LobError(f"cannot write run directory {out_dir}: {e.strerror or e}") from e
