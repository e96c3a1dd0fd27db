"""Small classifiers for the transfer-entropy experiment: an MLP for tabular data, 1-D and 2-D CNNs.

Every model has three hidden layers named ``h1``, ``h2``, ``h3`` — each a module whose output
is the layer's post-activation value — and a linear ``head`` giving the logits. The same names
on every model let one layer stack, ``["h1", "h2", "h3"]`` followed by the softmax, serve each
dataset, and let runs on different datasets be compared pair by pair. In the CNNs ``h1`` and
``h2`` are convolution blocks (each channel is one neuron of the transfer-entropy series, see
:func:`~infodyn.functional.neuron_series`) and ``h3`` a fully connected layer; pooling sits
between the blocks, outside the hidden layers, so a channel's value is the mean of its whole
post-ReLU map.

Moldovan, Caţaron & Andonie (2024, arXiv 2404.01364) use shallow networks on small UCI sets
and CNNs on image sets; their exact architectures are not available, so these are small
stand-ins sized to train in seconds on a CPU.

The dynamical-richness experiments use the same models: the 4-layer MLP of Nam et al.'s
label-encoded example (``lazy-rich``) and the CNN with or without BatchNorm (``batchnorm=True``
puts a BatchNorm after each convolution, before its ReLU, as VGG16-BN does; the fully
connected ``h3`` has none) for ``richness-study``. ``features(x)`` is the head's input Φ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

from infodyn._validation import check_int

__all__ = ["HIDDEN_LAYERS", "ConvNet", "ModelKind", "TabularMLP", "build_classifier"]

#: The hidden layers of every model here, in forward order.
HIDDEN_LAYERS = ("h1", "h2", "h3")

ModelKind = Literal["mlp", "cnn1d", "cnn2d"]


def _block(layer: nn.Module, norm: nn.Module | None = None) -> nn.Sequential:
    return (
        nn.Sequential(layer, nn.ReLU()) if norm is None else nn.Sequential(layer, norm, nn.ReLU())
    )


class TabularMLP(nn.Module):
    """Three fully connected ReLU layers and a linear head; inputs are flattened.

    Example:
        >>> import torch
        >>> net = TabularMLP(4, 3, widths=(8, 8, 4))
        >>> net(torch.randn(5, 4)).shape
        torch.Size([5, 3])
    """

    def __init__(self, in_features: int, num_classes: int, widths: Sequence[int]) -> None:
        super().__init__()
        w1, w2, w3 = _three("widths", widths)
        self.h1 = _block(nn.Linear(in_features, w1))
        self.h2 = _block(nn.Linear(w1, w2))
        self.h3 = _block(nn.Linear(w2, w3))
        self.head = nn.Linear(w3, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """The head's input Φ (n, widths[2]): the post-ReLU output of ``h3``."""
        return self.h3(self.h2(self.h1(x.flatten(1))))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class ConvNet(nn.Module):
    """Two conv blocks (3-wide kernels, same padding, ReLU), each followed by 2× max pooling,
    then one fully connected ReLU layer and a linear head.

    Args:
        input_shape: One input's shape, ``(channels, length)`` for ``dims=1`` or
            ``(channels, height, width)`` for ``dims=2``.
        num_classes: Width of the head.
        channels: Channels of the two conv blocks.
        hidden: Width of the fully connected layer ``h3``.
        dims: 1 (``Conv1d``, sequences) or 2 (``Conv2d``, images).
        batchnorm: Put a BatchNorm after each convolution, before its ReLU (VGG16-BN's
            placement; ``h3`` gets none). With it the conv layers have no bias (BatchNorm's
            shift replaces it).

    Example:
        >>> import torch
        >>> net = ConvNet((1, 8, 8), 10, channels=(4, 8), hidden=16, dims=2)
        >>> net(torch.randn(2, 1, 8, 8)).shape
        torch.Size([2, 10])
        >>> ConvNet((1, 40), 10, channels=(4, 8), hidden=16, dims=1)(torch.randn(2, 1, 40)).shape
        torch.Size([2, 10])
        >>> bn = ConvNet((1, 8, 8), 10, channels=(4, 8), hidden=16, dims=2, batchnorm=True)
        >>> type(bn.h1[1]).__name__, bn.features(torch.randn(3, 1, 8, 8)).shape
        ('BatchNorm2d', torch.Size([3, 16]))
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        channels: Sequence[int],
        hidden: int,
        *,
        dims: Literal[1, 2],
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {dims!r}")
        shape = tuple(input_shape)
        if len(shape) != dims + 1:
            layout = "(channels, length)" if dims == 1 else "(channels, height, width)"
            raise ValueError(
                f"a {dims}-D CNN needs inputs shaped {layout}, got {shape}; use the mlp for "
                f"flat (tabular) inputs"
            )
        if min(shape[1:]) < 4:
            raise ValueError(f"input_shape {shape} is too small for two 2× poolings (need ≥ 4)")
        c1, c2 = channels
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        pool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        bias = not batchnorm
        self.h1 = _block(
            conv(shape[0], c1, 3, padding=1, bias=bias), norm(c1) if batchnorm else None
        )
        self.pool1 = pool(2)
        self.h2 = _block(conv(c1, c2, 3, padding=1, bias=bias), norm(c2) if batchnorm else None)
        self.pool2 = pool(2)
        flat = c2
        for size in shape[1:]:
            flat *= size // 4
        self.h3 = _block(nn.Linear(flat, hidden))
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """The head's input Φ (n, hidden): the post-ReLU output of ``h3``."""
        z = self.pool2(self.h2(self.pool1(self.h1(x))))
        return self.h3(z.flatten(1))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _three(name: str, widths: Sequence[int]) -> tuple[int, int, int]:
    values = tuple(widths)
    if len(values) != 3:
        raise ValueError(f"{name} must give 3 hidden widths (h1, h2, h3), got {list(values)}")
    w1, w2, w3 = (check_int(f"{name}[{i}]", w, minimum=1) for i, w in enumerate(values))
    return w1, w2, w3


