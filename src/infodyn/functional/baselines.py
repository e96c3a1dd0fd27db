"""Baselines that dynamical richness is compared against (Nam et al. 2024, arXiv 2410.04264).

``linear_cka`` gives S_init (similarity of the features now to those at initialisation) and
``parameter_norm`` the weight norm ‖θ‖² (absolute or relative to ‖θ_0‖²). The paper's point is
that both mis-read weight decay, where D_LR (``infodyn.functional.richness``) does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import Tensor, nn

from infodyn._validation import check_same_rows, check_tensor
from infodyn.functional.richness import _F64, _feature_matrix, _negligible

__all__ = ["linear_cka", "parameter_norm"]


def linear_cka(features_a: Tensor, features_b: Tensor) -> Tensor:
    """Centred linear CKA between two representations of the same samples, in [0, 1].

        CKA(A, B) = ‖A_cᵀB_c‖_F² / (‖A_cᵀA_c‖_F · ‖B_cᵀB_c‖_F)      (A_c, B_c column-centred)

    the feature-space (dual) form of the kernel alignment of A_cA_cᵀ and B_cB_cᵀ (Kornblith et
    al. 2019). The paper's baseline S_init is ``linear_cka(features_now, features_at_init)`` on
    the same samples.

    Args:
        features_a: (n, p_a) floating matrix, rows are samples.
        features_b: (n, p_b) the same samples in the same order.

    Returns:
        0-d float64 tensor; 1 when B is an orthogonal transform and rescaling of A.

    Example:
        >>> x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
        >>> round(float(linear_cka(x, 3.0 * x + 1.0)), 6)
        1.0
    """
    a = _feature_matrix("features_a", features_a).to(_F64)
    b = _feature_matrix("features_b", features_b).to(_F64)
    check_same_rows("features_a", a, "features_b", b)
    raw = (torch.linalg.matrix_norm(a) ** 2, torch.linalg.matrix_norm(b) ** 2)
    a, b = a - a.mean(dim=0), b - b.mean(dim=0)
    norm_a = torch.linalg.matrix_norm(a.mT @ a)
    norm_b = torch.linalg.matrix_norm(b.mT @ b)
    size = max(*a.shape, b.shape[1])
    for name, norm, scale in (("features_a", norm_a, raw[0]), ("features_b", norm_b, raw[1])):
        if _negligible(norm, scale, size):
            raise ValueError(
                f"{name} is constant across samples (rank 0 after centring); CKA is 0/0 — "
                f"pass features that vary over the samples"
            )
    return ((a.mT @ b).square().sum() / (norm_a * norm_b)).clamp(0.0, 1.0)


_Params = nn.Module | Mapping[str, Tensor] | Iterable[Tensor]


def _squared_norm(name: str, params: _Params) -> Tensor:
    tensors: list[Tensor]
    if isinstance(params, nn.Module):
        tensors = list(params.parameters())
    elif isinstance(params, Mapping):
        tensors = [t for t in params.values() if isinstance(t, Tensor) and t.is_floating_point()]
    else:
        tensors = list(params)
    if not tensors:
        raise ValueError(f"{name} holds no parameters; pass a module, a state dict or tensors")
    for t in tensors:
        check_tensor(name, t)
    return torch.stack([t.detach().to(_F64).square().sum().cpu() for t in tensors]).sum()


def parameter_norm(module_or_params: _Params, *, initial: _Params | None = None) -> Tensor:
    """Squared parameter norm ‖θ‖² = Σ θ_i², or ‖θ‖² / ‖θ_0‖² with ``initial`` given.

    A baseline of the paper (it mis-reads weight decay, which shrinks ‖θ‖ without making the
    dynamics lazier). A state dict counts its floating tensors, buffers such as BatchNorm's
    running statistics included; pass ``module.parameters()`` to count parameters only.

    Args:
        module_or_params: an ``nn.Module``, a state dict, or an iterable of tensors.
        initial: the same at initialisation; when given the ratio is returned.

    Returns:
        0-d float64 tensor (CPU), not differentiable.

    Example:
        >>> layer = nn.Linear(2, 1, bias=False)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[3.0, 4.0]]))
        >>> float(parameter_norm(layer)), float(parameter_norm([2 * layer.weight], initial=layer))
        (25.0, 4.0)
    """
    value = _squared_norm("module_or_params", module_or_params)
    if initial is None:
        return value
    reference = _squared_norm("initial", initial)
    if float(reference) == 0.0:
        raise ValueError("initial has ‖θ_0‖² = 0; a relative norm needs a non-zero reference")
    return value / reference
