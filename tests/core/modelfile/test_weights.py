"""Model files: bit-exact round trips, and a clear error for every way a file can be damaged.

Every file here is real, written by save_model (or by safetensors/torch for the foreign ones) into
tmp_path; the damaged ones are then cut or edited byte by byte. Each damage makes load_model raise a
BadInput naming the file and the fault; tests/cli/test_summary.py runs `cnn summary` on the same files.
"""

from __future__ import annotations

import math
import pickle
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.arch.shapes import analyse
from cnncli.core.arch.spec import parse_spec
from cnncli.core.atomic import TEMP_PREFIX
from cnncli.core.errors import BadInput, DeviceUnavailable, NotFound, UsageError
from cnncli.core.modelfile.metadata import ArchitectureInfo, ModelMetadata
from cnncli.core.modelfile.weights import load_model, read_model_header, save_model
from cnncli.core.nn.build import build_model
from tests.support.helpers import (
    INPUTS,
    WITH_BATCHNORM,
    edit_header,
    edit_toml,
    metadata_for,
    random_model,
    read_header,
)

torch.set_num_threads(1)

MODELS = [*ARCHITECTURES, WITH_BATCHNORM]


def _fits(model: str, shape: tuple[int, int, int]) -> bool:
    spec = ARCHITECTURES[model].spec if model in ARCHITECTURES else model
    try:
        analyse(parse_spec(spec), shape, 10)
    except BadInput:
        return False
    return True


@pytest.mark.parametrize("data", INPUTS)
@pytest.mark.parametrize("model", MODELS, ids=[*ARCHITECTURES, "batchnorm"])
def test_round_trip_is_bit_exact(tmp_path, model, data):
    if not _fits(model, INPUTS[data]):
        pytest.skip(f"{model} does not fit {data}'s input")
    metadata = metadata_for(model, INPUTS[data])
    original = random_model(metadata)
    path = save_model(tmp_path / "model.safetensors", original, metadata)
    loaded = load_model(path)
    assert loaded.metadata == metadata
    before, after = original.state_dict(), loaded.model.state_dict()
    assert list(before) == list(after)
    for name in before:
        assert before[name].dtype == after[name].dtype, name
        assert torch.equal(before[name], after[name]), name
    assert not loaded.model.training  # ready for inference
    original.eval()
    images = torch.randn(3, *INPUTS[data])
    with torch.no_grad():
        assert torch.equal(original(images), loaded.model(images))


def test_both_files_are_written_and_the_sidecar_is_the_embedded_toml(tmp_path):
    metadata = metadata_for(WITH_BATCHNORM, (3, 32, 32))
    path = save_model(tmp_path / "runs" / "x" / "net.safetensors", random_model(metadata), metadata)
    sidecar = path.with_suffix(".toml")
    header = read_model_header(path)
    assert sidecar.read_text() == header.toml == metadata.to_toml()
    assert sorted(p.name for p in path.parent.iterdir()) == ["net.safetensors", "net.toml"]  # no temp files left
    assert not any(p.name.startswith(TEMP_PREFIX) for p in path.parent.iterdir())
    # buffers are saved: batch-norm running statistics and the batch counter
    assert header.tensors["block1.bn1.running_var"].shape == (8,)
    assert header.tensors["bn1.num_batches_tracked"].dtype == "I64"
    # plain safetensors reads it too: the format is not ours alone
    assert set(load_file(path)) == set(header.tensors)


