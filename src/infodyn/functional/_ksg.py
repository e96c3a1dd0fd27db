"""Kraskov–Stögbauer–Grassberger k-NN mutual information on blocks of max-norm distances.

The KSG estimators behind :func:`infodyn.functional.dependence.mutual_information`: Kraskov
et al. (2004, estimator 1) for two continuous variables, and Ross's (2014) variant for a
continuous Z and discrete labels Y. Both read max-norm (Chebyshev) distances
d(z_i, z_j) = max_c |z_ic − z_jc| between whitened projections with a few columns.

Distances are built a block of rows at a time, (rows, n), by a max over the columns of
|z_ic − z_jc| broadcast into buffers reused from block to block. Subtraction, absolute value
and max are each exactly rounded, so every distance is the same float as
``torch.cdist(p=inf)`` gives, at a fraction of its cost; the neighbour counts, and so the
estimates, are bit-identical to the generic path. :func:`ksg_pair` estimates I(Z; X) and
I(Z; Y) in one pass over Z's distance blocks, which both estimators need.
"""

from __future__ import annotations

import torch
from torch import Tensor

from infodyn.functional._chunking import row_slices

__all__ = ["distance_row_slices", "ksg_continuous", "ksg_discrete", "ksg_pair"]

# chunk_size=None: rows per block chosen so one n-column distance block has ~2¹⁷ entries
# (1 MiB in float64: the block and its buffers stay in cache), but never fewer than
# _AUTO_MIN_ROWS rows, which bounds the number of blocks (Python overhead) for large n.
_AUTO_CHUNK_ENTRIES = 1 << 17
_AUTO_MIN_ROWS = 32
# Same-class radii by class blocks when classes · this ≤ N²: a class costs a few dozen small
# operations (~60 µs), masking and selecting in full rows ~4.5 ns per distance (measured).
_CLASS_BLOCK_COST = 1 << 14


def distance_row_slices(n: int, chunk_size: int | None) -> list[slice]:
    """Row blocks of an n-column distance matrix.

    None picks max(32, ⌊2¹⁷/n⌋) rows per block: ~1 MiB blocks in float64, which stay in
    cache; an integer is the number of rows (the memory knob of the estimators).

    Example:
        >>> distance_row_slices(1000, None)[:2]
        [slice(0, 131, None), slice(131, 262, None)]
        >>> distance_row_slices(5, 2)
        [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    if chunk_size is None:
        chunk_size = max(_AUTO_MIN_ROWS, _AUTO_CHUNK_ENTRIES // max(n, 1))
    return row_slices(n, chunk_size)


class _MaxNormBlocks:
    """Max-norm distances of ``v``'s rows to all its rows, one block of rows at a time.

    :meth:`block` writes into a buffer owned by this object and returns a view of it, valid
    until the next call; the distance of each row to itself is +inf (not its own neighbour).
    """

    def __init__(self, v: Tensor, max_rows: int) -> None:
        self.v = v
        self.columns = v.mT.contiguous()  # (d, n): column c of all samples is contiguous
        n = v.shape[0]
        self._out = torch.empty(max_rows, n, dtype=v.dtype, device=v.device)
        self._scratch = torch.empty(max_rows, n, dtype=v.dtype, device=v.device)

    def block(self, rows: slice) -> Tensor:
        """(rows, n) distances max_c |v_ic − v_jc|, +inf where j = i."""
        r = rows.stop - rows.start
        out, scratch = self._out[:r], self._scratch[:r]
        block_rows = self.v[rows]
        torch.sub(block_rows[:, 0, None], self.columns[0], out=out).abs_()
        for c in range(1, self.v.shape[1]):
            torch.sub(block_rows[:, c, None], self.columns[c], out=scratch).abs_()
            torch.maximum(out, scratch, out=out)
        out.diagonal(offset=rows.start).fill_(torch.inf)
        return out


def _count_within(distances: Tensor, radius: Tensor, mask: Tensor) -> Tensor:
    """Per row, how many entries lie strictly below that row's radius ((r,) int32)."""
    return torch.lt(distances, radius, out=mask).sum(dim=1, dtype=torch.int32)


def _ksg_terms(dz: Tensor, dx: Tensor, k: int, joint: Tensor, mask: Tensor) -> Tensor:
    """ψ(n_z + 1) + ψ(n_x + 1) of each row of a block (Kraskov's estimator 1)."""
    torch.maximum(dz, dx, out=joint)  # the max-norm in the joint space
    radius = joint.topk(k, dim=1, largest=False).values[:, -1:]
    n_z = _count_within(dz, radius, mask)  # strictly inside the joint k-NN distance
    n_x = _count_within(dx, radius, mask)
    return torch.special.digamma((n_z + 1).to(dz.dtype)) + torch.special.digamma(
        (n_x + 1).to(dz.dtype)
    )


