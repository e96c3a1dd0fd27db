"""A NumPy/SciPy reference for the (weighted) Kozachenko–Leonenko entropy and its MI.

Written from Berrett, Samworth & Yuan (2019, "Efficient multivariate entropy estimation via
k-nearest neighbour distances", eq. 2 and §3) with no shared code: neighbours from a k-d tree
(``scipy.spatial.cKDTree``), ψ and log Γ from ``scipy.special``, and the debiasing weights as
the minimum-norm solution of the equality constraints in closed form, w = Aᵀ(AAᵀ)⁻¹b, on the
allowed support — valid when the constraints are consistent (k large enough for d). Slow on
purpose.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln


def berrett_weights(k: int, d: int) -> np.ndarray:
    """w with Σw = 1, Σ_j w_j Γ(j + 2l/d)/Γ(j) = 0 (l ≤ ⌊d/4⌋), support {⌊ik/d⌋}; min ‖w‖."""
    w = np.zeros(k)
    if d <= 4:  # the authors' rule: the nearest neighbour only
        w[0] = 1.0
        return w
    support = sorted({i * k // d for i in range(1, d + 1)} - {0})
    j = np.array(support, dtype=np.float64)
    rows = [np.ones(len(support))]
    rows += [np.exp(gammaln(j + 2 * lag / d) - gammaln(j)) for lag in range(1, d // 4 + 1)]
    a = np.vstack(rows)
    b = np.zeros(len(rows))
    b[0] = 1.0
    w[np.array(support) - 1] = a.T @ np.linalg.solve(a @ a.T, b)
    return w


def kl_entropy(x: np.ndarray, k: int = 5, weighting: str = "berrett") -> float:
    """(1/n) Σ_i Σ_j w_j log(e^{−ψ(j)} V_d (n − 1) max(ρ_(j),i^d, 1e-12)), Euclidean ρ."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    if weighting == "kth":
        w = np.zeros(k)
        w[-1] = 1.0
    else:
        w = berrett_weights(k, d)
    dist, _ = cKDTree(x).query(x, k=k + 1)  # column 0 is the point itself
    rho = dist[:, 1:]
    log_vd = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1)
    total = 0.0
    for i in range(n):
        for jj in range(k):
            if w[jj] == 0.0:
                continue
            volume = max(rho[i, jj] ** d, 1e-12)
            total += w[jj] * (-digamma(jj + 1) + log_vd + math.log(n - 1) + math.log(volume))
    return total / n


def kl_mutual_information(z: np.ndarray, x: np.ndarray, k: int = 5) -> float:
    """H(Z) + H(X) − H(Z, X)."""
    return kl_entropy(z, k) + kl_entropy(x, k) - kl_entropy(np.hstack([z, x]), k)


def kl_mutual_information_labels(z: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """H(Z) − Σ_y p_y H(Z | Y = y), each conditional entropy from that class's samples."""
    conditional = 0.0
    for c in np.unique(labels):
        members = z[labels == c]
        conditional += len(members) / len(z) * kl_entropy(members, k)
    return kl_entropy(z, k) - conditional
