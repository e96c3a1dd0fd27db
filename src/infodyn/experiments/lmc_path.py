"""Linear paths between two trained networks: interpolation, BatchNorm statistics, barriers.

Two networks A and B of one architecture define the path θ(α) = (1 − α)·θ_A + α·θ_B,
α ∈ [0, 1] (Frankle et al. 2020, "Linear Mode Connectivity and the Lottery Ticket
Hypothesis"). Along it, :func:`measure_path` records the loss and accuracy of θ(α) and the
matrix information of its penultimate features against its head rows (MIR, HDR and the two
matrix entropies, Song et al. 2024). A path is *linearly connected* when the loss barrier

    B = max_α [ L(θ(α)) − ((1 − α)·L(θ_A) + α·L(θ_B)) ]   (nats, ≥ 0 on a grid holding 0, 1)

is near 0 (:func:`barrier`). Every floating-point parameter *and buffer* is interpolated;
integer buffers (BatchNorm's ``num_batches_tracked``) are taken from A.

**BatchNorm.** Interpolated running statistics are not the statistics of the interpolated
network: its activations' variance shrinks along a path between unaligned networks (Jordan et
al. 2023, "REPAIR"). With BatchNorm, :func:`recompute_batchnorm` therefore resets them at every
α — the endpoints included, so the whole path is measured under one protocol — by a pass over
training batches with a cumulative average (``momentum=None``): the running mean is the mean of
the batch means, the running variance the mean of the unbiased batch variances. At α = 0 the
point is network A with its statistics recomputed this way (its loss then differs slightly from
A with the moving averages of training); without BatchNorm, α = 0 and 1 are A and B exactly.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from infodyn.capture import find_classifier_head
from infodyn.functional.matrix_info import head_rows, matrix_information

__all__ = [
    "PATH_QUANTITIES",
    "PathData",
    "barrier",
    "barrier_index",
    "batchnorm_modules",
    "change_at",
    "check_alphas",
    "check_same_architecture",
    "interpolate_state",
    "matrix_info_or_nan",
    "measure_path",
    "recompute_batchnorm",
]

#: What :func:`measure_path` returns per α, in this order.
PATH_QUANTITIES = (
    "loss",
    "accuracy",
    "mir",
    "hdr",
    "entropy_features",
    "entropy_head",
    "zero_feature_fraction",
)


def check_alphas(alphas: Sequence[float]) -> tuple[float, ...]:
    """The α grid, sorted; at least 2 distinct values in [0, 1], 0 and 1 among them.

    The endpoints are required because a barrier compares the path with the straight line
    between its endpoints' values.

    Example:
        >>> check_alphas([1, 0.5, 0])
        (0.0, 0.5, 1.0)
    """
    values = [float(a) for a in alphas]
    if len(values) < 2:
        raise ValueError(
            f"alphas needs at least 2 points (the two endpoints), got {values}; e.g. 11 evenly "
            f"spaced values [0, 0.1, …, 1]"
        )
    bad = [a for a in values if not (math.isfinite(a) and 0.0 <= a <= 1.0)]
    if bad:
        raise ValueError(
            f"alphas must lie in [0, 1] (θ(α) = (1 − α)·θ_A + α·θ_B stays between the two "
            f"networks), got {bad}"
        )
    if len(set(values)) != len(values):
        raise ValueError(f"alphas must be distinct, got {values}")
    if 0.0 not in values or 1.0 not in values:
        raise ValueError(
            f"alphas must include both endpoints 0 and 1 (the barrier is measured against the "
            f"line between them), got {sorted(values)}"
        )
    return tuple(sorted(values))


def check_same_architecture(
    state_a: Mapping[str, Tensor],
    state_b: Mapping[str, Tensor],
    names: tuple[str, str] = ("A", "B"),
) -> None:
    """Raise ``ValueError`` unless two state dicts have the same keys, shapes and dtypes.

    Example:
        >>> try:
        ...     check_same_architecture(nn.Linear(3, 2).state_dict(), nn.Linear(4, 2).state_dict())
        ... except ValueError as err:
        ...     print(str(err).split(";")[0])
        networks A and B have different architectures: weight is (2, 3) in A but (2, 4) in B
    """
    a, b = names
    only_a = sorted(set(state_a) - set(state_b))
    only_b = sorted(set(state_b) - set(state_a))
    problem = ""
    if only_a or only_b:
        problem = f"entries only in {a}: {only_a[:4]}, only in {b}: {only_b[:4]}"
    else:
        for key, ta in state_a.items():
            tb = state_b[key]
            if ta.shape != tb.shape:
                problem = f"{key} is {tuple(ta.shape)} in {a} but {tuple(tb.shape)} in {b}"
                break
            if ta.dtype != tb.dtype:
                problem = f"{key} is {ta.dtype} in {a} but {tb.dtype} in {b}"
                break
    if problem:
        raise ValueError(
            f"networks {a} and {b} have different architectures: {problem}; interpolate only "
            f"networks built from the same config"
        )


def interpolate_state(
    state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor], alpha: float
) -> dict[str, Tensor]:
    """θ(α) = (1 − α)·θ_A + α·θ_B for every floating-point entry; other entries from A.

    α = 0 and α = 1 return exact copies of A and B (``torch.lerp`` would give A + (B − A) at
    α = 1, which round-off can move off B).

    Example:
        >>> a, b = {"w": torch.tensor([0.0, 2.0])}, {"w": torch.tensor([1.0, 4.0])}
        >>> interpolate_state(a, b, 0.25)["w"].tolist()
        [0.25, 2.5]
    """
    if not (math.isfinite(alpha) and 0.0 <= alpha <= 1.0):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    check_same_architecture(state_a, state_b)
    out: dict[str, Tensor] = {}
    for key, ta in state_a.items():
        tb = state_b[key]
        if not ta.is_floating_point() or alpha == 0.0:
            out[key] = ta.detach().clone()
        elif alpha == 1.0:
            out[key] = tb.detach().clone()
        else:
            out[key] = (1.0 - alpha) * ta.detach() + alpha * tb.detach()
    return out


def batchnorm_modules(model: nn.Module) -> list[_BatchNorm]:
    """The model's BatchNorm layers that keep running statistics."""
    return [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, batches: Iterable[Tensor]) -> int:
    """Replace every BatchNorm's running statistics by those of ``batches`` (one pass).

    Each BatchNorm is reset and switched to a cumulative average (``momentum=None``) for the
    pass, so afterwards its running mean is the mean of the per-batch means and its running
    variance the mean of the per-batch unbiased variances of its input. Only the BatchNorm
    layers are put in training mode (dropout and the like stay off); the model's modes and the
    layers' momenta are restored afterwards, also on an error.

    Args:
        model: The network; nothing happens without BatchNorm layers.
        batches: Model inputs (e.g. the training set in batches), on the model's device.

    Returns:
        The number of BatchNorm layers recomputed.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        >>> recompute_batchnorm(net, [torch.ones(4, 2), 3 * torch.ones(4, 2)])
        1
        >>> # the mean of the two batch means; the layer before is affine: its output at 2·1
        >>> torch.allclose(net[1].running_mean, net[0](2 * torch.ones(1, 2))[0])
        True
    """
    layers = batchnorm_modules(model)
    if not layers:
        return 0
    modes = {module: module.training for module in model.modules()}
    momenta = [m.momentum for m in layers]
    try:
        model.eval()
        for m in layers:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        seen = 0
        for x in batches:
            model(x)
            seen += 1
        if seen == 0:
            raise ValueError("batches is empty; pass the training inputs in at least one batch")
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        for module, training in modes.items():
            module.train(training)
    return len(layers)


