"""Metrics whose state width is known only at the first batch: one pattern for all of them.

Some states have a size that only the data reveals: NeuralCollapse's (C, d) class sums and
(d, d) second moment, Richness's p×p and p×C moments, TransferEntropy's (m, n) count tables.
Each such metric derives from :class:`LazyWidthMetric` and follows one pattern, **placeholder
states**:

* A state whose shape has named dimensions (``"d"``, ``"p"``, …) is registered once, in
  ``__init__``, with ``add_lazy_state``. A dimension whose width the caller gave (e.g.
  ``num_features``) is sized at once; an unknown one is registered with width 0, so the state is
  an empty *placeholder* — still an ordinary TorchMetrics state with its default and reduction.
* The first ``update`` calls ``_size_lazy_states``, which replaces each placeholder with zeros
  of the real shape. The widths are read back from the states' own shapes
  (:meth:`LazyWidthMetric.lazy_widths`), so nothing else needs to be kept in sync.
* ``reset()`` returns every state to its registered default: placeholders again, so a metric
  that learned its width from the data forgets it and may then measure another layer; a width
  given at construction stays.
* Merging (``merge_state``, the reduction inside ``forward``) and the DDP sync widen a
  placeholder to zeros of the other side's width first — a rank that saw no batch holds
  placeholders, and all ranks first agree on the widths by one small all-gather — and raise if
  two sized widths differ.
* Device: at the first ``update`` after construction or ``reset()`` the whole metric moves to
  the batch's device (``_follow_device``), so a metric built on CPU and fed on the model's
  device, or moved with ``.to(device)``, keeps every state — placeholders, sized states,
  defaults — on one device. Later batches' statistics are moved to the states' device.

Why this pattern and not the other two that the code used before:

* *Rewriting TorchMetrics' private ``_defaults`` at the first batch* (the old NeuralCollapse)
  leans on a private attribute, and makes ``reset()`` keep a width learned from the data, so a
  reset metric could not measure a layer of another width, although its error message said so.
* *Building child metrics at the first batch* (the old LayerTransferEntropy) leaves a fresh or
  idle metric with no states at all: a DDP rank that saw no batch has nothing to all-reduce, a
  checkpoint of a fresh metric cannot be loaded into another one without recreating children,
  and ``.to(device)`` before the first batch must be replayed by hand. Layer stacks are known at
  construction, so LayerTransferEntropy now builds its per-pair TransferEntropy children there;
  the children are lazily sized like every other metric.

Placeholders need only the public ``add_state`` and an ordinary state's life cycle: a
checkpoint (``infodyn.metrics.metric_state_dict``) stores them like any tensor, whether or not
a batch was seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.distributed import gather_all_tensors

#: A dimension of a lazily sized state: a fixed size, or the name of a width.
Dim = int | str


def _widths_of(
    dims_by_state: Mapping[str, tuple[Dim, ...]], states: Mapping[str, Any]
) -> dict[str, int]:
    """Width of every named dimension that some state in ``states`` already has (> 0).

    Raises ``ValueError`` if two states disagree on a width.
    """
    widths: dict[str, int] = {}
    for name, dims in dims_by_state.items():
        value = states[name]
        if not isinstance(value, Tensor) or value.numel() == 0:
            continue  # a placeholder says nothing about its widths
        for dim, size in zip(dims, value.shape, strict=True):
            if isinstance(dim, str) and widths.setdefault(dim, size) != size:
                raise ValueError(
                    f"state {name!r} has {dim} = {size} but another state has "
                    f"{dim} = {widths[dim]}; the states belong to different layers"
                )
    return widths


class LazyWidthMetric(Metric):
    """A ``torchmetrics.Metric`` some of whose states take their width from the first batch.

    See the module docstring for the pattern. Subclasses register lazy states with
    :meth:`add_lazy_state`, call :meth:`_follow_device` and :meth:`_size_lazy_states` at the
    start of ``update``, and list in ``_checkpoint_attributes`` the plain attributes (each a
    Tensor or None) that are part of the accumulated state without being TorchMetrics states
    (e.g. a stream's last samples), so that ``metric_state_dict`` saves them too.
    """

    _checkpoint_attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lazy_dims: dict[str, tuple[Dim, ...]] = {}
        self._given_widths: dict[str, int] = {}

    def add_lazy_state(
        self,
        name: str,
        dims: tuple[Dim, ...],
        *,
        widths: Mapping[str, int | None],
        dtype: torch.dtype,
        dist_reduce_fx: str = "sum",
    ) -> None:
        """Register a zero-initialised tensor state of shape ``dims``.

        A named dimension takes its width from ``widths`` when given there (not None), else it
        is 0 until :meth:`_size_lazy_states` learns it from the first batch.
        """
        given = {d: w for d, w in widths.items() if w is not None and d in dims}
        shape = tuple(d if isinstance(d, int) else given.get(d, 0) for d in dims)
        self._lazy_dims[name] = dims
        self._given_widths |= given
        self.add_state(name, torch.zeros(shape, dtype=dtype), dist_reduce_fx=dist_reduce_fx)

    def lazy_widths(self) -> dict[str, int]:
        """The width of every named dimension known so far, e.g. ``{"d": 512}``; {} before
        the first batch unless widths were given at construction."""
        return _widths_of(self._lazy_dims, {name: getattr(self, name) for name in self._lazy_dims})

    def _check_lazy_shapes(self, states: Mapping[str, Any]) -> None:
        """Raise ``ValueError`` unless the lazy states in ``states`` (e.g. from a checkpoint)
        have shapes this metric can hold: fixed sizes and given widths as built, every other
        width the same across states, and either all placeholders or none."""
        widths = _widths_of(self._lazy_dims, states)
        clash = {d: w for d, w in widths.items() if self._given_widths.get(d, w) != w}
        for name, dims in self._lazy_dims.items():
            expected = tuple(d if isinstance(d, int) else widths.get(d, 0) for d in dims)
            value = states[name]
            if clash or not isinstance(value, Tensor) or tuple(value.shape) != expected:
                shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(
                    f"state {name!r} has shape {shape}, which does not fit {type(self).__name__}"
                    f" with dims {dims} (widths given at construction: {self._given_widths}, "
                    f"widths in the state: {widths})"
                )

    def _follow_device(self, device: torch.device) -> None:
        """Move the metric to ``device`` if it holds no batch yet (first update since reset)."""
        if self.update_count <= 1 and device != self.device:
            self.to(device)

    def _size_lazy_states(self, widths: Mapping[str, int]) -> None:
        """Replace every placeholder by zeros of its real shape, on its own device.

        ``widths`` must agree with the widths already known; states already sized are kept.
        """
        known = self.lazy_widths()
        clash = {d: (known[d], w) for d, w in widths.items() if d in known and known[d] != w}
        if clash:
            raise ValueError(
                f"{type(self).__name__} has widths {known} but was asked for {dict(widths)}; "
                f"one metric measures one layer — reset() it or use one metric per layer"
            )
        sizes = {**known, **widths}
        for name, dims in self._lazy_dims.items():
            state = getattr(self, name)
            shape = tuple(d if isinstance(d, int) else sizes.get(d, 0) for d in dims)
            if tuple(state.shape) != shape:
                setattr(self, name, torch.zeros(shape, dtype=state.dtype, device=state.device))

    def _reduce_states(self, incoming_state: dict[str, Any]) -> None:
        # merge_state and forward() add another state to this one; either side may still hold
        # placeholders, and (in forward) the other side may sit on the device this metric
        # left at its first batch.
        incoming = {
            name: value.to(self.device)
            if isinstance(value, Tensor)
            else [v.to(self.device) for v in value]
            if isinstance(value, list)
            else value
            for name, value in incoming_state.items()
        }
        self._size_lazy_states(_widths_of(self._lazy_dims, incoming))
        for name in self._lazy_dims:
            mine, theirs = getattr(self, name), incoming[name]
            if isinstance(theirs, Tensor) and theirs.numel() == 0 and mine.numel() > 0:
                incoming[name] = torch.zeros_like(mine)
        super()._reduce_states(incoming)

    def _sync_dist(
        self, dist_sync_fn: Any = gather_all_tensors, process_group: Any | None = None
    ) -> None:
        # A rank that saw no batch holds placeholders, which cannot be all-reduced with the
        # other ranks' sized states: agree on the widths first (0 = unknown on that rank).
        names = sorted({d for dims in self._lazy_dims.values() for d in dims if isinstance(d, str)})
        if names:
            known = self.lazy_widths()
            local = torch.tensor([known.get(d, 0) for d in names], device=self.device)
            gathered = torch.stack(dist_sync_fn(local, group=process_group or self.process_group))
            agreed = gathered.max(dim=0).values
            if bool(((gathered != agreed) & (gathered != 0)).any()):
                table = {d: gathered[:, i].tolist() for i, d in enumerate(names)}
                raise ValueError(
                    f"ranks disagree on the widths of {type(self).__name__} (per rank: {table}); "
                    f"every rank must feed the same layer"
                )
            self._size_lazy_states({d: int(w) for d, w in zip(names, agreed, strict=True) if w})
        super()._sync_dist(dist_sync_fn, process_group=process_group)
