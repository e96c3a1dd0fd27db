"""Brute-force NumPy/SciPy references for D_LR, linear CKA and the Nyström curves.

Written from Nam et al.'s (2024, arXiv 2410.04264) definitions with no shared code: explicit
n×n kernels K = ΦΦᵀ, the centring matrix H, an explicit n×n projection matrix onto either
reading of the learned span (span{f̂_c} or span{1, f̂_c}), and Nyström eigenfunctions read off
the n×n kernel's eigenvectors. Slow on purpose (O(n³)); keep n in the hundreds.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg


def centring(n: int) -> np.ndarray:
    """H = I − 11ᵀ/n."""
    return np.eye(n) - np.full((n, n), 1.0 / n)


def cka_kernels(k: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Centred kernel alignment ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F) of two n×n kernels."""
    h = centring(k.shape[0])
    kc, lc = h @ k @ h, h @ l @ h
    return float((kc * lc).sum() / (np.linalg.norm(kc) * np.linalg.norm(lc)))


def output_projection(outputs: np.ndarray, *, span: str = "outputs") -> np.ndarray:
    """n×n orthogonal projection onto span{f̂_1, …, f̂_C} (``"outputs"``, the paper's Ĥ) or
    span{1, f̂_1, …, f̂_C} (``"outputs_and_constant"``), from an orthonormal basis by SVD."""
    f = np.asarray(outputs, dtype=np.float64)
    if span == "outputs_and_constant":
        f = np.column_stack([np.ones(f.shape[0]), f])
    elif span != "outputs":
        raise ValueError(f"unknown span {span!r}")
    basis = scipy.linalg.orth(f, rcond=1e-9)
    return basis @ basis.T


def d_lr(features: np.ndarray, outputs: np.ndarray, *, span: str = "outputs") -> float:
    """D_LR = 1 − CKA(ΦΦᵀ, P) with explicit n×n matrices K = ΦΦᵀ and P."""
    phi = np.asarray(features, dtype=np.float64)
    return 1.0 - cka_kernels(phi @ phi.T, output_projection(outputs, span=span))


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    """Linear CKA as the alignment of the two n×n linear kernels."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return cka_kernels(a @ a.T, b @ b.T)


def nystrom_eigenfunctions(features: np.ndarray, *, tol: float = 1e-10) -> tuple[np.ndarray, ...]:
    """(ρ descending, E) with E[:, k] = e_k on the samples, from the n×n kernel K/n.

    K/n = ΦΦᵀ/n has the same non-zero eigenvalues ρ as G = ΦᵀΦ/n, and e_k(x_i) = √n·u_k(i)
    equals Φ(x_i)·v_k/√ρ_k; only modes with ρ_k > tol·ρ_1 are returned.
    """
    phi = np.asarray(features, dtype=np.float64)
    n = phi.shape[0]
    rho, u = scipy.linalg.eigh(phi @ phi.T / n)
    rho, u = rho[::-1], u[:, ::-1]
    keep = rho > tol * rho[0]
    return rho[keep], np.sqrt(n) * u[:, keep]


def curves(
    features: np.ndarray, outputs: np.ndarray, targets: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-mode Q̂, Q* (if targets) and ρ_k/ρ_1 from explicit eigenfunctions and mean inner
    products ⟨u|v⟩ = mean_i u(x_i) v(x_i); padded with zeros to p modes."""
    phi = np.asarray(features, dtype=np.float64)
    n, p = phi.shape
    rho, e = nystrom_eigenfunctions(phi)

    def per_mode(f: np.ndarray) -> np.ndarray:
        inner = e.T @ f / n  # ⟨e_j|f_c⟩
        share = (inner**2).sum(axis=1) / ((f**2).sum(axis=0) / n).sum()
        return np.concatenate([share, np.zeros(p - share.size)])

    out = {
        "utilization": per_mode(np.asarray(outputs, dtype=np.float64)),
        "relative_norms": np.concatenate([rho / rho[0], np.zeros(p - rho.size)]),
    }
    if targets is not None:
        out["quality"] = per_mode(np.asarray(targets, dtype=np.float64))
    return out