def test_saving_refuses_a_model_its_metadata_does_not_describe(tmp_path):
    metadata = metadata_for("tutorial")
    tiny = build_model(ARCHITECTURES["tiny"].layers, (1, 28, 28), 10)
    with pytest.raises(
        BadInput, match=r"does not fit its metadata's architecture: tensor 'conv1.weight' has shape 8x1x3x3"
    ):
        save_model(tmp_path / "m.safetensors", tiny, metadata)
    with pytest.raises(UsageError, match=r"must end in \.safetensors"):
        save_model(tmp_path / "m.pt", random_model(metadata), metadata)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    metadata = metadata_for("tiny")
    path = save_model(tmp_path / "m.safetensors", random_model(metadata, seed=1), metadata)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cnncli.core.modelfile.weights.save_file", broken)
    with pytest.raises(Exception, match="the disk is full"):
        save_model(path, random_model(metadata, seed=2), metadata)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "m.toml"]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    metadata = metadata_for("tiny")
    path = save_model(tmp_path / "m.safetensors", random_model(metadata), metadata)
    renamed = tmp_path / "pickle.safetensors"
    torch.save(random_model(metadata).state_dict(), renamed)

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling was attempted")

    for target in ("pickle.load", "pickle.loads", "torch.load"):
        monkeypatch.setattr(target, forbidden)
    assert load_model(path).metadata == metadata
    with pytest.raises(BadInput, match="zip archive"):
        load_model(renamed)


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(NotFound, match="no model file"):
        load_model(tmp_path / "nothing.safetensors")
    with pytest.raises(NotFound, match="is a folder"):
        read_model_header(tmp_path)


# ---------------------------------------------------------------------------------------------
# Damaged, foreign and edited files: each fault, its words
# ---------------------------------------------------------------------------------------------


def _cut(size: int):
    def damage(path: Path) -> None:
        data = path.read_bytes()
        path.write_bytes(data[:size])

    return damage


def _bad_json(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:20] = b"{not json!!!"
    path.write_bytes(bytes(data))


def _offsets_past_the_end(path: Path) -> None:
    def change(header):
        last = max((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][1])
        entry = header[last]
        row = 4 * math.prod(entry["shape"][1:])  # F32: one more row, with offsets to match
        entry["shape"][0] += 1
        entry["data_offsets"][1] += row

    edit_header(path, change)


def _overlapping(path: Path) -> None:
    def change(header):
        header["fc1.bias"]["data_offsets"] = [0, 40]  # 10 floats, over the first tensor

    edit_header(path, change)


def _renamed_torch_save(path: Path) -> None:
    torch.save({"conv1.weight": torch.zeros(8, 1, 3, 3)}, path)


def _renamed_pickle(path: Path) -> None:
    path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}, protocol=4))


def _no_cnn_metadata(path: Path) -> None:
    save_file(load_file(path), path)


def _toml_to_another_architecture(path: Path) -> None:
    tutorial, tiny = ARCHITECTURES["tutorial"], ARCHITECTURES["tiny"]
    edit_toml(path, lambda t: t.replace(tiny.spec, tutorial.spec).replace('name = "tiny"', 'name = "tutorial"'))


def _toml_to_more_classes(path: Path) -> None:
    edit_toml(path, lambda t: re.sub(r'"class 9",', '"class 9", "class 10",', t))


def _toml_not_toml(path: Path) -> None:
    edit_toml(path, lambda t: t.replace("[dataset]", "[dataset"))


def _toml_newer_format(path: Path) -> None:
    edit_toml(path, lambda t: t.replace("format_version = 1", "format_version = 7"))


def _toml_spec_too_big(path: Path) -> None:
    edit_toml(path, lambda t: t.replace("conv(8, 3, padding=1)", "conv(8, 31, padding=1)", 1))


def _extra_tensor(path: Path) -> None:
    tensors = load_file(path)
    tensors["fc1.extra"] = torch.zeros(3)
    save_file(tensors, path, metadata=read_header(path)[0]["__metadata__"])


def _missing_tensor(path: Path) -> None:
    tensors = load_file(path)
    del tensors["fc1.bias"]
    save_file(tensors, path, metadata=read_header(path)[0]["__metadata__"])


def _wrong_dtype(path: Path) -> None:
    tensors = load_file(path)
    tensors["fc1.bias"] = tensors["fc1.bias"].double()
    save_file(tensors, path, metadata=read_header(path)[0]["__metadata__"])


def _wrong_shape(path: Path) -> None:
    tensors = load_file(path)
    tensors["conv2.weight"] = torch.zeros(16, 8, 5, 5)
    save_file(tensors, path, metadata=read_header(path)[0]["__metadata__"])


