"""A first run: it starts from any model (--init), leaves nothing behind when it cannot start, and hands over
a model chosen without the test labels."""

from __future__ import annotations

import json
import socket
import tomllib
from pathlib import Path

import pytest

from cnncli.core.errors import ExitCode
from cnncli.core.modelfile import runs
from cnncli.core.modelfile.header import read_model_header
from tests.support.datafiles import digit_folder

QUICK = ["--dataset", "mnist-sample", "--model", "tiny", "--batch-size", "200", "--threads", "1"]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _refusing_mirror() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/{{dataset}}/"


def test_a_failed_start_leaves_the_runs_folder_as_it_was(cnn, tmp_path):
    out, empty = tmp_path / "runs", tmp_path / "no-data"
    out.mkdir()
    empty.mkdir()
    (out / "notes.txt").write_text("mine\n")
    before = _listing(out)
    failures = [
        (["--dataset", "mnist", "--data-dir", str(empty), "--offline"], {}, ExitCode.NOT_FOUND),
        (["--dataset", "mnist", "--data-dir", str(empty)], {"CNN_MIRRORS": _refusing_mirror()}, ExitCode.DOWNLOAD),
        (["--dataset", f"folder:{tmp_path / 'nowhere'}"], {}, ExitCode.NOT_FOUND),
        ([*QUICK, "--model", "conv(8, 3) fc(classes"], {}, ExitCode.BAD_INPUT),
        (["--dataset", "mnist-sample", "--init", "pretrained:nothing"], {}, ExitCode.NOT_FOUND),
        (["--dataset", "mnist-sample", "--init", str(tmp_path / "missing.safetensors")], {}, ExitCode.NOT_FOUND),
    ]
    for args, env, code in failures:
        run = cnn("train", *args, "--out", str(out), env=env, timeout=300)
        assert run.exit_code == code, (args, run.stderr)
        assert _listing(out) == before, (args, run.stderr)
        if code == ExitCode.DOWNLOAD:
            assert "no network: connections are refused" in run.stderr
            assert len(run.stderr.splitlines()) <= 8, run.stderr  # one line per file, the error, the hint
    ok = cnn("train", *QUICK, "--epochs", "1", "--out", str(out), "--json", timeout=300)
    assert ok.exit_code == 0, ok.stderr
    assert Path(ok.json()["run"]).name == "tiny-mnist-sample-1", "numbering does not skip the failed starts"


def test_init_fine_tunes_a_bundled_model_on_a_folder_with_other_classes(cnn, tmp_path):
    """pretrained:mnist's features carry over to typeset digits: with its weights (and a new head for the
    four classes) a short run does better than the same run from scratch."""
    folder = digit_folder(tmp_path / "digits", "0123", per_class=30)
    common = ["--dataset", f"folder:{folder}", "--epochs", "3", "--batch-size", "16", "--threads", "1"]
    common += ["--val-split", "0", "--out", str(tmp_path / "runs"), "--json"]
    tuned = cnn("train", *common, "--init", "pretrained:mnist", "--name", "tuned", timeout=300)
    assert tuned.exit_code == 0, tuned.stderr
    scratch = cnn("train", *common, "--model", "base", "--name", "scratch", timeout=300)
    assert scratch.exit_code == 0, scratch.stderr
    tuned_accuracy = tuned.json()["final"]["test_accuracy"]
    assert tuned_accuracy > scratch.json()["final"]["test_accuracy"]
    assert tuned_accuracy >= 0.8
    meta = read_model_header(tmp_path / "runs" / "tuned" / runs.LAST).metadata
    assert meta.classes == ("0", "1", "2", "3") and meta.architecture.name == "base"
    assert meta.training["init"] == "pretrained:mnist"  # where it started
    assert meta.training["init_from"]["kind"] == "bundled" and len(meta.training["init_from"]["sha256"]) == 64


def test_init_refuses_a_model_of_another_image_shape(cli, tmp_path):
    from tests.support.datafiles import image_folder

    folder = image_folder(tmp_path / "colour", {"a": 6, "b": 6}, size=(32, 32), mode="RGB")
    args = ["--dataset", f"folder:{folder}", "--val-split", "0", "--batch-size", "4"]
    run = cli("train", *args, "--init", "pretrained:mnist", "--out", str(tmp_path / "r"))
    assert run.exit_code == ExitCode.USAGE
    assert "takes 1x28x28 images" in run.stderr and "3x" in run.stderr
    assert not (tmp_path / "r").exists() or _listing(tmp_path / "r") == []


def test_by_default_a_validation_share_picks_the_model_never_the_test_set(cnn, tmp_path):
    run = cnn("train", *QUICK, "--epochs", "3", "--out", str(tmp_path / "runs"), "--json", timeout=300)
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    rows = [json.loads(line) for line in (Path(doc["run"]) / runs.METRICS).read_text().splitlines()]
    assert doc["config"]["val_split"] == 0.1
    assert all(row.get("val_accuracy") is not None for row in rows)
    best = max(rows, key=lambda row: row["val_accuracy"])
    assert doc["best"]["epoch"] == best["epoch"] and doc["model"].endswith(runs.BEST)
    meta = read_model_header(Path(doc["model"])).metadata
    assert meta.training["val_split"] == 0.1  # so eval knows which share of train was held out


def test_with_no_validation_share_the_last_model_is_handed_over_and_no_best_claimed(cnn, tmp_path):
    run = cnn("train", *QUICK, "--epochs", "2", "--val-split", "0", "--out", str(tmp_path / "runs"), timeout=300)
    assert run.exit_code == 0, run.stderr
    folder = tmp_path / "runs" / "tiny-mnist-sample-1"
    assert (folder / runs.LAST).is_file() and not (folder / runs.BEST).exists()
    assert "best" not in run.stderr.split("training finished")[-1]
    as_json = cnn("train", "--resume", str(folder), "--epochs", "3", "--json", timeout=300)
    assert as_json.exit_code == 0, as_json.stderr
    doc = as_json.json()
    assert doc["model"] == str(folder / runs.LAST) and doc["best"]["epoch"] is None
    config = tomllib.loads((folder / runs.CONFIG).read_text())
    assert config["val_split"] == 0


@pytest.mark.parametrize("form", ["run", "runs-folder", "latest"])
def test_resume_takes_every_form_of_a_run(cnn, tmp_path, form):
    out = tmp_path / "runs"
    first = cnn("train", *QUICK, "--epochs", "1", "--out", str(out), "--json", timeout=300)
    assert first.exit_code == 0, first.stderr
    folder = Path(first.json()["run"])
    target = {"run": folder, "runs-folder": out, "latest": out / runs.LATEST}[form]
    again = cnn("train", "--resume", str(target), "--epochs", "2", "--json", timeout=300)
    assert again.exit_code == 0, again.stderr
    assert again.json()["run"] == str(folder) and again.json()["epochs_run"] == 2
