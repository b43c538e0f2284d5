"""The data a run trains and evaluates on, as batch sources on the training device.

A split that fits in memory is a TensorSource: one uint8 tensor on the device, batches are index
slices of the epoch's permutation. An image folder too big for memory is a StreamSource: a DataLoader
with worker processes decodes the same permutation's images, batch by batch. The loop cannot tell
them apart; both yield uint8 N x C x H x W batches on the device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from cnncli.core.data import load_split
from cnncli.core.data.split import Split
from cnncli.core.datasets import DatasetInfo
from cnncli.core.errors import UsageError
from cnncli.core.progress import Reporter
from cnncli.core.train_config import TrainConfig
from cnncli.core.training.augment import AugmentPolicy, policy_for
from cnncli.core.training.batches import Normaliser, batch_indices
from cnncli.core.training.distributed import World, barrier

EVAL_BATCH = 1000
Batch = tuple[torch.Tensor, torch.Tensor]


class TensorSource:
    """A split held whole on the device."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def epoch_batches(
        self, permutation: torch.Tensor, start_step: int, steps: int, batch_size: int, world: World
    ) -> Iterator[Batch]:
        for step in range(start_step, steps):
            index = batch_indices(permutation, step, batch_size, world.rank, world.size)
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
        self, permutation: torch.Tensor, start_step: int, steps: int, batch_size: int, world: World
    ) -> Iterator[Batch]:
        order = (
            torch.cat(
                [
                    batch_indices(permutation.cpu(), s, batch_size, world.rank, world.size)
                    for s in range(start_step, steps)
                ]
            )
            if steps > start_step
            else torch.empty(0)
        )
        for batch in self._loader(order.tolist(), batch_size // world.size):
            yield self._to_device(batch)

    def eval_batches(self, batch_size: int = EVAL_BATCH) -> Iterator[Batch]:
        for batch in self._loader(list(range(len(self))), batch_size):
            yield self._to_device(batch)


Source = TensorSource | StreamSource


@dataclass
class TrainData:
    info: DatasetInfo
    train: Source
    val: Source | None
    test: Source
    normaliser: Normaliser
    policy: AugmentPolicy


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


def _source(split: Split, indices: torch.Tensor | None, device: torch.device, workers: int) -> Source:
    labels = split.labels if indices is None else split.labels[indices]
    if split.images is not None:
        images = split.images if indices is None else split.images[indices]
        return TensorSource(images.to(device), labels.to(device))
    dataset = split.dataset() if indices is None else Subset(split.dataset(), indices.tolist())
    return StreamSource(dataset, labels, device, workers)


def _load(config: TrainConfig, split: str, download: bool, progress: Reporter) -> Split:
    return load_split(
        config.dataset,
        split,
        data_dir=config.data_dir or None,
        download=download,
        offline=config.offline,
        progress=progress,
        seed=config.seed,
    )


def load_train_data(config: TrainConfig, device: torch.device, world: World, progress: Reporter) -> TrainData:
    """Train, validation and test sources on the device. Rank 0 downloads; the others then read."""
    if world.main:
        train, test = _load(config, "train", True, progress), _load(config, "test", True, progress)
    barrier(world)
    if not world.main:
        train, test = _load(config, "train", False, progress), _load(config, "test", False, progress)
    train_indices = val_indices = None
    if config.val_split:
        train_indices, val_indices = stratified_holdout(train.labels, config.val_split, config.seed)
        if len(val_indices) == 0:
            raise UsageError(f"--val-split {config.val_split} holds out no image of {len(train)}")
    size = len(train) if train_indices is None else len(train_indices)
    if config.batch_size > size:
        raise UsageError(
            f"the batch size ({config.batch_size}) is larger than the training data ({size} images)",
            f"use --batch-size {min(size, 256)} or less",
        )
    if config.batch_size % world.size:
        raise UsageError(
            f"the batch size ({config.batch_size}) must divide among {world.size} processes",
            f"use a multiple of {world.size}",
        )
    workers = min(4, max(1, (os.cpu_count() or 1) // max(world.size, 1)))
    info = train.info
    return TrainData(
        info=info,
        train=_source(train, train_indices, device, workers),
        val=_source(train, val_indices, device, workers) if val_indices is not None else None,
        test=_source(test, None, device, workers),
        normaliser=Normaliser(info.mean, info.std, device),
        policy=policy_for(info.prepare),
    )
