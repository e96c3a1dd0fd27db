"""The four families :func:`infodyn.measure` and the Lightning callback record, as metrics.

============  ==================================================================  ==============
family        metrics                                                             samples
============  ==================================================================  ==============
``matrix``    MIR, HDR, matrix entropies and MI of features vs head rows          first batches
``te``        TE between every adjacent pair of the TE layers (and the softmax)    all, in order
``collapse``  NC1–NC4, RNC1, …; the information plane (MI and nHSIC estimates)    all; IB subset
``richness``  D_LR, its curves and the feature spectrum                           seeded subset
============  ==================================================================  ==============
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from torchmetrics import Metric

from infodyn._validation import check_int
from infodyn.capture import _module_by_name
from infodyn.metrics import (
    InformationPlane,
    LayerTransferEntropy,
    MatrixInformation,
    NeuralCollapse,
    Richness,
)
from infodyn.metrics.subset import SampleSubset

__all__ = [
    "FAMILIES",
    "Family",
    "FamilyPlan",
    "MeasureCaps",
    "choose_families",
    "num_classes_of",
    "plan_families",
]

Family = Literal["matrix", "te", "collapse", "richness"]
#: The families, in the order results report them.
FAMILIES: tuple[Family, ...] = ("matrix", "te", "collapse", "richness")


@dataclass(frozen=True)
class MeasureCaps:
    """How many samples the estimators that grow faster than linearly in them take.

    Attributes:
        matrix_batches: MIR/HDR are the mean over the first this many batches, each batch one
            Gram matrix (the papers' mini-batch computation; the values depend on the batch
            size, so compare runs at equal batch size).
        richness_samples: D_LR on a seeded random subset of this many samples.
        ib_samples: The information plane (KSG MI, nHSIC) on a seeded random subset.
        seed: Seed of both subsets.
    """

    matrix_batches: int = 16
    richness_samples: int = 2048
    ib_samples: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("matrix_batches", self.matrix_batches, minimum=1)
        check_int("richness_samples", self.richness_samples, minimum=3)
        check_int("ib_samples", self.ib_samples, minimum=10)
        check_int("seed", self.seed)


def choose_families(families: str | Sequence[str]) -> tuple[tuple[Family, ...], bool]:
    """The chosen families in canonical order, and whether they were asked for by name."""
    if families == "all":
        return FAMILIES, False
    chosen = [families] if isinstance(families, str) else list(families)
    unknown = sorted(set(chosen) - set(FAMILIES))
    if unknown or not chosen:
        raise ValueError(
            f"families: unknown {unknown or chosen!r}; choose 'all' or some of {list(FAMILIES)}"
        )
    return tuple(f for f in FAMILIES if f in chosen), True


def _subset_caption(what: str, size: int, total: int | None, seed: int) -> str:
    if total is None:
        return f"{what}: the first {size} samples (the loader's length is unknown)"
    if size >= total:
        return f"{what}: all {total} samples"
    return f"{what}: {size} of {total} samples, seeded random (seed {seed})"


def num_classes_of(model: nn.Module, head: str, num_classes: int | None) -> int:
    weight = _module_by_name(model, head, "head").weight
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise ValueError(f"head: module {head!r} has no 2-D `weight`; name a Linear layer")
    rows = int(weight.shape[0])
    if num_classes is not None and num_classes != rows:
        raise ValueError(
            f"num_classes={num_classes} but the head {head!r} has {rows} rows (one per class); "
            f"name the classifier head with head='...' or drop num_classes"
        )
    return rows


@dataclass
class FamilyPlan:
    """The metrics of the chosen families, keyed by name, and how each is fed.

    Attributes:
        metrics: ``{name: (family, metric)}``.
        batch_limit: ``{name: k}``: the metric takes only the first k batches of a pass.
        captions: ``{name: text}``: the sample cap each applies, in words.
        skipped: ``{family: reason}`` of families left out.
    """

    metrics: dict[str, tuple[Family, Metric]] = field(default_factory=dict)
    batch_limit: dict[str, int] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def plan_families(
    chosen: Sequence[Family],
    named: bool,
    *,
    te_layers: Sequence[str],
    traced: Sequence[str],
    head: str,
    classes: int,
    caps: MeasureCaps,
    total: int | None,
) -> FamilyPlan:
    """Build the metrics of ``chosen`` (a family named explicitly that cannot run is an error).

    Args:
        chosen: Families, from :func:`choose_families`.
        named: Whether they were named (else ``"all"``: an impossible family is skipped).
        te_layers: The TE layers in forward order (empty: TE cannot run).
        traced: Every traced weight layer, for the messages.
        head: The classifier head's name, for the messages.
        classes: Number of classes (the head's rows).
        caps: The sample caps.
        total: Samples in one pass, when known (for the seeded subsets).
    """
    plan = FamilyPlan()
    if "matrix" in chosen:
        plan.metrics["matrix"] = ("matrix", MatrixInformation(mode="batch_mean"))
        plan.batch_limit["matrix"] = caps.matrix_batches
        plan.captions["matrix"] = f"MIR/HDR: mean over the first {caps.matrix_batches} batches"
    if "te" in chosen:
        if te_layers:
            plan.metrics["te"] = ("te", LayerTransferEntropy(te_layers, softmax_output=True))
            plan.captions["te"] = "TE: every sample, in the loader's order"
        elif named:
            raise ValueError(
                f"families: 'te' needs a layer besides the head {head!r}; the traced layers "
                f"are {list(traced)} — name them with layers=[...]"
            )
        else:
            plan.skipped["te"] = (
                f"no per-sample layer besides the head {head!r} (traced: {list(traced)})"
            )
    if "collapse" in chosen:
        plan.metrics["collapse"] = ("collapse", NeuralCollapse(num_classes=classes))
        information_plane = InformationPlane(max_samples=caps.ib_samples, num_classes=classes)
        plan.metrics["information_plane"] = (
            "collapse",
            SampleSubset(information_plane, caps.ib_samples, total=total, seed=caps.seed),
        )
        plan.captions["collapse"] = "NC: every sample"
        plan.captions["information_plane"] = _subset_caption(
            "information plane", caps.ib_samples, total, caps.seed
        )
    if "richness" in chosen:
        richness = Richness(max_samples=caps.richness_samples)
        plan.metrics["richness"] = (
            "richness",
            SampleSubset(richness, caps.richness_samples, total=total, seed=caps.seed),
        )
        plan.captions["richness"] = _subset_caption("D_LR", caps.richness_samples, total, caps.seed)
    return plan