def barrier(alphas: Sequence[float], values: np.ndarray, *, sign: float = 1.0) -> float:
    """max_α sign·(v(α) − ((1 − α)·v(0) + α·v(1))): how far the path rises above its chord.

    ``sign=+1`` for quantities where up is worse (loss; HDR), ``sign=−1`` where down is worse
    (accuracy: the error barrier; MIR: its dip). NaN values (e.g. MIR undefined at one α) are
    skipped; NaN when the endpoints or every interior value are NaN.

    Example:
        >>> barrier([0.0, 0.5, 1.0], np.array([1.0, 3.0, 2.0]))  # chord at 0.5: 1.5
        1.5
        >>> barrier([0.0, 0.5, 1.0], np.array([0.9, 0.5, 0.9]), sign=-1.0)
        0.4
    """
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if a.shape != v.shape or a[0] != 0.0 or a[-1] != 1.0:
        raise ValueError("barrier needs one value per α of a sorted grid from 0 to 1")
    chord = (1.0 - a) * v[0] + a * v[-1]
    excess = sign * (v - chord)
    if not np.isfinite(chord).all() or not np.isfinite(excess).any():
        return math.nan
    return round(float(np.nanmax(excess)), 12)


def barrier_index(alphas: Sequence[float], loss: np.ndarray) -> int:
    """Index of α*, where the loss rises most above its chord (the barrier's location).

    Example:
        >>> barrier_index([0.0, 0.5, 1.0], np.array([1.0, 3.0, 2.0]))
        1
    """
    a = np.asarray(alphas, dtype=np.float64)
    v = np.asarray(loss, dtype=np.float64)
    return int(np.nanargmax(v - ((1.0 - a) * v[0] + a * v[-1])))


