"""Data augmentation for whole batches, on the training device: no per-sample Python.

Each function takes a batch of images (N x C x H x W) and a torch.Generator on the same device, so
the draws are reproducible from the step's seed (resuming replays them exactly). Which ones a dataset
gets is its policy: digits shift but never mirror; clothing mirrors; photos shift and mirror.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentPolicy:
    translate: int = 0  # shift by up to this many pixels each way (zero padding, then a random crop)
    flip: bool = False  # mirror left-right with probability 1/2
    rotate: float = 0.0  # tilt by up to this many degrees each way (bilinear)
    scale: float = 0.0  # zoom by up to this fraction each way

    @property
    def affine(self) -> bool:
        return self.rotate > 0 or self.scale > 0


# By how a dataset's raw images are prepared (DatasetInfo.prepare): digits and characters are never
# mirrored (a mirrored 2 is not a 2); clothing and photos are. Clothing is not shifted: Fashion-MNIST's
# items are centred and scaled alike, and 2-px shifts cost it 0.4 to 1 point of test accuracy in the
# default 8 epochs (seeds 0-2, benchmarks/recipes.py), where mirroring alone gains.
POLICIES = {
    "mnist": AugmentPolicy(translate=2),
    "fashion": AugmentPolicy(flip=True),
    "resize": AugmentPolicy(translate=4, flip=True),
}


def policy_for(prepare: str) -> AugmentPolicy:
    return POLICIES.get(prepare, AugmentPolicy(translate=2))


def random_translate(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift every image by its own (dy, dx) in [-max_shift, max_shift], filling with zeros."""
    if max_shift <= 0:
        return images
    n, c, h, w = images.shape
    device = images.device
    padded = F.pad(images, (max_shift,) * 4)
    offsets = torch.randint(0, 2 * max_shift + 1, (2, n), device=device, generator=generator)
    rows = (offsets[0, :, None] + torch.arange(h, device=device))[:, None, :, None]
    cols = (offsets[1, :, None] + torch.arange(w, device=device))[:, None, None, :]
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(c, device=device)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


def random_affine(
    images: torch.Tensor, rotate: float, scale: float, generator: torch.Generator, fill: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Rotate by up to `rotate` degrees and zoom by up to `scale`, each image its own draw (float images)."""
    n = images.shape[0]
    device = images.device
    draws = torch.rand(2, n, device=device, generator=generator) * 2 - 1
    angle = draws[0] * math.radians(rotate)
    zoom = 1 + draws[1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, torch.zeros_like(cos)], 1), torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    # sample (image - fill) with zero padding, then add fill back: the border takes the background value
    return F.grid_sample(images - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill


def augment(images: torch.Tensor, policy: AugmentPolicy, generator: torch.Generator) -> torch.Tensor:
    """The integer-valued steps (shift, flip) on raw uint8 images, before normalisation."""
    images = random_translate(images, policy.translate, generator)
    if policy.flip:
        images = random_flip(images, generator)
    return images
