"""The model `cnn eval` and `cnn predict` run: found (any model reference, see modelfile/reference.py), loaded, checked.

model = open_model(target, device="auto")   # InferenceModel: network, metadata, path, device
check_dataset(model, dataset_info)              # BadInput when the dataset is not what it takes
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.inference.results import check_dataset_fits
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.modelfile.reference import ModelReference, resolve_reference
from cnncli.core.modelfile.weights import load_model
from cnncli.core.nn.build import ConvNet
from cnncli.core.nn.fold import inference_form
from cnncli.core.runtime.device import resolve_device
from cnncli.core.runtime.normalise import Normaliser


@dataclass(frozen=True)
class InferenceModel:
    network: ConvNet  # in eval mode, on `device`
    metadata: ModelMetadata
    path: Path
    device: torch.device
    reference: ModelReference  # how it was named: which run, file or bundled model

    @property
    def classes(self) -> tuple[str, ...]:
        return self.metadata.classes

    def normaliser(self) -> Normaliser:
        """Exactly the normalisation it was trained with: the mean and std in its metadata."""
        pre = self.metadata.preprocessing
        return Normaliser(pre.mean, pre.std, self.device)


def open_model(target: str | None, device: str = "auto", runs_dir: str | Path = "runs") -> InferenceModel:
    """The model a reference names (None: the latest run's, else the bundled MNIST model), on `device`."""
    reference = resolve_reference(target, runs_dir)
    path = reference.path
    where = resolve_device(device)
    loaded = load_model(path, str(where))
    network = inference_form(loaded.model)
    return InferenceModel(network, loaded.metadata, path, where, reference)


def check_dataset(model: InferenceModel, info: DatasetInfo) -> None:
    """The dataset must have the model's image shape and exactly its classes, in its order."""
    check_dataset_fits(model.path, model.metadata, info)
