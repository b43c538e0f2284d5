"""Model files: NAME.safetensors (weights and buffers, with the model's TOML embedded) and NAME.toml.

    save_model(path, model, metadata)       both files, each written atomically
    load_model(path, device="cpu")          LoadedModel(model, metadata), the model in eval mode
    read_model_header(path)                 metadata and tensor index only, in pure Python

Loading never unpickles: safetensors holds raw tensor bytes, and the header is validated (see
cnncli/core/modelfile/header.py) before any of them is read. The network is rebuilt from the spec in the
metadata, and every tensor's name, shape and dtype is checked against the fresh module before its
weights are loaded, so metadata edited to another architecture is a clear error, not a torch traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from cnncli.core.arch.modules import TensorSpec, expected_tensors
from cnncli.core.atomic import atomic_write_text, atomic_write_with
from cnncli.core.errors import BadInput, UsageError
from cnncli.core.modelfile.header import (
    METADATA_KEY,
    SUFFIX,
    ModelHeader,
    match_tensors,
    read_model_header,
    sidecar_path,
)
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.nn.build import ConvNet, build_from_report
from cnncli.core.runtime.device import resolve_device

__all__ = ["LoadedModel", "build_from_metadata", "load_model", "read_model_header", "save_model"]

# safetensors' spelling of the dtypes a model holds
_DTYPE_NAMES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


@dataclass
class LoadedModel:
    model: ConvNet
    metadata: ModelMetadata
    header: ModelHeader


def build_from_metadata(metadata: ModelMetadata) -> ConvNet:
    """The network a model file describes, with fresh weights."""
    return build_from_report(metadata.analyse())


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers (batch-norm running statistics too), detached, contiguous, on the CPU.

    Each is cloned: safetensors refuses tensors that share memory, and a copy cannot change under it.
    """
    return {name: tensor.detach().to("cpu").contiguous().clone() for name, tensor in model.state_dict().items()}


def _found(state: dict[str, torch.Tensor]) -> dict[str, tuple[tuple[int, ...], str]]:
    return {name: (tuple(t.shape), _DTYPE_NAMES.get(t.dtype, str(t.dtype))) for name, t in state.items()}


def save_model(path: str | os.PathLike[str], model: nn.Module, metadata: ModelMetadata) -> Path:
    """Write NAME.safetensors and NAME.toml; returns the .safetensors path.

    The model must be the network its metadata describes (checked tensor by tensor first), so every
    saved file loads again.
    """
    path = Path(path)
    if path.suffix != SUFFIX:
        raise UsageError(f"a model file must end in {SUFFIX}, not {path.name!r}")
    toml = metadata.to_toml()  # validates the metadata
    state = _state(model)
    expected = expected_tensors(metadata.analyse())
    try:
        match_tensors(path, _found(state), expected)
    except BadInput as error:
        raise BadInput(
            f"the model does not fit its metadata's architecture: {error.message.removeprefix(f'{path}: ')}",
            "build the model from the same spec, input shape and classes as the metadata",
        ) from None
    atomic_write_with(path, lambda temp: save_file(state, str(temp), metadata={METADATA_KEY: toml}))
    atomic_write_text(sidecar_path(path), toml)
    return path


def load_model(path: str | os.PathLike[str], device: str = "cpu") -> LoadedModel:
    """The network of a model file with its weights, on `device`, in eval mode.

    Raises NotFound for a missing file and BadInput for anything damaged, foreign or inconsistent.
    """
    target = resolve_device(device)
    header = read_model_header(path)  # validates the header and the metadata, in pure Python
    found = {n: (e.shape, e.dtype) for n, e in header.tensors.items()}
    # first against the pure analysis, so a metadata that claims a huge network allocates nothing: once the
    # tensors match it, the network is no bigger than the file
    match_tensors(header.path, found, expected_tensors(header.metadata.analyse()))
    model = build_from_metadata(header.metadata)
    # the module itself is the reference: what it holds is what the file must hold
    parameters = dict(model.named_parameters())
    expected = {
        name: TensorSpec(name, tuple(t.shape), _DTYPE_NAMES[t.dtype], name in parameters)
        for name, t in model.state_dict().items()
    }
    match_tensors(header.path, found, expected)
    try:
        with safe_open(str(header.path), framework="pt", device="cpu") as handle:
            state = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118  # not a dict
    except (SafetensorError, OSError) as error:  # changed between the header check and now
        raise BadInput(f"{header.path}: cannot read its tensors ({error})", "the file is damaged") from None
    model.load_state_dict(state, strict=True)
    model.to(target).eval()
    return LoadedModel(model, header.metadata, header)
