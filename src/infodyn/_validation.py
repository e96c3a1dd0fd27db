"""Boundary checks shared by every public entry point.

Each check raises ``ValueError`` (or ``TypeError`` for a wrong type) whose message names the
argument, says what was seen and what to do, so a bad call fails loudly instead of returning NaN.
"""

from __future__ import annotations

import cmath
import operator
from collections.abc import Sequence
from typing import Literal, TypeVar, overload

import torch
from torch import Tensor

_Choice = TypeVar("_Choice")


def _range_text(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _is_boolean(value: object) -> bool:
    # bool is an int subclass, and numpy/torch booleans may support __index__: a flag passed
    # where a count is expected is a mistake, never the number 0 or 1.
    return isinstance(value, bool) or str(getattr(value, "dtype", "")) in ("bool", "torch.bool")


@overload
def check_int(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: Literal[False] = False,
    hint: str = "",
) -> int: ...


@overload
def check_int(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: Literal[True],
    hint: str = "",
) -> int | None: ...


def check_int(
    name: str,
    value: object,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
    hint: str = "",
) -> int | None:
    """Return ``value`` as a Python int in [``minimum``, ``maximum``], else raise ``ValueError``.

    Anything with ``__index__`` counts as an integer (numpy and 0-d torch integers too); a bool
    never does. Every failure — wrong type, bool, out of range — raises ``ValueError`` naming
    the argument, the value seen and the allowed range, followed by ``hint`` when given.

    Args:
        name: the argument's name, as the caller spells it.
        value: what was passed.
        minimum: smallest allowed value, or None for no lower bound.
        maximum: largest allowed value, or None for no upper bound.
        allow_none: accept None (and return it), e.g. for an optional memory knob.
        hint: what the argument means or what to do, appended to the message.

    Example:
        >>> check_int("k", 5, minimum=1)
        5
        >>> check_int("chunk_size", None, minimum=1, allow_none=True) is None
        True
        >>> check_int("delay", True, minimum=0)
        Traceback (most recent call last):
        ...
        ValueError: delay must be an integer >= 0, got True (a bool)
    """
    if value is None and allow_none:
        return None
    number: int | None = None
    if not _is_boolean(value):
        try:
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            number = None
    too_small = number is not None and minimum is not None and number < minimum
    too_large = number is not None and maximum is not None and number > maximum
    if number is None or too_small or too_large:
        allowed = f"{'None or ' if allow_none else ''}an integer{_range_text(minimum, maximum)}"
        seen = f"{value!r} (a bool)" if _is_boolean(value) else repr(value)
        raise ValueError(f"{name} must be {allowed}, got {seen}{f'; {hint}' if hint else ''}")
    return number


def check_choice(name: str, value: object, choices: Sequence[_Choice]) -> _Choice:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    Membership is by type and equality, so ``1`` does not match ``True`` nor ``"1"`` match ``1``.

    Example:
        >>> check_choice("scope", "layer", ("layer", "neuron"))
        'layer'
        >>> check_choice("scope", "epoch", ("layer", "neuron"))
        Traceback (most recent call last):
        ...
        ValueError: scope must be one of 'layer', 'neuron'; got 'epoch'
    """
    for choice in choices:
        if type(value) is type(choice) and value == choice:
            return choice
    listed = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{name} must be one of {listed}; got {value!r}")


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a real number > 0 (not a bool, not NaN).

    Example:
        >>> check_positive("sigma", 5)
        5.0
    """
    if _is_boolean(value) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def check_tensor(name: str, value: object) -> Tensor:
    """Return ``value`` if it is a tensor, else raise a ``TypeError`` naming ``name``."""
    if not isinstance(value, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor, got {type(value).__name__}; "
            f"convert it with torch.as_tensor({name})"
        )
    return value


def check_same_device(**tensors: object) -> None:
    """Raise a ``ValueError`` naming two of ``tensors`` that lie on different devices.

    The message ends with the fix, e.g. ``labels.to(features.device)``. Non-tensors (e.g. an
    optional argument left None) are ignored.

    Example:
        >>> check_same_device(features=torch.zeros(2, 2), labels=torch.zeros(2))
        >>> check_same_device(  # doctest: +ELLIPSIS
        ...     features=torch.zeros(2, 2), labels=torch.zeros(2, device="meta"))
        Traceback (most recent call last):
        ...
        ValueError: features is on cpu but labels is on meta; move them to one device, ...
    """
    first: tuple[str, torch.device] | None = None
    for name, value in tensors.items():
        if not isinstance(value, Tensor):
            continue
        if first is None:
            first = (name, value.device)
        elif value.device != first[1]:
            raise ValueError(
                f"{first[0]} is on {first[1]} but {name} is on {value.device}; move them to one "
                f"device, e.g. {name}.to({first[0]}.device)"
            )


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
    # Fast path, one read and no mask: NaN and ±Inf propagate through a sum, so a finite sum
    # proves every entry finite. A non-finite sum may also be an overflow of finite entries;
    # the elementwise check below decides then. (The sum is read as a Python number: one
    # operation fewer than torch.isfinite on it.)
    if x.numel() == 0:
        return
    if cmath.isfinite(x.sum().item()):  # cmath: real and complex sums alike
        return
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
    if n:
        low, high = (int(v) for v in torch.aminmax(y))
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} holds values in [{low}, {high}] but there are "
                f"{num_classes} classes; labels must lie in [0, {num_classes - 1}]"
            )
    return y
