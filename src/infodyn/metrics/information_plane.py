"""Streaming information-plane coordinates: I(Z;X), I(Z;Y) and nHSIC (Sakamoto & Sato, Fig. 4)."""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from infodyn._validation import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_positive,
    check_same_device,
    check_same_rows,
    check_tensor,
)
from infodyn.functional._chunking import check_chunk_size
from infodyn.functional.dependence import _ESTIMATORS, _mutual_information_pair, _nhsic_pair

KEYS = ("mi_zx", "mi_zy", "redundant_information", "nhsic_zx", "nhsic_zy", "nhsic_redundant")
_MI_KEYS = KEYS[:3]
_DEFAULT_ESTIMATOR = "ksg"


def information_plane_keys(estimator: str = _DEFAULT_ESTIMATOR) -> tuple[str, ...]:
    """The keys ``InformationPlane(estimator=...).compute()`` returns, in order.

    The MI keys name their estimator unless it is the default KSG, so a stored value always
    says how it was drawn: ``mi_zx`` (KSG/Ross), ``mi_zx_kl`` (Kozachenko–Leonenko entropies,
    Sakamoto & Sato's estimator), ``mi_zx_binned``. The nHSIC keys have no estimator.

    Example:
        >>> information_plane_keys("kl")[:3]
        ('mi_zx_kl', 'mi_zy_kl', 'redundant_information_kl')
    """
    check_choice("estimator", estimator, _ESTIMATORS)
    suffix = "" if estimator == _DEFAULT_ESTIMATOR else f"_{estimator}"
    return (*(f"{key}{suffix}" for key in _MI_KEYS), *KEYS[3:])


