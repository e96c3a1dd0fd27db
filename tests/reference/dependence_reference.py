"""Brute-force NumPy/SciPy references for HSIC, nHSIC and the k-NN / binned MI estimators.

Written from the original papers (Gretton et al. 2005, Fukumizu et al. 2008, Kraskov et al.
2004, Ross 2014) with no shared code: explicit n×n kernels
and ``np.linalg.inv``, a k-d tree (``scipy.spatial.cKDTree``) for Kraskov's estimator, a
per-sample Python loop for Ross's discrete variant, and a dictionary of bin tuples for the
plug-in entropies. Slow on purpose.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma


def gaussian_kernel(x: np.ndarray, sigma: float = 5.0) -> np.ndarray:
    """K_ij = exp(−‖x_i − x_j‖²/(2σ²·d)), by explicit pairwise differences."""
    x = np.asarray(x, dtype=np.float64)
    diff = x[:, None, :] - x[None, :, :]
    return np.exp(-(diff**2).sum(-1) / (2 * sigma**2 * x.shape[1]))


def label_kernel(labels: np.ndarray) -> np.ndarray:
    """Linear kernel of the one-hot code, built as an explicit one-hot matrix."""
    onehot = np.eye(int(labels.max()) + 1)[labels]
    return onehot @ onehot.T


def centring(n: int) -> np.ndarray:
    return np.eye(n) - np.ones((n, n)) / n


def nhsic(kz: np.ndarray, kx: np.ndarray, epsilon: float = 1e-5) -> float:
    """tr(R_Z R_X), R = KH (KH + εnI)⁻¹ with an explicit inverse (the authors' algebra)."""
    n = kz.shape[0]
    h = centring(n)

    def resolvent(k: np.ndarray) -> np.ndarray:
        kc = k @ h
        return kc @ np.linalg.inv(kc + epsilon * n * np.eye(n))

    return float(np.trace(resolvent(kz) @ resolvent(kx)))


def resolvent_trace(k: np.ndarray, epsilon: float = 1e-5) -> float:
    """tr R = Σ λ/(λ + εn) over the eigenvalues of HKH: the bound on nHSIC for this side."""
    n = k.shape[0]
    h = centring(n)
    lam = np.clip(np.linalg.eigvalsh(h @ k @ h), 0.0, None)
    return float((lam / (lam + epsilon * n)).sum())


def hsic(kz: np.ndarray, kx: np.ndarray) -> float:
    """tr(K H L H)/(n − 1)² (Gretton et al. 2005)."""
    n = kz.shape[0]
    h = centring(n)
    return float(np.trace(kz @ h @ kx @ h) / (n - 1) ** 2)


def compress(v: np.ndarray, project_dim: int | None = 4, whiten: bool = True) -> np.ndarray:
    """PCA by eigh of the covariance, then v ← L⁻¹(v − mean), L = chol(cov + 1e-6 I)."""
    v = np.asarray(v, dtype=np.float64)
    v = v - v.mean(axis=0)
    if project_dim is not None and v.shape[1] > project_dim:
        lam, vecs = np.linalg.eigh(v.T @ v)
        v = v @ vecs[:, np.argsort(lam)[::-1][:project_dim]]
    if not whiten:
        return v
    cov = np.cov(v, rowvar=False).reshape(v.shape[1], v.shape[1])
    chol = np.linalg.cholesky(cov + 1e-6 * np.eye(v.shape[1]))
    return np.linalg.solve(chol, v.T).T


def ksg(z: np.ndarray, x: np.ndarray, k: int = 5) -> float:
    """Kraskov et al. (2004) estimator 1, max-norm, with k-d trees."""
    n = z.shape[0]
    joint = np.hstack([z, x])
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, -1]
    radius = np.nextafter(eps, 0)  # strictly inside ε; the count includes the point itself
    n_z = cKDTree(z).query_ball_point(z, radius, p=np.inf, return_length=True) - 1
    n_x = cKDTree(x).query_ball_point(x, radius, p=np.inf, return_length=True) - 1
    return float(digamma(k) + digamma(n) - np.mean(digamma(n_z + 1) + digamma(n_x + 1)))


def ksg_discrete(z: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Ross (2014), by a loop over samples and brute-force max-norm distances."""
    counts = Counter(labels.tolist())
    keep = np.array([counts[y] > 1 for y in labels.tolist()])
    z, labels = z[keep], labels[keep]
    n = len(labels)
    terms = []
    for i in range(n):
        dist = np.abs(z - z[i]).max(axis=1)
        same = (labels == labels[i]) & (np.arange(n) != i)
        n_y = int(same.sum()) + 1
        k_i = min(k, n_y - 1)
        d_i = np.sort(dist[same])[k_i - 1]
        others = np.arange(n) != i
        m_i = int((dist[others] <= d_i).sum())  # Ross's count: within d_i, k-th neighbour too
        terms.append(digamma(k_i) - digamma(n_y) - digamma(m_i))
    return float(digamma(n) + np.mean(terms))


def binned(z: np.ndarray, x: np.ndarray | None, labels: np.ndarray | None, bins: int) -> float:
    """Plug-in H(Z) + H(X) − H(Z, X) over equal-width bins from ``np.digitize``."""

    def codes(v: np.ndarray) -> list[tuple[int, ...]]:
        cols = []
        for col in v.T:
            edges = np.linspace(col.min(), col.max(), bins + 1)[1:-1]
            cols.append(np.digitize(col, edges))
        return [tuple(int(c) for c in row) for row in np.stack(cols, axis=1)]

    def entropy(rows: list[tuple[int, ...]]) -> float:
        p = np.array(list(Counter(rows).values()), dtype=np.float64) / len(rows)
        return float(-(p * np.log(p)).sum())

    cz = codes(z)
    cx: list[tuple[int, ...]]
    if labels is None:
        assert x is not None
        cx = codes(x)
    else:
        cx = [(int(y),) for y in labels]
    return entropy(cz) + entropy(cx) - entropy([a + b for a, b in zip(cz, cx, strict=True)])
