"""The "What moves first" section of the run report and of the comparison page.

Cells come from :func:`infodyn.explain.display_rows`, so the pages and ``infodyn explain``
show the same numbers; everything is HTML-escaped and the figure is a base64 data URI.
"""

from __future__ import annotations

import base64
from pathlib import Path

from infodyn._html import escape
from infodyn.explain import DISPLAY_COLUMNS, Explanation, display_rows, finding

__all__ = ["EXPLAIN_CAPTION", "explain_section"]

#: How the table was computed, under the heading.
EXPLAIN_CAPTION = (
    "Each scalar series' transition on the log-step axis: start, middle and end at 10 %, 50 % "
    "and 90 % of its largest sustained change (for a bump such as grokking's test loss, the "
    "change it keeps), ranked by how many steps its middle precedes the reference's "
    "(lead > 0: it moves first); lead × is the same gap as a ratio of steps, Spearman the rank "
    "correlation with the reference over shared steps, change / noise the confidence. Across "
    "seeds: mean ± sample std, and the seeds in which it leads. See docs/explain.md."
)


def _rows_table(rows: list[tuple[str, ...]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in DISPLAY_COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(c)}</td>"
            if i in (1, 2)
            else f"<td class='num' style='white-space:nowrap'>{escape(c)}</td>"
            for i, c in enumerate(cells)
        )
        + "</tr>"
        for cells in rows
    )
    return (
        f"<div style='overflow-x:auto'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def explain_section(explanation: Explanation, figure: Path | None, *, heading: str = "h2") -> str:
    """The section's HTML: per group a one-line finding and the ranked table, then the figure.

    Args:
        explanation: From :func:`infodyn.explain.explain_groups`.
        figure: The timeline PNG to embed, or None.
        heading: The tag of the section heading (``h2``); groups get the next level.
    """
    sub = "h3" if heading == "h2" else "h4"
    ref = explanation.reference
    if ref is None:
        note = (
            f"<p class='sub'>No run records the reference {escape(explanation.reference_text)}:"
            " transitions without leads.</p>"
        )
    else:
        note = ""
    parts = [f"<{heading}>What moves first</{heading}>", f"<p class='sub'>{EXPLAIN_CAPTION}</p>"]
    parts.append(note)
    several = len(explanation.groups) > 1
    for group in explanation.groups:
        if several:
            parts.append(f"<{sub}>{escape(group.label)} ({len(group.runs)} runs)</{sub}>")
        ref_row = next((r for r in group.rows if r.is_reference), None)
        leaders = [r for r in group.rows if r.paired and not r.is_reference and r.lead_steps > 0]
        if leaders:
            parts.append(f"<p>First mover: {escape(finding(leaders[0], ref_row))}.</p>")
        parts.append(_rows_table(display_rows(group.rows)))
    if figure is not None and figure.is_file():
        data = base64.b64encode(figure.read_bytes()).decode("ascii")
        caption = (
            "Transition windows (bar: 10–90 %, dot: middle, error bars: ± std over seeds) on the "
            "log-step axis; the reference's middle dashed and its window shaded."
        )
        parts.append(
            f"<figure><img src='data:image/png;base64,{data}' alt='timeline of transitions'>"
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    return "".join(parts)
