"""`cnn train --init MODEL`: start a new run from a trained model's weights (fine-tuning).

    point = starting_point("pretrained:mnist")       # resolved, header read, sha256 taken (no weights yet)
    check_input(point, data_info)                    # UsageError when the images differ in shape
    replaced = load_weights(model, point, classes)   # every tensor but the head when the classes differ

The run takes the starting model's architecture (its spec), so every tensor fits; only the classifier
head (the last fully connected layer) is left as freshly initialised when the new dataset's classes are
not the model's, in number or in name: a head for other classes has nothing to carry over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.errors import UsageError
from cnncli.core.modelfile.header import ModelHeader, read_model_header
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.modelfile.pretrained import sha256_of
from cnncli.core.modelfile.reference import ModelReference, resolve_reference
from cnncli.core.modelfile.weights import load_model


@dataclass(frozen=True)
class StartingPoint:
    text: str  # as the user named it: "pretrained:mnist", "runs/lean-mnist-1"
    reference: ModelReference
    header: ModelHeader
    sha256: str

    @property
    def metadata(self) -> ModelMetadata:
        return self.header.metadata

    def record(self) -> dict[str, Any]:
        """Where the run started, for its models' metadata ([training.init_from])."""
        return {
            "reference": self.text,
            "kind": str(self.reference.kind),
            "file": self.reference.path.name,
            "sha256": self.sha256,
            "dataset": self.metadata.dataset.name,
            "classes": len(self.metadata.classes),
        }


def starting_point(text: str, runs_dir: str = "runs") -> StartingPoint:
    reference = resolve_reference(text, runs_dir)
    header = read_model_header(reference.path)  # validates it before anything is trained
    return StartingPoint(text, reference, header, sha256_of(reference.path))


def check_input(point: StartingPoint, info: DatasetInfo) -> None:
    wanted = tuple(point.metadata.input_shape)
    found = (info.channels, info.height, info.width)
    if wanted != found:
        shape = "x".join(map(str, wanted))
        raise UsageError(
            f"--init {point.text} takes {shape} images, but {info.name} has {'x'.join(map(str, found))}",
            "start from a model trained on images of the same channels and size",
        )


def _head(model: nn.Module) -> list[str]:
    """The state names of the classifier head: the last fully connected layer's weight and bias."""
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        return []
    return [f"{last}.{key}" for key in ("weight", "bias")]


def load_weights(model: nn.Module, point: StartingPoint, classes: tuple[str, ...]) -> list[str]:
    """Copy the starting model's tensors into `model` (built from the same spec); returns the names left
    fresh (the head when the classes differ, else none)."""
    source = load_model(point.reference.path).model.state_dict()
    replaced = _head(model) if tuple(point.metadata.classes) != tuple(classes) else []
    kept = {name: tensor for name, tensor in source.items() if name not in replaced}
    missing, unexpected = model.load_state_dict(kept, strict=False)
    if sorted(missing) != sorted(replaced) or unexpected:  # the same spec builds the same tensors
        raise UsageError(f"--init {point.text}: its tensors do not fit the network built from its own spec")
    return replaced
