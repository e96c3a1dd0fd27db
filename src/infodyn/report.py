"""One self-contained HTML page per run: summary, config, software versions, figures.

The page has no external files and no JavaScript: figures are embedded as base64 PNG data
URIs and the CSS is inline, so it can be mailed or archived alone. Everything taken from the
config or the store is HTML-escaped.
"""

from __future__ import annotations

import base64
import importlib.metadata
import math
import platform
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infodyn._html import PAGE_CSS, escape
from infodyn.explain import TIMELINE_NAME, explain_run_series, write_timeline
from infodyn.explain_html import explain_section
from infodyn.rundir import RunDir, atomic_write_text
from infodyn.store import RunStore
from infodyn.summary import FigureSpec, RunSummary
from infodyn.viz import draw_run_figures, figure_specs

__all__ = ["flatten_config", "write_report"]

#: Meta keys the experiments write; each is shown when present and ignored when absent.
_TIMING_KEYS = ("wall_time_s", "train_time_s", "monitor_time_s", "checkpoint_time_s")
_SHOWN_META = {
    *_TIMING_KEYS,
    "steps_completed",
    "device",
    "threads",
    "schema_version",
    "monitor_times",
}


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested dicts to ``(dotted.key, value)`` pairs, sorted by key.

    Example:
        >>> flatten_config({"model": {"width": 128, "depth": 2}, "lr": 1e-3})
        [('lr', 0.001), ('model.depth', 2), ('model.width', 128)]
    """
    items: list[tuple[str, Any]] = []
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items.extend(flatten_config(value, prefix=f"{dotted}."))
        else:
            items.append((dotted, value))
    return sorted(items, key=lambda kv: kv[0])


def _num(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.4g}"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return escape(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs:.0f} s"


def _table(rows: Iterable[tuple[str, str]], *, header: tuple[str, str] | None = None) -> str:
    """A two-column table; cells must already be escaped HTML."""
    head = f"<tr><th>{header[0]}</th><th>{header[1]}</th></tr>" if header else ""
    body = "".join(f"<tr><th>{k}</th><td class='num'>{v}</td></tr>" for k, v in rows)
    return f"<table>{head}{body}</table>" if body else "<p>(none)</p>"


def _final_values(store: RunStore) -> list[tuple[str, str]]:
    """Last recorded value of the headline metrics, per split (train, test, others) and layer."""
    rows = []
    keys = store.keys()
    split_rank = {"train": 0, "test": 1}
    for metric, shown in (
        ("accuracy", "accuracy"),
        ("loss", "loss"),
        ("mir", "MIR"),
        ("hdr", "HDR"),
    ):
        found = sorted(
            ((split, layer) for m, split, layer in keys if m == metric),
            key=lambda sl: (split_rank.get(sl[0], 2), sl[0], sl[1]),
        )
        for split, layer in found:
            steps, values = store.series(metric, split, layer)
            where = f" [{layer}]" if layer else ""
            rows.append(
                (
                    escape(f"final {shown} — {split}{where}"),
                    f"{_num(float(values[-1]))} <span class='sub'>(step {int(steps[-1]):,})</span>",
                )
            )
    return rows


def _summary(
    store: RunStore, summary: RunSummary, meta: Mapping[str, Any]
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    steps_done = meta.get("steps_completed", store.last_step())
    if steps_done is not None:
        rows.append(("steps completed", escape(steps_done)))
    rows.extend((escape(h.label), escape(h.text())) for h in summary.headlines)
    rows.extend(_final_values(store))
    labels = {
        "wall_time_s": "wall time",
        "train_time_s": "training time",
        "monitor_time_s": "monitor time (metrics + store)",
        "checkpoint_time_s": "checkpoint time",
    }
    for key in _TIMING_KEYS:
        if key in meta:
            rows.append((labels[key], _duration(meta[key])))
    wall, mon = meta.get("wall_time_s"), meta.get("monitor_time_s")
    if isinstance(wall, int | float) and isinstance(mon, int | float) and wall > 0:
        rows.append(("monitor overhead", f"{100 * mon / wall:.1f}% of wall time"))
    parts = meta.get("monitor_times")
    if isinstance(parts, Mapping) and parts:
        split = ", ".join(f"{escape(k)} {_duration(v)}" for k, v in sorted(parts.items()))
        rows.append(("monitor time by part", split))
    for key in ("device", "threads"):
        if key in meta:
            rows.append((key, escape(meta[key])))
    return rows


def _versions() -> list[tuple[str, str]]:
    """Versions of the software writing this report (metadata only: no heavy imports)."""
    rows = [("python", platform.python_version())]
    for dist in ("infodyn", "torch", "numpy", "matplotlib"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "not installed as a package"
        rows.append((dist, escape(version)))
    rows.append(("platform", escape(platform.platform())))
    return rows


def _figures_html(paths: Iterable[Path], specs: Iterable[FigureSpec]) -> str:
    captions = {spec.filename: spec.caption for spec in specs}
    parts = []
    for path in paths:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        caption = escape(captions.get(path.name, path.stem))
        parts.append(
            f"<figure><img src='data:image/png;base64,{data}' alt='{caption}'>"
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return "".join(parts) or "<p>No figures: the store holds none of the metrics they draw.</p>"


def _explain_html(run: RunDir, store: RunStore, *, redraw: bool) -> str:
    """The "What moves first" section; its figure is drawn into ``figures/`` when redrawing.

    Without ``redraw`` a timeline already in ``figures/`` is embedded as it is, and a missing
    one is drawn (``infodyn plot``/``report`` draw the registered figures, then call this).
    """
    series = {key: store.series(*key) for key in store.keys()}
    if not series:
        return ""
    try:
        explanation = explain_run_series(run.name, series)
        figure = run.figures_dir / TIMELINE_NAME
        if redraw or not figure.is_file():
            write_timeline(explanation, figure)
    except ValueError as err:  # a series the detector refuses must not cost the whole report
        warnings.warn(f"report: the transition table failed ({err})", stacklevel=2)
        return f"<h2>What moves first</h2><p class='sub'>Not computed: {escape(str(err))}</p>"
    return explain_section(explanation, figure if figure.is_file() else None)


def write_report(run: RunDir, summary: RunSummary | None = None, *, redraw: bool = True) -> Path:
    """Write ``report.html`` for ``run`` and return its path.

    Args:
        run: The run directory.
        summary: The experiment's headlines and step markers
            (:func:`infodyn.runner.summarize_run`); None shows the store's values alone.
        redraw: Redraw the figures from the store first (so the page is never stale); with
            False, embed the registered PNGs already in ``figures/`` (and draw the transition
            timeline only if it is missing).

    Returns:
        ``run.report_path``, written atomically.
    """
    config = run.config()
    summary = summary if summary is not None else RunSummary()
    specs = figure_specs(summary)
    paths = (
        draw_run_figures(run, summary)
        if redraw
        else [
            run.figures_dir / s.filename for s in specs if (run.figures_dir / s.filename).is_file()
        ]
    )
    with run.store(readonly=True) as store:
        meta = store.meta()
        summary_rows = _summary(store, summary, meta)
        explained = _explain_html(run, store, redraw=redraw)
    experiment = config.get("experiment")
    title = f"{run.name} — {experiment}" if experiment else run.name
    config_rows = [(escape(k), f"<code>{escape(v)}</code>") for k, v in flatten_config(config)]
    other_meta = [
        (escape(k), f"<code>{escape(v)}</code>")
        for k, v in sorted(meta.items())
        if k not in _SHOWN_META
    ]
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · infodyn report</title>
<style>{PAGE_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">infodyn run report · {escape(str(run.root))}</p>
<h2>Summary</h2>
{_table(summary_rows)}
<h2>Figures</h2>
{_figures_html(paths, specs)}
{explained}
<h2>Config</h2>
{_table(config_rows, header=("key", "value"))}
<h2>Run metadata</h2>
{_table(other_meta, header=("key", "value"))}
<h2>Software (environment that wrote this report)</h2>
{_table(_versions())}
</body>
</html>
"""
    atomic_write_text(run.report_path, page)
    return run.report_path
