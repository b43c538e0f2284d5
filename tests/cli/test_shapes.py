"""`cnn shapes` as users type it, in-process (CliRunner) and as a real program."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from cnncli.core.errors import ExitCode


def test_single_layer_prints_the_size_and_the_working(cli):
    run = cli("shapes", "--input", "28", "--kernel", "5", "--padding", "2")
    assert run.exit_code == 0
    assert run.stdout == ""  # people's output goes to stderr; stdout is for --json
    assert "W_out = floor((28 + 2*2 - 1*(5-1) - 1)/1) + 1 = 28" in run.stderr
    assert "output: 28" in run.stderr
    assert "padding=2 keeps the size" in run.stderr


def test_single_layer_json_is_the_documented_object(cli):
    run = cli("shapes", "--input", "28", "--kernel", "5", "--padding", "2", "--channels", "1:32", "--json")
    assert run.exit_code == 0
    doc = run.json()
    assert doc["mode"] == "layer"
    assert doc["output"] == {"channels": 32, "height": 28, "width": 28}
    assert doc["parameters"] == {"weights": 800, "bias": 32, "total": 832}
    assert doc["working"]["height"]["formula"].endswith("= 28")
    assert doc["same_padding"] == [2, 2]
    assert doc["layer"]["spec"] == "conv(32, 5, padding=2)"
    assert doc["receptive_field"] == [5, 5]
    assert run.stderr == ""


def test_non_square_strided_dilated(cli):
    doc = cli("shapes", "--input", "28x32", "--kernel", "3x5", "--stride", "2", "--dilation", "1x2", "--json").json()
    # H: floor((28 - 2 - 1)/2) + 1 = 13; W: floor((32 - 2*4 - 1)/2) + 1 = 12
    assert (doc["output"]["height"], doc["output"]["width"]) == (13, 12)
    assert doc["working"]["width"]["formula"] == "floor((32 + 2*0 - 2*(5-1) - 1)/2) + 1 = 12"


def test_dropped_pixels_are_explained_with_a_padding_that_fits(cli):
    doc = cli("shapes", "--input", "28", "--kernel", "3", "--stride", "3", "--json").json()
    assert doc["output"]["height"] == 9  # floor(25/3) + 1
    assert doc["working"]["height"]["dropped"] == 1
    assert doc["working"]["height"]["fitting_padding"] == 1  # (28 + 2 - 3) = 27 = 3*9
    run = cli("shapes", "--input", "28", "--kernel", "3", "--stride", "3")
    assert "drops the last 1 pixel" in run.stderr and "padding=1 fits exactly" in run.stderr
    # an even input, an odd kernel and stride 2: no symmetric padding can fit
    doc = cli("shapes", "--input", "28", "--kernel", "3", "--stride", "2", "--json").json()
    assert doc["working"]["width"]["dropped"] == 1 and doc["working"]["width"]["fitting_padding"] is None


def test_pooling_and_ceil_mode(cli):
    assert cli("shapes", "--input", "7", "--pool", "max", "--json").json()["output"]["height"] == 3
    run = cli("shapes", "--input", "7", "--pool", "max", "--ceil-mode", "--json")
    assert run.json()["output"]["height"] == 4
    run = cli("shapes", "--input", "7", "--pool", "avg", "--kernel", "3", "--stride", "2")
    assert "output: 3" in run.stderr


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--input", "4", "--kernel", "5"], ExitCode.BAD_INPUT, "the conv leaves no pixels"),
        (
            ["--input", "8", "--pool", "max", "--kernel", "2", "--padding", "2"],
            ExitCode.BAD_INPUT,
            "more than half the kernel size",
        ),
        (
            ["--input", "8", "--kernel", "3", "--stride", "2", "--padding", "same"],
            ExitCode.BAD_INPUT,
            "padding=same works only at stride 1",
        ),
        (["--input", "28x", "--kernel", "3"], ExitCode.USAGE, "--input must be"),
        (["--input", "28", "--kernel", "0"], ExitCode.USAGE, "--kernel must be at least 1"),
        (["--input", "28", "--kernel", "3", "--channels", "1"], ExitCode.USAGE, "--channels must be IN:OUT"),
        (["--kernel", "3"], ExitCode.USAGE, "one layer needs --input"),
        (["tutorial", "--kernel", "3"], ExitCode.USAGE, "describe one layer"),
        (["tutorail"], ExitCode.NOT_FOUND, "neither a built-in architecture nor a spec"),
        (["conv(8, 3) fc(10) conv(8, 3)"], ExitCode.BAD_INPUT, "needs a C x H x W feature map"),
        (["conv(8, 30)"], ExitCode.BAD_INPUT, "conv1 (conv(8, 30)) leaves no pixels"),
    ],
)
def test_mistakes_are_one_line_errors_with_exit_codes(cli, args, code, words):
    run = cli("shapes", *args)
    assert run.exit_code == code
    assert words in run.stderr
    assert run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_spec_errors_point_at_the_column(cli):
    run = cli("shapes", "conv(3,3) cnv")
    assert run.exit_code == ExitCode.BAD_INPUT
    lines = run.stderr.splitlines()
    assert lines[0] == "error: unknown layer 'cnv'"
    assert lines[1] == "  conv(3,3) cnv"
    assert lines[2] == "            ^"
    assert lines[3].startswith("hint: layers: conv, maxpool")


def test_tutorial_chain_shapes_and_parameters(cli):
    run = cli("shapes", "--model", "tutorial")
    assert run.exit_code == 0
    assert "1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 3136 -> 1000 -> 10" in run.stderr
    assert "parameters: 3,199,106" in run.stderr
    assert "in_features of the first fc): 3,136" in run.stderr
    doc = cli("shapes", "tutorial", "--json").json()
    assert doc["total_params"] == 3_199_106
    assert doc["flatten_size"] == 3136
    convs = [layer for layer in doc["layers"] if layer["type"] == "conv"]
    assert [c["params"] for c in convs] == [832, 51_264]
    assert [layer["output"] for layer in doc["layers"] if layer["type"] == "maxpool"] == [[32, 14, 14], [64, 7, 7]]
    assert doc["layers"][-1]["output"] == [10]
    assert doc["layers"][5]["receptive_field"] == [16, 16] and doc["layers"][5]["jump"] == [4, 4]


def test_chain_input_and_classes(cli):
    doc = cli(
        "shapes",
        "conv(16, 3, padding=same) bn relu maxpool(2) fc(classes)",
        "--input",
        "3x32x32",
        "--classes",
        "100",
        "--json",
    ).json()
    assert doc["output"] == [100]
    assert doc["flatten_size"] == 16 * 16 * 16
    assert doc["layers"][1]["params"] == 32  # batch norm: weight and bias per channel


def test_chain_blocks_are_nested_rows(cli):
    doc = cli("shapes", "[conv(8, 3, padding=1) relu]x2 gap fc(10)", "--json").json()
    names = [layer["name"] for layer in doc["layers"]]
    assert names[:3] == ["block1", "block1.conv1", "block1.relu1"]
    assert doc["layers"][0]["block"] and doc["layers"][0]["params"] == 80
    assert doc["total_params"] == 80 + 584 + 90


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_json_pipes_into_jq(cnn):
    run = cnn("shapes", "--input", "28", "--kernel", "5", "--padding", "2", "--json")
    done = subprocess.run(["jq", "-r", ".output.height"], input=run.stdout.encode(), capture_output=True)
    assert done.stdout.decode().strip() == "28"


def test_real_program_json_and_exit_code(cnn):
    run = cnn("shapes", "tutorial", "--json")
    assert run.exit_code == 0
    assert json.loads(run.stdout)["total_params"] == 3_199_106
    assert run.stderr == ""
