"""Config model of replay-then-intervene: recorded books replayed under the simulated traders."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from lob.scenario.fields import ConfigModel


class BackgroundConfig(ConfigModel):
    """One ``background`` entry: a recorded L2 book fed into an instrument's book (lob.replay.background).

    ``binance`` is the path of a raw Binance USD-M capture (gzip or plain),
    relative to the config file's directory; it must exist.
    """

    binance: str = Field(min_length=1)
    instrument: str | None = None  # default: the first instrument

    _path: Path | None = PrivateAttr(None)

    @field_validator("binance")
    @classmethod
    def _file_exists(cls, text: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        path = Path(text) if base is None else Path(base) / text
        if not path.is_file():
            raise PydanticCustomError(
                "no_such_file",
                "no such file: {path} (a path is relative to the config file)",
                {"path": str(path)},
            )
        return text

    def path(self, base_dir: Path | str | None = None) -> Path:
        """The capture's path, resolved against ``base_dir`` (the config file's directory)."""
        if self._path is not None:
            return self._path
        return Path(self.binance) if base_dir is None else Path(base_dir) / self.binance

    def resolve(self, base_dir: Path | str | None) -> None:
        """Fixes :meth:`path` to the capture as seen from ``base_dir``."""
        self._path = self.path(base_dir)
