"""Richness across settings: the three spectral panels per setting, and D_LR with its
baselines against a training factor (Nam et al. 2024, arXiv 2410.04264, their Figs. 3–4 and
Table 2).

Both figures take plain arrays (drawn from the runs' stores by the caller,
:mod:`infodyn.experiments.richness_report`) and return ``(fig, axes)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from infodyn.store import RunStore
from infodyn.viz.richness import _PANELS, RICHNESS_ARRAYS, _style_panel

__all__ = [
    "SettingCurves",
    "SettingPanel",
    "SettingSeries",
    "final_richness_curves",
    "plot_richness_settings",
    "plot_setting_values",
]


def final_richness_curves(store: RunStore, split: str = "train") -> dict[str, np.ndarray]:
    """A run's three richness curves at the last step it recorded them on ``split``.

    Returns:
        ``{"quality_cumulative" | "utilization_cumulative" | "relative_norms": (p,) array}``
        (those recorded; empty when none is).
    """
    arrays = [a for a in store.arrays(split=split) if a.metric in RICHNESS_ARRAYS]
    if not arrays:
        return {}
    last = max(a.step for a in arrays)
    return {a.metric: np.asarray(a.value, dtype=np.float64) for a in arrays if a.step == last}


@dataclass(frozen=True)
class SettingCurves:
    """The final spectral curves of one setting's runs (one mapping per run/seed).

    Attributes:
        label: Legend text (the setting and its D_LR).
        runs: Per run, ``{"quality_cumulative" | "utilization_cumulative" | "relative_norms":
            (p,) array}``; a curve missing from a run is left out of that panel.
        color: Matplotlib colour.
        linestyle: Matplotlib line style.
    """

    label: str
    runs: Sequence[Mapping[str, np.ndarray]]
    color: object
    linestyle: str = "-"


def _band(ax: Axes, values: Sequence[np.ndarray], setting: SettingCurves, log_y: bool) -> bool:
    """Mean over runs with a min–max band; returns whether anything was drawn."""
    if not values:
        return False
    length = min(v.size for v in values)
    stacked = np.stack([v[:length] for v in values])
    k = np.arange(1, length + 1)
    mean, low, high = stacked.mean(axis=0), stacked.min(axis=0), stacked.max(axis=0)
    if log_y:  # null modes (ρ = 0) cannot be drawn on a log axis
        keep = low > 0
        k, mean, low, high = k[keep], mean[keep], low[keep], high[keep]
    ax.plot(k, mean, color=setting.color, linestyle=setting.linestyle, linewidth=1.8,
            label=setting.label)  # fmt: skip
    if stacked.shape[0] > 1:
        ax.fill_between(k, low, high, color=setting.color, alpha=0.15, linewidth=0)
    return True


def plot_richness_settings(
    rows: Sequence[tuple[str, Sequence[SettingCurves]]],
    *,
    num_classes: int | None = None,
    title: str = "Dynamical richness per setting — spectral view",
) -> tuple[Figure, np.ndarray]:
    """The three richness panels, one row per group of settings, one curve per setting.

    Each curve is the mean over the setting's runs of their final Π*(k), Π̂(k) and ρ_k/ρ_1,
    with the min–max band over runs shaded.

    Args:
        rows: ``(row title, settings)``; e.g. one row without and one with BatchNorm, a curve
            per learning rate.
        num_classes: C, marked at k = C; None draws no line.
        title: The figure's title.

    Returns:
        ``(fig, axes)``, axes of shape (rows, 3).

    Example:
        >>> curve = {"utilization_cumulative": np.linspace(0.5, 1.0, 8),
        ...          "relative_norms": np.geomspace(1.0, 1e-3, 8)}
        >>> fig, axes = plot_richness_settings(
        ...     [("all", [SettingCurves("a", [curve, curve], "tab:blue")])], num_classes=3)
        >>> axes.shape, len(axes[0, 1].lines)  # the curve and the k = C line
        ((1, 3), 2)
    """
    if not rows:
        raise ValueError("rows is empty; pass at least one (title, settings) row")
    fig = Figure(figsize=(15.5, 3.9 * len(rows) + 0.9), layout="constrained")
    axes = np.asarray(fig.subplots(len(rows), 3, squeeze=False), dtype=object)
    for r, (row_title, settings) in enumerate(rows):
        for c, (name, (ylabel, panel_title, _)) in enumerate(
            zip(RICHNESS_ARRAYS, _PANELS, strict=True)
        ):
            ax = axes[r, c]
            log_y = name == "relative_norms"
            _style_panel(ax, ylabel, panel_title, log_y=log_y, num_classes=num_classes)
            drawn = [
                _band(ax, [run[name] for run in s.runs if name in run], s, log_y) for s in settings
            ]
            if not any(drawn):
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
            if c == 0 and row_title:
                ax.set_title(f"{row_title}\n{panel_title}")
        handles = [line for line in axes[r, 1].get_lines() if not line.get_label().startswith("_")]
        axes[r, 2].legend(handles=handles, fontsize="x-small", loc="lower left", frameon=True)
    fig.suptitle(title)
    return fig, axes


@dataclass(frozen=True)
class SettingSeries:
    """One line of a :class:`SettingPanel`: mean ± std over seeds at each x.

    Attributes:
        label: Legend text.
        x: (m,) positions (learning rates, or setting indices).
        mean: (m,) mean over seeds (NaN where no run has a value).
        std: (m,) sample std over seeds (0 or NaN with one seed).
        color: Matplotlib colour.
        linestyle: Matplotlib line style.
    """

    label: str
    x: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    color: object
    linestyle: str = "-"


@dataclass(frozen=True)
class SettingPanel:
    """A panel of :func:`plot_setting_values`: a title, a y label and its lines."""

    title: str
    ylabel: str
    series: Sequence[SettingSeries]
    log_y: bool = False


def plot_setting_values(
    panels: Sequence[SettingPanel],
    *,
    xlabel: str,
    log_x: bool = False,
    xticklabels: Sequence[str] | None = None,
    title: str = "",
) -> tuple[Figure, np.ndarray]:
    """Values per setting (mean ± std over seeds as error bars), one panel per quantity.

    Args:
        panels: The panels, side by side.
        xlabel: The x axis (e.g. "learning rate").
        log_x: Log-scale the x axis (learning rates).
        xticklabels: Names of integer x positions (categorical settings).
        title: The figure's title.

    Returns:
        ``(fig, axes)``.

    Example:
        >>> s = SettingSeries("bn", np.array([0.01, 0.1]), np.array([0.3, 0.2]),
        ...                   np.array([0.01, 0.02]), "tab:blue")
        >>> fig, axes = plot_setting_values([SettingPanel("D_LR", "D_LR", [s])],
        ...                                 xlabel="learning rate", log_x=True)
        >>> len(axes), axes[0].get_xscale()
        (1, 'log')
    """
    fig = Figure(figsize=(4.6 * len(panels), 4.3), layout="constrained")
    axes = np.asarray(fig.subplots(1, len(panels), squeeze=False)[0], dtype=object)
    for ax, panel in zip(axes, panels, strict=True):
        for s in panel.series:
            std = np.nan_to_num(s.std, nan=0.0)
            ax.errorbar(s.x, s.mean, yerr=std, color=s.color, linestyle=s.linestyle,
                        marker="o", capsize=3, linewidth=1.6, label=s.label)  # fmt: skip
        ax.set_title(panel.title)
        ax.set_ylabel(panel.ylabel)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        if log_x:
            ax.set_xscale("log")
        if panel.log_y:
            ax.set_yscale("log")
        if xticklabels is not None:
            ax.set_xticks(range(len(xticklabels)), list(xticklabels), rotation=20, ha="right")
            ax.set_xlim(-0.5, len(xticklabels) - 0.5)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 6),
                   frameon=False, fontsize="small")  # fmt: skip
    if title:
        fig.suptitle(title)
    return fig, axes
