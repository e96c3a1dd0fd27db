"""Per-epoch transfer-entropy records of a run, and the paper's claims as numbers.

Reads what ``LayerTransferEntropy`` probes with ``suffix="_lag{d}"`` recorded once per epoch
(``infodyn run te-plane``), and turns the claims of Moldovan, Caţaron & Andonie (2024, arXiv
2404.01364) into statistics a reader can check, each for raw TE and for TE in excess of its
surrogate null (the plug-in estimate is biased upward by ~1/(N ln 2) bits, so raw TE can move
with the bias alone):

- *TE decreases during training*: Spearman ρ(TE, epoch), and how far TE sits above its null
  in the first epoch and in the last half of training (z = (TE − null mean) / null sd);
- *TE follows the loss and is inverse to accuracy*: ρ(TE, training loss), ρ(TE, accuracy);
- *compression at the beginning of each epoch*: within every epoch, the fall of the
  growing-window TE from its first window to the whole epoch (the estimate the authors' code
  updates after every batch) next to the fall of its null mean, and the change of excess TE
  from the epoch's first part to its last part (equal lengths, so equal bias).

TE of a layer stack is summarised by the mean over its adjacent pairs of each pair's mean TE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from infodyn.functional.te_trends import spearman
from infodyn.store import RunStore

__all__ = ["LagRecords", "PairRecords", "TEClaims", "lag_delays", "read_lag", "te_claims"]

_LAG = re.compile(r"^te_mean_lag(\d+)$")
_WINDOW_STATS = ("mean", "null_mean", "null_std")


@dataclass(frozen=True)
class PairRecords:
    """One layer pair's per-epoch records at one delay; rows are epochs (bits)."""

    te_mean: np.ndarray
    excess: np.ndarray | None = None
    sig_fraction: np.ndarray | None = None
    null: np.ndarray | None = None  # (E, K) surrogate pair means
    windows: dict[str, np.ndarray] = field(default_factory=dict)  # "segment_mean" → (E, P)


@dataclass(frozen=True)
class LagRecords:
    """Every pair's records at one delay, pairs in forward order, on common epoch steps."""

    delay: int
    steps: np.ndarray
    pairs: dict[str, PairRecords]

    @property
    def network(self) -> PairRecords:
        """The mean over pairs of every record: one series for the whole stack."""
        first = next(iter(self.pairs.values()))

        def mean_of(get: str) -> np.ndarray | None:
            values = [getattr(p, get) for p in self.pairs.values()]
            return None if any(v is None for v in values) else np.mean(values, axis=0)

        windows = {
            key: np.mean([p.windows[key] for p in self.pairs.values()], axis=0)
            for key in first.windows
        }
        return PairRecords(
            mean_of("te_mean"),  # type: ignore[arg-type]
            mean_of("excess"),
            mean_of("sig_fraction"),
            mean_of("null"),
            windows,
        )


def lag_delays(store: RunStore, split: str = "train") -> list[int]:
    """The delays whose ``te_mean_lag{d}`` the store holds, sorted descending (1 before 0)."""
    found = {
        int(m.group(1)) for metric, s, _ in store.keys() if s == split and (m := _LAG.match(metric))
    }
    return sorted(found, reverse=True)


def _pair_order(names: list[str]) -> list[str]:
    """Layer pairs ``"a->b"`` chained in forward order (a pair's target is the next's source)."""
    split = {name: name.split("->", 1) for name in names}
    targets = {t for _, t in split.values()}
    starts = [n for n, (s, _) in split.items() if s not in targets]
    if len(starts) != 1:
        return sorted(names)
    ordered, current = [starts[0]], starts[0]
    by_source = {s: n for n, (s, _) in split.items()}
    while (nxt := by_source.get(split[current][1])) is not None and nxt not in ordered:
        ordered.append(nxt)
        current = nxt
    return ordered if len(ordered) == len(names) else sorted(names)


def _arrays(store: RunStore, metric: str, split: str, layer: str) -> dict[int, np.ndarray]:
    return {a.step: a.value for a in store.arrays(metric=metric, split=split, layer=layer)}


def read_lag(store: RunStore, delay: int, split: str = "train") -> LagRecords:
    """The per-epoch records of delay ``delay``; steps are those every series shares."""
    suffix = f"_lag{delay}"
    names = sorted({lay for m, s, lay in store.keys() if m == f"te_mean{suffix}" and s == split})
    if not names:
        raise LookupError(f"no te_mean{suffix} records on split {split!r} in this store")
    names = _pair_order(names)
    scalars = {
        (metric, name): dict(zip(*store.series(f"{metric}{suffix}", split, name), strict=True))
        for name in names
        for metric in ("te_mean", "te_excess", "te_sig_fraction")
        if (f"{metric}{suffix}", split, name) in set(store.keys())
    }
    arrays = {
        (metric, name): _arrays(store, f"{metric}{suffix}", split, name)
        for name in names
        for metric in (
            "te_null",
            *(f"te_{k}_{s}" for k in ("segment", "prefix") for s in _WINDOW_STATS),
        )
    }
    common = set.intersection(*(set(scalars[("te_mean", n)]) for n in names))
    steps = np.array(sorted(common), dtype=np.int64)

    def rows(table: dict[int, np.ndarray] | dict[int, float]) -> np.ndarray | None:
        if not table or not all(s in table for s in steps):
            return None
        return np.asarray([table[int(s)] for s in steps], dtype=np.float64)

    pairs = {}
    for name in names:
        windows = {}
        for kind in ("segment", "prefix"):
            for stat in _WINDOW_STATS:
                got = rows(arrays[(f"te_{kind}_{stat}", name)])
                if got is not None:
                    windows[f"{kind}_{stat}"] = got
        mean = rows(scalars[("te_mean", name)])
        assert mean is not None
        pairs[name] = PairRecords(
            te_mean=mean,
            excess=rows(scalars.get(("te_excess", name), {})),
            sig_fraction=rows(scalars.get(("te_sig_fraction", name), {})),
            null=rows(arrays[("te_null", name)]),
            windows=windows,
        )
    return LagRecords(delay, steps, pairs)


