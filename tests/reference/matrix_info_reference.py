"""Brute-force NumPy/SciPy references for matrix entropy, MI, MIR and HDR.

Written from Song et al. (2024, arXiv 2406.03999)'s definitions with no shared code: explicit
n×n Gram matrices, ``scipy.linalg.logm``
for full-rank cases and a full ``scipy.linalg.eigh`` otherwise. Slow on purpose.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg


def gram(x: np.ndarray) -> np.ndarray:
    """K = ẐẐᵀ with every row of ``x`` scaled to unit L2 norm."""
    x = np.asarray(x, dtype=np.float64)
    unit = x / np.sqrt((x * x).sum(axis=1, keepdims=True))
    return unit @ unit.T


def entropy_logm(k: np.ndarray) -> float:
    """H = −tr(ρ log ρ), ρ = K/n, by the matrix logarithm; K must be full rank."""
    rho = k / k.shape[0]
    return float(-np.trace(rho @ scipy.linalg.logm(rho)).real)


def entropy_eigh(k: np.ndarray) -> float:
    """H = −Σ λ log λ over the eigenvalues of K/n; λ below 1e-12 count as 0 (the limit)."""
    lam = scipy.linalg.eigh(k / k.shape[0], eigvals_only=True)
    lam = lam[lam > 1e-12]
    return float(-(lam * np.log(lam)).sum())


def mutual_information(x1: np.ndarray, x2: np.ndarray, entropy=entropy_eigh) -> float:
    """MI = H(K1) + H(K2) − H(K1 ∘ K2)."""
    k1, k2 = gram(x1), gram(x2)
    return entropy(k1) + entropy(k2) - entropy(k1 * k2)


def information(features: np.ndarray, head: np.ndarray, entropy=entropy_eigh) -> dict[str, float]:
    """The five values of ``matrix_information`` by brute force."""
    kz, kw = gram(features), gram(head)
    hz, hw = entropy(kz), entropy(kw)
    mi = hz + hw - entropy(kz * kw)
    return {
        "mir": mi / min(hz, hw),
        "hdr": abs(hz - hw) / max(hz, hw),
        "entropy_features": hz,
        "entropy_head": hw,
        "mutual_information": mi,
    }


def collapse_closed_form(num_classes: int) -> dict[str, float]:
    """Closed-form values at neural collapse (simplex ETF, balanced classes), derived for infodyn:
    K_ij = 1 within a class and −1/(C − 1) across, so H(K) = log(C − 1)."""
    c = num_classes
    h = math.log(c - 1)
    h_joint = math.log(c - 1) / (c - 1) - (c - 2) / (c - 1) * math.log((c - 2) / (c - 1) ** 2)
    return {"entropy": h, "joint_entropy": h_joint, "mir": (2 * h - h_joint) / h, "hdr": 0.0}


def simplex_etf(num_classes: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """(C, dim) unit rows with pairwise cosine −1/(C−1), in a random C-dim subspace."""
    c = num_classes
    centred = np.eye(c) - 1.0 / c
    rows = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, c)))
    return rows @ basis.T
