"""Streaming neural-collapse measures over an evaluation pass.

Papyan, Han & Donoho (2020) and Sakamoto & Sato's measures; definitions and citations in
:mod:`infodyn.functional.collapse`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from infodyn._validation import (
    check_choice,
    check_finite,
    check_int,
    check_matrix,
    check_same_device,
    check_tensor,
)
from infodyn.functional.collapse_stats import (
    MEASURES,
    NEEDS_SECOND_MOMENT,
    RNC1_NORMS,
    CollapseStats,
    RNC1Norm,
    _check_bias,
    _check_classes,
    _check_weight,
    _class_means,
    _collapse_compute,
    _collapse_update,
    _nc4_mismatches,
)
from infodyn.metrics._lazy import LazyWidthMetric

#: Every measure ``NeuralCollapse`` can compute (``rnc1`` is returned as :func:`rnc1_key`).
ALL_MEASURES = (*MEASURES, "nc4")


def rnc1_key(norm: RNC1Norm = "mean") -> str:
    """The name RNC1 is returned and stored under: ``rnc1`` (mean norm) or ``rnc1_max``.

    Sakamoto & Sato's paper divides V_W by B_g² = sup‖g(x)‖², their code by the squared mean
    norm; the two differ by the ratio of the largest to the mean norm squared, so values of
    the two readings must never share a name. The default (the code's) keeps the plain name.

    Example:
        >>> rnc1_key("mean"), rnc1_key("max")
        ('rnc1', 'rnc1_max')
    """
    check_choice("norm", norm, RNC1_NORMS)
    return "rnc1" if norm == "mean" else f"rnc1_{norm}"


class NeuralCollapse(LazyWidthMetric):
    """Neural-collapse measures (RNC1, NC1–NC4, CDNV, variances) from one streaming pass.

    Each ``update`` adds a batch to float64 sufficient statistics — per-class counts, sums,
    squared-norm sums and norm sums, the largest feature norm and, only when ``nc1`` is
    measured, the pooled d×d second moment — and ``compute`` hands them to
    ``infodyn.functional.collapse`` (formulas, ranges and values at collapse are documented
    there). Memory is O(C·d), plus O(d²) for NC1: **leave ``nc1`` out of ``measures`` for very
    wide layers** (every other measure, ``nc1_trace`` included, needs no d×d state). All states
    add across DDP ranks (the largest norm takes the max), and ``merge_state`` adds two
    instances built with the same arguments. The d-dependent states are sized at the first
    batch (or at construction with ``num_features``), as every lazily sized infodyn metric
    (``infodyn.metrics._lazy``): ``reset()`` forgets a width learned from the data.

    **Offset stability.** Sums are taken of h − r for a fixed reference r: zeros by default,
    because a data-driven shift (the first batch's mean, as the functional API uses) would
    differ between ranks, and sums around different shifts cannot be added by a plain
    all-reduce. For features far from the origin (‖mean‖ ≫ spread) pass ``reference``: any
    rough centre of the features, the same on every rank (e.g. the mean of one batch measured
    before training and broadcast). With r = 0 and float64 a common offset of 1e4 costs about
    1e-8 relative accuracy in the variances and NC1; with r near the mean, ~1e-12.

    **NC4** needs per-sample predictions against the class means *of the whole pass*, which a
    single streaming pass does not know yet. This metric accumulates NC4 against the class
    means of its **previous** ``compute()`` (kept across ``reset()``): the first pass returns
    no ``nc4``; run the same data through ``update`` twice (compute in between) to get the
    exact value, or accept a one-evaluation lag when the monitor measures periodically. The
    functional ``nc4`` is exact in one call.

    ``forward()`` works (the batch value, then accumulation) but computes on the batch alone,
    so every class must be in each batch, and it replaces the means NC4 remembers; a monitor
    should call ``update`` per batch and ``compute`` once per pass.

    Args:
        num_classes: C ≥ 2; every class must be present in the pass at ``compute``.
        measures: names from ``ALL_MEASURES``; None means all. ``nc3``/``nc4`` are returned only
            when ``update`` received ``head_weight`` (and ``nc4`` only from the second pass).
        rnc1_norm: ``"mean"`` (authors' code, default) or ``"max"`` (paper's B_g): the scale
            RNC1 divides by (see ``functional.collapse.rnc1``). The value is returned as
            ``rnc1`` for the default and as ``rnc1_max`` for ``"max"`` (:func:`rnc1_key`), so
            every stored record names the normalisation that produced it.
        num_features: d, if known; sizes the states up front (otherwise at the first
            ``update``, and again after each ``reset()``).
        reference: (d,) the fixed shift r, identical on all ranks; None means zeros.
        precision: ``"exact"`` (default): every statistic in float64. ``"float32"``: each
            batch's statistics — the d×d product (h − r)ᵀ(h − r), the class sums, squared
            norms and norms — in float32 (half the cost), then accumulated across batches in
            float64 like the exact states. The error is that of float32 sums over one batch
            of b rows: relative ≲ √b·2⁻²⁴ in each statistic, amplified in the variances by
            ‖μ − r‖²/V_W (pass ``reference`` near the mean to keep that factor small).
            ``benchmarks/neural_collapse.py`` prints the measured error of every measure
            (1.6e-8 at most at N = 200,000, d = 512, C = 100, b = 4096).
        kwargs: passed to ``torchmetrics.Metric``.

    Example:
        >>> metric = NeuralCollapse(num_classes=3, measures=["rnc1", "nc2_etf_error"])
        >>> etf = torch.eye(3) - 1 / 3
        >>> labels = torch.arange(6) % 3
        >>> metric.update(etf[labels], labels)
        >>> {k: round(float(v), 6) for k, v in metric.compute().items()}
        {'rnc1': 0.0, 'nc2_etf_error': 0.0}
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("features", "labels", "head_weight", "head_bias")

    counts: Tensor
    sums: Tensor
    sq_norm_sums: Tensor
    norm_sums: Tensor
    max_norm: Tensor
    second_moment: Tensor
    nc4_mismatches: Tensor
    nc4_samples: Tensor

    # Kept across batches but not reduced across ranks: the last head seen (NC3) and the class
    # means of the previous compute() (NC4); a checkpoint must keep them too.
    _checkpoint_attributes = ("_head_weight", "_nc4_means")

    def __init__(
        self,
        num_classes: int,
        *,
        measures: Sequence[str] | None = None,
        rnc1_norm: RNC1Norm = "mean",
        num_features: int | None = None,
        reference: Tensor | None = None,
        precision: Literal["exact", "float32"] = "exact",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.precision = check_choice("precision", precision, ("exact", "float32"))
        self._product_dtype = torch.float32 if precision == "float32" else torch.float64
        num_classes = check_int(
            "num_classes", num_classes, minimum=2, hint="neural collapse needs at least 2 classes"
        )
        chosen = tuple(ALL_MEASURES if measures is None else measures)
        unknown = sorted(set(chosen) - set(ALL_MEASURES))
        if unknown or not chosen:
            raise ValueError(f"unknown or no measures {unknown}; choose from {ALL_MEASURES}")
        check_choice("rnc1_norm", rnc1_norm, RNC1_NORMS)
        if reference is not None:
            reference = check_tensor("reference", reference).detach().to(torch.float64)
            check_finite("reference", reference)
            if reference.ndim != 1 or (num_features not in (None, reference.numel())):
                raise ValueError(
                    f"reference must have shape (num_features,), got {reference.shape}"
                )
            num_features = reference.numel()
        self.num_features = check_int("num_features", num_features, minimum=1, allow_none=True)
        self.num_classes = num_classes
        self.measures = chosen
        self.rnc1_norm: RNC1Norm = rnc1_norm
        self.needs_second_moment = bool(NEEDS_SECOND_MOMENT & set(chosen))
        self.reference = reference
        self._head_weight: Tensor | None = None
        self._nc4_means: Tensor | None = None  # class means of the previous compute()
        f64 = torch.float64
        self.add_state("counts", torch.zeros(num_classes, dtype=f64), "sum")
        self.add_state("sq_norm_sums", torch.zeros(num_classes, dtype=f64), "sum")
        self.add_state("norm_sums", torch.zeros(num_classes, dtype=f64), "sum")
        self.add_state("max_norm", torch.zeros((), dtype=f64), "max")
        self.add_state("nc4_mismatches", torch.zeros((), dtype=f64), "sum")
        self.add_state("nc4_samples", torch.zeros((), dtype=f64), "sum")
        widths = {"d": self.num_features}
        self.add_lazy_state("sums", (num_classes, "d"), widths=widths, dtype=f64)
        if self.needs_second_moment:
            self.add_lazy_state("second_moment", ("d", "d"), widths=widths, dtype=f64)

    def _reference(self, d: int) -> Tensor:
        """The shift r on the states' device: as given, or zeros (d,)."""
        if self.reference is None:
            return torch.zeros(d, dtype=torch.float64, device=self.sums.device)
        return self.reference.to(self.sums.device)

    def update(
        self,
        features: Tensor,
        labels: Tensor,
        head_weight: Tensor | None = None,
        head_bias: Tensor | None = None,
    ) -> None:
        """Add a batch: ``features`` (n, d), ``labels`` (n,), optional head (C, d) and (C,)."""
        check_same_device(
            features=features, labels=labels, head_weight=head_weight, head_bias=head_bias
        )
        x = check_matrix("features", features, min_rows=1).detach()
        self._follow_device(x.device)
        d = self.lazy_widths().get("d")
        if d is None:
            self._size_lazy_states({"d": x.shape[1]})
        elif x.shape[1] != d:
            source = "num_features is" if self.num_features is not None else "earlier updates had"
            raise ValueError(
                f"features has {x.shape[1]} columns but {source} {d}; one "
                f"NeuralCollapse measures one layer — reset() or use one metric per layer"
            )
        if self._nc4_means is not None and self._nc4_means.shape[1] != x.shape[1]:
            self._nc4_means = None  # means of another layer, measured before a reset()
        x = x.to(self.sums.device)  # a later batch on another device joins the states
        stats = _collapse_update(
            x,
            labels,
            self.num_classes,
            second_moment=self.needs_second_moment,
            reference=self._reference(x.shape[1]),
            product_dtype=self._product_dtype,
            checked=True,  # the features above, the reference at construction
        )
        # In place: a state is never its registered default (reset() installs a copy).
        self.counts.add_(stats.counts)
        self.sums.add_(stats.sums)
        self.sq_norm_sums.add_(stats.sq_norm_sums)
        self.norm_sums.add_(stats.norm_sums)
        torch.maximum(self.max_norm, stats.max_norm, out=self.max_norm)
        if stats.second_moment is not None:
            self.second_moment.add_(stats.second_moment)
        if head_weight is not None:
            weight = _check_weight(head_weight, self.num_classes, x.shape[1]).detach()
            bias = _check_bias(head_bias, self.num_classes)
            self._head_weight = weight
            if "nc4" in self.measures and self._nc4_means is not None:
                means = self._nc4_means.to(x.device)
                self.nc4_mismatches.add_(_nc4_mismatches(x, weight, bias, means))
                self.nc4_samples.add_(x.shape[0])

    def _stats(self) -> CollapseStats:
        if int(self.counts.sum()) == 0:
            raise RuntimeError(
                "NeuralCollapse.compute() was called before update(): no batch has been seen; "
                "call update(features, labels) at least once after reset()"
            )
        return CollapseStats(
            counts=self.counts,
            sums=self.sums,
            sq_norm_sums=self.sq_norm_sums,
            norm_sums=self.norm_sums,
            max_norm=self.max_norm,
            reference=self._reference(self.sums.shape[1]),
            second_moment=self.second_moment if self.needs_second_moment else None,
        )

    def compute(self) -> dict[str, Tensor]:
        """A flat dict of 0-d float64 tensors named like the functions in
        ``infodyn.functional.collapse``, for the chosen ``measures`` whose inputs were given;
        RNC1 under :func:`rnc1_key` of ``rnc1_norm`` (``rnc1`` or ``rnc1_max``)."""
        stats = self._stats()
        _check_classes(stats.counts)
        have_head = self._head_weight is not None
        wanted = [m for m in self.measures if m != "nc4" and (m != "nc3" or have_head)]
        out = _collapse_compute(
            stats, measures=wanted, rnc1_norm=self.rnc1_norm, weight=self._head_weight
        )
        if "nc4" in self.measures and float(self.nc4_samples) > 0:
            out["nc4"] = self.nc4_mismatches / self.nc4_samples
        self._nc4_means = _class_means(stats).detach().clone()
        names = {"rnc1": rnc1_key(self.rnc1_norm)}
        return {names.get(m, m): out[m] for m in self.measures if m in out}

    def reset(self) -> None:
        """Clear the statistics and the remembered head; keep the class means NC4 uses."""
        super().reset()
        self._head_weight = None
