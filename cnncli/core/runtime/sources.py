"""A split as a batch source on the device: what training, validation and `cnn eval` iterate over.

A split that fits in memory is a TensorSource: one uint8 tensor on the device, batches are index
slices of the epoch's permutation. An image folder too big for memory is a StreamSource: a DataLoader
with worker processes decodes the same permutation's images, batch by batch. Callers cannot tell
them apart; both yield uint8 N x C x H x W batches on the device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from cnncli.core.data.split import Split


def batch_indices(
    permutation: torch.Tensor, step_in_epoch: int, batch_size: int, rank: int = 0, world_size: int = 1
) -> torch.Tensor:
    """This process's share of a global batch: slice `rank` of `world_size` equal slices."""
    per_rank = batch_size // world_size
    start = step_in_epoch * batch_size + rank * per_rank
    return permutation[start : start + per_rank]


EVAL_BATCH = 1000
Batch = tuple[torch.Tensor, torch.Tensor]


class TensorSource:
    """A split held whole on the device."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def epoch_batches(
        self,
        permutation: torch.Tensor,
        start_step: int,
        steps: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[Batch]:
        for step in range(start_step, steps):
            index = batch_indices(permutation, step, batch_size, rank, world_size)
            yield self.images[index], self.labels[index]

    def eval_batches(self, batch_size: int = EVAL_BATCH) -> Iterator[Batch]:
        for start in range(0, len(self), batch_size):
            yield self.images[start : start + batch_size], self.labels[start : start + batch_size]


class StreamSource:
    """A split decoded on demand by DataLoader workers, in the order the permutation gives."""

    def __init__(self, dataset: Dataset, labels: torch.Tensor, device: torch.device, workers: int) -> None:
        self.dataset, self.labels, self.device, self.workers = dataset, labels, device, workers

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def _loader(self, indices: list[int], batch_size: int) -> DataLoader:
        return DataLoader(
            Subset(self.dataset, indices),
            batch_size=batch_size,
            shuffle=False,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def _to_device(self, batch: Batch) -> Batch:
        images, labels = batch
        return images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def epoch_batches(
        self,
        permutation: torch.Tensor,
        start_step: int,
        steps: int,
        batch_size: int,
        rank: int = 0,
        world_size: int = 1,
    ) -> Iterator[Batch]:
        order = (
            torch.cat(
                [batch_indices(permutation.cpu(), s, batch_size, rank, world_size) for s in range(start_step, steps)]
            )
            if steps > start_step
            else torch.empty(0)
        )
        for batch in self._loader(order.tolist(), batch_size // world_size):
            yield self._to_device(batch)

    def eval_batches(self, batch_size: int = EVAL_BATCH) -> Iterator[Batch]:
        for batch in self._loader(list(range(len(self))), batch_size):
            yield self._to_device(batch)


Source = TensorSource | StreamSource


def source_for(split: Split, indices: torch.Tensor | None, device: torch.device, workers: int) -> Source:
    labels = split.labels if indices is None else split.labels[indices]
    if split.images is not None:
        images = split.images if indices is None else split.images[indices]
        return TensorSource(images.to(device), labels.to(device))
    dataset = split.dataset() if indices is None else Subset(split.dataset(), indices.tolist())
    return StreamSource(dataset, labels, device, workers)
