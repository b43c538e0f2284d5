"""Hostile model files: every damage hypothesis can make to a real file, through read_model_header
(pure Python, what `cnn summary` reads) and load_model (the weights too).

The property: the file loads, or the error is a one-line BadInput/NotFound; never another exception, a
hang, or a network built bigger than the file could hold (the metadata is checked against the tensor
index before a weight is allocated).
"""

from __future__ import annotations

import json
import os
import pickle
import tomllib
from pathlib import Path

import pytest
import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnncli.core.modelfile.weights as modelfile
from cnncli.core.arch.modules import expected_tensors
from cnncli.core.errors import BadInput
from cnncli.core.modelfile.header import read_model_header
from cnncli.core.modelfile.weights import load_model, save_model
from tests.support.helpers import metadata_for, random_model, read_header
from tests.support.mutations import EDGE_INTS, TOML_VALUES, damaged_bytes, edited_tree, expect_clean_failure

torch.set_num_threads(1)
FUZZ = settings(max_examples=400, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> bytes:
    metadata = metadata_for("tiny")
    path = save_model(tmp_path_factory.mktemp("model") / "m.safetensors", random_model(metadata), metadata)
    return path.read_bytes()


@pytest.fixture
def bounded_build(monkeypatch):
    """load_model may build a network only once its tensors are known to fit in the file."""
    real = modelfile.build_from_metadata
    built = []

    def checked(metadata):
        size = sum(t.nbytes for t in expected_tensors(metadata.analyse()).values())
        assert size <= built[-1], f"a {size:,}-byte network built for a {built[-1]:,}-byte file"
        return real(metadata)

    monkeypatch.setattr(modelfile, "build_from_metadata", checked)
    return built


def _load_both(path: Path, built: list[int]) -> None:
    built.append(path.stat().st_size)
    with expect_clean_failure() as header_failed:
        read_model_header(path)
    with expect_clean_failure() as load_failed:
        loaded = load_model(path)
    if not load_failed:
        assert not header_failed  # what loads has a header that reads
        assert loaded.model.state_dict().keys() == loaded.header.tensors.keys()


def _header_and_data(raw: bytes) -> tuple[dict, bytes]:
    length = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _assemble(header: dict, data: bytes, length: int | None = None) -> bytes:
    text = json.dumps(header).encode()
    return (len(text) if length is None else length).to_bytes(8, "little") + text + data


@FUZZ
@given(data=st.data())
def test_damaged_bytes_load_or_are_bad_input(tmp_path, original, bounded_build, data):
    header_end = 8 + int.from_bytes(original[:8], "little")
    path = tmp_path / "m.safetensors"
    path.write_bytes(data.draw(damaged_bytes(original, focus=header_end)))
    _load_both(path, bounded_build)


@FUZZ
@given(data=st.data())
def test_edited_header_json_loads_or_is_bad_input(tmp_path, original, bounded_build, data):
    header, tensors = _header_and_data(original)
    edited = data.draw(edited_tree(header))
    length = data.draw(st.one_of(st.none(), EDGE_INTS.map(lambda n: n % 2**64)))
    path = tmp_path / "m.safetensors"
    path.write_bytes(_assemble(edited, tensors, length))
    _load_both(path, bounded_build)


@FUZZ
@given(data=st.data())
def test_edited_metadata_toml_loads_or_is_bad_input(tmp_path, original, bounded_build, data):
    header, tensors = _header_and_data(original)
    document = tomllib.loads(header["__metadata__"]["cnn.toml"])
    edited = data.draw(edited_tree(document, TOML_VALUES))
    try:
        text = tomli_w.dumps(edited)
    except (TypeError, ValueError):  # not writable as TOML (a list at the top): write it raw
        text = str(edited)
    header["__metadata__"]["cnn.toml"] = text
    path = tmp_path / "m.safetensors"
    path.write_bytes(_assemble(header, tensors))
    _load_both(path, bounded_build)


@pytest.mark.parametrize(
    "claim",
    [
        "input_shape = [1, 100000, 100000]\n[preprocessing]\nsize = [100000, 100000]",
        'architecture.spec = "conv(1000000000, 3) fc(classes)"',
        'architecture.spec = "[relu]x1000000000 fc(classes)"',
        'architecture.spec = "' + "[" * 10_000 + "relu" + "]" * 10_000 + ' fc(classes)"',
    ],
    ids=["huge input", "huge conv", "billion layers", "nested 10,000 deep"],
)
def test_metadata_claiming_a_huge_network_allocates_nothing(tmp_path, original, bounded_build, claim):
    header, tensors = _header_and_data(original)
    document = tomllib.loads(header["__metadata__"]["cnn.toml"])
    for line in claim.splitlines():
        if line.startswith("["):
            continue
        key, _, value = line.partition(" = ")
        table = document["preprocessing"] if key == "size" else document
        *parents, leaf = key.split(".")
        for parent in parents:
            table = table[parent]
        table[leaf] = tomllib.loads(f"v = {value}")["v"]
    header["__metadata__"]["cnn.toml"] = tomli_w.dumps(document)
    path = tmp_path / "m.safetensors"
    path.write_bytes(_assemble(header, tensors))
    bounded_build.append(path.stat().st_size)
    with pytest.raises(BadInput) as caught:
        load_model(path)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ((2**63).to_bytes(8, "little") + b"{}", "runs past the end of the file"),
        ((2**64 - 1).to_bytes(8, "little") + b"{}", "runs past the end of the file"),
        (b"\x04\x00\x00\x00\x00\x00\x00\x00" + b"[" * 4, "not valid JSON"),
        ((200_000).to_bytes(8, "little") + b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (_assemble({"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, bytes(4)), "has dtype ['F32']"),
        (_assemble({"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 4]}}, bytes(4)), "needs"),
        (_assemble({"w": {"dtype": "F32", "shape": [2**62], "data_offsets": [0, 2**64]}}, bytes(4)), "is truncated"),
    ],
    ids=["length 2^63", "length 2^64-1", "unclosed json", "json 100,000 deep", "dtype a list", "huge shape", "end"],
)
def test_hostile_headers_are_refused_before_anything_is_read(tmp_path, raw, words):
    path = tmp_path / "m.safetensors"
    path.write_bytes(raw)
    with pytest.raises(BadInput, match=words.replace("[", r"\[").replace("]", r"\]")):
        read_model_header(path)


def test_a_pipe_named_like_a_model_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "m.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(BadInput, match="not a regular file"):
        read_model_header(fifo)


# ---------------------------------------------------------------------------------------------
# Cut at every section boundary; tensors swapped between architectures; a pickle that would act
# ---------------------------------------------------------------------------------------------


def _boundaries(raw: bytes) -> list[int]:
    header, _ = _header_and_data(raw)
    start = 8 + int.from_bytes(raw[:8], "little")
    cuts = {0, 4, 8, 9, start // 2, start - 1, start}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            cuts |= {start + begin, start + (begin + end) // 2, start + end - 1}
    return sorted(c for c in cuts if c < len(raw))


def test_a_cut_at_every_section_boundary_is_a_clear_error(tmp_path, original):
    path = tmp_path / "m.safetensors"
    cuts = _boundaries(original)
    assert len(cuts) > 20  # the length, the header, and three cuts in each of the 6 tensors
    for cut in cuts:
        path.write_bytes(original[:cut])
        with pytest.raises(BadInput) as caught:
            load_model(path)
        assert str(path) in caught.value.message and "\n" not in caught.value.message, cut


def test_tensors_swapped_between_two_architectures_are_refused(tmp_path):
    """tiny's weights under lenet5's metadata and the reverse: a mismatch named, never a torch traceback."""
    files = {}
    for name, model in (("tiny", "tiny"), ("lenet", "lenet5")):
        metadata = metadata_for(model)
        files[name] = save_model(tmp_path / f"{name}.safetensors", random_model(metadata), metadata)
    (tiny_header, tiny_data), (lenet_header, lenet_data) = (read_header(files[n]) for n in ("tiny", "lenet"))
    for header, donor, data in ((tiny_header, lenet_header, lenet_data), (lenet_header, tiny_header, tiny_data)):
        swapped = {k: v for k, v in donor.items() if k != "__metadata__"}
        swapped["__metadata__"] = header["__metadata__"]
        path = tmp_path / "swapped.safetensors"
        path.write_bytes(_assemble(swapped, data))
        with pytest.raises(BadInput, match="architecture"):
            load_model(path)


class _Marker:
    """Unpickling this creates a file: the proof that a loader ran code from the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pickle_that_would_create_a_file_is_never_executed(tmp_path, cnn, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps(_Marker(str(marker)), protocol=protocol))
    with pytest.raises(BadInput, match="Python pickle"):
        load_model(path)
    run = cnn("summary", str(path))
    assert run.exit_code == 3 and run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    torch_zip = tmp_path / "zip.safetensors"
    torch.save({"x": _Marker(str(marker))}, torch_zip)  # torch.save pickles inside a zip
    with pytest.raises(BadInput, match="zip archive"):
        load_model(torch_zip)
    assert not marker.exists()