def build_classifier(
    kind: ModelKind,
    input_shape: Sequence[int],
    num_classes: int,
    *,
    widths: Sequence[int] = (32, 16, 16),
    channels: Sequence[int] = (16, 32),
    hidden: int = 64,
    batchnorm: bool = False,
) -> nn.Module:
    """The model ``kind`` for inputs of ``input_shape`` (one sample) and ``num_classes``.

    ``widths`` sizes the MLP's three layers; ``channels`` and ``hidden`` size the CNNs;
    ``batchnorm`` (CNNs only) puts a BatchNorm after each convolution.

    Example:
        >>> build_classifier("mlp", (13,), 3).h3[0].out_features
        16
    """
    num_classes = check_int("num_classes", num_classes, minimum=2)
    if kind == "mlp":
        if batchnorm:
            raise ValueError(
                "batchnorm applies to the CNNs (cnn1d, cnn2d); the mlp has none — "
                "use batchnorm=False or a CNN kind"
            )
        in_features = 1
        for size in input_shape:
            in_features *= size
        return TabularMLP(in_features, num_classes, widths)
    if kind in ("cnn1d", "cnn2d"):
        if len(tuple(channels)) != 2:
            raise ValueError(f"channels must give 2 conv widths (h1, h2), got {list(channels)}")
        for i, c in enumerate(channels):
            check_int(f"channels[{i}]", c, minimum=1)
        check_int("hidden", hidden, minimum=1)
        dims: Literal[1, 2] = 1 if kind == "cnn1d" else 2
        return ConvNet(input_shape, num_classes, channels, hidden, dims=dims, batchnorm=batchnorm)
    raise ValueError(f"kind must be one of 'mlp', 'cnn1d', 'cnn2d'; got {kind!r}")
