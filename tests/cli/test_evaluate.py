"""`cnn eval` on real trained models: every metric, the JSON schema, --errors, --plot, the val split,
the latest model, and models that cannot take the dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.core.errors import ExitCode
from tests.support.models import make_present

TOP_KEYS = {
    "model", "dataset", "split", "count", "accuracy", "loss", "top_k", "top_k_accuracy", "classes", "per_class",
    "macro", "weighted", "confusion_matrix", "most_confused", "errors", "plot", "preprocessing", "device",
    "seconds", "images_per_second",
}  # fmt: skip
NAME = re.compile(r"^(\d\d)_idx(\d+)_true-(\w+)_pred-(\w+)_conf-(0\.\d{3}|1\.000)\.png$")


def test_eval_json_carries_every_metric_and_writes_the_worst_errors(cnn, mnist_model, tmp_path):
    errors = tmp_path / "wrong"
    run = cnn(
        "eval", str(mnist_model.model), "--data-dir", str(mnist_model.data_dir), "--json",
        "--errors", str(errors), "--errors-count", "12",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)  # stdout is exactly one JSON document
    assert set(doc) == TOP_KEYS
    assert (doc["dataset"], doc["split"], doc["count"], doc["top_k"]) == ("mnist", "test", 10_000, 5)
    assert doc["accuracy"] > 0.97
    assert doc["accuracy"] == pytest.approx(mnist_model.result["final"]["test_accuracy"], abs=0.003)  # bf16 there
    assert 1.0 >= doc["top_k_accuracy"] >= doc["accuracy"]
    matrix = doc["confusion_matrix"]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == 10_000
    assert sum(matrix[i][i] for i in range(10)) == round(doc["accuracy"] * 10_000)
    assert [row["support"] for row in doc["per_class"]] == [sum(row) for row in matrix]
    assert [row["class"] for row in doc["per_class"]] == doc["classes"] == [str(d) for d in range(10)]
    for row in doc["per_class"]:
        assert set(row) == {"class", "precision", "recall", "f1", "support"}
    assert set(doc["macro"]) == set(doc["weighted"]) == {"precision", "recall", "f1"}
    assert doc["weighted"]["recall"] == pytest.approx(doc["accuracy"], abs=1e-6)
    first = doc["most_confused"][0]
    assert set(first) == {"true", "predicted", "count", "share"}
    assert first["count"] == max(matrix[t][p] for t in range(10) for p in range(10) if t != p)
    assert doc["preprocessing"] == {"mean": [0.1307], "std": [0.3081]}
    # --errors: the 12 most confidently wrong test images, as the dataset holds them
    gallery = doc["errors"]
    assert Path(gallery["dir"]) == errors and len(gallery["images"]) == 12
    confidences = [image["confidence"] for image in gallery["images"]]
    assert confidences == sorted(confidences, reverse=True)
    from cnncli.core.data import load_split

    test = load_split("mnist", "test", mnist_model.data_dir)
    for rank, image in enumerate(gallery["images"], start=1):
        path = Path(image["file"])
        match = NAME.match(path.name)
        assert match, path.name
        assert int(match[1]) == rank and int(match[2]) == image["index"]
        assert (match[3], match[4]) == (image["true"], image["predicted"]) and image["true"] != image["predicted"]
        assert int(test.labels[image["index"]]) == int(image["true"])
        with Image.open(path) as png:
            assert png.size == (28, 28)
            assert np.array_equal(np.asarray(png), test.images[image["index"], 0].numpy())
    with Image.open(gallery["contact_sheet"]) as sheet:
        sheet.load()
        assert sheet.width >= 4 * 84 and sheet.height >= 3 * 84  # a 4 x 3 grid of enlarged digits


def test_eval_of_the_latest_run_prints_tables_for_people(cli, mnist_model, monkeypatch):
    monkeypatch.chdir(mnist_model.run.parent.parent)  # runs/latest is here
    run = cli("eval", "--data-dir", str(mnist_model.data_dir), "--top-k", "3")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    text = run.stderr
    assert "runs/fast-mnist-1/best.safetensors on mnist (test): 10,000 images" in text
    for expected in ("accuracy", "top-3 accuracy", "macro avg", "weighted avg", "confusion matrix", "most confused"):
        assert expected in text
    matrix_row = next(line for line in text.splitlines() if line.startswith("| 1 ") and line.count("|") == 12)
    assert "1,1" in matrix_row  # the 1,135 ones, mostly on the diagonal, with thousands separators


def test_no_run_anywhere_evaluates_the_bundled_model(cli, tmp_path, monkeypatch):
    """Before any training, `cnn eval` takes pretrained:mnist, as predict does (here on the shipped sample)."""
    from cnncli.core.modelfile import pretrained

    monkeypatch.chdir(tmp_path)
    run = cli("eval", "--dataset", "mnist-sample", "--json", "-q")
    assert run.exit_code == 0, run.stderr
    document = run.json()
    assert document["model"] == str(pretrained.BUNDLED["mnist"].path)
    assert document["accuracy"] > 0.9


def test_a_runs_folder_without_a_model_is_not_found_naming_what_was_looked_for(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    run = cli("eval", "runs")
    assert run.exit_code == ExitCode.NOT_FOUND
    assert "the folder runs holds no model: looked for runs/best.safetensors" in run.stderr
    assert "pretrained:mnist" in run.stderr  # the hint names every form, the bundled models too


def test_a_model_evaluated_on_other_classes_is_bad_input_naming_both(cli, mnist_model, tmp_path):
    data_dir = tmp_path / "data"
    make_present("fashion-mnist", data_dir)
    run = cli("eval", str(mnist_model.model), "--dataset", "fashion-mnist", "--data-dir", str(data_dir))
    assert run.exit_code == ExitCode.BAD_INPUT
    line = run.stderr.splitlines()[0]
    assert "takes 1x28x28 images of 10 classes (0, 1, 2" in line
    assert "dataset fashion-mnist has 1x28x28 images of 10 classes (T-shirt/top, Trouser" in line
    assert "hint: evaluate it on the dataset it was trained on (mnist)" in run.stderr


def test_a_model_evaluated_on_other_images_is_bad_input_naming_both(cli, sample_model, tmp_path):
    folder = tmp_path / "colour"
    for label, colour in (("red", (200, 20, 20)), ("blue", (20, 20, 200))):
        (folder / label).mkdir(parents=True)
        for index in range(5):
            Image.new("RGB", (32, 32), colour).save(folder / label / f"{index}.png")
    run = cli("eval", str(sample_model.model), "--dataset", f"folder:{folder}")
    assert run.exit_code == ExitCode.BAD_INPUT
    assert "takes 1x28x28 images of 10 classes" in run.stderr
    assert f"dataset folder:{folder} has 3x32x32 images of 2 classes (blue, red)" in run.stderr


def test_split_val_is_the_training_runs_own_holdout(cli, sample_model):
    run = cli("eval", str(sample_model.run), "--split", "val", "--json")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert (doc["dataset"], doc["split"], doc["count"]) == ("mnist-sample", "val", 200)  # 10% of 200 a class
    assert [row["support"] for row in doc["per_class"]] == [20] * 10
    assert doc["accuracy"] == pytest.approx(sample_model.result["final"]["val_accuracy"], abs=0.02)
    train = json.loads(cli("eval", str(sample_model.run), "--split", "train", "--json").stdout)
    assert train["count"] == 2000


def test_split_val_of_a_model_trained_without_one_is_a_usage_error(cli, tmp_path):
    # a hold-out is the default now: this model is trained without one on purpose
    quick = ["--dataset", "mnist-sample", "--model", "tiny", "--max-steps", "1", "--threads", "1"]
    made = cli("train", *quick, "--val-split", "0", "--out", str(tmp_path / "runs"), "--json", "-q")
    assert made.exit_code == 0, made.stderr
    model = made.json()["model"]
    run = cli("eval", model, "--split", "val")
    assert run.exit_code == ExitCode.USAGE
    assert "was trained without a validation split" in run.stderr
    assert cli("eval", model, "--split", "holdout").exit_code == ExitCode.USAGE


def test_plot_draws_the_confusion_matrix(cli, sample_model, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "figures" / "confusion.png"
    run = cli("eval", str(sample_model.model), "--plot", str(target), "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["plot"] == str(target)
    with Image.open(target) as figure:
        assert figure.format == "PNG" and figure.width > 400


def test_plot_without_matplotlib_is_a_clear_error_before_any_work(cnn, sample_model, tmp_path, without_matplotlib):
    run = cnn("eval", str(sample_model.model), "--plot", str(tmp_path / "c.png"), env=without_matplotlib)
    assert run.exit_code == ExitCode.USAGE
    assert "error: --plot needs matplotlib, which is not installed" in run.stderr
    assert "pip install 'cnncli[plot]'" in run.stderr and "evaluating" not in run.stderr
    assert not (tmp_path / "c.png").exists()


def test_the_confusion_matrix_is_shaded_by_row_share_on_a_colour_terminal():
    import io

    from rich.console import Console

    from cnncli.cli.env import Env
    from cnncli.cli.evaluate import _confusion_table
    from cnncli.core.inference.metrics import classification_report

    report = classification_report([[8, 2], [0, 10]], ("a", "b"))

    def drawn(env: Env) -> str:
        out = io.StringIO()
        Console(file=out, force_terminal=env.color, color_system="truecolor" if env.color else None).print(
            _confusion_table(env, report)
        )
        return out.getvalue()

    coloured = drawn(Env(color=True, stderr_isatty=True))
    backgrounds = re.findall(r"48;2;(\d+);(\d+);(\d+)", coloured)
    assert len(backgrounds) == 3  # 8, 2 and 10 shaded; the zero is not
    assert ("0", "135", "60") in backgrounds  # b's 10 of 10: full green
    plain = drawn(Env(color=False))
    assert "\x1b[" not in plain and re.search(r"\|\s+8\s+\|\s+2\s+\|", plain)
