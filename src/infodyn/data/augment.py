"""Weak and strong augmentations of small images and 1-D signals, seeded and resumable.

FixMatch (Sohn et al. 2020) needs two views of every unlabeled sample: a *weak* one (a random
flip-and-shift) whose confident prediction becomes the pseudo-label, and a *strong* one
(RandAugment + Cutout) that is trained to match it. Those policies are written for 32×32
photographs; for scikit-learn's 8×8 digits and mnist1d's length-40 signals infodyn uses the
same ingredients at this scale **[ours]**:

* weak — a random translation by up to ``weak_shift`` samples/pixels along every spatial axis
  (zero fill); no flips, because a mirrored digit is another symbol;
* strong — a translation by up to ``strong_shift``, Gaussian noise of standard deviation
  ``noise_std`` (in input units: digits are in [0, 1], mnist1d is standardised), a random
  gain in [1 − ``contrast``, 1 + ``contrast``] per sample, and Cutout: one window of
  ``cutout`` pixels per spatial axis set to 0 (Cutout fills with the mean; 0 is the background
  of both datasets).

Every random draw comes from the :class:`Augmenter`'s own ``torch.Generator``, which it
checkpoints (``state_dict``), so a resumed run draws the same views as an uninterrupted one.
Inputs are ``(n, channels, *spatial)`` with one or two spatial axes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from infodyn._validation import check_int

__all__ = ["AugmentPolicy", "Augmenter", "cutout", "random_gain", "random_shift"]


def _spatial(x: Tensor) -> int:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"augmentations take (n, channels, length) or (n, channels, height, width), got "
            f"shape {tuple(x.shape)}"
        )
    return x.ndim - 2


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each sample by an integer offset in [−max_shift, max_shift] per spatial axis.

    Samples are zero-padded by ``max_shift`` on every side and cropped back at a random offset
    (the "pad-and-crop" translation of FixMatch's weak policy), so content moved out of the
    frame is lost and the uncovered border is 0.

    Args:
        x: (n, c, L) or (n, c, H, W).
        max_shift: Largest offset, ≥ 0 (0 returns ``x`` unchanged).
        generator: Source of the offsets (drawn on the CPU).

    Returns:
        A tensor shaped like ``x``.

    Example:
        >>> x = torch.arange(1.0, 6.0).reshape(1, 1, 5).repeat(3, 1, 1)  # three samples
        >>> random_shift(x, 1, torch.Generator().manual_seed(0)).squeeze(1).tolist()
        [[2.0, 3.0, 4.0, 5.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0, 0.0]]
    """
    dims = _spatial(x)
    max_shift = check_int("max_shift", max_shift, minimum=0)
    if max_shift == 0:
        return x
    n = x.shape[0]
    sizes = x.shape[2:]
    offsets = torch.randint(0, 2 * max_shift + 1, (n, dims), generator=generator)
    padded = torch.nn.functional.pad(x, (max_shift, max_shift) * dims)
    # Gather the window starting at each sample's offset: index arithmetic instead of a
    # Python loop over samples.
    out = padded
    for axis in range(dims):
        size = sizes[axis]
        start = offsets[:, axis].to(x.device)
        index = start[:, None] + torch.arange(size, device=x.device)[None, :]  # (n, size)
        shape = [n] + [1] * (out.ndim - 1)
        shape[2 + axis] = size
        expand = list(out.shape)
        expand[2 + axis] = size
        out = torch.gather(out, 2 + axis, index.reshape(shape).expand(expand))
    return out


def random_gain(x: Tensor, contrast: float, generator: torch.Generator) -> Tensor:
    """Multiply each sample by a gain drawn uniformly from [1 − contrast, 1 + contrast].

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> bool((random_gain(torch.ones(4, 1, 3), 0.0, g) == 1).all())
        True
    """
    if not 0.0 <= contrast < 1.0:
        raise ValueError(f"contrast must lie in [0, 1), got {contrast!r}")
    if contrast == 0:
        return x
    gain = 1.0 + contrast * (2.0 * torch.rand(x.shape[0], generator=generator) - 1.0)
    return x * gain.to(x).reshape(-1, *([1] * (x.ndim - 1)))


def cutout(x: Tensor, size: int, generator: torch.Generator) -> Tensor:
    """Set one window of ``size`` samples per spatial axis to 0 in every sample (DeVries &
    Taylor 2017); the window's centre is uniform over the frame and it is clipped at the border.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> y = cutout(torch.ones(2, 1, 8, 8), 3, g)
        >>> [int((y[i] == 0).sum()) <= 9 for i in range(2)]
        [True, True]
    """
    dims = _spatial(x)
    size = check_int("size", size, minimum=0)
    if size == 0:
        return x
    n = x.shape[0]
    keep: Tensor | None = None
    for axis in range(dims):
        length = x.shape[2 + axis]
        centre = torch.randint(0, length, (n,), generator=generator)
        start = centre - size // 2
        position = torch.arange(length)
        inside = (position[None, :] >= start[:, None]) & (position[None, :] < start[:, None] + size)
        shape = [n, 1] + [1] * dims
        shape[2 + axis] = length
        # A sample keeps a position unless it is inside the window along every axis.
        keep_axis = ~inside.reshape(shape)
        keep = keep_axis if keep is None else keep | keep_axis
    assert keep is not None
    return x * keep.to(x.device, x.dtype)


@dataclass(frozen=True)
class AugmentPolicy:
    """The knobs of the weak and strong views (see the module notes).

    Attributes:
        weak_shift: Largest translation of the weak view.
        strong_shift: Largest translation of the strong view.
        noise_std: Standard deviation of the strong view's additive Gaussian noise.
        contrast: Strong view's gain range, [1 − contrast, 1 + contrast].
        cutout: Side of the strong view's Cutout window (0: none).
    """

    weak_shift: int = 1
    strong_shift: int = 2
    noise_std: float = 0.1
    contrast: float = 0.3
    cutout: int = 3


class Augmenter:
    """Weak and strong views drawn from one seeded, checkpointable generator.

    Args:
        policy: What the views do.
        seed: Seed of the generator.

    Example:
        >>> aug = Augmenter(AugmentPolicy(), seed=0)
        >>> x = torch.rand(5, 1, 8, 8)
        >>> aug.weak(x).shape, aug.strong(x).shape
        (torch.Size([5, 1, 8, 8]), torch.Size([5, 1, 8, 8]))
        >>> state = aug.state_dict(); first = aug.strong(x)
        >>> aug.load_state_dict(state); bool(torch.equal(aug.strong(x), first))
        True
    """

    def __init__(self, policy: AugmentPolicy, seed: int) -> None:
        if policy.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {policy.noise_std!r}")
        self.policy = policy
        self.generator = torch.Generator().manual_seed(seed)

    def weak(self, x: Tensor) -> Tensor:
        """A random translation by up to ``weak_shift``."""
        return random_shift(x, self.policy.weak_shift, self.generator)

    def strong(self, x: Tensor) -> Tensor:
        """Translation by up to ``strong_shift``, gain, Gaussian noise, then Cutout."""
        p = self.policy
        y = random_shift(x, p.strong_shift, self.generator)
        y = random_gain(y, p.contrast, self.generator)
        if p.noise_std > 0:
            noise = torch.randn(y.shape, generator=self.generator).to(y)
            y = y + p.noise_std * noise
        return cutout(y, p.cutout, self.generator)

    def state_dict(self) -> dict[str, Tensor]:
        """The generator's state (a uint8 tensor)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.generator.set_state(state["generator"])
