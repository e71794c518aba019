"""The sweep's table: ``results.parquet``, a row per run, rewritten atomically as runs complete.

Columns: ``run_id``, each parameter under its key path, ``seed``,
``status``, ``error``, ``wall_s``, ``worker``, then the metrics of
:data:`lob.sweep.execute.METRICS`. Rows are in the sweep's run order. A
parameter column is int64, float64, bool or string when all its values are;
otherwise each value is written as its YAML text.

Resuming: a row whose ``status`` is ``ok`` is a run that need not run again
(its id hashes the base config, overrides and seed). Failed runs run again.
Rows of runs no longer in the sweep (its grid or base config changed) are
moved to ``results-superseded.parquet`` rather than lost.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lob.errors import LobError
from lob.sweep.execute import METRICS
from lob.sweep.spec import yaml_text

RESULTS = "results.parquet"
SUPERSEDED = "results-superseded.parquet"
_FIXED = {"seed": "int64", "status": "string", "error": "string", "wall_s": "float64", "worker": "string"}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of the table at ``path`` as dicts (missing values as None); [] if there is no file.

    Raises :class:`LobError` if the file is there but is not a results table.
    """
    if not path.exists():
        return []
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise LobError(f"{path}: cannot read the results table: {exc}") from None
    if "run_id" not in frame.columns or "status" not in frame.columns:
        raise LobError(f"{path}: not a sweep results table (no run_id or status column)")
    frame = frame.astype(object).where(frame.notna(), None)
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def table(rows: Iterable[Mapping[str, Any]], param_names: Sequence[str]) -> pd.DataFrame:
    """The rows as a DataFrame with the table's columns, in its order and dtypes. O(rows x columns)."""
    rows = list(rows)
    extra = [c for row in rows for c in row if c not in param_names and c not in _FIXED and c not in METRICS]
    columns = ["run_id", *param_names, *dict.fromkeys(c for c in extra if c != "run_id"), *_FIXED, *METRICS]
    frame = pd.DataFrame.from_records([[row.get(c) for c in columns] for row in rows], columns=columns)
    dtypes = {"run_id": "string", **_FIXED, **METRICS}
    for column in columns:
        if column in dtypes:
            frame[column] = frame[column].astype(dtypes[column])  # type: ignore[call-overload]
        else:
            frame[column] = _parameter_column(frame[column].tolist())
    return frame


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically: a hidden sibling first, renamed over it when complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def supersede(out_dir: Path, rows: list[dict[str, Any]], param_names: Sequence[str]) -> None:
    """Add ``rows`` (runs no longer in the sweep) to ``results-superseded.parquet`` in ``out_dir``."""
    if not rows:
        return
    path = out_dir / SUPERSEDED
    old = read_rows(path)
    known = {row["run_id"] for row in rows}
    kept = [row for row in old if row["run_id"] not in known]
    names = list(dict.fromkeys([*param_names, *(c for row in kept + rows for c in row)]))
    params = [c for c in names if c != "run_id" and c not in _FIXED and c not in METRICS]
    write_table(table(kept + rows, params), path)


def _parameter_column(values: list[Any]) -> pd.Series:
    """One parameter's values as a typed column: int, float, bool or str when all are, else YAML text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="boolean")
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="Int64")
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in present):
        return pd.Series(values, dtype="float64")
    if all(isinstance(v, str) for v in present):
        return pd.Series(values, dtype="string")
    return pd.Series([None if v is None else yaml_text(v) for v in values], dtype="string")


def _plain(value: Any) -> Any:
    """numpy scalars read back from Parquet as Python ones."""
    return value.item() if hasattr(value, "item") and not isinstance(value, list | dict | str) else value
