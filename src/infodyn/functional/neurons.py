"""One value per neuron and sample: the rule that turns any layer output into (N, neurons).

Every place that needs a layer's output as a (samples, neurons) matrix — transfer entropy
between layers, and the monitor's activation capture — uses :func:`neuron_series`, so a conv
layer's "neuron" means the same thing everywhere.
"""

from __future__ import annotations

from torch import Tensor

from infodyn._validation import check_tensor

__all__ = ["neuron_series"]


def neuron_series(activation: Tensor) -> Tensor:
    """A layer's output as one value per (sample, neuron): (N, C, *spatial) → (N, C).

    * **≥ 3-D** (N, C, *spatial), channel-first as PyTorch's ``Conv1d/2d/3d`` emit: each channel
      is one neuron, its value the mean of its map over every spatial position (global average
      pooling). infodyn's choice — Moldovan, Caţaron & Andonie (2024, arXiv 2404.01364) do not
      say how a conv map becomes neurons, and their earlier CNN code measures fully connected
      layers only — because one neuron per channel keeps the number of TE pairs at C_L·C_{L+1}
      (one per spatial unit would give 25 088 "neurons" for a 32×28×28 map), and the mean is
      the pooling CNN heads already apply. Channel-last layouts, e.g. transformer activations
      (N, tokens, d), would be averaged over d: select or pool the token axis first
      (``x[:, -1]`` or ``x.mean(1)``).
    * **2-D** (N, d): returned unchanged (the same tensor, not a copy); each column is a neuron.
    * **1-D** (N,): one neuron, returned as a (N, 1) view.
    * **0-D**: ``ValueError`` — there is no sample axis.

    Differentiable; no copy is made for 1-D and 2-D inputs.

    Args:
        activation: tensor with samples on dim 0; floating when it has spatial dimensions.

    Returns:
        (N, neurons) tensor with the input's dtype and device.

    Example:
        >>> import torch
        >>> maps = torch.arange(16.0).reshape(1, 2, 2, 4)  # one sample, two 2×4 channels
        >>> neuron_series(maps)  # the mean of each channel's 8 positions
        tensor([[ 3.5000, 11.5000]])
        >>> neuron_series(torch.ones(5)).shape  # one neuron over 5 samples
        torch.Size([5, 1])
    """
    x = check_tensor("activation", activation)
    if x.ndim == 0:
        raise ValueError(
            "activation is 0-d (a single number); pass one value per sample, shape (N,), "
            "(N, neurons) or (N, channels, *spatial)"
        )
    if x.ndim == 1:
        return x[:, None]
    if x.ndim == 2:
        return x
    if not (x.is_floating_point() or x.is_complex()):
        raise TypeError(
            f"activation has spatial dimensions (shape {tuple(x.shape)}) but dtype {x.dtype}; "
            f"averaging a channel's positions needs floating values — call activation.float()"
        )
    return x.flatten(2).mean(-1)
