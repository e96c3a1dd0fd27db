"""``Measurement``: what :func:`infodyn.measure` found, as floats, tensors, rows or records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from infodyn.store import Array, RunStore, Scalar

__all__ = ["Measured", "Measurement"]


@dataclass(frozen=True)
class Measured:
    """One measured quantity.

    Attributes:
        family: ``"matrix"``, ``"te"``, ``"collapse"`` or ``"richness"``.
        metric: Its name, e.g. ``"mir"`` or ``"te_mean"``.
        layer: Where it was measured: ``"<features module>:input"``, a TE pair ``"a->b"``, a
            layer name, or ``""``.
        value: A 0-d tensor (a scalar) or a curve / matrix, on the CPU.
    """

    family: str
    metric: str
    layer: str
    value: Tensor

    @property
    def key(self) -> str:
        """``metric`` or ``metric@layer``, unique within a :class:`Measurement`."""
        return f"{self.metric}@{self.layer}" if self.layer else self.metric

    @property
    def is_scalar(self) -> bool:
        return self.value.numel() == 1


@dataclass(frozen=True)
class Measurement:
    """Every family's values from one pass over a loader (see :func:`infodyn.measure`).

    Attributes:
        values: Every :class:`Measured` quantity, families in the order they were asked for.
        samples: Samples in the pass; ``batches``: batches in it.
        setup: What was measured where: head, feature module, TE layers, classes, device.
        caps: The sample caps, per family, in words (e.g. ``"D_LR: 1000 of 1797 samples,
            seeded random (seed 0)"``).
        skipped: ``{family: reason}`` of families left out of ``families="all"``.
        seconds: Wall time per family (its metrics' update and compute) and ``"forward"``.
    """

    values: tuple[Measured, ...]
    samples: int
    batches: int
    setup: Mapping[str, Any] = field(default_factory=dict)
    caps: Mapping[str, str] = field(default_factory=dict)
    skipped: Mapping[str, str] = field(default_factory=dict)
    seconds: Mapping[str, float] = field(default_factory=dict)

    @property
    def families(self) -> tuple[str, ...]:
        """The families measured, in order."""
        return tuple(dict.fromkeys(v.family for v in self.values))

    @property
    def scalars(self) -> dict[str, float]:
        """``{key: float}`` of every scalar value (key: ``metric`` or ``metric@layer``)."""
        return {v.key: float(v.value) for v in self.values if v.is_scalar}

    @property
    def tensors(self) -> dict[str, Tensor]:
        """``{key: tensor}`` of every curve and matrix (TE matrices, D_LR curves, …)."""
        return {v.key: v.value for v in self.values if not v.is_scalar}

    def __getitem__(self, key: str) -> float | Tensor:
        """A value by key: a float for a scalar, else the tensor."""
        for value in self.values:
            if value.key == key:
                return float(value.value) if value.is_scalar else value.value
        raise KeyError(f"{key!r} was not measured; measured: {', '.join(self.keys())}")

    def keys(self) -> list[str]:
        return [v.key for v in self.values]

    def __iter__(self) -> Iterator[Measured]:
        return iter(self.values)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python, JSON-ready: ``{family: {key: float or nested list}}`` plus the context."""
        families: dict[str, dict[str, Any]] = {}
        for v in self.values:
            families.setdefault(v.family, {})[v.key] = (
                float(v.value) if v.is_scalar else v.value.tolist()
            )
        return {
            "values": families,
            "samples": self.samples,
            "batches": self.batches,
            "setup": dict(self.setup),
            "caps": dict(self.caps),
            "skipped": dict(self.skipped),
            "seconds": dict(self.seconds),
        }

    def to_frame(self) -> Any:
        """A ``pandas.DataFrame`` of the scalars: columns family, metric, layer, value."""
        try:
            import pandas as pd
        except ImportError as error:  # pragma: no cover - exercised only without pandas
            raise ImportError(
                "Measurement.to_frame() needs pandas; pip install pandas (or use to_dict())"
            ) from error
        rows = [(v.family, v.metric, v.layer, float(v.value)) for v in self.values if v.is_scalar]
        return pd.DataFrame(rows, columns=["family", "metric", "layer", "value"])

    def write(self, store: RunStore, step: int = 0, split: str = "eval") -> None:
        """Write every value into ``store`` at ``step`` under ``split`` (mode eval), atomically."""
        scalars = [
            Scalar(step, split, v.metric, float(v.value), v.layer, "eval")
            for v in self.values
            if v.is_scalar
        ]
        arrays = [
            Array(step, split, v.metric, v.value.numpy(), v.layer, "eval")
            for v in self.values
            if not v.is_scalar
        ]
        store.write(scalars, arrays)

    def __repr__(self) -> str:
        lines = [f"Measurement({self.samples} samples in {self.batches} batches)"]
        for family in self.families:
            seconds = self.seconds.get(family)
            lines.append(f"  {family}" + (f"  ({seconds:.2f} s)" if seconds is not None else ""))
            for v in self.values:
                if v.family != family:
                    continue
                shown = f"{float(v.value):.6g}" if v.is_scalar else f"tensor{tuple(v.value.shape)}"
                lines.append(f"    {v.key:<40} {shown}")
        for family, reason in self.skipped.items():
            lines.append(f"  {family}: skipped — {reason}")
        lines.extend(f"  cap: {text}" for text in self.caps.values())
        return "\n".join(lines)