def _same_class_radius(
    z: Tensor, inverse: Tensor, counts: Tensor, k: int, chunk_size: int | None
) -> Tensor:
    """(N,) distance from each sample to its k_i-th nearest other sample of its class.

    From each class's own distance blocks (N_y columns), k_i = min(k, N_y − 1): the same
    order statistic, so the same float, as selecting among the same-class entries of a row
    of all N columns. Every class must have 2 or more samples.
    """
    radius = torch.empty(z.shape[0], dtype=z.dtype, device=z.device)
    order = torch.argsort(inverse, stable=True)  # the members of each class, class by class
    for members in torch.split(order, counts.tolist()):
        size = members.shape[0]
        slices = distance_row_slices(size, chunk_size)
        blocks = _MaxNormBlocks(z.index_select(0, members), _largest(slices))
        for rows in slices:
            nearest = blocks.block(rows).topk(min(k, size - 1), dim=1, largest=False).values
            radius[members[rows]] = nearest[:, -1]
    return radius


class _RossLabels:
    """What Ross's estimator needs of the labels: class index, class size N_y, k_i and, for
    few classes, each sample's same-class radius."""

    def __init__(self, z: Tensor, labels: Tensor, k: int, chunk_size: int | None) -> None:
        _, self.inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
        self.n_y = counts[self.inverse]
        self.k_i = (self.n_y - 1).clamp(max=k)  # min(k, N_y − 1), as scikit-learn
        self.k = k
        # Few classes: each class's own blocks give the radii at a fraction of masking and
        # selecting in all N columns of every row; many small classes: the masked rows.
        n = z.shape[0]
        few = counts.shape[0] * _CLASS_BLOCK_COST <= n * n
        self.radius = _same_class_radius(z, self.inverse, counts, k, chunk_size) if few else None

    def terms(self, dz: Tensor, rows: slice, scratch: Tensor, mask: Tensor) -> Tensor:
        """ψ(m) of each row of a block: m counts all samples strictly within the distance to
        the k_i-th nearest sample of the same class, plus the sample itself."""
        if self.radius is not None:
            radius = self.radius[rows, None]
        else:
            n = dz.shape[1]
            same = self.inverse[rows, None] == self.inverse[None, :]
            inf = torch.full((), torch.inf, dtype=dz.dtype, device=dz.device)
            nearest = torch.where(same, dz, inf, out=scratch).topk(
                min(self.k, n - 1), dim=1, largest=False
            )
            radius = nearest.values.gather(1, self.k_i[rows, None] - 1)
        m = _count_within(dz, radius, mask) + 1
        return torch.special.digamma(m.to(dz.dtype))

    def estimate(self, per_sample: list[Tensor], dtype: torch.dtype) -> Tensor:
        """I(Z; Y) = ψ(N) − ⟨ψ(N_y)⟩ + ⟨ψ(k_i)⟩ − ⟨ψ(m)⟩ from the per-row ψ(m)."""
        dg = torch.special.digamma
        n = self.inverse.shape[0]
        return (
            dg(torch.tensor(float(n), dtype=dtype, device=self.inverse.device))
            + dg(self.k_i.to(dtype)).mean()
            - dg(self.n_y.to(dtype)).mean()
            - torch.cat(per_sample).mean()
        )


def _ksg_estimate(per_sample: list[Tensor], k: int, n: int, like: Tensor) -> Tensor:
    psi = torch.special.digamma(
        torch.tensor([float(k), float(n)], dtype=like.dtype, device=like.device)
    )
    return psi.sum() - torch.cat(per_sample).mean()


def _largest(slices: list[slice]) -> int:
    """Rows of the largest block."""
    return max(s.stop - s.start for s in slices)


def _buffers(n: int, rows: int, like: Tensor) -> tuple[Tensor, Tensor]:
    """A float scratch block and a bool mask block of ``rows`` × ``n``."""
    scratch = torch.empty(rows, n, dtype=like.dtype, device=like.device)
    return scratch, torch.empty(rows, n, dtype=torch.bool, device=like.device)