DAMAGES = {
    "empty": (_cut(0), "is 0 bytes long, too short"),
    "truncated data": (_cut(-100), "is truncated: its header promises"),
    "truncated header": (_cut(40), "runs past the end of the file"),
    "bad json": (_bad_json, "its header is not valid JSON"),
    "offsets past the end": (_offsets_past_the_end, "is truncated: its header promises"),
    "overlapping offsets": (_overlapping, "overlaps the tensor before it"),
    "torch.save renamed": (_renamed_torch_save, "is a zip archive (a PyTorch .pt/.pth checkpoint?)"),
    "pickle renamed": (_renamed_pickle, "is a Python pickle, not a safetensors model file"),
    "no cnn metadata": (_no_cnn_metadata, "without cnn's metadata (cnn.toml)"),
    "toml: another architecture": (_toml_to_another_architecture, "tensor 'conv1.weight' has shape 8x1x3x3 but"),
    "toml: more classes": (_toml_to_more_classes, "tensor 'fc1.weight' has shape 10x784 but its architecture needs"),
    "toml: not toml": (_toml_not_toml, "model metadata: document is not valid TOML"),
    "toml: newer format": (_toml_newer_format, "format 7, newer than the format 1"),
    "toml: spec too big": (_toml_spec_too_big, "does not fit input_shape [1, 28, 28]: conv1 (conv(8, 31, padding=1))"),
    "extra tensor": (_extra_tensor, "holds tensor 'fc1.extra', which its architecture has no place for"),
    "missing tensor": (_missing_tensor, "lacks tensor 'fc1.bias', which its architecture needs"),
    "wrong dtype": (_wrong_dtype, "tensor 'fc1.bias' is F64 but its architecture needs F32"),
    "wrong shape": (_wrong_shape, "tensor 'conv2.weight' has shape 16x8x5x5"),
}


def damaged_file(folder: Path, key: str) -> tuple[Path, str]:
    """A real model file with one damage done to it, and the words its error must contain."""
    damage, words = DAMAGES[key]
    metadata = metadata_for("tiny")
    path = save_model(folder / "model.safetensors", random_model(metadata), metadata)
    damage(path)
    return path, words


@pytest.fixture
def damaged(tmp_path, request):
    return damaged_file(tmp_path, request.param)


@pytest.mark.parametrize("damaged", DAMAGES, indirect=True)
def test_damaged_files_are_a_clear_bad_input(damaged):
    path, words = damaged
    with pytest.raises(BadInput) as caught:
        load_model(path)
    assert words in caught.value.message
    assert caught.value.message.startswith(f"{path}: ")
    assert caught.value.hint


def test_the_weights_do_not_matter_to_the_header(tmp_path):
    """Two files that differ only in weights have the same header and metadata."""
    metadata = replace(metadata_for("tiny"), architecture=ArchitectureInfo(ARCHITECTURES["tiny"].spec, "tiny"))
    a = save_model(tmp_path / "a.safetensors", random_model(metadata, seed=1), metadata)
    b = save_model(tmp_path / "b.safetensors", random_model(metadata, seed=2), metadata)
    assert read_header(a)[0] == read_header(b)[0]
    assert read_model_header(a).metadata == read_model_header(b).metadata == ModelMetadata.from_toml(metadata.to_toml())


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_an_unavailable_device_is_a_device_error(tmp_path):
    metadata = metadata_for("tiny")
    path = save_model(tmp_path / "m.safetensors", random_model(metadata), metadata)
    with pytest.raises(DeviceUnavailable, match="CUDA is not available"):
        load_model(path, device="cuda")
    with pytest.raises(UsageError, match="unknown device 'gpu0'"):
        load_model(path, device="gpu0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loading_onto_the_gpu_keeps_every_bit(tmp_path):
    metadata = metadata_for(WITH_BATCHNORM, (3, 32, 32))
    original = random_model(metadata)
    path = save_model(tmp_path / "m.safetensors", original, metadata)
    loaded = load_model(path, device="cuda")
    assert all(t.device.type == "cuda" for t in loaded.model.state_dict().values())
    for name, tensor in original.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name].cpu()), name
