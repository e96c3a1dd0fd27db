"""Transfer entropy between every neuron pair of two layers, from exact integer counts.

Schreiber's (2000) transfer entropy with the conventions of Moldovan, Caţaron & Andonie's code
(its ``TEWindow``, a port of JIDT's ``TransferEntropyCalculatorDiscrete``), which equal PyInform
``transfer_entropy(x, y, k=1)`` and JIDT ``TransferEntropyCalculatorDiscrete(2, 1)``: binary
series, target history k = 1, source history l = 1, source→target delay u = 1, plug-in
(maximum-likelihood) probabilities, log base 2 (**bits**), no bias correction. Time = training
samples in processing order, as in that code.

For source x and target y of length T, with s = x_{t−u}, p = y_{t−1}, f = y_t over the
N = T − max(u, 1) observations,

    TE(x→y) = Σ_{s,p,f} (c(s,p,f)/N) · log2[ c(s,p,f)·c(p) / (c(s,p)·c(p,f)) ]
            = [H(S,P) + H(P,F) − H(S,P,F) − H(P)] in count form.

All pairs at once: with X (N, m) the source states and P, F (N, n) the target past and next,
the three integer products Xᵀ·P, Xᵀ·F, Xᵀ·(P∘F) and the column sums give all eight cells
c(s,p,f) of every pair (inclusion–exclusion). The products are exact: on CPU an int8×int8 →
int32 GEMM (``torch._int_mm``), elsewhere float32 sums of 0/1 below 2^24 per chunk.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import torch
from torch import Tensor

from infodyn._validation import check_choice, check_finite, check_int, check_tensor
from infodyn.functional._chunking import check_chunk_size

__all__ = [
    "TransferEntropySignificance",
    "TransitionCounts",
    "transfer_entropy",
    "transfer_entropy_from_counts",
    "transfer_entropy_null",
    "transition_counts",
]

# float32 holds every integer below 2^24 exactly; int32 below 2^31. Chunks of the time axis
# never exceed this many rows, so each partial count is exact before it is added in int64.
_EXACT_ROWS = 1 << 24


class TransitionCounts(NamedTuple):
    """Sufficient statistics of TE for all (source i, target j) pairs; all int64.

    Attributes:
        source_past: (m, n) Σ_t s_i·p_j, observations with source i = 1 and target past j = 1.
        source_next: (m, n) Σ_t s_i·f_j.
        source_both: (m, n) Σ_t s_i·p_j·f_j.
        source: (m,) Σ_t s_i.
        past: (n,) Σ_t p_j.
        next: (n,) Σ_t f_j.
        both: (n,) Σ_t p_j·f_j.
        observations: () N, the number of (s, p, f) observations.
    """

    source_past: Tensor
    source_next: Tensor
    source_both: Tensor
    source: Tensor
    past: Tensor
    next: Tensor
    both: Tensor
    observations: Tensor

    def __add__(self, other: object) -> TransitionCounts:
        if not isinstance(other, TransitionCounts):
            return NotImplemented
        return TransitionCounts(*(a + b for a, b in zip(self, other, strict=True)))


def _check_binary(name: str, value: object) -> Tensor:
    x = check_tensor(name, value)
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (time, neurons), got shape {tuple(x.shape)}; "
            f"for one series use {name}.reshape(-1, 1)"
        )
    if x.is_complex():
        raise TypeError(f"{name} must be real 0/1 values, got {x.dtype}")
    if x.is_floating_point():
        check_finite(name, x)
        binary = bool(((x == 0) | (x == 1)).all())
    elif x.dtype == torch.bool or not x.numel():
        binary = True
    else:
        # For integers, min >= 0 and max <= 1 is the same test at a fraction of the cost.
        low, high = torch.aminmax(x)
        binary = int(low) >= 0 and int(high) <= 1
    if not binary:
        bad = x[(x != 0) & (x != 1)][0].item()
        raise ValueError(
            f"{name} must be binary (0/1), found the value {bad!r}; "
            f"binarize activations first with infodyn.functional.binarize({name})"
        )
    return x


def _check_pair(source: object, target: object, delay: object) -> tuple[Tensor, Tensor, int]:
    lag = check_int("delay", delay, minimum=0)
    x = _check_binary("source", source)
    y = _check_binary("target", target)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"source has {x.shape[0]} time steps but target has {y.shape[0]}; both series "
            f"must cover the same samples in the same order"
        )
    if x.shape[0] < max(lag, 1) + 1:
        raise ValueError(
            f"source and target have {x.shape[0]} time step(s); TE with delay={lag} needs "
            f"at least {max(lag, 1) + 1} (T >= 2) — collect a longer series"
        )
    return x, y, lag


def _aligned(x: Tensor, y: Tensor, delay: int) -> tuple[Tensor, Tensor, Tensor]:
    """Source states s = x_{t−u}, target past p = y_{t−1}, next f = y_t for t = max(u,1)…T−1."""
    start = max(delay, 1)
    return x[start - delay : x.shape[0] - delay], y[start - 1 : -1], y[start:]


def _joint_block(s: Tensor, p: Tensor, f: Tensor, rows: int) -> Tensor:
    """All counts in one exact product per time chunk, as an (m + 1, 3n + 1) int64 block.

    The product is [s | 1]ᵀ·[p, f, p∘f, 1], so the block holds sᵀp, sᵀf,
    sᵀ(p∘f) and Σs (last column), and in its last row Σp, Σf, Σ(p∘f) and N.
    """
    m, n = s.shape[1], p.shape[1]
    total = torch.zeros(m + 1, 3 * n + 1, dtype=torch.long, device=s.device)
    for lo in range(0, s.shape[0], rows):
        sc, pc, fc = s[lo : lo + rows], p[lo : lo + rows], f[lo : lo + rows]
        # Both operands are freshly allocated time-major int8 buffers. The left one enters
        # transposed (a column-major view): the int8 GEMM reads that layout directly, which is
        # faster than a transposing copy. (A *reused* view with a size-1 dim can carry strides
        # _int_mm misreads; fresh buffers never do — tested over small shapes.)
        left = torch.empty(sc.shape[0], m + 1, dtype=torch.int8, device=s.device)
        left[:, :m].copy_(sc)
        left[:, m] = 1
        right = torch.empty(sc.shape[0], 3 * n + 1, dtype=torch.int8, device=s.device)
        right[:, :n].copy_(pc)
        right[:, n : 2 * n].copy_(fc)
        torch.mul(right[:, :n], right[:, n : 2 * n], out=right[:, 2 * n : 3 * n])
        right[:, 3 * n] = 1
        total += _products(left.mT, right)
    return total


def _products(left: Tensor, right: Tensor) -> Tensor:
    """Exact left·right for int8 0/1 operands with fewer than 2^24 inner rows, as int64."""
    if left.device.type == "cpu":
        # int8 × int8 → int32 GEMM: exact, and ~4× the float32 GEMM rate on this kind of CPU.
        return torch._int_mm(left, right).long()
    if left.device.type == "cuda":
        return _bf16_products(left, right)
    return _float32_products(left, right)


def _bf16_products(left: Tensor, right: Tensor) -> Tensor:
    # 0/1 are exact in bfloat16 and the tensor-core GEMM accumulates in float32, exact below
    # 2^24 inner rows (the callers' chunks): transfer-entropy.md §7.1 measured 8.9 ms for
    # 4096 × 4096 neurons over 60,000 samples on one H100. Older torch has no out_dtype.
    try:
        product = torch.mm(left.bfloat16(), right.bfloat16(), out_dtype=torch.float32)
    except (TypeError, RuntimeError):
        return _float32_products(left, right)
    return product.round().long()


def _float32_products(left: Tensor, right: Tensor) -> Tensor:
    # float32 sums of 0/1 values are exact below 2^24; TF32 would round them, so keep it off.
    # (CUDA's _int_mm needs dims padded to multiples of 8; this path needs nothing.)
    with _no_tf32():
        return (left.float() @ right.float()).round().long()


class _no_tf32:
    def __enter__(self) -> None:
        self._saved = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = False

    def __exit__(self, *exc: object) -> None:
        torch.backends.cuda.matmul.allow_tf32 = self._saved


def _counts_from_block(block: Tensor, n: int) -> TransitionCounts:
    return TransitionCounts(
        source_past=block[:-1, :n],
        source_next=block[:-1, n : 2 * n],
        source_both=block[:-1, 2 * n : 3 * n],
        source=block[:-1, 3 * n],
        past=block[-1, :n],
        next=block[-1, n : 2 * n],
        both=block[-1, 2 * n : 3 * n],
        observations=block[-1, 3 * n],
    )


def transition_counts(
    source: Tensor, target: Tensor, *, delay: int = 1, chunk_size: int | None = None
) -> TransitionCounts:
    """Count tables of every (source neuron, target neuron) pair; see :class:`TransitionCounts`.

    One exact integer product per time chunk gives every table and marginal at once (see
    :func:`transfer_entropy` for the formula they feed).

    Args:
        source: (T, m) binary series, any integer, bool or float dtype holding 0/1.
        target: (T, n) binary series over the same T time steps.
        delay: source→target lag u; s = x_{t−u}, observations t = max(u, 1) … T−1.
        chunk_size: time steps per matrix product (memory knob, capped at 2^24 for
            exactness); None = as large as allowed.

    Returns:
        :class:`TransitionCounts`; counts of consecutive chunks (or streamed batches) add.
    """
    x, y, lag = _check_pair(source, target, delay)
    rows = check_chunk_size(chunk_size) or _EXACT_ROWS
    s, p, f = _aligned(x, y, lag)
    return _counts_from_block(_joint_block(s, p, f, min(rows, _EXACT_ROWS)), y.shape[1])


def _observations(source: Tensor, target: Tensor, delay: int) -> tuple[Tensor, Tensor, Tensor]:
    """Check a binary pair of series, and return its observations (s, p, f) (views).

    s = x_{t−u}, p = y_{t−1}, f = y_t for t = max(u, 1) … T−1: the rows that
    :func:`_observation_counts` counts. Counts of rows add, so observations may be counted in
    any grouping — how the streaming metric counts several batches in one product.
    """
    x, y, lag = _check_pair(source, target, delay)
    return _aligned(x, y, lag)


def _observation_counts(s: Tensor, p: Tensor, f: Tensor) -> TransitionCounts:
    """:class:`TransitionCounts` of aligned binary observations (see :func:`_observations`);
    the counts :func:`transition_counts` gives for the series they come from."""
    return _counts_from_block(_joint_block(s, p, f, _EXACT_ROWS), p.shape[1])


# Below this many observations, c·ln c is read from a table of every integer count (a gather
# is ~5× cheaper than xlogy on the (m, n) cells); above it the table would cost more memory.
_TABLE_LIMIT = 1 << 22


def _sum_count_entropy(cells: list[Tensor], total: int) -> Tensor:
    """Σ over cells of c·ln c (0·ln 0 = 0), float64; ``cells`` are int64 counts in [0, total]."""
    if total <= _TABLE_LIMIT:
        grid = torch.arange(total + 1, dtype=torch.float64, device=cells[0].device)
        table = torch.special.xlogy(grid, grid)
        terms = [table[c] for c in cells]
    else:
        terms = [torch.special.xlogy(c.double(), c.double()) for c in cells]
    out = terms[0]
    for term in terms[1:]:
        out = out + term
    return out


def transfer_entropy_from_counts(counts: TransitionCounts) -> Tensor:
    """TE in bits for every pair from its count tables; (m, n) float64.

    The eight cells c(s,p,f) follow exactly, in integers, by inclusion–exclusion from the
    stored sums, and
    N·ln2·TE = Σ c(s,p,f) ln c(s,p,f) − Σ c(s,p) ln c(s,p) − Σ c(p,f) ln c(p,f) + Σ c(p) ln c(p).
    """
    sp, sn, sb, s, p, f, pf, n_obs = counts
    total = int(n_obs)
    s = s[:, None]
    # Target-only tables (p, f) and p, shared by every source.
    t11, t10, t01 = pf, p - pf, f - pf
    t00 = total - p - f + pf
    # Source = 1 cells; source = 0 cells are the target cells minus these.
    c111, c110, c101 = sb, sp - sb, sn - sb
    c100 = s - sp - sn + sb
    c011, c010, c001, c000 = t11 - c111, t10 - c110, t01 - c101, t00 - c100
    joint = _sum_count_entropy([c111, c110, c101, c100, c011, c010, c001, c000], total)
    source_past = _sum_count_entropy([sp, s - sp, p - sp, total - s - p + sp], total)
    target = _sum_count_entropy([t11, t10, t01, t00], total) - _sum_count_entropy(
        [p, total - p], total
    )
    te = (joint - source_past - target[None, :]) / (total * math.log(2))
    # Round-off can leave −1e−17 where TE is exactly 0; TE is non-negative by definition.
    return te.clamp_min(0.0)


def transfer_entropy(
    source: Tensor, target: Tensor, *, delay: int = 1, chunk_size: int | None = None
) -> Tensor:
    """Transfer entropy TE(source_i → target_j) in bits for every pair of neurons.

    k = l = 1, plug-in estimate, equal to ``pyinform.transferentropy.transfer_entropy(
    source[:, i], target[:, j], k=1)`` for every (i, j) when ``delay=1``:

        TE(x→y) = Σ (c(s,p,f)/N) · log2[c(s,p,f)·c(p) / (c(s,p)·c(p,f))],
        s = x_{t−u}, p = y_{t−1}, f = y_t,  N = T − max(u, 1).

    Range [0, H(Y_t | Y_{t−1})] ⊆ [0, 1] bit. ``delay=0`` gives I(Y_t; X_t | Y_{t−1}), a
    same-sample variant (an extension; the papers use ``delay=1``).

    Args:
        source: (T, m) binary (0/1) series, rows are time steps (training samples in order).
        target: (T, n) binary series over the same time steps.
        delay: source→target lag u (default 1).
        chunk_size: time steps per matrix product, the memory knob (memory O(chunk·(m+3n))
            plus O(m·n) for the result).

    Returns:
        (m, n) float64 tensor in bits on the inputs' device.

    Example:
        >>> x = torch.tensor([0, 1, 1, 1, 1, 0, 0, 0, 0])
        >>> y = torch.tensor([0, 0, 1, 1, 1, 1, 0, 0, 0])
        >>> float(transfer_entropy(x[:, None], y[:, None]))  # PyInform's doc series
        0.8112781244591328
        >>> round(float(transfer_entropy(y[:, None], x[:, None])), 12)
        0.122556248918
    """
    return transfer_entropy_from_counts(
        transition_counts(source, target, delay=delay, chunk_size=chunk_size)
    )


class TransferEntropySignificance(NamedTuple):
    """Observed TE with its surrogate null distribution (bits, or p for ``p_value``).

    Attributes:
        te: (m, n) observed TE of every pair.
        p_value: (m, n) surrogate p-value of every pair.
        null_mean: (m, n) mean over surrogates of each pair's TE.
        null_std: (m, n) population std over surrogates of each pair's TE.
        null_pair_mean: (n_surrogates,) each surrogate's TE averaged over all m·n pairs: the
            null distribution of the layer-pair mean (pairs share each surrogate's reordering,
            so this is not a mean of independent pair nulls and its spread is not
            ``null_std`` averaged).
    """

    te: Tensor
    p_value: Tensor
    null_mean: Tensor
    null_std: Tensor
    null_pair_mean: Tensor


SurrogateMethod = Literal["shuffle", "circular"]


def _surrogate_orders(
    n_obs: int, n_surrogates: int, method: SurrogateMethod, generator: torch.Generator
) -> Tensor:
    if method == "shuffle":
        return torch.stack(
            [torch.randperm(n_obs, generator=generator) for _ in range(n_surrogates)]
        )
    # Circular shifts by 1 … N−1 keep the source's own autocorrelation.
    shifts = torch.randint(1, max(n_obs, 2), (n_surrogates, 1), generator=generator)
    return (torch.arange(n_obs)[None, :] - shifts) % n_obs


def transfer_entropy_null(
    source: Tensor,
    target: Tensor,
    n_surrogates: int = 100,
    seed: int = 0,
    *,
    method: SurrogateMethod = "shuffle",
    delay: int = 1,
    max_elements: int = 1 << 26,
) -> TransferEntropySignificance:
    """Per-pair significance of TE against source surrogates, all pairs and surrogates batched.

    Each surrogate reorders the source observations s = x_{t−u} while the target's
    (p, f) pairs stay in place: ``method="shuffle"`` draws a random permutation (JIDT's
    ``computeSignificance(nPerm)``; it destroys every temporal relation between source and
    target and yields the plug-in bias, ≈ 1/(N·ln 2) bits for independent binary series);
    ``"circular"`` shifts by a random lag, keeping the source's autocorrelation (stricter
    when the source is strongly autocorrelated). The same permutation is applied to every
    source neuron, so cross-neuron structure is kept. The surrogate sources of a group are
    stacked side by side and counted with the same integer products as the observed TE.

        p = (1 + #{k : TE_k ≥ TE_observed}) / (1 + n_surrogates)

    Args:
        source: (T, m) binary series.
        target: (T, n) binary series.
        n_surrogates: number of surrogates (p-values are multiples of 1/(n_surrogates + 1)).
        seed: seed of the surrogate generator.
        method: ``"shuffle"`` (default) or ``"circular"``.
        delay: source→target lag, as in :func:`transfer_entropy`.
        max_elements: memory knob: surrogates are batched so that one stacked source block
            holds at most this many int8 entries.

    Returns:
        :class:`TransferEntropySignificance` with ``te``, ``p_value``, ``null_mean``,
        ``null_std`` (population std over surrogates), each (m, n) float64, and
        ``null_pair_mean`` (n_surrogates,), each surrogate's mean over all pairs.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randint(0, 2, (2000, 1), generator=g)
        >>> y = torch.roll(x, 1, 0)  # y_t = x_{t-1}: TE ≈ 1 bit, far above the null
        >>> result = transfer_entropy_null(x, y, n_surrogates=19)
        >>> round(float(result.te), 2), float(result.p_value), float(result.null_mean) < 0.01
        (1.0, 0.05, True)
    """
    n_surrogates = check_int("n_surrogates", n_surrogates, minimum=1)
    check_choice("method", method, ("shuffle", "circular"))
    max_elements = check_int("max_elements", max_elements, minimum=1)
    x, y, lag = _check_pair(source, target, delay)
    s, p, f = _aligned(x, y, lag)
    n_obs, m = s.shape
    n = y.shape[1]
    observed = transfer_entropy_from_counts(
        _counts_from_block(_joint_block(s, p, f, _EXACT_ROWS), n)
    )
    orders = _surrogate_orders(n_obs, n_surrogates, method, torch.Generator().manual_seed(seed))
    group = max(1, max_elements // max(1, n_obs * m))
    null = torch.empty(n_surrogates, m, n, dtype=torch.float64, device=x.device)
    for lo in range(0, n_surrogates, group):
        idx = orders[lo : lo + group].to(x.device)
        k = idx.shape[0]
        # (N, k·m): surrogate j's reordered source in columns j·m … (j+1)·m − 1, counted
        # against the unchanged target by the same product as the observed TE.
        # Rows in (t, surrogate) order give (N, k, m) contiguous: no transposing copy. Row
        # gathers with index_select are ~20x faster than advanced indexing for uint8 rows.
        stacked = s.index_select(0, idx.T.reshape(-1)).reshape(n_obs, k * m)
        counts = _counts_from_block(_joint_block(stacked, p, f, _EXACT_ROWS), n)
        null[lo : lo + k] = transfer_entropy_from_counts(counts).reshape(k, m, n)
    # Identical counts give bit-identical TE, so ties compare exactly; allow for round-off only.
    exceed = (null >= observed - 1e-12).sum(0)
    return TransferEntropySignificance(
        te=observed,
        p_value=(1.0 + exceed.double()) / (1.0 + n_surrogates),
        null_mean=null.mean(0),
        null_std=null.std(0, correction=0),
        null_pair_mean=null.mean(dim=(1, 2)),
    )