def ksg_continuous(z: Tensor, x: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """Kraskov et al.'s estimator 1 of I(Z; X) in nats, max-norm in the joint space.

        I(Z; X) = ψ(k) + ψ(N) − ⟨ψ(n_z + 1) + ψ(n_x + 1)⟩

    Args:
        z: (N, d_z) samples, N > k.
        x: (N, d_x) samples of the other variable, same rows.
        k: neighbours.
        chunk_size: rows of a distance block (:func:`distance_row_slices`).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> z = torch.randn(2000, 1, generator=g, dtype=torch.float64)
        >>> x = z + torch.randn(2000, 1, generator=g, dtype=torch.float64)  # ρ² = 1/2
        >>> round(float(ksg_continuous(z, x, 5, None)), 2)  # −½ log(1 − ρ²) = 0.35
        0.35
    """
    n = z.shape[0]
    slices = distance_row_slices(n, chunk_size)
    max_rows = _largest(slices)
    blocks_z, blocks_x = _MaxNormBlocks(z, max_rows), _MaxNormBlocks(x, max_rows)
    joint, mask = _buffers(n, max_rows, z)
    per_sample = []
    for rows in slices:
        r = rows.stop - rows.start
        dz, dx = blocks_z.block(rows), blocks_x.block(rows)
        per_sample.append(_ksg_terms(dz, dx, k, joint[:r], mask[:r]))
    return _ksg_estimate(per_sample, k, n, z)


def _ross_rows(z: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Drop the samples of classes seen once (no same-class neighbour, as scikit-learn)."""
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    keep = counts[inverse] > 1
    if not bool(keep.all()):
        z, labels = z[keep], labels[keep]
    if z.shape[0] < 2:
        raise ValueError(
            "x_or_labels has no class with 2 or more samples; the discrete k-NN estimator needs "
            "same-class neighbours — pass more samples per class"
        )
    return z, labels


def ksg_discrete(z: Tensor, labels: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """Ross's (2014) estimator of I(Z; Y) in nats for continuous Z and discrete labels Y.

        I(Z; Y) = ψ(N) − ⟨ψ(N_y)⟩ + ⟨ψ(k_i)⟩ − ⟨ψ(m)⟩,   k_i = min(k, N_y − 1)

    Samples of classes seen once are left out first (as scikit-learn).

    Example:
        >>> labels = torch.arange(200) % 2
        >>> noise = torch.randn(200, 1, generator=torch.Generator().manual_seed(0))
        >>> z = (10.0 * labels[:, None] + noise).double()  # separated: m = k for every sample
        >>> round(float(ksg_discrete(z, labels, 5, None)), 4)  # ψ(200) − ψ(100)
        0.6957
    """
    z, labels = _ross_rows(z, labels)
    n = z.shape[0]
    ross = _RossLabels(z, labels, k, chunk_size)
    slices = distance_row_slices(n, chunk_size)
    max_rows = _largest(slices)
    blocks_z = _MaxNormBlocks(z, max_rows)
    scratch, mask = _buffers(n, max_rows, z)
    per_sample = []
    for rows in slices:
        r = rows.stop - rows.start
        per_sample.append(ross.terms(blocks_z.block(rows), rows, scratch[:r], mask[:r]))
    return ross.estimate(per_sample, z.dtype)


def ksg_pair(
    z: Tensor, x: Tensor, labels: Tensor, k: int, chunk_size: int | None
) -> tuple[Tensor, Tensor]:
    """I(Z; X) by :func:`ksg_continuous` and I(Z; Y) by :func:`ksg_discrete`, in one pass.

    Each block of Z's distances is built once and read by both estimators; the values are
    bit-identical to the two separate calls. (When a class is seen once, Ross's estimator
    runs on fewer rows, so it is then computed on its own.)

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> labels = torch.arange(300) % 3
        >>> z = labels[:, None].double() + 0.1 * torch.randn(300, 1, generator=g,
        ...     dtype=torch.float64)
        >>> x = z + 0.1 * torch.randn(300, 1, generator=g, dtype=torch.float64)
        >>> pair = ksg_pair(z, x, labels, 5, None)
        >>> pair == (ksg_continuous(z, x, 5, None), ksg_discrete(z, labels, 5, None))
        True
    """
    if _ross_rows(z, labels)[0].shape[0] != z.shape[0]:
        return ksg_continuous(z, x, k, chunk_size), ksg_discrete(z, labels, k, chunk_size)
    n = z.shape[0]
    ross = _RossLabels(z, labels, k, chunk_size)
    slices = distance_row_slices(n, chunk_size)
    max_rows = _largest(slices)
    blocks_z, blocks_x = _MaxNormBlocks(z, max_rows), _MaxNormBlocks(x, max_rows)
    scratch, mask = _buffers(n, max_rows, z)
    continuous, discrete = [], []
    for rows in slices:
        r = rows.stop - rows.start
        dz, dx = blocks_z.block(rows), blocks_x.block(rows)
        continuous.append(_ksg_terms(dz, dx, k, scratch[:r], mask[:r]))
        discrete.append(ross.terms(dz, rows, scratch[:r], mask[:r]))
    return _ksg_estimate(continuous, k, n, z), ross.estimate(discrete, z.dtype)
