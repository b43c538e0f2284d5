"""Hostile ONNX files: damaged, truncated, garbage, reaching outside their folder for tensor data,
claiming a billion-pixel input, or carrying metadata that does not parse.

The property, as for hostile safetensors: the file opens, or the error is a one-line BadInput; nothing
outside the model's folder is read, and nothing is allocated in proportion to what the file claims.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto

from cnncli.core.errors import BadInput, ExitCode
from cnncli.core.modelfile.onnxfile import MAX_INPUT_VALUES, METADATA_KEY, open_onnx
from tests.support.mutations import damaged_bytes, expect_clean_failure

FUZZ = settings(max_examples=60, deadline=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def original(sample_export) -> bytes:
    return sample_export.onnx.read_bytes()


def _proto(data: bytes) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model


def _write(folder: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = folder / name
    path.write_bytes(model.SerializeToString())
    return path


def _one_line_bad_input(path: Path) -> str:
    with pytest.raises(BadInput) as caught:
        open_onnx(path)
    message = caught.value.message
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize("cut", [1, 16, 100, 1000, -100, -1])
def test_truncated_files_are_refused(tmp_path, original, cut):
    path = tmp_path / "cut.onnx"
    path.write_bytes(original[:cut])
    _one_line_bad_input(path)


@pytest.mark.parametrize("data", [b"\x00", b"garbage " * 100, os.urandom(4096), b"PK\x03\x04" + bytes(200)])
def test_garbage_is_refused(tmp_path, data):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(data)
    _one_line_bad_input(path)


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert "empty" in _one_line_bad_input(tmp_path / "empty.onnx")


def _with_external_weight(model: onnx.ModelProto, location: str) -> onnx.ModelProto:
    """The first initializer's data moved out of the file, to `location`."""
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    tensor = changed.graph.initializer[0]
    size = len(tensor.raw_data) or 4 * int(np.prod(tensor.dims))
    tensor.ClearField("raw_data")
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", "0"), ("length", str(size))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return changed


@pytest.mark.parametrize("location", ["../../../../../../etc/passwd", "/etc/passwd", "../secret.bin", "link.bin"])
def test_tensor_data_outside_the_folder_is_never_read(tmp_path, original, location):
    folder = tmp_path / "models"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(1 << 16))  # would satisfy the read, were it allowed
    (folder / "link.bin").symlink_to(secret)
    path = _write(folder, _with_external_weight(_proto(original), location))
    # refused while validating the paths, before any tensor data is read
    message = _one_line_bad_input(path)
    assert "escapes" in message or "bsolute path" in message or "outside" in message, message


def test_an_input_claiming_a_billion_pixels_is_refused_before_any_batch(tmp_path, original):
    model = _proto(original)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value = dims[3].dim_value = 31_623  # 1 x 31,623 x 31,623: 10^9 values per image
    message = _one_line_bad_input(_write(tmp_path, model))
    assert f"{MAX_INPUT_VALUES:,}" in message


def test_a_weight_claiming_a_billion_values_is_refused_without_allocating_them(tmp_path, original):
    model = _proto(original)
    tensor = model.graph.initializer[0]
    del tensor.dims[:]
    tensor.dims.extend([1000, 1000, 1000])  # 4 GB of float32 claimed, a few hundred bytes held
    _one_line_bad_input(_write(tmp_path, model))


def _with_metadata(model: onnx.ModelProto, value: str | None) -> onnx.ModelProto:
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    kept = [p for p in changed.metadata_props if p.key != METADATA_KEY]
    del changed.metadata_props[:]
    changed.metadata_props.extend(kept)
    if value is not None:
        entry = changed.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, value
    return changed


@pytest.mark.parametrize(
    "value",
    [None, "not toml [[[", "format_version = 1", "a = " + "[" * 5000 + "]" * 5000, "format_version = 99\n"],
)
def test_metadata_that_does_not_parse_is_refused(tmp_path, original, value):
    _one_line_bad_input(_write(tmp_path, _with_metadata(_proto(original), value)))


def test_metadata_that_disagrees_with_the_graph_is_refused(tmp_path, original):
    model = _proto(original)
    toml = next(p.value for p in model.metadata_props if p.key == METADATA_KEY)
    edited = toml.replace("input_shape = [\n    1,\n    28,\n    28,\n]", "input_shape = [1, 32, 32]")
    edited = edited.replace("size = [\n    28,\n    28,\n]", "size = [32, 32]")
    assert edited != toml
    message = _one_line_bad_input(_write(tmp_path, _with_metadata(model, edited)))
    assert "metadata" in message


def test_predict_says_it_in_one_line(cnn, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07garbage")
    image = tmp_path / "x.png"
    image.write_bytes(b"")
    run = cnn("predict", str(image), "--model", str(path))
    assert run.exit_code == ExitCode.BAD_INPUT
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.startswith("error:")]) == 1


@FUZZ
@given(data=st.data())
def test_damaged_files_open_or_fail_cleanly(tmp_path, original, data):
    damaged = data.draw(damaged_bytes(original))
    path = tmp_path / "damaged.onnx"
    path.write_bytes(damaged)
    with expect_clean_failure():
        model = open_onnx(path, threads=1)
        model.logits(np.zeros((1, *model.metadata.input_shape), np.uint8))
