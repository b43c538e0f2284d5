"""`cnn export` end to end, and the torch-free ONNX path of predict, eval and summary it opens.

Real processes on a real trained model (conftest's sample_model, exported once by sample_export).
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from cnncli.core.data.arrays import load_split_arrays
from cnncli.core.errors import ExitCode
from cnncli.core.modelfile.onnxfile import file_sha256

EXPECTED_KEYS = {
    "cnn.format", "classes", "input", "output", "normalisation", "prepare", "architecture", "dataset",
    "source_sha256", "cnn_version", "exporter", "parity", "cnn.metadata",
}  # fmt: skip


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> list[Path]:
    """Twenty of mnist-sample's test images as PNG files."""
    _, images, _ = load_split_arrays("mnist-sample", "test")
    folder = tmp_path_factory.mktemp("digits")
    paths = []
    for i in range(20):
        paths.append(folder / f"{i:02d}.png")
        Image.fromarray(images[i, 0]).save(paths[-1])
    return paths


@pytest.fixture
def no_torch(tmp_path) -> dict[str, str]:
    """An environment in which `import torch` fails: a shadowing package first on PYTHONPATH."""
    blocker = tmp_path / "no-torch" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('torch is blocked for this test')\n")
    return {"PYTHONPATH": os.pathsep.join([str(blocker.parent), os.environ.get("PYTHONPATH", "")])}


def test_export_reports_a_passed_parity_check_on_the_test_split(sample_export):
    parity = sample_export.result["parity"]
    assert parity["inputs"] == "mnist-sample test split"
    assert parity["count"] == parity["argmax_agree"] == 500
    assert parity["max_abs_logit_diff"] <= 1e-4 and parity["passed"]
    assert sample_export.result["sha256"] == file_sha256(sample_export.model)


def test_export_then_eval_gives_the_safetensors_model_accuracy(cnn, sample_export):
    torch_run = cnn("eval", str(sample_export.model), "--engine", "torch", "--json")
    onnx_run = cnn("eval", str(sample_export.onnx), "--json")
    assert torch_run.exit_code == 0 and onnx_run.exit_code == 0, torch_run.stderr + onnx_run.stderr
    a, b = torch_run.json(), onnx_run.json()
    assert a["count"] == b["count"] == 500
    assert a["accuracy"] == b["accuracy"]
    assert a["confusion_matrix"] == b["confusion_matrix"]
    assert abs(a["loss"] - b["loss"]) < 1e-4
    assert b["device"] == "cpu (onnxruntime)"


def test_metadata_props_carry_what_a_user_needs(sample_export):
    session = ort.InferenceSession(str(sample_export.onnx), providers=["CPUExecutionProvider"])
    props = session.get_modelmeta().custom_metadata_map
    assert set(props) == EXPECTED_KEYS
    assert json.loads(props["classes"]) == [str(i) for i in range(10)]
    assert json.loads(props["input"]) == {
        "name": "images", "dtype": "uint8", "layout": "NCHW", "channels": 1, "size": [28, 28]
    }  # fmt: skip
    assert json.loads(props["output"]) == {"name": "logits", "softmax_applied": False}
    normalisation = json.loads(props["normalisation"])
    assert normalisation["in_graph"] is True and len(normalisation["mean"]) == 1
    assert json.loads(props["prepare"])["recipe"] == "mnist"
    assert props["source_sha256"] == file_sha256(sample_export.model)
    assert tomllib.loads(props["cnn.metadata"])["architecture"]["name"] == "tiny"
    # a dynamic batch: one image and 37 at once both run
    assert session.get_inputs()[0].shape[0] not in (1, 2)
    for n in (1, 37):
        assert session.run(None, {"images": np.zeros((n, 1, 28, 28), np.uint8)})[0].shape == (n, 10)


