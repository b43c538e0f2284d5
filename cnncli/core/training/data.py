"""The data a run trains and evaluates on: train, validation and test batch sources on the device
(cnncli.core.runtime.sources), the normaliser and the augmentation policy."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from cnncli.core.data import load_split
from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.data.split import Split, stratified_holdout
from cnncli.core.errors import UsageError
from cnncli.core.reporting import Reporter
from cnncli.core.runtime.normalise import Normaliser
from cnncli.core.runtime.sources import Source, source_for
from cnncli.core.training.augment import AugmentPolicy, policy_for
from cnncli.core.training.config import TrainConfig
from cnncli.core.training.distributed import World, barrier


@dataclass
class TrainData:
    info: DatasetInfo
    train: Source
    val: Source | None
    test: Source
    normaliser: Normaliser
    policy: AugmentPolicy


def _load(config: TrainConfig, split: str, download: bool, progress: Reporter, size: tuple[int, int] | None) -> Split:
    return load_split(
        config.dataset,
        split,
        data_dir=config.data_dir or None,
        download=download,
        offline=config.offline,
        progress=progress,
        seed=config.seed,
        image_size=size,
    )


def load_train_data(
    config: TrainConfig,
    device: torch.device,
    world: World,
    progress: Reporter,
    image_size: tuple[int, int] | None = None,
) -> TrainData:
    """Train, validation and test sources on the device. Rank 0 downloads; the others then read.

    `image_size` (height, width): a folder's images resized to it (--init: the starting model's input)."""
    if world.main:
        train, test = (
            _load(config, "train", True, progress, image_size),
            _load(config, "test", True, progress, image_size),
        )
    barrier(world)
    if not world.main:
        train = _load(config, "train", False, progress, image_size)
        test = _load(config, "test", False, progress, image_size)
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
        train=source_for(train, train_indices, device, workers),
        val=source_for(train, val_indices, device, workers) if val_indices is not None else None,
        test=source_for(test, None, device, workers),
        normaliser=Normaliser(info.mean, info.std, device),
        policy=policy_for(info.prepare),
    )
