"""Helpers for tests that write real model files: metadata, random weights, and header surgery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from cnncli.core.architectures import ARCHITECTURES
from cnncli.core.metadata import ArchitectureInfo, DatasetInfo, ModelMetadata, Preprocessing, Versions
from cnncli.core.nn.build import ConvNet, build_model
from cnncli.core.spec import parse_spec

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
        dataset=DatasetInfo("mnist", "sha256:" + "ab" * 32),
        training={"epochs": 6, "lr": 0.001, "batch_size": 100, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}},
        metrics={"test_accuracy": 0.9903, "test_loss": 0.031},
        versions=Versions("0.1.0", "2.14.1", "3.11.7"),
        created=datetime(2026, 5, 9, 7, 35, 25, tzinfo=timezone.utc),
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