def test_predict_and_eval_an_onnx_model_without_torch(cnn, sample_export, digits, no_torch):
    predicted = cnn("predict", *map(str, digits), "--model", str(sample_export.onnx), "--json", env=no_torch)
    assert predicted.exit_code == 0, predicted.stderr
    with_torch = cnn("predict", *map(str, digits), "--model", str(sample_export.model), "--engine", "torch", "--json")
    assert [p["label"] for p in predicted.json()] == [p["label"] for p in with_torch.json()]
    for a, b in zip(predicted.json(), with_torch.json(), strict=True):
        assert abs(a["confidence"] - b["confidence"]) < 1e-4
    evaluated = cnn("eval", str(sample_export.onnx), "--json", env=no_torch)
    assert evaluated.exit_code == 0, evaluated.stderr
    assert evaluated.json()["count"] == 500
    # the export beside a model file is found, and torch is not needed for it either
    beside = cnn("predict", str(digits[0]), "--model", str(sample_export.model), "-v", env=no_torch)
    assert beside.exit_code == 0, beside.stderr
    assert "ONNX Runtime" in beside.stderr


def test_many_images_through_the_decoding_workers(cnn, sample_export, digits, tmp_path, no_torch):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(80):  # past FEW_INPUTS: decoded in worker processes
        shutil.copy(digits[i % len(digits)], folder / f"{i:03d}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    run = cnn("predict", str(folder), "--model", str(sample_export.onnx), "--jsonl", "--workers", "2", env=no_torch)
    assert run.exit_code == ExitCode.PARTIAL, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(lines) == 81 and sum("error" in line for line in lines) == 1
    assert [line["file"] for line in lines] == sorted(str(p) for p in folder.iterdir())


def test_a_stale_export_is_ignored_and_said_with_verbose(cnn, sample_export, digits, tmp_path):
    model = tmp_path / "best.safetensors"
    shutil.copy(sample_export.model, model)
    shutil.copy(sample_export.onnx, tmp_path / "best.onnx")
    fresh = cnn("predict", str(digits[0]), "--model", str(model), "-v")
    assert "running" in fresh.stderr and "ONNX Runtime" in fresh.stderr
    data = bytearray(model.read_bytes())
    data[-1] ^= 1  # another model file: one weight's last byte
    model.write_bytes(bytes(data))
    stale = cnn("predict", str(digits[0]), "--model", str(model), "-v")
    assert stale.exit_code == 0, stale.stderr
    assert "stale" in stale.stderr and "; torch;" in stale.stderr
    forced = cnn("predict", str(digits[0]), "--model", str(model), "--engine", "onnx")
    assert forced.exit_code == ExitCode.NOT_FOUND and "cnn export" in forced.stderr


def test_summary_of_an_onnx_file(cnn, sample_export, no_torch):
    run = cnn("summary", str(sample_export.onnx), "--json", env=no_torch)
    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert document["file"] == str(sample_export.onnx)
    assert document["metadata"]["architecture"]["name"] == "tiny"
    assert any("parity" in note for note in document["notes"])


def test_exporting_an_onnx_file_or_to_another_suffix_is_refused(cnn, sample_export, tmp_path):
    again = cnn("export", str(sample_export.onnx))
    assert again.exit_code == ExitCode.USAGE and "already an ONNX model" in again.stderr
    wrong = cnn("export", str(sample_export.model), "-o", str(tmp_path / "model.bin"))
    assert wrong.exit_code == ExitCode.USAGE
    assert not (tmp_path / "model.bin").exists()


def _readme_snippet() -> str:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text.split("## Export to ONNX", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_snippet_runs_with_onnxruntime_alone(cnn, sample_export, tmp_path, no_torch):
    """The README's plain-Python snippet, as written, on an MNIST test digit: cnn's own answer."""
    import subprocess
    import sys

    _, images, _ = load_split_arrays("mnist-sample", "test")
    shutil.copy(sample_export.onnx, tmp_path / "model.onnx")
    Image.fromarray(images[3, 0]).save(tmp_path / "digit.png")
    script = tmp_path / "snippet.py"
    script.write_text(_readme_snippet())
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env={**os.environ, **no_torch}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    label, confidence = done.stdout.split()
    ours = cnn("predict", str(tmp_path / "digit.png"), "--model", str(tmp_path / "model.onnx"), "--raw", "--json")
    assert ours.json()[0]["label"] == label
    assert abs(ours.json()[0]["confidence"] - float(confidence)) < 1e-3
