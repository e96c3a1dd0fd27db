"""A small residual CNN with BatchNorm: the "real-size" network of the overhead and DDP checks.

``stem`` (3×3 convolution, BatchNorm, ReLU) → ``blocks.0`` … ``blocks.{B-1}`` (each two 3×3
convolutions with BatchNorm and an identity shortcut, ReLU after the sum) → global average
pooling → a linear ``head``. Every block keeps the channel count and the spatial size, so each
block's output is a (N, C, H, W) map whose C channels are the neurons of a transfer-entropy
series (:func:`~infodyn.functional.neuron_series`: the channel mean), and the head's input is
the C-dimensional pooled feature. At the defaults (4 blocks × 64 channels, one input channel,
10 classes) it has 297,290 parameters.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from infodyn._validation import check_int

__all__ = ["ResNet", "ResidualBlock"]


class ResidualBlock(nn.Module):
    """x ↦ relu(x + bn₂(conv₂(relu(bn₁(conv₁ x))))), channels and size unchanged.

    Example:
        >>> import torch
        >>> ResidualBlock(8)(torch.randn(2, 8, 5, 5)).shape
        torch.Size([2, 8, 5, 5])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        hidden = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(hidden)))


class ResNet(nn.Module):
    """Stem → ``blocks`` residual blocks → global average pool → linear ``head``.

    Args:
        num_classes: outputs of the head.
        channels: channels of the stem and of every block (default 64).
        blocks: residual blocks (default 4); their module names are ``blocks.0``, ``blocks.1``, ….
        in_channels: channels of the input images (default 1).

    Example:
        >>> import torch
        >>> net = ResNet(10, channels=8, blocks=2)
        >>> net(torch.randn(3, 1, 8, 8)).shape
        torch.Size([3, 10])
        >>> net.block_names
        ('blocks.0', 'blocks.1')
        >>> sum(p.numel() for p in ResNet(10).parameters())
        297290
    """

    def __init__(
        self, num_classes: int, *, channels: int = 64, blocks: int = 4, in_channels: int = 1
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, minimum=1)
        check_int("channels", channels, minimum=1)
        check_int("blocks", blocks, minimum=1)
        check_int("in_channels", in_channels, minimum=1)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
        )
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.head = nn.Linear(channels, num_classes)

    @property
    def block_names(self) -> tuple[str, ...]:
        """Module names of the residual blocks, in forward order (a TE layer stack)."""
        return tuple(f"blocks.{i}" for i in range(len(self.blocks)))

    def features(self, x: Tensor) -> Tensor:
        """The head's input: the last block's map averaged over its spatial positions."""
        return self.blocks(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
