"""``infodyn.measure``: every family of one model, from one pass over a loader.

One forward pass per batch, in eval mode, feeds the metrics of every chosen family
(:class:`infodyn.tap.ModelTap` captures the union of what they need once). The families and
their metrics: :mod:`infodyn.families`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from infodyn.batches import BatchFn, as_pairs
from infodyn.evaluation import evaluate_pass
from infodyn.families import (
    FAMILIES,
    Family,
    MeasureCaps,
    choose_families,
    num_classes_of,
    plan_families,
)
from infodyn.layer_trace import trace_layers
from infodyn.measurement import Measured, Measurement
from infodyn.monitor import metric_records
from infodyn.store import RunStore
from infodyn.tap import model_device

__all__ = ["FAMILIES", "Family", "MeasureCaps", "measure"]


def _pass_length(loader: Iterable[Any]) -> int | None:
    """Samples in one pass over ``loader`` when a DataLoader says so; else None."""
    if not isinstance(loader, DataLoader):
        return None
    try:
        if loader.batch_size is not None and loader.drop_last:
            return len(loader) * loader.batch_size
        return len(loader.sampler)  # type: ignore[arg-type]
    except TypeError:  # an iterable dataset or a sampler without a length
        return None


def measure(
    model: nn.Module,
    loader: Iterable[Any],
    *,
    families: str | Sequence[str] = "all",
    num_classes: int | None = None,
    layers: Sequence[str] | None = None,
    features: str | None = None,
    head: str | None = None,
    store: RunStore | str | Path | None = None,
    device: torch.device | str | None = None,
    batch_fn: BatchFn | None = None,
    caps: MeasureCaps | None = None,
) -> Measurement:
    """Measure a classifier with every chosen family in ONE pass over ``loader``.

    The model runs once per batch in eval mode (dropout off, BatchNorm on its running
    statistics; its mode is restored afterwards) without gradients; hooks capture what the
    chosen families need and every metric is fed from that pass:

    * ``matrix`` — :class:`~infodyn.metrics.MatrixInformation` (MIR, HDR, the matrix entropies
      and mutual information of the feature Gram and the Gram of the labels' head rows), mean
      over the first ``caps.matrix_batches`` batches.
    * ``te`` — :class:`~infodyn.metrics.LayerTransferEntropy` over adjacent pairs of
      ``layers`` and the softmax output, samples in the loader's order as the time axis, each
      batch binarised at its 95th percentile.
    * ``collapse`` — :class:`~infodyn.metrics.NeuralCollapse` (all samples) and the
      information plane :class:`~infodyn.metrics.InformationPlane` (a seeded subset).
    * ``richness`` — :class:`~infodyn.metrics.Richness` (D_LR) on a seeded subset.

    Args:
        model: A classifier: ``model(inputs)`` returns logits ``(N, classes)``.
        loader: Batches of ``(inputs, labels)``, dicts, or anything ``batch_fn`` reads.
        families: ``"all"`` or some of ``"matrix"``, ``"te"``, ``"collapse"``,
            ``"richness"``. With ``"all"``, a family the model cannot give (e.g. TE with no
            per-sample layer besides the head) is skipped with the reason in
            ``result.skipped``; named explicitly, it is an error.
        num_classes: Checked against the head's rows (default: taken from them).
        layers: TE layers, in forward order. Default: the model's Linear and Conv layers in the
            order one traced batch calls them (not registration order), the head excluded,
            leaving out Linear layers applied per token ((N, tokens, d) outputs).
        features: Module whose *input* is the feature matrix (default: the head).
        head: The classifier head, a Linear with one weight row per class. Default: the last
            Linear called whose output is the model's output.
        store: A :class:`~infodyn.RunStore` or a path to one (created if missing): every
            value is also written there at step 0, split ``"eval"``.
        device: Move the model there first (in place, as ``model.to``); default: where the
            model is. Batches are moved to the model's device.
        batch_fn: ``batch -> (inputs, labels)`` for loaders yielding something else.
        caps: The sample caps (:class:`MeasureCaps`); the ones applied are stated in
            ``result.caps``.

    Returns:
        A :class:`~infodyn.measurement.Measurement`.

    Example:
        >>> from torch.utils.data import DataLoader, TensorDataset
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = torch.randn(300, 6, generator=g), torch.arange(300) % 3
        >>> net = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
        ...                     nn.Linear(8, 3))
        >>> result = measure(net, DataLoader(TensorDataset(x, y), batch_size=100))
        >>> result.families
        ('matrix', 'te', 'collapse', 'richness')
        >>> 0.0 <= result["mir@4:input"] <= 1.0, "te_mean@0->2" in result.scalars
        (True, True)
    """
    chosen, named = choose_families(families)
    caps = caps if caps is not None else MeasureCaps()
    if device is not None:
        model.to(_check_device(device))
    target = model_device(model)
    pairs = as_pairs(loader, batch_fn, target)
    try:
        first = next(pairs)
    except StopIteration:
        raise ValueError("loader is empty; pass at least one batch") from None
    trace = trace_layers(model, first[0])
    head = trace.classifier_head(head)
    classes = num_classes_of(model, head, num_classes)
    total = _pass_length(loader)

    te_layers = trace.te_layers(head, layers)
    plan = plan_families(
        chosen,
        named,
        te_layers=te_layers,
        traced=trace.order,
        head=head,
        classes=classes,
        caps=caps,
        total=total,
    )
    metrics = plan.metrics
    start = time.perf_counter()
    evaluated = evaluate_pass(
        model,
        itertools.chain([first], pairs),
        {name: metric for name, (_, metric) in metrics.items()},
        features=features,
        head=head,
        batch_limit=plan.batch_limit,
    )
    values, seconds = evaluated.values, evaluated.seconds
    counts = (evaluated.samples, evaluated.batches)
    features_layer = f"{features if features is not None else head}:input"
    measured: list[Measured] = []
    elapsed = time.perf_counter() - start
    family_seconds: dict[str, float] = {"forward": elapsed - sum(seconds.values())}
    for name, (family, metric) in metrics.items():
        default_layer = features_layer if "features" in getattr(metric, "inputs", ()) else ""
        for layer, key, tensor in metric_records(values[name], default_layer):
            measured.append(Measured(family, key, layer, tensor.detach().cpu()))
        family_seconds[family] = family_seconds.get(family, 0.0) + seconds.get(name, 0.0)
    result = Measurement(
        values=tuple(measured),
        samples=counts[0],
        batches=counts[1],
        setup={
            "head": head,
            "features": features_layer,
            "te_layers": list(te_layers) if "te" in metrics else [],
            "num_classes": classes,
            "device": str(target),
        },
        caps=plan.captions,
        skipped=plan.skipped,
        seconds=family_seconds,
    )
    if store is not None:
        _write(result, store)
    return result


def _check_device(device: torch.device | str) -> torch.device:
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} but this machine has no CUDA device (torch "
            f"{torch.__version__}); pass device='cpu' or leave device unset"
        )
    return chosen


def _write(result: Measurement, store: RunStore | str | Path) -> None:
    if isinstance(store, RunStore):
        result.write(store)
        return
    with RunStore(Path(store)) as opened:
        result.write(opened)
