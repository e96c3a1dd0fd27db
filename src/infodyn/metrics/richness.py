"""Streaming dynamical richness D_LR and its spectral curves (Nam et al., arXiv 2410.04264)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from infodyn._validation import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_same_device,
    check_same_rows,
)
from infodyn.functional.richness import (
    _K_HINT,
    D_LR_METRIC,
    SPANS,
    RichnessResult,
    Span,
    _Moments,
    _moments,
    _richness_from_moments,
    richness,
)
from infodyn.metrics._lazy import LazyWidthMetric

_MODES = ("samples", "covariance")
_F64 = torch.float64
#: moment states of covariance mode (sums over samples; see ``functional.richness._Moments``),
#: with their shapes in p (features) and c (logit columns); ΦᵀY has c columns, as Y is one-hot.
_MOMENT_DIMS: dict[str, tuple[str, ...]] = {
    "phi_sum": ("p",),
    "out_sum": ("c",),
    "phi_phi": ("p", "p"),
    "phi_out": ("p", "c"),
    "out_out": ("c", "c"),
    "phi_target": ("p", "c"),
}


class Richness(LazyWidthMetric):
    """D_LR, cumulative utilisation Π̂(k), quality Π*(k) and relative norms ρ_k/ρ_1.

    Values as :func:`infodyn.functional.richness.richness` (formulas there). Measure on a
    **fixed** set of samples (the paper: a fixed subset of the training set, n ≥ 2p) so that
    checkpoints compare. Two modes, infodyn's choice:

    * ``"samples"`` (default): keeps the **first** ``max_samples`` rows seen (features, logits,
      labels) and computes on them at ``compute`` — no reservoir: feed a fixed, pre-shuffled
      evaluation subset. Across DDP ranks the rows are gathered and capped again (rank 0's
      rows first). Memory: ``max_samples`` × (p + C) floats.
    * ``"covariance"``: keeps only sums — ΦᵀΦ (p×p), ΦᵀF, FᵀF, ΦᵀY, Σφ, Σf, n — over **every**
      row seen (no cap). D_LR is exact from them for either ``span`` (Q_cᵀΦ_c and Q_cᵀQ_c come
      from the output-side Gram FᵀF, or F_cᵀF_c), and so are the curves, so this mode equals
      ``"samples"`` on the same rows up to round-off. Memory p² floats whatever n;
      states add across ranks. Centring subtracts n·μμᵀ from ΦᵀΦ, which loses digits when the
      mean is much larger than the spread, and the output basis comes from an eigendecomposition
      of the C×C output Gram, which squares F's condition number. The p- and C-sized sums are
      sized at the first batch (``infodyn.metrics._lazy``).

    ``span`` picks the reading of D_LR (see :func:`infodyn.functional.richness.d_lr`), and the
    value's key records it: ``d_lr`` for ``span="outputs"`` (the default, the paper's
    Ĥ = span{f̂_1 … f̂_C}), ``d_lr_with_constant`` for ``span="outputs_and_constant"``
    (span{1, f̂_c}), so the two readings never share a name in a run store.

    ``compute`` returns ``d_lr`` or ``d_lr_with_constant`` (0-d), ``utilization_cumulative``
    (K,), ``relative_norms`` (K,), ``quality_cumulative`` (K,) when labels were given, and
    ``num_classes`` (0-d, the number of logit columns C, which the figure uses to mark k = C).
    K = p, or ``k``.

    Args:
        mode: ``"samples"`` or ``"covariance"``, see above.
        max_samples: rows kept in ``"samples"`` mode (default 4096 ≥ max(2000, 2p) for
            p ≤ 2048); ignored in ``"covariance"`` mode.
        k: keep only the first k modes of each curve; None keeps all p.
        span: ``"outputs"`` (default) or ``"outputs_and_constant"``: the span D_LR projects
            onto; the curves do not depend on it.
        kwargs: passed to ``torchmetrics.Metric``.

    Example:
        >>> metric = Richness()
        >>> labels = torch.arange(40) % 4
        >>> features = 5.0 * (torch.eye(4) - 0.25)[labels] + 1.0  # collapsed onto an ETF
        >>> metric.update(features, features @ torch.randn(4, 4), labels)
        >>> values = metric.compute()
        >>> round(float(values["d_lr"]), 6), tuple(values["quality_cumulative"].shape)
        (0.0, (4,))
        >>> other = Richness(span="outputs_and_constant")  # the reading is in the value's name
        >>> other.update(features, features @ torch.randn(4, 4), labels)
        >>> sorted(other.compute())[:2]
        ['d_lr_with_constant', 'num_classes']
    """

    is_differentiable = False
    higher_is_better = None  # richer (lower D_LR) is not better: the paper's point
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("features", "logits", "labels")

    kept_features: list[Tensor] | Tensor
    kept_logits: list[Tensor] | Tensor
    kept_labels: list[Tensor] | Tensor
    count: Tensor
    labelled: Tensor
    target_sq: Tensor
    phi_sum: Tensor
    out_sum: Tensor
    phi_phi: Tensor
    phi_out: Tensor
    out_out: Tensor
    phi_target: Tensor

    def __init__(
        self,
        *,
        mode: Literal["samples", "covariance"] = "samples",
        max_samples: int = 4096,
        k: int | None = None,
        span: Span = "outputs",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mode = check_choice("mode", mode, _MODES)
        self.span: Span = check_choice("span", span, SPANS)
        self.max_samples = check_int("max_samples", max_samples, minimum=3)
        self.k = check_int("k", k, minimum=1, allow_none=True, hint=_K_HINT)
        if mode == "samples":
            self.add_state("kept_features", [], "cat")
            self.add_state("kept_logits", [], "cat")
            self.add_state("kept_labels", [], "cat")
            return
        self.add_state("count", torch.zeros((), dtype=_F64), "sum")
        self.add_state("labelled", torch.zeros((), dtype=_F64), "sum")
        self.add_state("target_sq", torch.zeros((), dtype=_F64), "sum")
        for name, dims in _MOMENT_DIMS.items():
            self.add_lazy_state(name, dims, widths={}, dtype=_F64)

    def update(self, features: Tensor, logits: Tensor, labels: Tensor | None = None) -> None:
        """Add one batch: ``features`` (n, p), ``logits`` (n, C), optional ``labels`` (n,)."""
        check_same_device(features=features, logits=logits, labels=labels)
        phi = check_matrix("features", features, min_rows=1).detach()
        out = check_matrix("logits", logits, min_rows=1).detach()
        check_same_rows("features", phi, "logits", out)
        self._follow_device(phi.device)
        if labels is not None:
            labels = check_labels("labels", labels, n=phi.shape[0], num_classes=out.shape[1])
        if self.mode == "samples":
            self._keep(phi, out, labels)
        else:
            self._accumulate(phi, out, labels)

    def _keep(self, phi: Tensor, out: Tensor, labels: Tensor | None) -> None:
        assert isinstance(self.kept_features, list)  # a tensor only after a sync
        assert isinstance(self.kept_logits, list) and isinstance(self.kept_labels, list)
        if self.kept_features:
            _check_widths(self.kept_features[0], self.kept_logits[0], phi, out)
            if bool(self.kept_labels) != (labels is not None):
                raise ValueError(_MIXED_LABELS)
        room = self.max_samples - sum(x.shape[0] for x in self.kept_features)
        if room <= 0:
            return
        self.kept_features.append(phi[:room].clone())  # a slice would pin the batch
        self.kept_logits.append(out[:room].clone())
        if labels is not None:
            self.kept_labels.append(labels[:room].clone())

    def _accumulate(self, phi: Tensor, out: Tensor, labels: Tensor | None) -> None:
        seen = float(self.count)
        if seen and (float(self.labelled) > 0) != (labels is not None):
            raise ValueError(_MIXED_LABELS)
        if self.lazy_widths():
            _check_widths(self.phi_phi, self.out_out, phi, out)
        else:
            self._size_lazy_states({"p": phi.shape[1], "c": out.shape[1]})
        device = self.phi_phi.device  # a later batch on another device joins the states
        targets = None
        if labels is not None:
            targets = torch.nn.functional.one_hot(labels.long(), out.shape[1]).to(device, _F64)
        m = _moments(phi.to(device, _F64), out.to(device, _F64), targets)
        self.count = self.count + m.num_samples
        if targets is not None:
            self.labelled = self.labelled + m.num_samples
            assert m.target_sq is not None
            self.target_sq = self.target_sq + m.target_sq
        for name in _MOMENT_DIMS:
            value = getattr(m, name)
            if value is not None:  # without labels ΦᵀY stays zero (and is not used)
                setattr(self, name, getattr(self, name) + value)

    def compute(self) -> dict[str, Tensor]:
        """``d_lr`` (or ``d_lr_with_constant``, by ``span``), ``utilization_cumulative``,
        ``relative_norms``, ``num_classes`` and, with labels, ``quality_cumulative`` (float64)."""
        if self.mode == "samples":
            if isinstance(self.kept_features, list) and not self.kept_features:
                raise RuntimeError(_NO_DATA)
            features = dim_zero_cat(self.kept_features)[: self.max_samples]
            logits = dim_zero_cat(self.kept_logits)[: self.max_samples]
            labels = None
            if not (isinstance(self.kept_labels, list) and not self.kept_labels):
                labels = dim_zero_cat(self.kept_labels)[: self.max_samples]
            result = richness(features, logits, labels, k=self.k, span=self.span)
            num_classes = logits.shape[1]
        else:
            if float(self.count) == 0:
                raise RuntimeError(_NO_DATA)
            if 0 < float(self.labelled) < float(self.count):
                raise ValueError(_MIXED_LABELS)
            result = self._from_moments()
            num_classes = self.out_out.shape[0]
        return _as_dict(result, num_classes)

    def _from_moments(self) -> RichnessResult:
        labelled = float(self.labelled) > 0
        n, c = int(self.count), self.out_out.shape[0]
        if n < c + 1:
            raise ValueError(
                f"D_LR needs more samples than output columns: {n} samples seen for C = {c} "
                f"logits; update with at least C + 1 samples"
            )
        moments = _Moments(
            num_samples=self.count,
            phi_sum=self.phi_sum,
            out_sum=self.out_sum,
            phi_phi=self.phi_phi,
            phi_out=self.phi_out,
            out_out=self.out_out,
            phi_target=self.phi_target if labelled else None,
            target_sq=self.target_sq if labelled else None,
        )
        return _richness_from_moments(moments, self.k, self.span)


def _check_widths(phi_ref: Tensor, out_ref: Tensor, phi: Tensor, out: Tensor) -> None:
    if phi_ref.shape[1] != phi.shape[1] or out_ref.shape[1] != out.shape[1]:
        raise ValueError(
            f"features/logits have {phi.shape[1]}/{out.shape[1]} columns but earlier updates "
            f"had {phi_ref.shape[1]}/{out_ref.shape[1]}; one Richness metric measures one layer "
            f"— call reset() between layers or use one metric per layer"
        )


def _as_dict(result: RichnessResult, num_classes: int) -> dict[str, Tensor]:
    values = {
        D_LR_METRIC[result.span]: result.d_lr,
        "utilization_cumulative": result.utilization_cumulative,
        "relative_norms": result.relative_norms,
        "num_classes": torch.tensor(float(num_classes), dtype=_F64),
    }
    if result.quality_cumulative is not None:
        values["quality_cumulative"] = result.quality_cumulative
    return values


_MIXED_LABELS = (
    "labels were given to some updates and not to others; pass labels to every update "
    "(for Π*) or to none, or call reset() in between"
)
_NO_DATA = (
    "Richness.compute() was called before update(): no batch has been seen; "
    "call update(features, logits, labels) at least once after reset()"
)
