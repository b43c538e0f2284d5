"""From a uint8 split on the device to normalised float batches: the data never waits.

The whole split lives on the training device as one uint8 tensor (N x C x H x W); an epoch is a seeded
permutation; a batch is an index slice of it; the shift/flip/tilt augmentation and the normalisation
run batched on the device, with no per-sample Python (an image folder too big for memory streams
through a DataLoader instead: cnncli.core.runtime.sources.StreamSource).
"""

from __future__ import annotations

import torch

from cnncli.core.runtime.normalise import Normaliser
from cnncli.core.training.augment import AugmentPolicy, augment, random_affine


class BatchPreparer:
    """Augment (when training) and normalise one batch of uint8 images."""

    def __init__(self, normaliser: Normaliser, policy: AugmentPolicy | None) -> None:
        self.normaliser = normaliser
        self.policy = policy

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.policy is None or generator is None:
            return self.normaliser(images)
        images = augment(images, self.policy, generator)
        out = self.normaliser(images)
        if self.policy.affine:
            fill = self.normaliser.background
            out = random_affine(out, self.policy.rotate, self.policy.scale, generator, fill)
            out = out.contiguous(memory_format=torch.channels_last)
        return out


def epoch_permutation(size: int, seed: int, epoch: int, device: torch.device) -> torch.Tensor:
    """The order of epoch `epoch`: a function of the seed and the epoch alone, so a resume replays it."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63 - 1))  # any seed fits
    return torch.randperm(size, generator=generator).to(device)


def step_seed(seed: int, step: int, rank: int = 0) -> int:
    """The seed of one optimizer step on one process: augmentation and dropout follow from it."""
    return (seed * 2_654_435_761 + step * 40_503 + rank * 9_973 + 1) % (2**63 - 1)
