"""Pieces shared by infodyn's self-contained HTML pages (run report, comparison)."""

from __future__ import annotations

import html
import json
from typing import Any

__all__ = ["PAGE_CSS", "escape"]

#: The look of every page: inline, so a page can be mailed or archived alone.
PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.92em; }
th, td { text-align: left; padding: 0.25em 0.9em 0.25em 0; vertical-align: top; }
th { font-weight: 600; color: #444; }
tr + tr td, tr + tr th { border-top: 1px solid #f0f0f0; }
td.num { font-variant-numeric: tabular-nums; }
code { font-size: 0.95em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.3em; }
"""


def escape(value: Any) -> str:
    """Escape any value for HTML; non-strings are shown as JSON (lists, bools, null)."""
    if not isinstance(value, str):
        try:
            value = json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
    return html.escape(value, quote=True)