class InformationPlane(Metric):
    """I(Z;X), I(Z;Y), nHSIC and the redundant information I(Z;X) − I(Z;Y) of an evaluation pass.

    Z = features (penultimate layer), X = the model input flattened to (n, −1), Y = labels.
    The first ``max_samples`` rows of (Z, X, Y) are kept, **together, from one pass** — the
    authors' public code read features from a shuffled loader but labels in dataset order, so
    its (z, y) pairs were misaligned; passing the three in one ``update`` call rules that out.
    At ``compute``:

    * ``mi_zx``, ``mi_zy`` (nats): ``infodyn.functional.dependence.mutual_information`` on
      whitened PCA projections (KSG, or Ross's discrete variant for Y), and
      ``redundant_information = mi_zx − mi_zy``. With another ``estimator`` the three keys
      carry its name — ``mi_zx_kl`` … for Sakamoto & Sato's Kozachenko–Leonenko estimator,
      ``mi_zx_binned`` … for bins — so records never mix estimators under one name
      (:func:`information_plane_keys`). Z's projection, and for KSG its max-norm distance
      blocks, are computed once for both values (bit-identical to the two calls).
    * ``nhsic_zx``, ``nhsic_zy``: ``nhsic`` (Gaussian kernels σ = 5, centred linear label
      kernel, ε = 1e-5) on batches of ``nhsic_batch_size`` rows (100 in the paper), averaged;
      ``nhsic_redundant = nhsic_zx − nhsic_zy``. The kept rows are first put in a fixed random
      order (``nhsic_shuffle_seed``), so batches mix classes even if the loader is sorted by
      class: a single-class batch has nHSIC(Z; Y) = 0. nHSIC grows with the batch size, so
      compare runs with the same one. Z's kernels and resolvents serve both values.

    Memory: ``max_samples`` rows of features, inputs and labels; across DDP ranks the rows are
    gathered (``dist_reduce_fx="cat"``, rank 0's first) and capped again.

    Args:
        max_samples: rows kept (default 1000).
        estimator: ``"ksg"`` (default), ``"kl"`` or ``"binned"`` for the two MI values.
        k: neighbours of the KSG estimator (default 5).
        project_dim: PCA dimension for Z and X before MI (default 4; None keeps all columns).
        num_bins: bins per dimension for ``"binned"`` (default 30).
        nhsic_batch_size: rows per nHSIC batch (default 100).
        nhsic_shuffle_seed: seed of the fixed row order for nHSIC batches; None keeps the
            order of arrival (default 0).
        sigma: Gaussian bandwidth per dimension for nHSIC (default 5).
        epsilon: nHSIC regulariser (default 1e-5).
        num_classes: number of classes, to check labels (default: not checked beyond >= 0).
        chunk_size: rows of a KSG distance block at a time (memory knob, value unchanged).
        kwargs: passed to ``torchmetrics.Metric``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(200) % 2
        >>> inputs = torch.randn(200, 1, 3, 3, generator=g) + 10.0 * labels[:, None, None, None]
        >>> features = inputs.flatten(1)[:, :2] + 0.1 * torch.randn(200, 2, generator=g)
        >>> metric = InformationPlane(max_samples=200)
        >>> metric.update(features, inputs, labels)
        >>> values = metric.compute()
        >>> list(values)
        ['mi_zx', 'mi_zy', 'redundant_information', 'nhsic_zx', 'nhsic_zy', 'nhsic_redundant']
        >>> round(float(values["mi_zy"]), 1)  # two well-separated classes: ≈ log 2
        0.7
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    #: what a monitor must capture and pass to ``update``, by keyword.
    inputs = ("features", "inputs", "labels")

    kept_features: list[Tensor] | Tensor
    kept_inputs: list[Tensor] | Tensor
    kept_labels: list[Tensor] | Tensor

    def __init__(
        self,
        *,
        max_samples: int = 1000,
        estimator: Literal["ksg", "kl", "binned"] = "ksg",
        k: int = 5,
        project_dim: int | None = 4,
        num_bins: int = 30,
        nhsic_batch_size: int = 100,
        nhsic_shuffle_seed: int | None = 0,
        sigma: float = 5.0,
        epsilon: float = 1e-5,
        num_classes: int | None = None,
        chunk_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.estimator = check_choice("estimator", estimator, _ESTIMATORS)
        self.max_samples = check_int("max_samples", max_samples, minimum=2)
        self.k = check_int("k", k, minimum=1)
        self.project_dim = check_int("project_dim", project_dim, minimum=1, allow_none=True)
        self.chunk_size = check_chunk_size(chunk_size)
        self.num_classes = check_int("num_classes", num_classes, minimum=1, allow_none=True)
        self.nhsic_shuffle_seed = check_int(
            "nhsic_shuffle_seed", nhsic_shuffle_seed, allow_none=True
        )
        self.num_bins = check_int("num_bins", num_bins, minimum=1)
        self.nhsic_batch_size = check_int("nhsic_batch_size", nhsic_batch_size, minimum=2)
        self.sigma = check_positive("sigma", sigma)
        self.epsilon = check_positive("epsilon", epsilon)
        self.add_state("kept_features", [], "cat")
        self.add_state("kept_inputs", [], "cat")
        self.add_state("kept_labels", [], "cat")

    def update(self, features: Tensor, inputs: Tensor, labels: Tensor) -> None:
        """Add one batch: ``features`` (n, d), model ``inputs`` (n, ...), ``labels`` (n,).

        Inputs are flattened to (n, −1); integer inputs (e.g. token ids) are cast to float, so
        one-hot them first if their numeric values mean nothing.
        """
        check_same_device(features=features, inputs=inputs, labels=labels)
        z = check_matrix("features", features, min_rows=1).detach()
        x = check_tensor("inputs", inputs).detach()
        if x.ndim == 0:
            raise ValueError("inputs must have a leading sample dimension, got a 0-d tensor")
        x = x.reshape(x.shape[0], -1)
        if not x.is_floating_point():
            x = x.double()
        x = check_matrix("inputs", x, min_rows=1)
        check_same_rows("features", z, "inputs", x)
        y = check_tensor("labels", labels)
        num_classes = self.num_classes
        if num_classes is None:
            num_classes = int(y.max()) + 1 if y.numel() and y.ndim == 1 else 1
        y = check_labels("labels", y, n=z.shape[0], num_classes=num_classes).detach()
        assert isinstance(self.kept_features, list)  # a tensor only after a sync
        assert isinstance(self.kept_inputs, list)
        assert isinstance(self.kept_labels, list)
        if self.kept_features:
            for name, kept, new in (
                ("features", self.kept_features[0], z),
                ("inputs", self.kept_inputs[0], x),
            ):
                if kept.shape[1] != new.shape[1]:
                    raise ValueError(
                        f"{name} has {new.shape[1]} columns but earlier updates had "
                        f"{kept.shape[1]}; one InformationPlane measures one layer and one input"
                    )
        room = self.max_samples - sum(t.shape[0] for t in self.kept_features)
        if room > 0:  # clone: a slice would pin the whole batch in memory
            self.kept_features.append(z[:room].clone())
            self.kept_inputs.append(x[:room].clone())
            self.kept_labels.append(y[:room].clone())

    @property
    def output_keys(self) -> tuple[str, ...]:
        """The keys :meth:`compute` returns (:func:`information_plane_keys` of the estimator)."""
        return information_plane_keys(self.estimator)

    def compute(self) -> dict[str, Tensor]:
        """The six values of :attr:`output_keys` as 0-d float64 tensors (MI in nats)."""
        if isinstance(self.kept_features, list) and not self.kept_features:
            raise RuntimeError(_NO_DATA)
        z = dim_zero_cat(self.kept_features)[: self.max_samples]
        x = dim_zero_cat(self.kept_inputs)[: self.max_samples]
        y = dim_zero_cat(self.kept_labels)[: self.max_samples]
        options: dict[str, Any] = {
            "estimator": self.estimator,
            "k": self.k,
            "project_dim": self.project_dim,
            "num_bins": self.num_bins,
            "chunk_size": self.chunk_size,
        }
        kernel_options: dict[str, Any] = {
            "sigma": self.sigma,
            "epsilon": self.epsilon,
            "batch_size": self.nhsic_batch_size,
        }
        with torch.no_grad():
            # Equal, bit for bit, to mutual_information(z, x) and mutual_information(z, y)
            # (and to nhsic of each), with what both need of Z computed once.
            mi_zx, mi_zy = _mutual_information_pair(
                z, x, y, num_classes=self.num_classes, **options
            )
            if self.nhsic_shuffle_seed is not None:
                generator = torch.Generator().manual_seed(self.nhsic_shuffle_seed)
                order = torch.randperm(z.shape[0], generator=generator).to(z.device)
                z, x, y = z[order], x[order], y[order]
            nhsic_zx, nhsic_zy = _nhsic_pair(
                z, x, y, num_classes=self.num_classes, **kernel_options
            )
        values = (mi_zx, mi_zy, mi_zx - mi_zy, nhsic_zx, nhsic_zy, nhsic_zx - nhsic_zy)
        return dict(zip(self.output_keys, values, strict=True))


_NO_DATA = (
    "InformationPlane.compute() was called before update(): no batch has been seen; "
    "call update(features, inputs, labels) at least once after reset()"
)
