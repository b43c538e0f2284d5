"""One model reference, every form, resolved by resolve_reference; bundled models checked against their pins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.modelfile import pretrained, runs
from cnncli.core.modelfile.reference import ReferenceKind, resolve_reference, resolve_run_folder


@pytest.fixture
def bundled(tmp_path, monkeypatch) -> Path:
    """A stand-in for the shipped folder: pretrained:mnist is a file pinned to its own sha256."""
    folder = tmp_path / "package" / "pretrained"
    folder.mkdir(parents=True)
    file = folder / "mnist.safetensors"
    file.write_bytes(b"bundled weights " * 64)
    export = file.with_suffix(".onnx")
    export.write_bytes(b"bundled export " * 64)
    monkeypatch.setattr(pretrained, "pretrained_folder", lambda: folder)
    digest, export_digest = (hashlib.sha256(f.read_bytes()).hexdigest() for f in (file, export))
    model = pretrained.BundledModel("mnist", "mnist", digest, export_digest)
    monkeypatch.setitem(pretrained.BUNDLED, "mnist", model)
    return file


def _run(out: Path, name: str, *models: str) -> Path:
    run = runs.create_run_dir(out, name, explicit=True)
    (run / runs.CONFIG).write_text("")
    for model in models:
        (run / model).write_bytes(b"x")
    return run


def test_every_form_names_its_model(tmp_path, bundled):
    out = tmp_path / "runs"
    run = _run(out, "base-mnist-1", runs.BEST, runs.LAST)
    runs.set_latest(run)
    cases = {
        str(run / runs.BEST): (run / runs.BEST, ReferenceKind.FILE),
        str(run / "last"): (run / runs.LAST, ReferenceKind.FILE),  # the suffix may be left off
        str(run): (run / runs.BEST, ReferenceKind.RUN),
        str(out): (run / runs.BEST, ReferenceKind.RUNS_FOLDER),
        str(out / runs.LATEST): (run / runs.BEST, ReferenceKind.LATEST),
        "pretrained:mnist": (bundled, ReferenceKind.BUNDLED),
        str(bundled): (bundled, ReferenceKind.BUNDLED),  # the shipped file by its path is still checked
        None: (run / runs.BEST, ReferenceKind.LATEST),
    }
    for text, (path, kind) in cases.items():
        reference = resolve_reference(text, out)
        assert (reference.path, reference.kind) == (path, kind), text
        assert reference.description


def test_a_run_without_best_hands_over_its_last(tmp_path):
    run = _run(tmp_path, "r", runs.LAST)
    assert resolve_reference(str(run)).path == run / runs.LAST


def test_the_latest_run_wins_over_the_bundled_model(tmp_path, bundled):
    out = tmp_path / "runs"
    assert resolve_reference(None, out).kind == ReferenceKind.BUNDLED  # nothing trained yet
    runs.set_latest(_run(out, "mine", runs.LAST))
    reference = resolve_reference(None, out)
    assert reference.kind == ReferenceKind.LATEST and reference.path == out / "mine" / runs.LAST


def test_a_flipped_byte_in_a_bundled_model_is_refused_however_it_is_named(tmp_path, bundled):
    data = bytearray(bundled.read_bytes())
    data[100] ^= 0x01
    bundled.write_bytes(bytes(data))
    for text in ("pretrained:mnist", str(bundled), None):
        with pytest.raises(BadInput, match="damaged or was edited") as caught:
            resolve_reference(text, tmp_path / "no-runs")
        assert "reinstall" in caught.value.hint


def test_what_matches_nothing_lists_what_was_looked_for(tmp_path, bundled):
    with pytest.raises(NotFound) as caught:
        resolve_reference(str(tmp_path / "nothing"), tmp_path)
    message = caught.value.message
    assert "nothing.safetensors" in message and "run folder" in message and "pretrained:" in message
    assert "pretrained:mnist" in caught.value.hint
    with pytest.raises(NotFound, match="the bundled models are pretrained:mnist"):
        resolve_reference("pretrained:cifar", tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotFound, match=r"best\.safetensors.*latest"):
        resolve_reference(str(empty), tmp_path)
    with pytest.raises(UsageError, match="empty"):
        resolve_reference("  ", tmp_path)


def test_a_broken_latest_pointer_is_an_error_not_a_silent_fallback(tmp_path, bundled):
    out = tmp_path / "runs"
    out.mkdir()
    (out / runs.LATEST).write_text("gone\n")
    with pytest.raises(NotFound, match="not a run folder"):
        resolve_reference(None, out)


def test_resume_takes_a_run_folder_however_it_is_named(tmp_path, bundled):
    out = tmp_path / "runs"
    run = _run(out, "r")  # no model yet: a run stopped in its first epoch still resumes
    runs.set_latest(run)
    for text in (str(run), str(out), str(out / runs.LATEST)):
        assert resolve_run_folder(text) == run, text
    (run / runs.BEST).write_bytes(b"x")
    for model in ("pretrained:mnist", str(run / runs.BEST)):
        with pytest.raises(UsageError, match="is a model") as caught:
            resolve_run_folder(model)
        assert f"cnn train --init {model}" in caught.value.hint
    with pytest.raises(NotFound):
        resolve_run_folder(str(tmp_path / "nothing"))
