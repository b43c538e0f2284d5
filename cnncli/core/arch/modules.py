"""What a built network consists of, predicted from the analysis alone, without torch.

For every layer of a ChainReport: the torch.nn class the builder makes for it, and the tensors its
state_dict holds (name, shape, dtype). `cnn summary` uses this to describe a model file and to check
its tensor index without importing torch; the model-file loader checks the same index against the
module it actually builds, and the tests check that both agree for every built-in architecture.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnncli.core.arch.shapes import ChainReport, LayerReport, Shape

# The torch.nn class per spec kind; batch norm depends on its input (see module_type).
_MODULE_TYPES = {
    "conv": "Conv2d",
    "maxpool": "MaxPool2d",
    "avgpool": "AvgPool2d",
    "gap": "GlobalAvgPool",
    "relu": "ReLU",
    "leakyrelu": "LeakyReLU",
    "gelu": "GELU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "dropout": "Dropout",
    "flatten": "Flatten",
    "fc": "Linear",
    "block": "Sequential",
}

# Bytes per element of the safetensors dtypes a model may hold.
DTYPE_SIZES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}


@dataclass(frozen=True)
class TensorSpec:
    """One entry of a state_dict: `conv1.weight`, shape (32, 1, 5, 5), dtype "F32"."""

    name: str
    shape: Shape
    dtype: str  # safetensors spelling: F32, I64, ...
    trainable: bool  # a parameter the optimiser updates, or a buffer (batch-norm running statistics)

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_SIZES[self.dtype]


def module_type(report: LayerReport) -> str:
    """The class name of the module the builder makes for a layer (what torchinfo shows)."""
    if report.kind == "bn":
        return "BatchNorm2d" if len(report.input_shape) == 3 else "BatchNorm1d"
    return _MODULE_TYPES[report.kind]


def layer_tensors(report: LayerReport) -> tuple[TensorSpec, ...]:
    """The tensors one layer's module holds, in the order torch registers them."""
    layer, name = report.layer, report.name
    out = report.output_shape
    if report.kind == "conv":
        in_channels = report.input_shape[0]
        weight = (out[0], in_channels // layer.groups, *layer.kernel_size)  # type: ignore[union-attr]
        tensors = [TensorSpec(f"{name}.weight", weight, "F32", True)]
        if layer.bias:  # type: ignore[union-attr]
            tensors.append(TensorSpec(f"{name}.bias", (out[0],), "F32", True))
        return tuple(tensors)
    if report.kind == "fc":
        tensors = [TensorSpec(f"{name}.weight", (out[0], report.input_shape[0]), "F32", True)]
        if layer.bias:  # type: ignore[union-attr]
            tensors.append(TensorSpec(f"{name}.bias", (out[0],), "F32", True))
        return tuple(tensors)
    if report.kind == "bn":
        channels = (report.input_shape[0],)
        return (
            TensorSpec(f"{name}.weight", channels, "F32", True),
            TensorSpec(f"{name}.bias", channels, "F32", True),
            TensorSpec(f"{name}.running_mean", channels, "F32", False),
            TensorSpec(f"{name}.running_var", channels, "F32", False),
            TensorSpec(f"{name}.num_batches_tracked", (), "I64", False),
        )
    return ()


def expected_tensors(report: ChainReport) -> dict[str, TensorSpec]:
    """Every tensor of the network's state_dict, by name, as the builder will make them."""
    return {t.name: t for r in report.leaves for t in layer_tensors(r)}
