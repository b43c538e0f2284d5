"""`cnn explain` end to end: JSON figures and maps, PNG sheets, the terminal view, bad inputs, 1 and 3 channels."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.cli.env import Env
from cnncli.core.data import load_split
from cnncli.core.errors import ExitCode
from cnncli.core.modelfile.weights import save_model
from tests.support.helpers import metadata_for, random_model
from tests.support.photos import write_hostile_files

PNG = b"\x89PNG\r\n\x1a\n"
TINY_STAGES = [("conv1", [8, 28, 28]), ("pool1", [8, 14, 14]), ("conv2", [16, 14, 14]), ("pool2", [16, 7, 7])]


def digits(folder: Path, count: int, start: int = 0) -> list[Path]:
    sample = load_split("mnist-sample", "test")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(start, start + count):
        paths.append(folder / f"{index}.png")
        Image.fromarray(sample.images[index, 0].numpy()).save(paths[-1])
    return paths


def test_json_has_each_stage_the_attributions_and_bad_images_fail_alone(cli, sample_model, tmp_path):
    good = digits(tmp_path, 2)
    photo = io.BytesIO()
    Image.open(good[0]).save(photo, format="JPEG")
    hostile = write_hostile_files(tmp_path / "bad", good[0].read_bytes(), photo.getvalue())
    bad = [str(p) for p in hostile.values()] + [str(tmp_path / "absent.png")]
    inputs = [str(good[0]), *bad, str(good[1])]
    run = cli("explain", *inputs, "--model", str(sample_model.model), "--json", "--top-k", "2")
    assert run.exit_code == ExitCode.PARTIAL
    rows = json.loads(run.stdout)
    assert [row["file"] for row in rows] == inputs
    assert all(set(row) == {"file", "error"} for row in rows[1:-1])
    assert rows[1]["error"] == "empty file (0 bytes)" and "Traceback" not in run.stderr
    for row in (rows[0], rows[-1]):
        assert len(row["top_k"]) == 2 and row["label"] == row["top_k"][0]["label"] == row["target"]["label"]
        assert [(s["name"], s["shape"]) for s in row["stages"]] == TINY_STAGES
        for stage in row["stages"]:
            assert 0 <= stage["zero_share"] <= 1 and stage["min"] <= stage["mean"] <= stage["max"]
            assert len(stage["top_channels"]) == 5
            means = [c["mean"] for c in stage["top_channels"]]
            assert means == sorted(means, reverse=True)
        assert row["grad_cam"]["layer"] == "conv2" and np.array(row["grad_cam"]["map"]).shape == (28, 28)
        ig = row["integrated_gradients"]
        assert np.array(ig["map"]).shape == (28, 28)
        assert np.array(ig["map"]).sum() == pytest.approx(ig["logit_change"] + ig["completeness_gap"], abs=1e-3)
    assert f"error: {len(bad)} of {len(inputs)} inputs could not be explained" in run.stderr


def test_layers_and_target_chosen_and_unknown_ones_list_those_there_are(cli, sample_model, tmp_path):
    (image,) = digits(tmp_path, 1)
    model = ["--model", str(sample_model.model)]
    run = cli("explain", str(image), *model, "--layer", "pool2", "--layer", "conv1", "--target", "3", "--json")
    assert run.exit_code == 0, run.stderr
    (row,) = json.loads(run.stdout)
    assert [s["name"] for s in row["stages"]] == ["conv1", "pool2"]
    assert row["target"] == {"label": "3", "index": 3}
    unknown = cli("explain", str(image), *model, "--layer", "fc1")
    assert unknown.exit_code == ExitCode.NOT_FOUND and unknown.stdout == ""
    assert "hint: its conv and pool layers: conv1, pool1, conv2, pool2" in unknown.stderr
    target = cli("explain", str(image), *model, "--target", "cat")
    assert target.exit_code == ExitCode.USAGE and "not one of the model's classes" in target.stderr


def test_a_sheet_per_image_named_after_it(cli, sample_model, tmp_path):
    first, second = digits(tmp_path / "a", 1)[0], digits(tmp_path / "b", 1)[0]  # both named 0.png
    model = ["--model", str(sample_model.model)]
    run = cli("explain", str(first), str(second), *model, "--out", str(tmp_path / "sheets"), "--json")
    assert run.exit_code == 0, run.stderr
    sheets = [Path(row["sheet"]) for row in json.loads(run.stdout)]
    assert [p.name for p in sheets] == ["0.png", "0-2.png"]
    assert all(p.read_bytes().startswith(PNG) for p in sheets)
    one = cli("explain", str(first), *model, "--out", str(tmp_path / "one.png"))
    assert one.exit_code == 0 and (tmp_path / "one.png").read_bytes().startswith(PNG)
    assert f"sheet: {tmp_path / 'one.png'}" in one.stderr
    two = cli("explain", str(first), str(second), *model, "--out", str(tmp_path / "two.png"))
    assert two.exit_code == ExitCode.USAGE and not (tmp_path / "two.png").exists()


def test_without_matplotlib_out_is_refused_before_any_work(cnn, sample_model, tmp_path, without_matplotlib):
    (image,) = digits(tmp_path, 1)
    sheet = ["--out", str(tmp_path / "s.png")]
    run = cnn("explain", str(image), "--model", str(sample_model.model), *sheet, env=without_matplotlib)
    assert run.exit_code == ExitCode.USAGE and "needs matplotlib" in run.stderr
    assert not (tmp_path / "s.png").exists()


def test_off_a_terminal_a_plain_summary(cli, sample_model, tmp_path):
    (image,) = digits(tmp_path, 1)
    run = cli("explain", str(image), "--model", str(sample_model.model))
    assert run.exit_code == 0 and run.stdout == ""
    assert re.search(r"conv1 \+ relu \| 8x28x28", run.stderr) and "pool2 " in run.stderr
    assert "completeness gap" in run.stderr and "▀" not in run.stderr


def test_on_a_terminal_every_picture_fits_its_width(sample_model, tmp_path, monkeypatch):
    from cnncli.cli.explain import _show
    from cnncli.core.explain.explainer import Explainer
    from cnncli.core.inference.model import open_model

    monkeypatch.setenv("COLUMNS", "64")
    env = Env(stderr=io.StringIO(), stderr_isatty=True, color=True)
    explainer = Explainer(open_model(str(sample_model.model), "cpu"))
    pixels = load_split("mnist-sample", "test").images[0].numpy()
    _show(env, explainer.explain("digit", pixels), explainer, None)
    drawn = re.sub(r"\x1b\[[0-9;]*m", "", env.stderr.getvalue()).splitlines()
    art = [line for line in drawn if "▀" in line]
    assert len(art) > 4 * 14 and max(len(line) for line in art) <= 64
    assert any("conv1 + relu 8x28x28" in line for line in drawn)


@pytest.fixture
def colour_model(tmp_path):
    """`cifar` with random weights on 3 x 32 x 32 images, prepared by a plain resize."""
    meta = metadata_for("cifar", (3, 32, 32))
    meta = replace(meta, preprocessing=replace(meta.preprocessing, prepare="resize"))
    return save_model(tmp_path / "cifar.safetensors", random_model(meta), meta)


def test_a_three_channel_network_with_a_sheet(cli, colour_model, tmp_path):
    picture = np.random.default_rng(0).integers(0, 256, (48, 40, 3), dtype=np.uint8)
    Image.fromarray(picture).save(tmp_path / "photo.png")
    sheets = ["--out", str(tmp_path / "s")]
    run = cli("explain", str(tmp_path / "photo.png"), "--model", str(colour_model), "--json", *sheets)
    assert run.exit_code == 0, run.stderr
    (row,) = json.loads(run.stdout)
    assert [s["shape"] for s in row["stages"]][-2:] == [[256, 8, 8], [256, 4, 4]]
    assert np.array(row["grad_cam"]["map"]).shape == np.array(row["integrated_gradients"]["map"]).shape == (32, 32)
    assert Path(row["sheet"]).read_bytes().startswith(PNG)
