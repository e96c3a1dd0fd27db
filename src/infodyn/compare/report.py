"""The comparison page: one self-contained ``compare.html``.

Like the run report (:mod:`infodyn.report`, whose stylesheet it shares) the page has no
JavaScript and no external file: figures are base64 PNG data URIs, the CSS is inline, and
every name or value that came from a config, a summary or a path is HTML-escaped.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from infodyn._html import PAGE_CSS, escape
from infodyn.compare.build import Comparison, GroupResult, series_label
from infodyn.compare.extension import ExperimentPart
from infodyn.compare.figures import BAND_TEXT, CompareFigure, alignment_notes
from infodyn.rundir import atomic_write_text
from infodyn.summary import ComparisonTable

__all__ = ["compare_page", "write_compare_page"]

_CSS = (
    PAGE_CSS
    + """
.wide { overflow-x: auto; }
table.grid th, table.grid td { padding-right: 1.4em; }
table.grid td.num { text-align: right; white-space: nowrap; }
table.grid thead th { border-bottom: 1px solid #ccc; text-align: right; }
table.grid thead th:first-child { text-align: left; }
table.grid.own thead th, table.grid.own td { text-align: left; }
table.grid.own td.short { white-space: nowrap; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px;
          margin-right: 0.4em; vertical-align: -0.1em; }
.step { color: #888; font-size: 0.85em; }
.warn { background: #fff6e0; border-left: 3px solid #e0a000; padding: 0.4em 0.8em; }
ul.notes { color: #555; font-size: 0.92em; }
"""
)


def _hex(rgba: tuple[float, float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


def _group_head(results: Sequence[GroupResult], colors: Sequence[str]) -> str:
    cells = "".join(
        f"<th><span class='swatch' style='background:{c}'></span>{escape(r.group.label)}</th>"
        for r, c in zip(results, colors, strict=True)
    )
    return f"<thead><tr><th></th>{cells}</tr></thead>"


def _grid(head: str, rows: Sequence[tuple[str, Sequence[str]]]) -> str:
    """A table: one row per quantity, one column per group; cells already escaped."""
    if not rows:
        return "<p>(none)</p>"
    body = "".join(
        f"<tr><th>{name}</th>" + "".join(f"<td class='num'>{c}</td>" for c in cells) + "</tr>"
        for name, cells in rows
    )
    return f"<div class='wide'><table class='grid'>{head}<tbody>{body}</tbody></table></div>"


def _headline_rows(comparison: Comparison) -> list[tuple[str, list[str]]]:
    return [
        (escape(h.label), [escape(r.headlines[h.key].text(h.fmt)) for r in comparison.groups])
        for h in comparison.headlines
    ]


def _final_rows(comparison: Comparison) -> list[tuple[str, list[str]]]:
    rows = []
    for key in comparison.series_keys:
        cells = []
        for r in comparison.groups:
            final = r.finals.get(key)
            cells.append(
                f"{escape(final.stats.text())} <span class='step'>@ {final.step:,}</span>"
                if final
                else "— <span class='step'>(not recorded by every run)</span>"
            )
        rows.append((escape(series_label(key)), cells))
    return rows


def _groups_table(comparison: Comparison, colors: Sequence[str]) -> str:
    rows = "".join(
        f"<tr><th><span class='swatch' style='background:{c}'></span>{escape(r.group.label)}</th>"
        f"<td class='num'>{r.n}</td><td>{escape(', '.join(run.name for run in r.group.runs))}</td>"
        f"</tr>"
        for r, c in zip(comparison.groups, colors, strict=True)
    )
    return (
        "<div class='wide'><table><thead><tr><th>group</th><th>runs</th><th>run names</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _skipped(comparison: Comparison) -> str:
    skipped = comparison.loaded.skipped
    if not skipped:
        return ""
    states: dict[str, int] = {}
    for s in skipped:
        states[s.state] = states.get(s.state, 0) + 1
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    items = "".join(
        f"<li><code>{escape(s.name)}</code>: {escape(s.state)}"
        + (f" — {escape(s.error)}" if s.error else "")
        + "</li>"
        for s in skipped
    )
    return (
        f"<p class='warn'>{len(skipped)} sweep run(s) skipped as not finished ({escape(counts)})."
        f"</p><ul class='notes'>{items}</ul>"
    )


def _figures(figures: Sequence[CompareFigure]) -> str:
    parts = []
    for f in figures:
        data = base64.b64encode(f.path.read_bytes()).decode("ascii")
        parts.append(
            f"<figure><img src='data:image/png;base64,{data}' alt='{escape(f.title)}'>"
            f"<figcaption>{escape(f.caption)}</figcaption></figure>"
        )
    return "".join(parts)


# Cells up to this long (a number ± its spread) stay on one line; longer text wraps.
_SHORT_CELL = 32
_SHORT = " class='short'"


def _experiment_table(table: ComparisonTable) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<th>{escape(cell)}</th>"
            if i == 0
            else f"<td{_SHORT if len(cell) <= _SHORT_CELL else ''}>{escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in table.rows
    )
    return (
        f"<h3>{escape(table.title)}</h3><p class='sub'>{escape(table.caption)}</p>"
        f"<div class='wide'><table class='grid own'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table></div>"
    )


def _experiment_section(
    comparison: Comparison, part: ExperimentPart | None, figures: Sequence[CompareFigure]
) -> str:
    """The experiment's own tables, then figures, after the generic content; or its error."""
    if part is None or (not part.summary.tables and not figures and part.error is None):
        return ""
    heading = f"<h2>{escape(comparison.experiment)}: the experiment's own tables and figures</h2>"
    if part.error is not None:
        return (
            f"{heading}<p class='warn'>The experiment's own comparison failed: "
            f"{escape(part.error)}. Everything above is unaffected.</p>"
        )
    tables = "".join(_experiment_table(t) for t in part.summary.tables)
    return f"{heading}{tables}{_figures(figures)}"


def _grouped_by(comparison: Comparison) -> str:
    if not comparison.keys:
        return "one group: the runs' configs differ in nothing but the seed"
    keys = ", ".join(f"<code>{escape(k)}</code>" for k in comparison.keys)
    swept = set(comparison.loaded.swept_keys)
    if not comparison.keys_inferred:
        how = "chosen with --by"
    elif set(comparison.keys) <= swept:
        how = "the swept keys"
    elif swept:
        how = "the swept keys and the config keys that differ between runs, seed aside"
    else:
        how = "the config keys that differ between runs, seed aside"
    return f"grouped by {keys} ({how})"


def compare_page(
    comparison: Comparison,
    figures: Sequence[CompareFigure],
    colors: Sequence[tuple[float, float, float, float]],
    *,
    now: datetime | None = None,
    part: ExperimentPart | None = None,
    experiment_figures: Sequence[CompareFigure] = (),
    explain: str = "",
) -> str:
    """The HTML of the comparison page.

    Args:
        comparison: From :func:`infodyn.compare.build.build_comparison`.
        figures: The PNGs to embed, from :func:`infodyn.compare.figures.draw_comparison_figures`.
        colors: The group colours of the figures (RGBA), for the tables' swatches.
        now: The time written on the page (UTC now by default).
        part: The experiment's own tables (or its error), shown after the final values.
        experiment_figures: The experiment's own PNGs, shown after its tables.
        explain: The "What moves first" section's HTML (:mod:`infodyn.explain_html`), shown
            after the final values.

    Example:
        >>> from infodyn.compare.demo import demo_comparison
        >>> from infodyn.compare.figures import group_colors
        >>> page = compare_page(demo_comparison(), [], group_colors(2))
        >>> "<script" in page, "weight_decay=0.1" in page, "(n=3 of 3)" in page
        (False, True, True)
    """
    swatches = [_hex(c) for c in colors]
    n_runs = sum(r.n for r in comparison.groups)
    title = f"Comparison — {comparison.experiment}"
    when = (now or datetime.now(UTC)).astimezone(UTC)
    notes = alignment_notes(comparison, comparison.series_keys)
    alignment = (
        "<ul class='notes'>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
        if notes
        else "<p>Every run of each group recorded the same steps: nothing was dropped.</p>"
    )
    inputs = "".join(f"<li><code>{escape(str(p))}</code></li>" for p in comparison.loaded.inputs)
    head = _group_head(comparison.groups, swatches)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · infodyn comparison</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">infodyn comparison · {n_runs} runs in {len(comparison.groups)} groups ·
{_grouped_by(comparison)} · {escape(BAND_TEXT[comparison.band])} ·
written {when:%Y-%m-%d %H:%M} UTC</p>
{_skipped(comparison)}
<h2>Groups</h2>
{_groups_table(comparison, swatches)}
<h2>Headlines</h2>
<p class="sub">Mean ± sample std over the group's runs; n counts the runs that reached the value.
</p>
{_grid(head, _headline_rows(comparison))}
<h2>Figures</h2>
{_figures(figures)}
<h2>Final values</h2>
<p class="sub">Mean ± sample std over the group's runs at the last step all of them recorded
(shown after @).</p>
{_grid(head, _final_rows(comparison))}
{explain}
{_experiment_section(comparison, part, experiment_figures)}
<h2>Step alignment</h2>
{alignment}
<h2>Inputs</h2>
<ul>{inputs}</ul>
</body>
</html>
"""


def write_compare_page(
    comparison: Comparison,
    figures: Sequence[CompareFigure],
    colors: Sequence[tuple[float, float, float, float]],
    path: Path,
    *,
    part: ExperimentPart | None = None,
    experiment_figures: Sequence[CompareFigure] = (),
    explain: str = "",
) -> Path:
    """Write :func:`compare_page` to ``path`` atomically and return ``path``."""
    page = compare_page(
        comparison, figures, colors, part=part, experiment_figures=experiment_figures,
        explain=explain,
    )  # fmt: skip
    atomic_write_text(path, page)
    return path