@dataclass(frozen=True)
class TEClaims:
    """The claims' statistics for one delay (network mean over pairs); None when undefined.

    Attributes:
        epochs: Number of epochs used.
        rho_epoch: ρ(TE, epoch); < 0 when TE falls over training.
        rho_epoch_excess: ρ(TE − null mean, epoch).
        z_first: (TE − null mean) / null sd in the first epoch; above ~2 is above the null.
        z_late: The same, averaged over the last half of the epochs.
        rho_loss: ρ(TE, training loss of the epoch); > 0 when TE follows the loss.
        rho_accuracy: ρ(TE, training accuracy of the epoch); < 0 when inverse to accuracy.
        rho_loss_excess: ρ(TE − null mean, training loss).
        rho_accuracy_excess: ρ(TE − null mean, training accuracy).
        above_null: Fraction of epochs whose TE exceeds the 95th percentile of its null.
        sig_fraction: Mean over epochs of the fraction of neuron pairs with p < 0.05.
        growing_drop: Mean over epochs of growing-window TE (first window − whole epoch), bits.
        growing_null_drop: The same for the null mean: the fall the bias alone causes.
        segment_excess_drop: Mean over epochs of excess TE (first part − last part), bits.
        segment_first_higher: Fraction of epochs whose first part has the higher excess TE.
    """

    epochs: int
    rho_epoch: float | None
    rho_epoch_excess: float | None
    z_first: float | None
    z_late: float | None
    rho_loss: float | None
    rho_accuracy: float | None
    rho_loss_excess: float | None
    rho_accuracy_excess: float | None
    above_null: float | None
    sig_fraction: float | None
    growing_drop: float | None
    growing_null_drop: float | None
    segment_excess_drop: float | None
    segment_first_higher: float | None


def _aligned(store: RunStore, metric: str, split: str, steps: np.ndarray) -> np.ndarray | None:
    if (metric, split, "") not in set(store.keys()):
        return None
    table = dict(zip(*store.series(metric, split, ""), strict=True))
    if not all(int(s) in table for s in steps):
        return None
    return np.asarray([table[int(s)] for s in steps], dtype=np.float64)


def te_claims(store: RunStore, records: LagRecords, split: str = "train") -> TEClaims:
    """Statistics of the paper's claims for one delay; see :class:`TEClaims`."""
    net = records.network
    te, excess, epochs = net.te_mean, net.excess, np.arange(1, records.steps.size + 1)
    loss = _aligned(store, "loss", split, records.steps)
    accuracy = _aligned(store, "accuracy", split, records.steps)

    def rho(a: np.ndarray | None, b: np.ndarray | None) -> float | None:
        return None if a is None or b is None else spearman(a, b)

    above = z_first = z_late = None
    if net.null is not None:
        above = float(np.mean(te > np.quantile(net.null, 0.95, axis=1)))
        sd = net.null.std(axis=1)
        z = np.where(sd > 0, (te - net.null.mean(axis=1)) / np.where(sd > 0, sd, 1.0), np.nan)
        z_first = None if not np.isfinite(z[0]) else float(z[0])
        late = z[te.size // 2 :]
        late = late[np.isfinite(late)]
        z_late = float(late.mean()) if late.size else None
    w = net.windows
    growing = null_drop = seg_drop = seg_first = None
    if "prefix_mean" in w:
        growing = float(np.mean(w["prefix_mean"][:, 0] - w["prefix_mean"][:, -1]))
        null_drop = float(np.mean(w["prefix_null_mean"][:, 0] - w["prefix_null_mean"][:, -1]))
    if "segment_mean" in w:
        seg_excess = w["segment_mean"] - w["segment_null_mean"]
        change = seg_excess[:, 0] - seg_excess[:, -1]
        seg_drop, seg_first = float(np.mean(change)), float(np.mean(change > 0))
    return TEClaims(
        epochs=int(te.size),
        rho_epoch=rho(te, epochs),
        rho_epoch_excess=rho(excess, epochs),
        z_first=z_first,
        z_late=z_late,
        rho_loss=rho(te, loss),
        rho_accuracy=rho(te, accuracy),
        rho_loss_excess=rho(excess, loss),
        rho_accuracy_excess=rho(excess, accuracy),
        above_null=above,
        sig_fraction=None if net.sig_fraction is None else float(np.mean(net.sig_fraction)),
        growing_drop=growing,
        growing_null_drop=null_drop,
        segment_excess_drop=seg_drop,
        segment_first_higher=seg_first,
    )
