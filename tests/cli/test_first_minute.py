"""The first minute after install: `cnn predict digit.png` answers with the bundled model, offline, anywhere."""

from __future__ import annotations

import json
import shutil

import pytest

from cnncli.core.modelfile import pretrained
from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("digit-*.png"))
# what `cnn predict --json` has always given per image (README, cnn predict, JSON)
SCHEMA = {"file", "label", "index", "confidence", "top_k"}
OFFLINE = {  # no proxy to reach anything, and a proxy that refuses: nothing can leave the machine
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "no_proxy": "",
    "CNN_DATA_DIR": "",
    "CNN_MIRRORS": "",
}


def test_the_examples_are_digits_zero_to_nine():
    assert [path.name for path in EXAMPLES] == [f"digit-{d}.png" for d in range(10)]


def test_predict_in_an_empty_folder_with_an_empty_home_uses_the_bundled_model(cnn, tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    digit = shutil.copy(EXAMPLES[3], work / "digit.png")
    env = {**OFFLINE, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}
    run = cnn("predict", str(digit), env=env, cwd=work)
    assert run.exit_code == 0, run.stderr
    assert "the bundled model pretrained:mnist" in run.stderr and "train your own with: cnn train" in run.stderr
    table_row = next(line for line in run.stderr.splitlines() if "digit.png" in line)
    assert " 3 " in table_row, run.stderr  # the label
    as_json = cnn("predict", str(digit), "--json", env=env, cwd=work)
    assert as_json.exit_code == 0, as_json.stderr
    [row] = json.loads(as_json.stdout)
    assert set(row) == SCHEMA and row["label"] == "3"
    assert "pretrained:mnist" in as_json.stderr  # which model answered, on stderr beside the JSON
    assert sorted(p.name for p in work.iterdir()) == ["digit.png"], "nothing written where it ran"


def test_a_latest_run_wins_over_the_bundled_model(cnn, sample_model):
    out = sample_model.run.parent  # holds `latest`, naming this run
    run = cnn("predict", str(EXAMPLES[0]), "--json", cwd=out.parent)
    assert run.exit_code == 0, run.stderr
    assert f"model: the latest run ({out.name}/{sample_model.run.name}/best.safetensors)" in run.stderr
    assert "pretrained" not in run.stderr


@pytest.mark.parametrize("name", sorted(pretrained.BUNDLED))
def test_each_bundled_model_is_its_pinned_bytes_and_loads(name):
    from cnncli.core.modelfile.weights import load_model

    model = pretrained.BUNDLED[name]
    assert pretrained.sha256_of(model.path) == model.sha256
    loaded = load_model(model.path)
    assert loaded.metadata.dataset.name == model.dataset
    provenance = loaded.metadata.training["provenance"]
    assert provenance["command"].startswith(f"cnn train --dataset {model.dataset} ")


def test_a_flipped_byte_in_the_shipped_model_is_refused(cli, tmp_path, monkeypatch):
    """The real file, one bit changed, in a copy of the package's folder: every command refuses it."""
    copy = tmp_path / "pretrained"
    shutil.copytree(pretrained.pretrained_folder(), copy)
    target = copy / pretrained.BUNDLED["mnist"].file_name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x10  # a weight's bit: the file still parses, and would predict wrongly
    target.write_bytes(bytes(data))
    monkeypatch.setattr(pretrained, "pretrained_folder", lambda: copy)
    for args in (["predict", str(EXAMPLES[0])], ["summary", "pretrained:mnist"], ["eval", "pretrained:mnist"]):
        run = cli(*args)
        assert run.exit_code == 3, (args, run.stderr)
        assert "error: the bundled model pretrained:mnist is damaged or was edited" in run.stderr
        assert "hint: reinstall cnncli" in run.stderr
