"""Streaming TE across a layer stack, with an optional surrogate test of the series it saw.

The counts stream in O(m·n) memory, but a surrogate test needs the series itself: it reorders
the source observations (JIDT's ``computeSignificance(nPerm)``). With a :class:`SurrogateTest`
the metric also keeps the binarised bits of every layer, up to a bounded number of samples,
and tests them at :meth:`LayerTransferEntropy.compute` with
:func:`~infodyn.functional.transfer_entropy_null` — exactly the call a user would make on the
same series with the same seed.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from infodyn._validation import check_choice, check_int, check_same_device
from infodyn.functional.binarize import SCOPES, Scope, binarize
from infodyn.functional.neurons import neuron_series
from infodyn.functional.te import SurrogateMethod, transfer_entropy_null
from infodyn.functional.te_layers import LayerPairTransferEntropy, te_information_plane
from infodyn.functional.te_windows import transfer_entropy_windows
from infodyn.metrics._lazy import LazyWidthMetric
from infodyn.metrics._waiting_layers import WaitingLayers, feed_waiting, tails_moved
from infodyn.metrics.transfer_entropy import TransferEntropy

__all__ = ["LAYER_TE_OUTPUTS", "LayerTransferEntropy", "SurrogateTest"]

#: Every output key of :class:`LayerTransferEntropy` (before ``suffix``), by what enables it.
LAYER_TE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "always": ("te", "te_mean", "te_max", "te_sum", "te_in", "te_out"),
    "null": ("te_p_value", "te_null", "te_null_mean", "te_excess", "te_sig_fraction"),
    "segments": (
        "te_segment_mean",
        "te_segment_null_mean",
        "te_segment_null_std",
        "te_prefix_mean",
        "te_prefix_null_mean",
        "te_prefix_null_std",
    ),
}
_PLANE_KEYS = ("te_in", "te_out")


@dataclass(frozen=True)
class SurrogateTest:
    """How :class:`LayerTransferEntropy` tests each pair against source surrogates.

    Attributes:
        n_surrogates: K surrogates per test; p-values are multiples of 1/(K + 1), so K ≥ 20
            is needed for any p below 0.05 (default 99).
        seed: Seed of the surrogate generator (the same for every pair and every record).
        method: ``"shuffle"`` (a random permutation, default) or ``"circular"`` (a random shift).
        max_samples: Memory bound: the bits of at most this many samples are kept
            (Σ_layers neurons bytes each); a longer series is tested on its first
            ``max_samples`` samples (a warning says so).
        alpha: Level of the per-pair test behind ``te_sig_fraction`` (p < alpha).
        segments: P > 0 also tests P consecutive equal parts of the kept series and its
            growing prefixes (first 1/P, 2/P, … of it); see
            :func:`~infodyn.functional.transfer_entropy_windows`.
        max_elements: Memory knob of each surrogate batch (see ``transfer_entropy_null``).
    """

    n_surrogates: int = 99
    seed: int = 0
    method: SurrogateMethod = "shuffle"
    max_samples: int = 16_384
    alpha: float = 0.05
    segments: int = 0
    max_elements: int = 1 << 26

    def __post_init__(self) -> None:
        check_int("n_surrogates", self.n_surrogates, minimum=1)
        check_int("seed", self.seed)
        check_choice("method", self.method, ("shuffle", "circular"))
        check_int("max_samples", self.max_samples, minimum=2)
        check_int("segments", self.segments, minimum=0)
        check_int("max_elements", self.max_elements, minimum=1)
        if isinstance(self.alpha, bool) or not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {self.alpha!r}; 0.05 is usual")


class LayerTransferEntropy(LazyWidthMetric):
    """Streaming TE for every adjacent pair of a layer stack, binarised batch by batch.

    Each batch's activations are reduced to neurons (:func:`~infodyn.functional.neuron_series`:
    conv → channel mean), binarised at the ``q`` percentile of the layer in that batch (the
    ``layer_batch`` scope, or per neuron with ``scope="neuron"``) and streamed into one
    :class:`~infodyn.metrics.TransferEntropy` per adjacent pair, built at construction and
    sized by the first batch. With ``softmax_output`` the softmax of the logits is the last
    layer. Small batches wait (``buffer_samples``) and are binarised and counted together,
    which gives the same integer counts at a fraction of the per-batch cost; they are counted
    before ``compute``, the DDP ``sync`` and a checkpoint (``metric_state_dict``), and a
    pair's stream tail changed while they wait (a new trial) takes effect after them.

    ``compute`` returns, per pair ``"a->b"``: the matrix ``te`` and its ``te_mean``, ``te_max``,
    ``te_sum`` (bits); per hidden layer the TE-plane coordinates of
    :func:`~infodyn.functional.te_information_plane`, ``te_in`` (TE from the layer before) and
    ``te_out`` (TE to the layer after), pair means. With ``null=SurrogateTest(...)``, per pair
    also, from ``transfer_entropy_null`` on the kept series: ``te_p_value`` (matrix),
    ``te_null`` ((K,) each surrogate's pair-mean TE: the null distribution of ``te_mean``),
    ``te_null_mean`` (its mean), ``te_excess`` (mean over pairs of TE − the pair's null mean,
    bits: above 0 means above the estimator's bias) and ``te_sig_fraction`` (fraction of neuron
    pairs with p < alpha, about alpha or less for independent series). With
    ``SurrogateTest(segments=P)`` also (P,) arrays ``te_segment_mean``,
    ``te_segment_null_mean``, ``te_segment_null_std`` over P consecutive parts of the series
    and ``te_prefix_*`` over its growing prefixes.

    The kept bits are this process's series, not reduced across DDP ranks (like the stream's
    tail); the significance outputs describe them, while ``te`` pools every rank's counts. They
    are part of a checkpoint (``metric_state_dict``), so a resumed series is tested whole.

    Args:
        layers: module names in forward order (outputs are captured by the monitor).
        q: binarisation percentile (default 0.95).
        scope: ``"layer"`` (default) or ``"neuron"`` threshold within each batch.
        softmax_output: append softmax(logits) as the output layer (default True).
        delay: source→target lag (default 1, the authors'; 0 is a same-sample variant).
        null: a :class:`SurrogateTest`, or None (default) for no significance outputs.
        outputs: keys to return (a subset of :data:`LAYER_TE_OUTPUTS` enabled by ``null``);
            None returns all of them.
        suffix: appended to every output key, e.g. ``"_lag0"`` gives ``te_mean_lag0``, so
            metrics of several delays can share one store.
        buffer_samples: speed and memory knob: the layer values of up to this many samples
            (Σ neurons over the stack, in the activations' dtype, per sample) wait and are then
            binarised — each batch at its own threshold — and counted together, one product
            per pair (default 2048; 1 feeds every batch at once). The values do not depend on
            it. With a :class:`SurrogateTest` every batch is fed at once.

    Example:
        >>> metric = LayerTransferEntropy(["h"], softmax_output=True)
        >>> g = torch.Generator().manual_seed(0)
        >>> for _ in range(3):
        ...     h, logits = torch.randn(50, 4, generator=g), torch.randn(50, 3, generator=g)
        ...     metric.update({"h": h}, logits)
        >>> sorted(metric.compute())
        ['h->softmax']
        >>> tested = LayerTransferEntropy(["h"], null=SurrogateTest(n_surrogates=19),
        ...                               outputs=["te_mean", "te_excess"], suffix="_lag1")
        >>> tested.update({"h": h}, logits)
        >>> sorted(tested.compute()["h->softmax"])
        ['te_excess_lag1', 'te_mean_lag1']
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False
    inputs = ("activations", "logits")

    # The kept binary series (samples, Σ neurons over the stack), uint8; None when no
    # SurrogateTest is set or no batch was seen. Rank-local, part of a checkpoint.
    _checkpoint_attributes = ("_kept",)

    def __init__(
        self,
        layers: Sequence[str],
        *,
        q: float = 0.95,
        scope: Scope = "layer",
        softmax_output: bool = True,
        delay: int = 1,
        null: SurrogateTest | None = None,
        outputs: Collection[str] | None = None,
        suffix: str = "",
        buffer_samples: int = 2048,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.layers = tuple(layers)
        self.stack = (*self.layers, "softmax") if softmax_output else self.layers
        if len(self.stack) < 2:
            raise ValueError(
                f"layers {list(layers)} give {len(self.stack)} layer(s); TE needs at least an "
                f"adjacent pair (add a layer or set softmax_output=True)"
            )
        if not 0.0 < q < 1.0:
            raise ValueError(f"q must lie in (0, 1), got {q}")
        if null is not None and not isinstance(null, SurrogateTest):
            raise TypeError(
                f"null must be a SurrogateTest or None, got {type(null).__name__}; "
                f"e.g. null=SurrogateTest(n_surrogates=99)"
            )
        if not isinstance(suffix, str):
            raise TypeError(f"suffix must be a str, got {type(suffix).__name__}")
        self.q, self.softmax_output = q, softmax_output
        self.scope: Scope = check_choice("scope", scope, SCOPES)
        self.delay = check_int("delay", delay, minimum=0)
        self.null = null
        self.suffix = suffix
        self.outputs = self._check_outputs(outputs)
        tested = (*LAYER_TE_OUTPUTS["null"], *LAYER_TE_OUTPUTS["segments"])
        # Keep the bits only when some requested output needs the series.
        self._tests = any(key in self.outputs for key in tested)
        self.adjacent = tuple(itertools.pairwise(self.stack))
        self.pair_names = tuple(self.pair_name(a, b) for a, b in self.adjacent)
        # A list, not a dict keyed by pair name: module names such as "block.0" contain dots,
        # which nn.ModuleDict rejects.
        self.pairs = nn.ModuleList(TransferEntropy(delay=self.delay) for _ in self.adjacent)
        self._kept: Tensor | None = None
        self._warned_full = False
        # Batches binarised and counted together later; the surrogate test keeps its bits
        # batch by batch, so with it every batch is fed at once.
        self._waiting = WaitingLayers(
            1 if self._tests else check_int("buffer_samples", buffer_samples, minimum=1)
        )

    def _check_outputs(self, outputs: Collection[str] | None) -> tuple[str, ...]:
        available = list(LAYER_TE_OUTPUTS["always"])
        if self.null is not None:
            available += LAYER_TE_OUTPUTS["null"]
            if self.null.segments:
                available += LAYER_TE_OUTPUTS["segments"]
        if outputs is None:
            return tuple(available)
        if isinstance(outputs, str):
            raise TypeError(f"outputs must be a collection of names, got the string {outputs!r}")
        unknown = sorted(set(outputs) - set(available))
        if unknown:
            hint = "" if self.null is not None else " (significance outputs need null=…)"
            raise ValueError(
                f"outputs {unknown} are not available{hint}; choose from {', '.join(available)}"
            )
        return tuple(name for name in available if name in set(outputs))

    @staticmethod
    def pair_name(source: str, target: str) -> str:
        return f"{source}->{target}"

    def update(self, activations: Mapping[str, Tensor], logits: Tensor | None = None) -> None:
        """Add one batch: ``activations`` maps each layer name to its (B, …) output."""
        missing = [name for name in self.layers if name not in activations]
        if missing:
            raise ValueError(
                f"activations has no entry for layer(s) {missing}; got {list(activations)}"
            )
        check_same_device(**{name: activations[name] for name in self.layers}, logits=logits)
        layer_values = {name: neuron_series(activations[name]) for name in self.layers}
        if self.softmax_output:
            if logits is None:
                raise ValueError(
                    "logits are needed for softmax_output=True; pass the model's output"
                )
            layer_values["softmax"] = logits.softmax(dim=-1)
        self._follow_device(layer_values[self.stack[0]].device)
        pairs = self._pairs()
        if self._waiting and tails_moved(self._waiting, pairs):
            self._feed_waiting()  # a new trial began after the waiting batches
        values = [layer_values[name] for name in self.stack]
        copy = self._waiting.copy_if_it_can_wait(values, pairs)
        if copy is None:
            self._feed_waiting()
            self._feed(layer_values)
            return
        self._waiting.add(copy, pairs)
        if self._waiting.full():
            self._feed_waiting()

    def _feed(self, layer_values: Mapping[str, Tensor]) -> None:
        """Binarise one batch and feed it to every pair (and the kept series)."""
        binary = {
            name: binarize(x.detach(), self.q, scope=self.scope) for name, x in layer_values.items()
        }
        for pair, (source, target) in zip(self._pairs(), self.adjacent, strict=True):
            pair.update(binary[source], binary[target])
        if self._tests:
            self._keep(torch.cat([binary[name] for name in self.stack], dim=1))

    def _feed_waiting(self) -> None:
        """Binarise and count the waiting batches, each pair in one update."""
        feed_waiting(self._waiting, self._pairs(), self.q, self.scope)

    def _keep(self, bits: Tensor) -> None:
        """Append a batch's bits to the kept series, up to ``null.max_samples`` samples."""
        assert self.null is not None
        kept = 0 if self._kept is None else self._kept.shape[0]
        room = self.null.max_samples - kept
        if bits.shape[0] > room and not self._warned_full:
            self._warned_full = True
            warnings.warn(
                f"LayerTransferEntropy keeps the bits of at most {self.null.max_samples} samples "
                f"for the surrogate test; this series is longer, so the significance outputs "
                f"describe its first {self.null.max_samples} samples (raise "
                f"SurrogateTest.max_samples to cover it: {bits.shape[1]} bytes per sample)",
                stacklevel=3,
            )
        if room <= 0:
            return
        bits = bits[:room].to(torch.uint8)
        self._kept = bits.clone() if self._kept is None else torch.cat([self._kept, bits])

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate like :meth:`update`; returns None."""
        self.update(*args, **kwargs)

    def _pairs(self) -> list[TransferEntropy]:
        return [pair for pair in self.pairs if isinstance(pair, TransferEntropy)]

    def new_series(self) -> None:
        """End every pair's current series (:meth:`TransferEntropy.new_series`); counts are kept.

        The kept bits of a :class:`SurrogateTest` stay one series: the surrogate test reorders
        samples and does not know of breaks.
        """
        self._feed_waiting()  # waiting batches belong to the series that ends here
        for pair in self._pairs():
            pair.new_series()

    def reset(self) -> None:
        """Clear every pair's counts and stream tail, the waiting batches and the kept series."""
        super().reset()
        for pair in self._pairs():
            pair.reset()
        self._waiting.clear()
        self._kept = None
        self._warned_full = False

    @property
    def metric_state(self) -> dict[str, Tensor | list[Tensor]]:
        """The (empty) own states, waiting batches counted first: a checkpoint
        (``metric_state_dict``) reads this before the pairs' states."""
        self._feed_waiting()
        return super().metric_state

    def sync(self, *args: Any, **kwargs: Any) -> None:
        """Count the waiting batches, then sync as ``torchmetrics.Metric.sync``."""
        self._feed_waiting()
        super().sync(*args, **kwargs)

    def kept_series(self) -> dict[str, Tensor]:
        """The kept binary series of each layer of the stack, ``{layer: (T, neurons) uint8}``.

        Empty without a :class:`SurrogateTest` or before the first batch.
        """
        if self._kept is None:
            return {}
        widths = [self._pairs()[0].lazy_widths()["m"]]
        widths += [pair.lazy_widths()["n"] for pair in self._pairs()]
        columns = itertools.accumulate(widths, initial=0)
        edges = list(columns)
        return {
            name: self._kept[:, lo:hi]
            for name, lo, hi in zip(self.stack, edges[:-1], edges[1:], strict=True)
        }

    def _significance(self, source: Tensor, target: Tensor) -> dict[str, Tensor]:
        null = self.null
        assert null is not None
        sig = transfer_entropy_null(
            source,
            target,
            null.n_surrogates,
            null.seed,
            method=null.method,
            delay=self.delay,
            max_elements=null.max_elements,
        )
        out = {
            "te_p_value": sig.p_value,
            "te_null": sig.null_pair_mean,
            "te_null_mean": sig.null_pair_mean.mean(),
            "te_excess": (sig.te - sig.null_mean).mean(),
            "te_sig_fraction": (sig.p_value < null.alpha).double().mean(),
        }
        if null.segments:
            for kind, growing in (("segment", False), ("prefix", True)):
                w = transfer_entropy_windows(
                    source,
                    target,
                    null.segments,
                    growing=growing,
                    n_surrogates=null.n_surrogates,
                    seed=null.seed,
                    method=null.method,
                    delay=self.delay,
                    whole=sig,
                )
                out[f"te_{kind}_mean"] = w.te_mean
                out[f"te_{kind}_null_mean"] = w.null_mean
                out[f"te_{kind}_null_std"] = w.null_std
        return out

    def compute(self) -> dict[str, dict[str, Tensor]]:
        """Nested values: outer key = layer pair ``"a->b"`` or hidden layer, inner = metric."""
        self._feed_waiting()
        full: dict[str, dict[str, Tensor]] = {}
        summaries = []
        series = self.kept_series()
        for pair, name, (source, target) in zip(
            self._pairs(), self.pair_names, self.adjacent, strict=True
        ):
            values = pair.compute()
            if self._tests:
                values |= self._significance(series[source], series[target])
            full[name] = values
            summaries.append(
                LayerPairTransferEntropy(
                    source,
                    target,
                    values["te"],
                    float(values["te_mean"]),
                    float(values["te_max"]),
                    float(values["te_sum"]),
                )
            )
        device = full[self.pair_names[0]]["te"].device
        for layer, coords in te_information_plane(summaries, statistic="mean").items():
            full[layer] = {
                key: torch.tensor(value, dtype=torch.float64, device=device)
                for key, value in zip(_PLANE_KEYS, coords, strict=True)
            }
        out: dict[str, dict[str, Tensor]] = {}
        for outer, values in full.items():
            kept = {f"{k}{self.suffix}": v for k, v in values.items() if k in self.outputs}
            if kept:
                out[outer] = kept
        return out
