"""A small CNN with optional BatchNorm, for the linear-mode-connectivity and info-loss runs.

Two convolution blocks (3-wide kernels, same padding, [BatchNorm], ReLU, 2× max pooling), one
fully connected ReLU layer and a linear ``head``. :meth:`SmallCNN.features` returns the head's
input — the penultimate representation whose Gram matrix MIR/HDR pair with the head rows —
so a training step can add the matrix-information loss to the features it already computed.
The same class serves images ``(C, H, W)`` (``Conv2d``) and sequences ``(C, L)`` (``Conv1d``):
scikit-learn's 8×8 digits and mnist1d's length-40 signals.

``models/cnn.py``'s ``ConvNet`` has the same layout but no BatchNorm and no separate feature
call; BatchNorm is what the mode-connectivity experiment must handle (running statistics are
recomputed at every point of an interpolation path), hence this class.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from infodyn._validation import check_int

__all__ = ["SmallCNN"]


class SmallCNN(nn.Module):
    """Conv → [BN] → ReLU → pool, twice; then Linear → ReLU (the features) and a linear head.

    Args:
        input_shape: One input's shape: ``(channels, length)`` for 1-D or
            ``(channels, height, width)`` for 2-D inputs; each spatial size ≥ 4.
        num_classes: Width of the head (≥ 2).
        channels: Output channels of the two convolution blocks.
        hidden: Width of the fully connected feature layer (the head's input).
        batchnorm: Put a BatchNorm after each convolution.

    Example:
        >>> import torch
        >>> net = SmallCNN((1, 8, 8), 10, channels=(4, 8), hidden=16, batchnorm=True)
        >>> net(torch.randn(3, 1, 8, 8)).shape, net.features(torch.randn(3, 1, 8, 8)).shape
        (torch.Size([3, 10]), torch.Size([3, 16]))
        >>> SmallCNN((1, 40), 10)(torch.randn(2, 1, 40)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        num_classes: int,
        *,
        channels: Sequence[int] = (16, 32),
        hidden: int = 64,
        batchnorm: bool = False,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in input_shape)
        if len(shape) not in (2, 3):
            raise ValueError(
                f"input_shape must be (channels, length) or (channels, height, width), got "
                f"{shape}; flat (tabular) inputs need an MLP"
            )
        if min(shape[1:]) < 4:
            raise ValueError(f"input_shape {shape} is too small for two 2× poolings (need ≥ 4)")
        if len(tuple(channels)) != 2:
            raise ValueError(f"channels must give 2 conv widths, got {list(channels)}")
        c1, c2 = (check_int(f"channels[{i}]", c, minimum=1) for i, c in enumerate(channels))
        hidden = check_int("hidden", hidden, minimum=1)
        num_classes = check_int("num_classes", num_classes, minimum=2)
        dims = len(shape) - 1
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
        pool = nn.MaxPool1d if dims == 1 else nn.MaxPool2d

        def block(c_in: int, c_out: int) -> nn.Sequential:
            layers: list[nn.Module] = [conv(c_in, c_out, 3, padding=1, bias=not batchnorm)]
            if batchnorm:
                layers.append(norm(c_out))
            layers += [nn.ReLU(), pool(2)]
            return nn.Sequential(*layers)

        self.conv1 = block(shape[0], c1)
        self.conv2 = block(c1, c2)
        flat = c2
        for size in shape[1:]:
            flat *= size // 4
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """The head's input, (n, hidden): post-ReLU penultimate features."""
        return self.fc(self.conv2(self.conv1(x)))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
