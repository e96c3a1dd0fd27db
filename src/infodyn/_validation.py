"""Boundary checks shared by every public entry point.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose message names the
argument, says what was seen and what to do, so a bad call fails loudly instead of returning NaN.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_tensor(name: str, value: object) -> Tensor:
    """Return ``value`` if it is a tensor, else raise a ``TypeError`` naming ``name``."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; "
            f"convert it with torch.as_tensor({name})"
        )
    return value


def check_matrix(name: str, value: object, *, min_rows: int = 2) -> Tensor:
    """Check a floating (n, d) feature matrix with n >= ``min_rows`` and only finite entries."""
    x = check_tensor(name, value)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (samples, features), got shape {tuple(x.shape)}; "
            f"flatten the feature dimensions with {name}.flatten(1)"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got {x.dtype}; call {name}.float()"
        )
    if x.shape[0] < min_rows:
        raise ValueError(
            f"{name} has {x.shape[0]} sample(s) (shape {tuple(x.shape)}); "
            f"at least {min_rows} samples are needed — pass a larger batch"
        )
    if x.shape[1] < 1:
        raise ValueError(f"{name} has no feature columns (shape {tuple(x.shape)})")
    check_finite(name, x)
    return x


def check_finite(name: str, x: Tensor) -> None:
    """Raise if ``x`` holds NaN or Inf, with how many and where the first one sits."""
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        first = tuple(int(i) for i in (~finite).nonzero()[0])
        raise ValueError(
            f"{name} contains {bad} non-finite value(s) (NaN or Inf), first at index {first}; "
            f"the model has diverged or the input is corrupt — lower the learning rate or "
            f"clean the data before measuring"
        )


def check_same_rows(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise if two sample-major tensors disagree on the number of samples."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"{name_a} has {a.shape[0]} samples but {name_b} has {b.shape[0]}; "
            f"rows are samples and must pair one-to-one"
        )


def check_labels(name: str, labels: object, *, n: int, num_classes: int) -> Tensor:
    """Check integer class labels of shape (n,) with values in [0, num_classes)."""
    y = check_tensor(name, labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) to match the samples, got {tuple(y.shape)}"
        )
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise TypeError(
            f"{name} must hold integer class indices, got {y.dtype}; call {name}.long()"
        )
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"{name} holds values in [{int(y.min())}, {int(y.max())}] but there are "
            f"{num_classes} classes; labels must lie in [0, {num_classes - 1}]"
        )
    return y