def change_at(alphas: Sequence[float], values: np.ndarray, index: int) -> float:
    """v(α) − ((1 − α)·v(0) + α·v(1)) at ``alphas[index]``: signed departure from the chord.

    Example:
        >>> change_at([0.0, 0.5, 1.0], np.array([0.6, 0.4, 0.6]), 1)
        -0.2
    """
    a = float(alphas[index])
    v = np.asarray(values, dtype=np.float64)
    return round(float(v[index] - ((1.0 - a) * v[0] + a * v[-1])), 12)


@dataclass(frozen=True)
class PathData:
    """The samples a path is measured on.

    Attributes:
        x: Inputs of the split (n, …), on the networks' device.
        y: Their labels (n,).
        mi_samples: MIR/HDR use the first ``mi_samples`` rows (pass the split in a fixed random
            order so they are a random subset); compare MIR only at equal sample counts.
        bn_batches: Training inputs for :func:`recompute_batchnorm`, called once per α; None
            leaves running statistics as interpolated.
        batch_size: Rows per forward pass.
    """

    x: Tensor
    y: Tensor
    mi_samples: int
    bn_batches: Callable[[], Iterable[Tensor]] | None = None
    batch_size: int = 1024


def matrix_info_or_nan(features: Tensor, head: Tensor, labels: Tensor) -> tuple[float, ...]:
    """MIR, HDR, H(features), H(head) (nats) and the share of all-zero feature rows.

    All-zero rows (every ReLU of a sample off) have no direction, so they are left out; where
    MIR/HDR are undefined on what is left (e.g. a rank-one Gram) the four values are NaN and a
    warning says why.

    Args:
        features: (n, d) features.
        head: (C, d) classifier head weight.
        labels: (n,) labels, paired with their head rows.

    Example:
        >>> w = torch.eye(3)
        >>> [round(v, 3) for v in matrix_info_or_nan(torch.eye(3), w, torch.arange(3))]
        [1.0, 0.0, 1.099, 1.099, 0.0]
    """
    nonzero = features.abs().amax(dim=1) > 0
    zero_share = 1.0 - float(nonzero.double().mean())
    try:
        result = matrix_information(features[nonzero], head_rows(head, labels[nonzero]))
    except ValueError as err:
        warnings.warn(f"MIR/HDR recorded as NaN for these features: {err}", stacklevel=3)
        return (math.nan, math.nan, math.nan, math.nan, zero_share)
    mir, hdr, hz, hw, _ = (float(v) for v in result)
    return (mir, hdr, hz, hw, zero_share)


@torch.no_grad()
def _point(model: nn.Module, head: nn.Linear, data: PathData) -> tuple[float, ...]:
    features: list[Tensor] = []
    hook = head.register_forward_pre_hook(lambda _m, args: features.append(args[0].detach()))
    try:
        logits = torch.cat([model(xb) for xb in data.x.split(data.batch_size)])
    finally:
        hook.remove()
    z = torch.cat(features)[: data.mi_samples]
    loss = float(F.cross_entropy(logits, data.y))
    accuracy = float((logits.argmax(dim=1) == data.y).double().mean())
    return (loss, accuracy, *matrix_info_or_nan(z, head.weight.detach(), data.y[: data.mi_samples]))


def measure_path(
    model_a: nn.Module,
    model_b: nn.Module,
    alphas: Sequence[float],
    data: PathData,
    *,
    scratch: nn.Module | None = None,
) -> dict[str, np.ndarray]:
    """Loss, accuracy and matrix information of θ(α) for every α of the grid.

    Args:
        model_a: Network A (α = 0).
        model_b: Network B (α = 1), same architecture.
        alphas: The grid (validated by :func:`check_alphas`).
        data: Split samples, MIR subset size and the BatchNorm pass.
        scratch: A module of the same architecture to load each θ(α) into (default: a copy
            of A); its parameters are overwritten.

    Returns:
        ``{name: (len(alphas),) array}`` for each of :data:`PATH_QUANTITIES`: mean
        cross-entropy (nats), accuracy, MIR and HDR of the head's input features against the
        head rows of the labels on the first ``data.mi_samples`` rows, the two matrix entropies
        (nats) and the share of those rows whose features are all zero (left out of MIR/HDR).
    """
    grid = check_alphas(alphas)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    check_same_architecture(state_a, state_b)
    if scratch is None:
        scratch = copy.deepcopy(model_a)
    head_name, _ = find_classifier_head(scratch)
    head = scratch.get_submodule(head_name)
    assert isinstance(head, nn.Linear)
    rows = []
    for alpha in grid:
        scratch.load_state_dict(interpolate_state(state_a, state_b, alpha))
        if data.bn_batches is not None:
            recompute_batchnorm(scratch, data.bn_batches())
        scratch.eval()
        rows.append(_point(scratch, head, data))
    table = np.asarray(rows, dtype=np.float64)
    return {name: table[:, i] for i, name in enumerate(PATH_QUANTITIES)}
