"""`cnn predict` end to end on real files: agreement with `cnn eval`, photos of digits, every mode and
format, hostile files, stdin, --show, and what goes to stdout (JSON only) and the exit status."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.core.data import load_split
from cnncli.core.errors import ExitCode
from tests.core.inference.test_images import CASES, in_mode, saved
from tests.support.photos import PHOTO_LAYOUTS, jpeg_bytes, photo_of, write_hostile_files


@pytest.fixture(scope="module")
def mnist_test(mnist_model):
    return load_split("mnist", "test", mnist_model.data_dir)


@pytest.fixture(scope="module")
def eval_predictions(mnist_model) -> np.ndarray:
    """What `cnn eval` predicts for every MNIST test image (its core, in this process)."""
    from cnncli.core.inference.evaluation import EvalRequest, evaluate_model

    result = evaluate_model(EvalRequest(model=str(mnist_model.model), data_dir=str(mnist_model.data_dir)))
    return result.predicted.numpy()


def write_png(path: Path, pixels: np.ndarray) -> None:
    Image.fromarray(pixels).save(path)


def test_raw_mnist_images_are_predicted_exactly_as_eval_predicts_them(
    cnn, mnist_model, mnist_test, eval_predictions, tmp_path
):
    indices = range(0, 10_000, 33)  # 304 test digits, white on black, 28 x 28, as PNG files
    for index in indices:
        write_png(tmp_path / f"{index:05d}.png", mnist_test.images[index, 0].numpy())
    run = cnn("predict", str(tmp_path), "--model", str(mnist_model.model), "--jsonl")
    assert run.exit_code == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [Path(row["file"]).name for row in rows] == [f"{i:05d}.png" for i in indices]
    predicted = [int(row["label"]) for row in rows]
    assert predicted == [int(eval_predictions[i]) for i in indices]


def test_photos_of_digits_on_paper_are_predicted_about_as_well_as_eval_does(
    cnn, mnist_model, mnist_test, eval_predictions, tmp_path
):
    """400 test digits as photos of dark ink on light paper (64 x 64 to 500 x 500, off-centre, unevenly
    lit, grainy, JPEG-compressed): predict's accuracy on them within 2 points of eval's on the same."""
    indices = list(range(7, 10_000, 25))
    for number, index in enumerate(indices):
        width, height, share, offset = PHOTO_LAYOUTS[number % len(PHOTO_LAYOUTS)]
        photo = photo_of(mnist_test.images[index, 0].numpy(), width, height, share, offset, seed=index)
        (tmp_path / f"{index:05d}.jpg").write_bytes(jpeg_bytes(photo))
    run = cnn("predict", str(tmp_path), "--model", str(mnist_model.model), "--json")
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    labels = mnist_test.labels.numpy()[indices]
    predicted = np.array([int(row["label"]) for row in rows])
    photo_accuracy = float((predicted == labels).mean())
    eval_accuracy = float((eval_predictions[indices] == labels).mean())
    assert photo_accuracy >= eval_accuracy - 0.02, (photo_accuracy, eval_accuracy)


def test_every_mode_and_format_is_read_and_predicted(cli, mnist_model, mnist_test, tmp_path):
    digit = mnist_test.images[0, 0].numpy()  # a clear 7
    photo = photo_of(digit, 96, 80, 0.7, (0.05, -0.05), seed=0)
    for fmt, mode in CASES:
        suffix = {"JPEG": "jpg", "WEBP": "webp", "TIFF": "tif"}.get(fmt, fmt.lower())
        options = {"lossless": True} if fmt == "WEBP" else {}
        (tmp_path / f"{mode.replace(';', '')}-{fmt}.{suffix}").write_bytes(saved(in_mode(photo, mode), fmt, **options))
    exif = Image.Exif()
    exif[0x0112] = 8  # stored turned a quarter clockwise: 'rotate 90 counter-clockwise to view'
    turned = photo.transpose(Image.Transpose.ROTATE_270)
    (tmp_path / "exif-rotated.jpg").write_bytes(saved(turned, "JPEG", exif=exif, quality=90))
    stroke = np.zeros((80, 96, 4), dtype=np.uint8)  # dark ink on a transparent background
    stroke[..., 3] = np.asarray(photo.resize((96, 80)).point(lambda v: 255 - v), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(stroke, mode="RGBA").save(buffer, format="PNG")
    (tmp_path / "transparent.png").write_bytes(buffer.getvalue())
    run = cli("predict", str(tmp_path), "--model", str(mnist_model.model), "--json")
    assert run.exit_code == 0, run.stderr
    rows = json.loads(run.stdout)
    assert len(rows) == len(CASES) + 2
    wrong = {Path(row["file"]).name: row["label"] for row in rows if row["label"] != "7"}
    assert not wrong


def test_bad_inputs_fail_alone_in_json_lines_and_the_exit_status_says_so(cnn, sample_model, mnist_test, tmp_path):
    sample = load_split("mnist-sample", "test")
    good = []
    for index in range(3):
        good.append(tmp_path / f"good{index}.png")
        write_png(good[-1], sample.images[index, 0].numpy())
    photo = Image.fromarray(sample.images[0, 0].numpy())
    hostile = write_hostile_files(tmp_path / "bad", good[0].read_bytes(), jpeg_bytes(photo))
    inputs = [str(p) for p in good] + [str(p) for p in hostile.values()] + [str(tmp_path / "absent.png")]
    run = cnn("predict", *inputs, "--model", str(sample_model.model), "--jsonl")
    assert run.exit_code == ExitCode.PARTIAL
    rows = [json.loads(line) for line in run.stdout.splitlines()]  # every line whole JSON
    assert [row["file"] for row in rows] == inputs  # in the order given
    assert all(set(row) == {"file", "label", "index", "confidence", "top_k"} for row in rows[:3])
    failed = rows[3:]
    assert all(set(row) == {"file", "error"} for row in failed) and len(failed) == len(hostile) + 1
    assert f"error: {len(failed)} of {len(inputs)} inputs could not be predicted" in run.stderr
    assert "Traceback" not in run.stderr
    # a table for people on stderr, nothing on stdout
    table = cnn("predict", *inputs, "--model", str(sample_model.model))
    assert table.exit_code == ExitCode.PARTIAL and table.stdout == ""
    assert "error: empty file (0 bytes)" in table.stderr and "3 predicted, 8 failed" in table.stderr
    # all of them bad
    only_bad = cnn("predict", *inputs[3:], "--model", str(sample_model.model), "--json")
    assert only_bad.exit_code == ExitCode.BAD_INPUT
    assert all("error" in row for row in json.loads(only_bad.stdout))
    assert "error: no image could be predicted" in only_bad.stderr


def test_an_image_on_stdin_and_what_the_network_saw(cnn, sample_model):
    sample = load_split("mnist-sample", "test")
    buffer = io.BytesIO()
    Image.fromarray(255 - sample.images[1, 0].numpy()).resize((84, 84)).save(buffer, format="PNG")
    run = cnn("predict", "-", "--model", str(sample_model.model), "--json", "--show", input=buffer.getvalue())
    assert run.exit_code == 0, run.stderr
    (row,) = json.loads(run.stdout)
    assert row["file"] == "-" and row["label"] == str(int(sample.labels[1]))
    lines = run.stderr.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("-: ") and "as the network sees it" in line)
    art = lines[start + 1 : start + 15]  # 28 rows, two to a line
    assert all(len(line) <= 28 for line in art) and any("@" in line for line in art)


def test_the_latest_model_a_table_with_top_k_and_every_flag(cli, sample_model, tmp_path, monkeypatch):
    sample = load_split("mnist-sample", "test")
    write_png(tmp_path / "digit.png", sample.images[2, 0].numpy())
    monkeypatch.chdir(sample_model.run.parent.parent)
    run = cli("predict", str(tmp_path / "digit.png"), "--top-k", "3")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "" and "runs/tiny-mnist-sample-1/best.safetensors" in run.stderr
    assert "top 3" in run.stderr and "1 predicted, 0 failed" in run.stderr
    flags = ["--no-invert", "--no-clean", "--no-crop", "--no-center", "--json"]
    assert cli("predict", str(tmp_path / "digit.png"), *flags).exit_code == 0
    assert cli("predict", str(tmp_path / "digit.png"), "--raw", "--json").exit_code == 0


def test_json_and_jsonl_together_are_a_usage_error(cli, tmp_path):
    run = cli("predict", str(tmp_path), "--json", "--jsonl")
    assert run.exit_code == ExitCode.USAGE and "give one" in run.stderr
