"""Brute-force NumPy neural-collapse measures, from the definitions with no shared code.

Papyan, Han & Donoho (2020) for NC1–NC4, Galanti et al. (2022) for CDNV, Sakamoto & Sato's
paper and code for RNC1, NC1_trace and NC2_cond.

All features are held in memory; per-class means by boolean masks, covariances as explicit
sums of outer products, the pseudo-inverse by ``np.linalg.pinv`` (hermitian, with the same
relative cutoff as infodyn's documented default), pairwise quantities by double loops. Slow on
purpose.
"""

from __future__ import annotations

import numpy as np

PINV_RTOL = 1e-10  # the definition leaves it open; infodyn documents 1e-10 relative


def _parts(h: np.ndarray, y: np.ndarray, num_classes: int):
    h = np.asarray(h, dtype=np.float64)
    means = np.stack([h[y == c].mean(axis=0) for c in range(num_classes)])
    global_mean = h.mean(axis=0)
    return h, means, global_mean, means - global_mean


def reference_measures(
    h: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
) -> dict[str, float]:
    """Every neural-collapse measure for features ``h`` (N, d) and labels ``y`` (N,)."""
    h, means, _, centred = _parts(h, y, num_classes)
    n, d = h.shape
    c_count = num_classes
    out: dict[str, float] = {}
    residual = h - means[y]
    out["within_class_variance"] = float(np.mean(np.sum(residual**2, axis=1)))
    p = np.array([np.mean(y == c) for c in range(c_count)])
    out["between_class_variance"] = float(
        sum(p[c] * centred[c] @ centred[c] for c in range(c_count))
    )
    norms = np.sqrt(np.sum(h**2, axis=1))
    out["mean_feature_norm"] = float(norms.mean())
    out["rnc1"] = out["within_class_variance"] / norms.mean() ** 2
    out["rnc1_max"] = out["within_class_variance"] / norms.max() ** 2
    sigma_w = np.zeros((d, d))
    for i in range(n):
        sigma_w += np.outer(residual[i], residual[i])
    sigma_w /= n
    sigma_b = np.zeros((d, d))
    for c in range(c_count):
        sigma_b += np.outer(centred[c], centred[c])
    sigma_b /= c_count
    pinv = np.linalg.pinv(sigma_b, rcond=PINV_RTOL, hermitian=True)
    out["nc1"] = float(np.trace(sigma_w @ pinv) / c_count)
    out["nc1_trace"] = out["within_class_variance"] / out["between_class_variance"]
    lengths = np.array([np.linalg.norm(centred[c]) for c in range(c_count)])
    out["nc2_equinorm"] = float(np.std(lengths, ddof=1) / np.mean(lengths))
    total = 0.0
    for a in range(c_count):
        for b in range(c_count):
            if a != b:
                cos = centred[a] @ centred[b] / (lengths[a] * lengths[b])
                total += abs(cos + 1.0 / (c_count - 1))
    out["nc2_equiangularity"] = total / (c_count * (c_count - 1))
    gram = centred @ centred.T
    etf = (np.eye(c_count) - np.ones((c_count, c_count)) / c_count) / np.sqrt(c_count - 1)
    out["nc2_etf_error"] = float(np.linalg.norm(gram / np.linalg.norm(gram) - etf))
    sv = np.linalg.svd(means, compute_uv=False)
    out["nc2_cond"] = float(sv.max() / sv.min())
    var = np.array([np.mean(np.sum((h[y == c] - means[c]) ** 2, axis=1)) for c in range(c_count)])
    total = 0.0
    for a in range(c_count):
        for b in range(c_count):
            if a != b:
                total += (var[a] + var[b]) / (2 * np.sum((means[a] - means[b]) ** 2))
    out["cdnv"] = total / (c_count * (c_count - 1))
    if weight is not None:
        w = np.asarray(weight, dtype=np.float64)
        diff = w / np.linalg.norm(w) - centred / np.linalg.norm(centred)
        out["nc3"] = float(np.sum(diff**2))
        b = np.zeros(c_count) if bias is None else np.asarray(bias, dtype=np.float64)
        mismatches = 0
        for i in range(n):
            predicted = int(np.argmax(w @ h[i] + b))
            nearest = int(np.argmin([np.sum((h[i] - means[c]) ** 2) for c in range(c_count)]))
            mismatches += predicted != nearest
        out["nc4"] = mismatches / n
    return out


def reference_margins(
    h: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, a: int, b: int
) -> np.ndarray:
    """(⟨w_a − w_b, h⟩ + b_a − b_b)/‖w_a − w_b‖ per row, by an explicit loop."""
    h = np.asarray(h, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    bias_diff = 0.0 if bias is None else float(bias[a]) - float(bias[b])
    direction = w[a] - w[b]
    return np.array([(direction @ row + bias_diff) / np.linalg.norm(direction) for row in h])
