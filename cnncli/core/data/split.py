"""Split: what load_split returns, one split of a dataset as tensors (or, for a big folder, a stream)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, TensorDataset

from cnncli.core.data.catalog import DatasetInfo


@dataclass(frozen=True, eq=False)
class Split:
    """One split: `images` N x C x H x W uint8 and `labels` N int64, described by `info`.

    `images` is None only for an image folder too big for memory: `stream` then decodes one image per
    item. `dataset()` gives a torch Dataset of (uint8 C x H x W image, int64 label) either way.
    """

    info: DatasetInfo
    split: str  # "train" or "test"
    labels: torch.Tensor
    images: torch.Tensor | None
    stream: Dataset | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def streamed(self) -> bool:
        return self.images is None

    def dataset(self) -> Dataset:
        if self.images is not None:
            return TensorDataset(self.images, self.labels)
        assert self.stream is not None
        return self.stream


def channel_stats(images: torch.Tensor, chunk: int = 8192) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1], in float64 chunks (no full float copy)."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].to(torch.float64).div_(255).transpose(0, 1).reshape(channels, -1)
        total += block.sum(dim=1)
        squares += block.square().sum(dim=1)
    count = max(1, images[:, 0].numel())
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return tuple(round(float(m), 4) for m in mean), tuple(round(float(s), 4) for s in std)


def stratified_holdout(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices): `fraction` of each class, drawn with the run's seed."""
    generator = torch.Generator().manual_seed((seed + 7919) % (2**63 - 1))
    keep, hold = [], []
    for label in torch.unique(labels):
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        count = round(fraction * len(members))
        hold.append(members[:count])
        keep.append(members[count:])
    return torch.sort(torch.cat(keep)).values, torch.sort(torch.cat(hold)).values
