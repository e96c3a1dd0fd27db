"""Kernel dependence (HSIC, nHSIC) and mutual information for the information plane.

Sakamoto & Sato ("Explaining Grokking and Information Bottleneck through Neural Collapse
Emergence", Fig. 4) plot the redundant information I(Z;X) − I(Z;Y) of penultimate features Z,
flattened inputs X and labels Y, estimated two ways.

* **nHSIC** (Fukumizu et al.'s NOCCO, as the authors compute it): Gaussian kernels with
  bandwidth σ²·dim, centred K̃ = K·H, R = K̃(K̃ + εnI)⁻¹, nHSIC = tr(R_Z R_X). Labels use the
  linear kernel of their one-hot code, YYᵀ_ij = [y_i = y_j]. **Both kernels are centred**, as
  the formula says; the authors' code leaves the label kernel uncentred.
* **Mutual information** in **nats** (natural log) by the k-nearest-neighbour estimator of
  Kraskov, Stögbauer & Grassberger (2004, estimator 1), or Ross (2014) when Y is discrete, on
  whitened PCA projections (the "lossy compression" recipe of Butakov et al., ICLR 2024, that
  the authors follow). PCA in place of their autoencoder for X is infodyn's choice, because it
  needs no training at every checkpoint and is deterministic. Or by the authors' own
  estimator, Kozachenko–Leonenko entropies I = H(Z) + H(X) − H(Z, X)
  (:mod:`infodyn.functional.kl_entropy`), on the same projections. Or by plug-in entropies of
  equal-width bins, the classic Shwartz-Ziv & Tishby (2017) plane.

Rows are samples everywhere; ``x_or_labels`` is either an (n, d) floating matrix or (n,)
integer class labels.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from infodyn._validation import (
    check_choice,
    check_int,
    check_labels,
    check_matrix,
    check_positive,
    check_same_rows,
    check_tensor,
)
from infodyn.functional._chunking import check_chunk_size
from infodyn.functional._ksg import ksg_continuous, ksg_discrete, ksg_pair
from infodyn.functional.kl_entropy import kl_entropy

__all__ = ["gaussian_kernel", "hsic", "linear_kernel", "mutual_information", "nhsic"]

Kernel = Literal["gaussian", "linear"]
_KERNELS = ("gaussian", "linear")
_ESTIMATORS = ("ksg", "binned", "kl")
# Ridge of the whitening Cholesky factor, L = chol(cov(v) + 1e-6·I) (Butakov et al.'s recipe).
_WHITEN_RIDGE = 1e-6


# --- validation ------------------------------------------------------------------------------


def _check_dtype(dtype: object) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}; use torch.float64")
    return dtype


def _pair(
    z: object, x_or_labels: object, num_classes: int | None, dtype: torch.dtype
) -> tuple[Tensor, Tensor, bool]:
    """(z, x, is_labels): z as ``dtype``; x as ``dtype`` or, for labels, as long indices."""
    zz = check_matrix("z", z).to(dtype)
    x = check_tensor("x_or_labels", x_or_labels)
    if x.ndim == 1 and not x.is_floating_point():
        if num_classes is None:
            num_classes = int(x.max()) + 1 if x.numel() else 1
        check_int("num_classes", num_classes, minimum=1)
        y = check_labels("x_or_labels", x, n=x.shape[0], num_classes=num_classes)
        check_same_rows("z", zz, "x_or_labels", y)
        return zz, y.to(device=zz.device, dtype=torch.long), True
    if x.ndim == 1:
        raise ValueError(
            f"x_or_labels is 1-D with dtype {x.dtype}; pass integer class labels (call .long()) "
            f"or a 2-D (n, d) matrix for a continuous variable (e.g. x.unsqueeze(1))"
        )
    xx = check_matrix("x_or_labels", x).to(dtype)
    check_same_rows("z", zz, "x_or_labels", xx)
    return zz, xx, False


# --- kernels and HSIC ------------------------------------------------------------------------


def _gaussian(x: Tensor, sigma: float) -> Tensor:
    # Distances do not depend on the mean; removing it keeps ‖a‖² + ‖b‖² − 2ab accurate.
    x = x - x.mean(dim=-2, keepdim=True)
    sq = (x * x).sum(-1)
    d2 = (sq[..., :, None] + sq[..., None, :] - 2.0 * (x @ x.mT)).clamp_min(0.0)
    return torch.exp(-d2 / (2.0 * sigma**2 * x.shape[-1]))


def gaussian_kernel(x: Tensor, *, sigma: float = 5.0) -> Tensor:
    """Gaussian kernel with a dimension-scaled bandwidth (the nHSIC authors' convention).

        K_ij = exp(−‖x_i − x_j‖² / (2σ²·d))

    Args:
        x: (n, d) floating matrix, rows are samples.
        sigma: bandwidth per dimension, σ > 0 (default 5, as Sakamoto & Sato's code).

    Returns:
        (n, n) symmetric positive-definite matrix with entries in (0, 1] and a unit diagonal.

    Example:
        >>> k = gaussian_kernel(torch.tensor([[0.0], [5.0]]))  # exp(−25 / (2·25·1))
        >>> round(float(k[0, 1]), 4)
        0.6065
    """
    return _gaussian(check_matrix("x", x, min_rows=1), check_positive("sigma", sigma))


def linear_kernel(x: Tensor) -> Tensor:
    """Linear kernel K = XXᵀ; for one-hot labels K_ij = [y_i = y_j].

    Args:
        x: (n, d) floating matrix, rows are samples.

    Returns:
        (n, n) symmetric positive-semidefinite matrix.

    Example:
        >>> linear_kernel(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        tensor([[1., 0.],
                [0., 4.]])
    """
    x = check_matrix("x", x, min_rows=1)
    return x @ x.mT


def _kernel(v: Tensor, kind: str, sigma: float, is_labels: bool, dtype: torch.dtype) -> Tensor:
    if is_labels:  # linear kernel of the one-hot code, without building it
        return (v[..., :, None] == v[..., None, :]).to(dtype)
    return _gaussian(v, sigma) if kind == "gaussian" else v @ v.mT


def _kernel_kinds(kernel_z: object, kernel_x: object, is_labels: bool) -> tuple[str, str]:
    check_choice("kernel_z", kernel_z, _KERNELS)
    check_choice("kernel_x", kernel_x, (*_KERNELS, "auto"))
    if is_labels and kernel_x == "gaussian":
        raise ValueError(
            "kernel_x='gaussian' was given with integer labels; labels use the linear kernel of "
            "their one-hot code: pass kernel_x='auto' or 'linear'"
        )
    kind_x = ("linear" if is_labels else "gaussian") if kernel_x == "auto" else str(kernel_x)
    return str(kernel_z), kind_x


def _batches(z: Tensor, x: Tensor, batch_size: int | None) -> tuple[Tensor, Tensor]:
    """Reshape rows into (B, b, ...) consecutive batches; rows past the last full batch drop."""
    n = z.shape[0]
    if batch_size is None or batch_size >= n:
        return z[None], x[None]
    b = check_int("batch_size", batch_size, minimum=2)
    used = (n // b) * b
    return z[:used].reshape(n // b, b, -1), x[:used].reshape(n // b, b, *x.shape[1:])


def _prepare_kernels(
    z: object,
    x_or_labels: object,
    kernel_z: object,
    kernel_x: object,
    sigma: object,
    batch_size: int | None,
    num_classes: int | None,
    dtype: object,
) -> tuple[Tensor, Tensor]:
    dt = _check_dtype(dtype)
    s = check_positive("sigma", sigma)
    zz, xx, is_labels = _pair(z, x_or_labels, num_classes, dt)
    kind_z, kind_x = _kernel_kinds(kernel_z, kernel_x, is_labels)
    zb, xb = _batches(zz, xx, batch_size)
    return _kernel(zb, kind_z, s, False, dt), _kernel(xb, kind_x, s, is_labels, dt)


def nhsic(
    z: Tensor,
    x_or_labels: Tensor,
    *,
    kernel_z: Kernel = "gaussian",
    kernel_x: Literal["auto", "gaussian", "linear"] = "auto",
    sigma: float = 5.0,
    epsilon: float = 1e-5,
    batch_size: int | None = None,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Normalised HSIC (NOCCO, Fukumizu et al. 2008) as in Sakamoto & Sato's IB plots.

    With K the kernel matrix of a variable over n samples, H = I − 11ᵀ/n,

        K̃ = K·H,   R = K̃ (K̃ + εnI)⁻¹,   nHSIC(Z; X) = tr(R_Z R_X)

    R is computed by a linear solve (K̃ commutes with K̃ + εnI, so R = (K̃ + εnI)⁻¹K̃), never
    an explicit inverse. **Both** kernels are centred, the label kernel included (the
    authors' code does not centre YYᵀ; infodyn's choice is to follow Fukumizu et al.'s formula,
    because only the centred operator is NOCCO). One-sided
    centring K·H gives the same trace as H·K·H: R is a function of K̃ that vanishes at 0.

    Range: R has the eigenvalues λ/(λ + εn) ∈ [0, 1) of H K H, so
    0 ≤ nHSIC ≤ min(tr R_Z, tr R_X) < min(rank K̃_Z, rank K̃_X) ≤ n − 1 (dimensionless, not
    nats). For a fixed X the maximum over Z is tr R_X, approached when R_Z → H (e.g. Z's samples
    far apart relative to the bandwidth); Z = X gives tr(R_X²) = Σ λ²/(λ + εn)². For C balanced
    classes with labels, tr R_Y = (C − 1)·n_c/(n_c + εn) ≈ C − 1. Values grow with n, so only
    compare nHSIC at the same batch size.

    Args:
        z: (n, d_z) floating matrix (features), rows are samples.
        x_or_labels: (n, d_x) floating matrix, or (n,) integer class labels.
        kernel_z: ``"gaussian"`` (default) or ``"linear"``.
        kernel_x: ``"auto"`` (default: linear for labels, Gaussian otherwise), ``"gaussian"``
            or ``"linear"``.
        sigma: Gaussian bandwidth per dimension (default 5): exp(−‖u − v‖²/(2σ²·dim)).
        epsilon: regulariser ε (default 1e-5), scaled by the batch size n.
        batch_size: memory knob and the paper's protocol: nHSIC is computed on consecutive
            batches of this many rows (the paper uses 100) and averaged; rows past the last full
            batch are dropped, as nHSIC depends on n. Shuffle rows that are sorted by class.
            None (default): one batch of all n rows. Memory is O(n·batch_size).
        num_classes: number of classes, only to check labels (default: max label + 1).
        dtype: working precision (default float64).

    Returns:
        0-d tensor, differentiable with respect to ``z`` (and ``x``).

    Example:
        >>> labels = torch.arange(6) % 3
        >>> z = 100.0 * torch.eye(3)[labels]  # three far-apart clusters, one per class
        >>> round(float(nhsic(z, labels)), 3)  # ≈ C − 1, the maximum for 3 classes
        2.0
    """
    check_positive("epsilon", epsilon)
    kz, kx = _prepare_kernels(
        z, x_or_labels, kernel_z, kernel_x, sigma, batch_size, num_classes, dtype
    )
    return _trace_of_product(_resolvent(kz, epsilon), _resolvent(kx, epsilon))


def _resolvent(k: Tensor, epsilon: float) -> Tensor:
    """R = K̃(K̃ + εnI)⁻¹ = (K̃ + εnI)⁻¹K̃ with K̃ = K·H, for (..., n, n) kernels."""
    n = k.shape[-1]
    ridge = float(epsilon) * n * torch.eye(n, dtype=k.dtype, device=k.device)
    centred = k - k.mean(dim=-1, keepdim=True)  # K·H subtracts each row's mean
    return torch.linalg.solve(centred + ridge, centred)


def _trace_of_product(rz: Tensor, rx: Tensor) -> Tensor:
    """tr(R_Z R_X), averaged over the leading batch dimension."""
    return (rz * rx.mT).sum(dim=(-2, -1)).mean()


def _nhsic_pair(
    z: Tensor,
    x: Tensor,
    labels: Tensor,
    *,
    sigma: float = 5.0,
    epsilon: float = 1e-5,
    batch_size: int | None = None,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """nHSIC(Z; X) and nHSIC(Z; Y), bit-identical to ``nhsic(z, x, ...)`` and
    ``nhsic(z, labels, num_classes=num_classes, ...)`` with the default kernels; Z's kernels
    and resolvents, which both need, are computed once."""
    check_positive("epsilon", epsilon)
    dt = _check_dtype(dtype)
    s = check_positive("sigma", sigma)
    zz, xx, x_is_labels = _pair(z, x, None, dt)
    _, yy, y_is_labels = _pair(z, labels, num_classes, dt)
    zb, xb = _batches(zz, xx, batch_size)
    _, yb = _batches(zz, yy, batch_size)

    def resolvent(v: Tensor, is_labels: bool) -> Tensor:
        kind = _kernel_kinds("gaussian", "auto", is_labels)[1]
        return _resolvent(_kernel(v, kind, s, is_labels, dt), epsilon)

    rz = resolvent(zb, False)
    return (
        _trace_of_product(rz, resolvent(xb, x_is_labels)),
        _trace_of_product(rz, resolvent(yb, y_is_labels)),
    )


def hsic(
    z: Tensor,
    x_or_labels: Tensor,
    *,
    kernel_z: Kernel = "gaussian",
    kernel_x: Literal["auto", "gaussian", "linear"] = "auto",
    sigma: float = 5.0,
    batch_size: int | None = None,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Biased empirical HSIC (Gretton et al. 2005).

        HSIC_b(Z; X) = tr(K̃ L̃) / (n − 1)²,   K̃ = HKH, L̃ = HLH, H = I − 11ᵀ/n

    Range [0, ∞), dimensionless; 0 for independent samples in the limit, and at most
    ‖K̃‖_F‖L̃‖_F/(n − 1)². Arguments as in ``nhsic`` (no ε).

    Returns:
        0-d tensor (the mean over batches when ``batch_size`` is set), differentiable.

    Example:
        >>> x = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
        >>> round(float(hsic(x, x, kernel_z="linear", kernel_x="linear")), 4)  # tr((HxxᵀH)²)/9
        2.7778
    """
    kz, kx = _prepare_kernels(
        z, x_or_labels, kernel_z, kernel_x, sigma, batch_size, num_classes, dtype
    )
    n = kz.shape[-1]

    def double_centre(k: Tensor) -> Tensor:
        k = k - k.mean(dim=-1, keepdim=True)
        return k - k.mean(dim=-2, keepdim=True)

    return (double_centre(kz) * double_centre(kx)).sum(dim=(-2, -1)).mean() / (n - 1) ** 2


# --- mutual information ------------------------------------------------------------------------


def _compress(v: Tensor, project_dim: int | None, whiten: bool) -> Tensor:
    """PCA to ``project_dim`` columns (if wider), then v ← L⁻¹(v − mean), L = chol(cov + 1e-6·I)."""
    v = v - v.mean(dim=0)
    if project_dim is not None and v.shape[1] > project_dim:
        # Refitted on every call, as the authors refit PCA at every checkpoint.
        _, _, vh = torch.linalg.svd(v, full_matrices=False)
        v = v @ vh[:project_dim].mT
    if not whiten:
        return v
    d = v.shape[1]
    cov = v.mT @ v / (v.shape[0] - 1)
    chol = torch.linalg.cholesky(cov + _WHITEN_RIDGE * torch.eye(d, dtype=v.dtype, device=v.device))
    return torch.linalg.solve_triangular(chol, v.mT, upper=False).mT


def _bin_codes(v: Tensor, num_bins: int) -> Tensor:
    """Equal-width bin index in [0, num_bins) per column, bins spanning each column's range."""
    lo, hi = v.min(dim=0).values, v.max(dim=0).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return ((v - lo) / span * num_bins).floor().clamp(0, num_bins - 1).long()


def _plugin_entropy(codes: Tensor) -> Tensor:
    # Joint bin index of each row by unique rows: exact, no overflow for many dims or bins.
    _, counts = torch.unique(codes, dim=0, return_counts=True)
    p = counts.double() / codes.shape[0]
    return -(p * p.log()).sum()


def _binned(z_codes: Tensor, x_codes: Tensor) -> Tensor:
    joint = torch.cat([z_codes, x_codes], dim=1)
    return _plugin_entropy(z_codes) + _plugin_entropy(x_codes) - _plugin_entropy(joint)


def _kl(z: Tensor, x: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """I(Z; X) = H(Z) + H(X) − H(Z, X) by Kozachenko–Leonenko entropies."""
    joint = torch.cat([z, x], dim=1)
    h = [kl_entropy(v, k=k, chunk_size=chunk_size, dtype=z.dtype) for v in (z, x, joint)]
    return h[0] + h[1] - h[2]


def _kl_discrete(z: Tensor, labels: Tensor, k: int, chunk_size: int | None) -> Tensor:
    """I(Z; Y) = H(Z) − Σ_y p_y H(Z | Y = y), each class's entropy from its own samples."""
    classes, counts = torch.unique(labels, return_counts=True)
    conditional = torch.zeros((), dtype=z.dtype, device=z.device)
    for c, n_c in zip(classes.tolist(), counts.tolist(), strict=True):
        try:
            h_c = kl_entropy(z[labels == c], k=k, chunk_size=chunk_size, dtype=z.dtype)
        except ValueError:
            raise ValueError(
                f"class {c} has {n_c} samples, too few for its Kozachenko–Leonenko entropy "
                f"H(Z | Y = {c}) with k = {k}; pass more samples per class or a smaller k"
            ) from None
        conditional = conditional + (n_c / labels.numel()) * h_c
    return kl_entropy(z, k=k, chunk_size=chunk_size, dtype=z.dtype) - conditional


def mutual_information(
    z: Tensor,
    x_or_labels: Tensor,
    *,
    estimator: Literal["ksg", "binned", "kl"] = "ksg",
    k: int = 5,
    project_dim: int | None = 4,
    whiten: bool = True,
    num_bins: int = 30,
    chunk_size: int | None = None,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> Tensor:
    """Mutual information I(Z; X) or I(Z; Y) in **nats**, on whitened PCA projections.

    Each continuous variable is centred, projected on its first ``project_dim`` principal
    components when wider (refitted on every call), and whitened, v ← L⁻¹(v − mean),
    L = chol(cov(v) + 1e-6·I). Cholesky whitening makes the estimate exactly invariant (up to
    the ridge) to lower-triangular maps with positive diagonal, e.g. per-column scaling and
    shifts, and nearly invariant to any invertible linear map of a variable of dim ≤
    ``project_dim`` (the whitened coordinates then differ by a rotation, and the max-norm is
    not rotation-invariant).

    ``estimator="ksg"`` — Kraskov et al. (2004), estimator 1, max-norm, N samples:

        I(Z; X) = ψ(k) + ψ(N) − ⟨ψ(n_z + 1) + ψ(n_x + 1)⟩

    ε_i is the distance to the k-th neighbour of sample i in the joint space and n_z(i), n_x(i)
    count the other samples strictly within ε_i in each marginal. With integer labels Y, Ross's
    (2014) discrete–continuous variant: d_i is the distance to the k-th nearest sample of the
    same class, m_i counts the samples of all classes strictly within d_i (itself included),

        I(Z; Y) = ψ(N) − ⟨ψ(N_y)⟩ + ψ(k) − ⟨ψ(m)⟩

    with N_y the size of sample i's class; as in scikit-learn, k is lowered to N_y − 1 for small
    classes and classes seen once are left out. Both are consistent, nearly unbiased for
    independent variables, and may come out slightly negative (not clipped). Not
    differentiable.

    ``estimator="binned"`` — the classic Shwartz-Ziv & Tishby plane: ``num_bins`` equal-width
    bins over each column's range, plug-in entropies of the joint bin index,
    I = H(Z) + H(X) − H(Z, X) ∈ [0, min(H(Z), H(X))] ⊂ [0, log N]. The plug-in estimate is
    biased: downward by ≈ (cells − 1)/(2N) for each entropy, and upward overall when the cells
    outnumber the samples — every sample alone in its bin gives I = log N whatever the
    dependence (the saturation behind the classic plane's "compression" debate). Use few
    dimensions or bins (e.g. ``project_dim=2``, ``num_bins=10``) for N in the thousands.

    ``estimator="kl"`` — Sakamoto & Sato's estimator (Butakov et al.'s recipe): differential
    entropies by :func:`~infodyn.functional.kl_entropy.kl_entropy` (weighted
    Kozachenko–Leonenko, Euclidean, k = 5; for ≤ 4 dimensions only the nearest neighbour
    counts) on the whitened projections,

        I(Z; X) = H(Z) + H(X) − H(Z, X),     I(Z; Y) = H(Z) − Σ_y p_y H(Z | Y = y)

    with p_y the class frequencies and each H(Z | Y = y) estimated on that class's samples
    (the projection and whitening are fitted on all of them). Consistent; unlike KSG the
    entropy errors do not cancel, so independent variables may give a bias of a few 0.01
    nats either way.

    Args:
        z: (n, d_z) floating matrix, rows are samples.
        x_or_labels: (n, d_x) floating matrix, or (n,) integer class labels (not projected).
        estimator: ``"ksg"`` (default), ``"kl"`` or ``"binned"``.
        k: neighbours, k ≥ 1 (default 5); KSG and KL need n > k.
        project_dim: PCA dimension of each continuous variable (default 4, the authors'
            recipe); None keeps all columns.
        whiten: whiten after projecting (default True).
        num_bins: bins per dimension for ``"binned"`` (default 30).
        chunk_size: memory knob: rows of the distance matrices built at a time (KSG and KL);
            None picks a block of ~2¹⁷ entries for KSG (at least 32 rows) and ~2²²/n rows for
            KL. Does not change the value.
        num_classes: number of classes, only to check labels (default: max label + 1).
        dtype: working precision (default float64).

    Returns:
        0-d tensor in nats.

    Example:
        >>> labels = torch.arange(200) % 2
        >>> noise = torch.randn(200, 1, generator=torch.Generator().manual_seed(0))
        >>> z = 10.0 * labels[:, None] + noise  # two well-separated classes: I = log 2
        >>> round(float(mutual_information(z, labels)), 2)  # ψ(200) − ψ(100)
        0.7
        >>> round(float(mutual_information(z, labels, estimator="binned", num_bins=2)), 4)
        0.6931
    """
    _check_mi_options(estimator, k, num_bins, project_dim, chunk_size)
    zz, xx, is_labels = _pair(z, x_or_labels, num_classes, _check_dtype(dtype))
    _check_enough_samples(estimator, zz.shape[0], k)
    with torch.no_grad():
        zc = _compress(zz.detach(), project_dim, whiten)
        xc = xx if is_labels else _compress(xx.detach(), project_dim, whiten)
        return _estimate(estimator, zc, xc, is_labels, k, num_bins, chunk_size)


def _check_mi_options(
    estimator: object, k: object, num_bins: object, project_dim: object, chunk_size: object
) -> None:
    check_choice("estimator", estimator, _ESTIMATORS)
    check_int("k", k, minimum=1)
    check_int("num_bins", num_bins, minimum=1)
    check_int("project_dim", project_dim, minimum=1, allow_none=True)
    check_chunk_size(chunk_size)


def _check_enough_samples(estimator: str, n: int, k: int) -> None:
    if estimator in ("ksg", "kl") and n <= k:
        raise ValueError(
            f"z has {n} samples but the {estimator.upper()} estimator needs more than k = {k}; "
            f"pass more samples or a smaller k"
        )


def _estimate(
    estimator: str,
    zc: Tensor,
    xc: Tensor,
    is_labels: bool,
    k: int,
    num_bins: int,
    chunk_size: int | None,
) -> Tensor:
    """The chosen estimator on compressed Z and compressed X (or labels)."""
    if estimator == "binned":
        x_codes = xc[:, None] if is_labels else _bin_codes(xc, num_bins)
        return _binned(_bin_codes(zc, num_bins), x_codes).to(zc.dtype)
    if estimator == "kl":
        return _kl_discrete(zc, xc, k, chunk_size) if is_labels else _kl(zc, xc, k, chunk_size)
    if is_labels:
        return ksg_discrete(zc, xc, k, chunk_size)
    return ksg_continuous(zc, xc, k, chunk_size)


def _mutual_information_pair(
    z: Tensor,
    x: Tensor,
    labels: Tensor,
    *,
    estimator: str = "ksg",
    k: int = 5,
    project_dim: int | None = 4,
    whiten: bool = True,
    num_bins: int = 30,
    chunk_size: int | None = None,
    num_classes: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> tuple[Tensor, Tensor]:
    """I(Z; X) and I(Z; Y), bit-identical to ``mutual_information(z, x, ...)`` and
    ``mutual_information(z, labels, num_classes=num_classes, ...)``, at a lower cost.

    Z is projected and whitened once for both; for KSG each block of Z's max-norm distances
    is built once and read by both estimators (:func:`~infodyn.functional._ksg.ksg_pair`).
    The information plane needs exactly this pair.
    """
    _check_mi_options(estimator, k, num_bins, project_dim, chunk_size)
    dt = _check_dtype(dtype)
    zz, xx, x_is_labels = _pair(z, x, None, dt)
    _, yy, y_is_labels = _pair(z, labels, num_classes, dt)
    _check_enough_samples(estimator, zz.shape[0], k)
    with torch.no_grad():
        zc = _compress(zz.detach(), project_dim, whiten)
        xc = xx if x_is_labels else _compress(xx.detach(), project_dim, whiten)
        yc = yy if y_is_labels else _compress(yy.detach(), project_dim, whiten)
        if estimator == "ksg" and y_is_labels and not x_is_labels:
            return ksg_pair(zc, xc, yc, k, chunk_size)
        return (
            _estimate(estimator, zc, xc, x_is_labels, k, num_bins, chunk_size),
            _estimate(estimator, zc, yc, y_is_labels, k, num_bins, chunk_size),
        )
