"""The page around the charts: BokehJS inlined, sections of charts, notes and tables; written atomically.

The page loads nothing: BokehJS (about 1.3 MB) is copied into it from the
installed bokeh (:data:`bokeh.resources.INLINE`), and the charts' data is
in it as compressed base64 arrays, so it opens offline and can be mailed.
"""

from __future__ import annotations

import html
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lob.errors import LobError

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #ddd; }
p.meta { color: #555; margin-top: 0; }
p.note { color: #666; font-style: italic; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.4em 0 1em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
details summary { cursor: pointer; color: #444; margin: 0.5em 0; }
.chart { margin-bottom: 0.5em; }
"""


@dataclass
class Section:
    """A heading, then charts (Bokeh models), notes (plain text) and raw HTML blocks, in that order."""

    title: str
    charts: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    html_blocks: list[str] = field(default_factory=list)


def render_page(title: str, meta: str, sections: list[Section]) -> str:
    """The whole page as one string; all charts are in one Bokeh document, so shared ranges work.

    ``html_blocks`` are inserted as given (build them with
    :func:`lob.report.tables.html_table`, which escapes); titles, ``meta``
    and notes are escaped here.
    """
    from bokeh.embed import components
    from bokeh.resources import INLINE

    models = {f"c{i}_{j}": chart for i, s in enumerate(sections) for j, chart in enumerate(s.charts)}
    script, divs = components(models) if models else ("", {})
    # Only BokehJS's core: no widgets, tables, WebGL or MathJax are used, and each would add 0.2-1.8 MB.
    resources = INLINE.clone(components=["bokeh"])
    body = []
    for i, s in enumerate(sections):
        body.append(f"<h2>{html.escape(s.title)}</h2>")
        body += [f'<div class="chart">{divs[f"c{i}_{j}"]}</div>' for j in range(len(s.charts))]
        body += [f'<p class="note">{html.escape(n)}</p>' for n in s.notes]
        body += s.html_blocks
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_STYLE}</style>",
            resources.render_js(),
            resources.render_css(),
            "</head>",
            "<body>",
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">{html.escape(meta)}</p>',
            *body,
            script,
            "</body>",
            "</html>",
            "",
        ]
    )


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a hidden temporary file beside it, renamed into place.

    A reader sees the old file or the whole new one, never a part; on any
    error the temporary file is removed. Raises :class:`~lob.errors.LobError`
    if the directory is missing or not writable.
    """
    if not path.parent.is_dir():
        raise LobError(f"{path}: cannot write the report: directory {path.parent} does not exist")
    tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(4)}"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LobError(f"{path}: cannot write the report: {e.strerror or e}") from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
