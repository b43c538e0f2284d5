"""`cnn summary` as users type it: a built-in, a spec, a model file, and model files that are damaged."""

from __future__ import annotations

import pytest

from cnncli.core.errors import ExitCode
from cnncli.core.modelfile.weights import save_model
from tests.core.modelfile.test_weights import DAMAGES, damaged_file
from tests.support.helpers import metadata_for, random_model
from tests.support.startup import heavy_modules_after

LAYER_KEYS = {
    "name", "type", "kind", "spec", "depth", "block", "implicit", "collapsed", "output", "params", "params_share",
    "macs", "activation_bytes", "receptive_field",
}  # fmt: skip
TOTAL_KEYS = {
    "trainable_params", "frozen_params", "param_bytes", "macs", "flops", "input_bytes", "activation_bytes",
}  # fmt: skip


@pytest.fixture
def model_file(tmp_path):
    metadata = metadata_for("tutorial")
    return save_model(tmp_path / "run" / "model.safetensors", random_model(metadata), metadata)


def test_tutorial_has_its_parameters_and_the_shapes_of_cnn_shapes(cli):
    run = cli("summary", "tutorial")
    assert run.exit_code == 0 and run.stdout == ""
    assert "trainable parameters: 3,199,106" in run.stderr
    assert "1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 3136 -> 1000 -> 10" in run.stderr
    assert "27,616,800 FLOPs" in run.stderr and "13,808,400 multiply-adds" in run.stderr
    summary = cli("summary", "tutorial", "--json").json()
    shapes = cli("shapes", "tutorial", "--json").json()
    assert [(r["name"], r["output"]) for r in summary["layers"]] == [(r["name"], r["output"]) for r in shapes["layers"]]
    assert summary["totals"]["trainable_params"] == shapes["total_params"] == 3_199_106


def test_json_follows_the_documented_schema(cli):
    doc = cli("summary", "tutorial", "--json", "--batch-size", "32").json()
    assert set(doc) == {
        "mode", "source", "model", "spec", "file", "input", "output", "classes", "batch_size", "dtype", "depth",
        "layers", "totals", "metadata", "notes",
    }  # fmt: skip
    assert (doc["mode"], doc["source"], doc["model"], doc["file"], doc["metadata"]) == (
        "summary", "builtin", "tutorial", None, None,
    )  # fmt: skip
    assert (doc["batch_size"], doc["dtype"], doc["depth"]) == (32, "float32", None)
    assert all(set(layer) == LAYER_KEYS for layer in doc["layers"])
    assert set(doc["totals"]) == TOTAL_KEYS
    fc1 = next(layer for layer in doc["layers"] if layer["name"] == "fc1")
    assert (fc1["type"], fc1["params"], fc1["activation_bytes"]) == ("Linear", 3_137_000, 32 * 1000 * 4)
    assert doc["totals"]["flops"] == 2 * doc["totals"]["macs"]


def test_a_spec_with_input_classes_and_depth(cli):
    spec = "[conv(8, 3, padding=same) bn relu]x2 maxpool(2) [conv(16, 3) [bn relu]] gap fc(classes)"
    doc = cli("summary", spec, "--input", "3x32x32", "--classes", "100", "--json").json()
    assert (doc["source"], doc["input"], doc["output"], doc["classes"]) == ("spec", [3, 32, 32], [100], 100)
    # running mean and variance per channel and one batch counter, for batch norms over 8, 8 and 16 channels
    assert doc["totals"]["frozen_params"] == (2 * 8 + 1) + (2 * 8 + 1) + (2 * 16 + 1)
    folded = cli("summary", spec, "--input", "3x32x32", "--depth", "1", "--json").json()
    assert [r["name"] for r in folded["layers"]] == ["block1", "block2", "pool1", "block3", "gap1", "fc1"]
    assert [r["collapsed"] for r in folded["layers"]] == [True, True, False, True, False, False]
    run = cli("summary", spec, "--input", "3x32x32", "--depth", "2")
    assert "block3.block1 (folded)" in run.stderr and "block3.conv1" in run.stderr
    assert "block3.block1.bn1" not in run.stderr


def test_a_spec_longer_than_any_file_name(cli):
    spec = " ".join(["conv(8, 3, padding=same) relu"] * 12) + " fc(classes)"
    run = cli("summary", spec, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["source"] == "spec"


def test_a_model_file_from_its_header(cli, model_file):
    run = cli("summary", str(model_file))
    assert run.exit_code == 0, run.stderr
    assert f"model file: {model_file}" in run.stderr
    assert "classes: 10 (class 0, class 1," in run.stderr
    assert "preprocessing: mnist, 28x28, 1 channel, mean 0.1307, std 0.3081" in run.stderr
    assert "metrics: test_accuracy=0.9903" in run.stderr
    assert "trainable parameters: 3,199,106" in run.stderr
    doc = cli("summary", str(model_file), "--json").json()
    builtin = cli("summary", "tutorial", "--json").json()
    assert (doc["source"], doc["model"], doc["file"]) == ("file", "tutorial", str(model_file))
    assert doc["layers"] == builtin["layers"] and doc["totals"] == builtin["totals"]
    assert doc["metadata"]["classes"][0] == "class 0" and doc["metadata"]["created"] == "2026-05-09T07:35:25+00:00"
    assert doc["notes"] == []


def test_an_edited_sidecar_is_pointed_out(cli, model_file):
    sidecar = model_file.with_suffix(".toml")
    sidecar.write_text(sidecar.read_text().replace("lr = 0.001", "lr = 0.1"))
    doc = cli("summary", str(model_file), "--json").json()
    assert doc["metadata"]["training"]["lr"] == 0.001  # the embedded metadata is the one used
    assert doc["notes"] == ["model.toml differs from the metadata inside the model file, which is the one cnn uses"]


def test_a_model_file_has_its_own_input(cli, model_file):
    run = cli("summary", str(model_file), "--input", "3x32x32")
    assert run.exit_code == ExitCode.USAGE and "a model file has its own input shape" in run.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["tutorail"], ExitCode.NOT_FOUND, "neither a built-in architecture nor a spec"),
        (["gone.safetensors"], ExitCode.NOT_FOUND, "no model file gone.safetensors"),
        (["conv(8, 30)"], ExitCode.BAD_INPUT, "conv1 (conv(8, 30)) leaves no pixels"),
    ],
)
def test_mistakes_are_one_line_errors(cli, args, code, words):
    run = cli("summary", *args)
    assert run.exit_code == code
    assert run.stderr.startswith("error: ") and words in run.stderr.splitlines()[0]
    assert "Traceback" not in run.stderr and run.stdout == ""


@pytest.mark.parametrize("option", ["--batch-size", "--depth"])
def test_counts_below_one_are_usage_errors(cnn, option):
    run = cnn("summary", "tiny", option, "0")
    assert run.exit_code == ExitCode.USAGE
    assert run.stderr.startswith(f"error: Invalid value for '{option}'")


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_model_file_exits_3_with_one_line(tmp_path, cnn, damage):
    path, words = damaged_file(tmp_path, damage)
    run = cnn("summary", str(path))
    assert run.exit_code == ExitCode.BAD_INPUT, run.stderr
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"error: {path}: ") and words in lines[0]
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    assert run.stdout == ""


def test_summary_of_a_model_file_never_imports_torch(model_file, cnn):
    assert heavy_modules_after("summary", str(model_file), "--json") == ""
    assert heavy_modules_after("summary", "tutorial") == ""
    run = cnn("summary", str(model_file), "--json")  # the real program, end to end
    assert run.exit_code == 0 and run.json()["totals"]["trainable_params"] == 3_199_106
