"""The error a broken replay file raises: it names the file, the line and what was expected."""

from __future__ import annotations

from pathlib import Path

from lob.errors import LobError


class ReplayError(LobError, ValueError):
    """Input a replay cannot use. ``str()`` is ``FILE:LINE: message`` (``FILE: message`` without a line)."""

    def __init__(self, path: Path | str, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        super().__init__(f"{where}: {message}")
