"""Helpers for tests that build networks and write real model files: architectures to try, metadata,
random weights, and header surgery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.arch.shapes import analyse
from cnncli.core.arch.spec import parse_spec
from cnncli.core.errors import ShapeError
from cnncli.core.modelfile.metadata import ArchitectureInfo, DatasetRecord, ModelMetadata, Preprocessing, Versions
from cnncli.core.nn.build import ConvNet, build_model

INPUTS = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
CASES = [(name, data) for name in ARCHITECTURES for data in INPUTS]

# Every layer kind and option the grammar has, nested blocks and batch norm in both forms included.
KITCHEN_SINK = (
    "[conv(8, 3, padding=same, mode=reflect) bn lrelu(0.2)]x2 "
    "conv(16, 3, stride=2, padding=1, groups=2, bias=false, mode=circular) gelu maxpool(2, ceil=true) "
    "[conv(16, 3, d=2, padding=2, mode=replicate) [avgpool(2) bn]] conv(16, 1, padding=valid) tanh "
    "dropout(0.1) gap bn fc(32) sigmoid fc(classes, bias=false)"
)
FLAT = "conv(4, 3) relu flatten bn dropout fc(20) relu fc(classes)"


def built(name: str, data: str) -> ConvNet:
    """A built-in architecture on a data set's input; the test is skipped where the arithmetic fails."""
    arch = ARCHITECTURES[name]
    try:
        analyse(arch.layers, INPUTS[data], 10)
    except ShapeError:
        pytest.skip(f"{name} does not fit {data}'s input")
    return build_model(arch.layers, INPUTS[data], 10, arch.spec)


def forward(model: nn.Module, shape: tuple[int, ...], batch: int = 2) -> torch.Tensor:
    """The model's output on a random batch, in eval mode (dropout off, batch norm on its statistics)."""
    model.eval()
    with torch.no_grad():
        return model(torch.randn(batch, *shape))


# batch norm in 2-D and 1-D, nested blocks, every padding mode: buffers and odd shapes get saved too
WITH_BATCHNORM = (
    "[conv(8, 3, padding=same, mode=reflect) bn relu]x2 conv(16, 3, stride=2, padding=1, groups=2, bias=false) "
    "[bn gelu maxpool(2)] gap bn fc(classes)"
)


def metadata_for(
    model: str = "tutorial", input_shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10
) -> ModelMetadata:
    """Metadata for a built-in name or a spec, as a training run would write it."""
    arch = ARCHITECTURES.get(model)
    channels = input_shape[0]
    return ModelMetadata(
        architecture=ArchitectureInfo(arch.spec if arch else model, arch.name if arch else None),
        input_shape=input_shape,
        classes=tuple(f"class {i}" for i in range(num_classes)),
        preprocessing=Preprocessing(
            channels, (input_shape[1], input_shape[2]), (0.1307,) * channels, (0.3081,) * channels, "mnist"
        ),
        dataset=DatasetRecord("mnist", "sha256:" + "ab" * 32),
        training={"epochs": 6, "lr": 0.001, "batch_size": 100, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
        metrics={"test_accuracy": 0.9903, "test_loss": 0.031},
        versions=Versions("0.1.0", "2.14.1", "3.11.7"),
        created=datetime(2026, 5, 9, 7, 35, 25, tzinfo=UTC),
    )


def random_model(metadata: ModelMetadata, seed: int = 0) -> ConvNet:
    """The metadata's network with every parameter and buffer random (running stats and counters too)."""
    arch = metadata.architecture
    model = build_model(parse_spec(arch.spec), metadata.input_shape, metadata.num_classes, arch.spec)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):  # a variance: positive, or batch norm gives NaN
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            elif tensor.is_floating_point():
                tensor.copy_(torch.randn(tensor.shape, generator=generator))
            else:
                tensor.copy_(torch.randint(0, 10_000, tensor.shape, generator=generator))
    return model


def read_header(path: Path) -> tuple[dict[str, Any], bytes]:
    """The header JSON of a safetensors file and the data after it."""
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def write_header(path: Path, header: dict[str, Any], data: bytes) -> None:
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # safetensors pads its header to 8 bytes, so do we
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)


def edit_header(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    header, data = read_header(path)
    change(header)
    write_header(path, header, data)


def edit_toml(path: Path, change: Callable[[str], str]) -> None:
    def apply(header: dict[str, Any]) -> None:
        header["__metadata__"]["cnn.toml"] = change(header["__metadata__"]["cnn.toml"])

    edit_header(path, apply)
