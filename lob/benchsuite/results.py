"""A benchmark result on disk: JSON, or Parquet with the run's header in the schema metadata.

Both hold the same things: the header (suite, date, commit, lob version,
machine, baseline) and one row per config (:class:`ConfigResult`'s fields).
The format is chosen by the file's extension; a result written in one reads
back equal from the other.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lob.benchsuite.measure import ConfigResult
from lob.errors import LobError

FORMAT = "lob bench"
FORMAT_VERSION = 1
EXTENSIONS = (".json", ".parquet")
_META_KEY = b"lob_bench"  # the Parquet schema metadata key holding the header as JSON
_EXPECTED = "a result written by `lob bench --out FILE.json` or `--out FILE.parquet`"


@dataclass
class SuiteResult:
    """A whole benchmark run: its header and its rows, one per config in suite order.

    ``baseline_cpu_s`` and ``baseline_wall_s`` are the medians of the
    baseline workload's timings (seconds), ``baseline_samples`` those
    timings as ``[wall, cpu]`` pairs; ``speed_threshold`` the growth of
    ``cpu_over_baseline`` (a fraction) past which ``--compare`` calls a
    config slower.
    """

    suite: str
    date: str
    lob_version: str
    git_commit: str | None
    git_dirty: bool | None
    machine: dict[str, Any]
    repeat: int
    baseline_workload: str
    baseline_cpu_s: float
    baseline_wall_s: float
    baseline_samples: list[list[float]]
    speed_threshold: float
    rows: list[ConfigResult] = field(default_factory=list)

    def header(self) -> dict[str, Any]:
        """Everything but the rows, with the format's name and version."""
        out = {"format": FORMAT, "format_version": FORMAT_VERSION}
        out.update({f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "rows"})
        return out


def check_extension(path: Path) -> None:
    """Raises :class:`LobError` unless ``path`` ends in ``.json`` or ``.parquet``."""
    if path.suffix.lower() not in EXTENSIONS:
        got = repr(path.suffix) if path.suffix else "no extension"
        raise LobError(f"{path}: expected a file name ending in .json or .parquet, got {got}")


def write_result(result: SuiteResult, path: Path) -> None:
    """Writes ``result`` to ``path`` as JSON or Parquet, by its extension (parent folders are created)."""
    check_extension(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [dataclasses.asdict(r) for r in result.rows]
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps({**result.header(), "configs": rows}, indent=2) + "\n", encoding="utf-8")
        return
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    columns = {f.name: [row[f.name] for row in rows] for f in dataclasses.fields(ConfigResult)}
    table = pa.table(columns, schema=_arrow_schema(pa))
    table = table.replace_schema_metadata({_META_KEY: json.dumps(result.header()).encode()})
    pq.write_table(table, path)


# Each row field's value type, read off ConfigResult's annotations ("float | None" -> "float").
_ROW_TYPES = {
    f.name: str(f.type).split("|")[0].split("[")[0].strip() for f in dataclasses.fields(ConfigResult)
}
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "list": (list,),
}


def _arrow_schema(pa: Any) -> Any:
    """ConfigResult's fields as Arrow types, so that a column that is all null still has its type."""
    kinds = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "list": pa.list_(pa.string())}
    return pa.schema([pa.field(name, kinds[kind]) for name, kind in _ROW_TYPES.items()])


def read_result(path: Path) -> SuiteResult:
    """The result in ``path`` (JSON or Parquet, by extension).

    Raises :class:`LobError` naming the file and what was expected when it
    is missing, unreadable, or not a ``lob bench`` result of this format version.
    """
    check_extension(path)
    if not path.is_file():
        raise LobError(f"{path}: no such file (expected {_EXPECTED})")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LobError(f"{path}: cannot read it as JSON ({exc}); expected {_EXPECTED}") from None
        if not isinstance(data, dict):
            raise LobError(f"{path}: expected a JSON object ({_EXPECTED}), got {type(data).__name__}")
        header, rows = data, data.get("configs")
    else:
        header, rows = _read_parquet(path)
    return _from_parts(path, header, rows)


def _read_parquet(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise LobError(f"{path}: cannot read it as Parquet ({exc}); expected {_EXPECTED}") from None
    raw = (table.schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise LobError(f"{path}: a Parquet file without lob bench's header metadata; expected {_EXPECTED}")
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LobError(f"{path}: its lob bench header metadata is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise LobError(f"{path}: its lob bench header metadata is not a JSON object")
    return header, table.to_pylist()


def _from_parts(path: Path, header: dict[str, Any], rows: Any) -> SuiteResult:
    """A SuiteResult from a header and rows read from ``path``, checking the shape of both."""
    if header.get("format") != FORMAT:
        raise LobError(f'{path}: not a lob bench result (no "format": "{FORMAT}"); expected {_EXPECTED}')
    if header.get("format_version") != FORMAT_VERSION:
        raise LobError(
            f"{path}: lob bench result format version {header.get('format_version')!r}, "
            f"this lob reads version {FORMAT_VERSION}"
        )
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(SuiteResult):
        if f.name == "rows":
            continue
        if f.name not in header:
            raise LobError(f"{path}: the header has no {f.name!r}; expected {_EXPECTED}")
        kwargs[f.name] = header[f.name]
    base = kwargs["baseline_cpu_s"]
    if isinstance(base, bool) or not isinstance(base, int | float) or not base > 0:
        raise LobError(f"{path}: baseline_cpu_s: expected a positive number of seconds, got {base!r}")
    if not isinstance(rows, list):
        raise LobError(f"{path}: expected a list of configs, got {type(rows).__name__}")
    parsed = []
    for k, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("config"), str):
            raise LobError(f"{path}: configs[{k}] is not a row with a config name")
        missing = sorted(_ROW_TYPES.keys() - row.keys())
        if missing:
            raise LobError(f"{path}: configs[{k}] ({row['config']}) has no {', '.join(missing)}")
        for name, kind in _ROW_TYPES.items():
            value = row[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, _PY_TYPES[kind])):
                raise LobError(
                    f"{path}: configs[{k}] ({row['config']}).{name}: expected {kind} or null, got {value!r}"
                )
        parsed.append(ConfigResult(**{name: row[name] for name in _ROW_TYPES}))
    return SuiteResult(**kwargs, rows=parsed)
