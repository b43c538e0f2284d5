"""The model `cnn eval` and `cnn predict` run: found (latest run, run folder or file), loaded, checked.

model = open_model(target, device="auto")   # InferenceModel: network, metadata, path, device
check_fits(model, dataset_info)              # BadInput when the dataset is not what it takes
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cnncli.core import runs
from cnncli.core.datasets import DatasetInfo
from cnncli.core.errors import BadInput
from cnncli.core.metadata import ModelMetadata
from cnncli.core.nn.build import ConvNet
from cnncli.core.nn.modelfile import load_model
from cnncli.core.training.batches import Normaliser
from cnncli.core.training.device import resolve_device


@dataclass(frozen=True)
class InferenceModel:
    network: ConvNet  # in eval mode, on `device`
    metadata: ModelMetadata
    path: Path
    device: torch.device

    @property
    def classes(self) -> tuple[str, ...]:
        return self.metadata.classes

    def normaliser(self) -> Normaliser:
        """Exactly the normalisation it was trained with: the mean and std in its metadata."""
        pre = self.metadata.preprocessing
        return Normaliser(pre.mean, pre.std, self.device)


def open_model(target: str | None, device: str = "auto", runs_dir: str | Path = "runs") -> InferenceModel:
    """The model in a file, a run folder's best, or (target None) the latest run's best, on `device`."""
    path = runs.resolve_model_file(target, runs_dir)
    where = resolve_device(device)
    loaded = load_model(path, str(where))
    # the Normaliser hands over channels-last batches, as in training: weights in the same layout
    # spare a conversion per conv (about 1.5x on CPUs)
    network = loaded.model.to(memory_format=torch.channels_last)
    return InferenceModel(network, loaded.metadata, path, where)


def describe_input(channels: int, height: int, width: int, classes: tuple[str, ...]) -> str:
    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    return f"{channels}x{height}x{width} images of {len(classes)} classes ({shown})"


def check_fits(model: InferenceModel, info: DatasetInfo) -> None:
    """The dataset must have the model's image shape and exactly its classes, in its order."""
    meta = model.metadata
    wanted = (*meta.input_shape, meta.classes)
    found = (info.channels, info.height, info.width, tuple(info.classes))
    if wanted == found:
        return
    raise BadInput(
        f"model {model.path} takes {describe_input(*wanted)}, but dataset {info.name} has {describe_input(*found)}",
        f"evaluate it on the dataset it was trained on ({meta.dataset.name}), or one with the same images and classes",
    )
