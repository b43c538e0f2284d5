"""The model `cnn eval` and `cnn predict` run: found (any model reference, see modelfile/reference.py), loaded, checked.

model = open_model(target, device="auto")   # InferenceModel: network, metadata, path, device
check_dataset(model, dataset_info)              # BadInput when the dataset is not what it takes
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.inference.results import check_dataset_fits
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.modelfile.reference import ModelReference, resolve_reference
from cnncli.core.modelfile.weights import load_model
from cnncli.core.nn.build import ConvNet
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
    # the Normaliser hands over channels-last batches, as in training: weights in the same layout
    # spare a conversion per conv (about 1.5x on CPUs)
    network = _in_place_activations(fold_batch_norms(loaded.model)).to(memory_format=torch.channels_last)
    return InferenceModel(network, loaded.metadata, path, where, reference)


def _in_place_activations(network: nn.Module) -> nn.Module:
    """ReLUs that overwrite their input rather than allocate an output. Safe here: no gradients are
    kept, and the network is a plain sequence, so no layer's input is read again after it."""
    for module in network.modules():
        if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
            module.inplace = True
    return network


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """Each batch norm straight after a conv folded into the conv's weights and bias (in eval mode they
    are one affine map), and left as an Identity: one pass over the activations fewer per conv.

    The same function, to float rounding (about 1e-6 of the logits); the module names stay as they were.
    """
    for module in network.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in itertools.pairwise(names):
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
                module._modules[first] = fuse_conv_bn_eval(conv.eval(), norm.eval())
                module._modules[second] = nn.Identity()
    return network


def check_dataset(model: InferenceModel, info: DatasetInfo) -> None:
    """The dataset must have the model's image shape and exactly its classes, in its order."""
    check_dataset_fits(model.path, model.metadata, info)
