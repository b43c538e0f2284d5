"""The training configuration, schedules and run folders: the pure parts of `cnn train`."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.modelfile import runs
from cnncli.core.modelfile.reference import resolve_model_file
from cnncli.core.training.config import TrainConfig, parse_duration, read_config_file
from cnncli.core.training.schedule import SCHEDULES, lr_multiplier


def test_defaults_are_valid_and_round_trip_through_a_dict():
    config = TrainConfig().validate()
    assert TrainConfig().with_overrides(config.to_dict()) == config


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("epochs", 0, "epochs must be at least 1"),
        ("batch_size", 0, "batch size must be at least 1"),
        ("lr", -1.0, "learning rate must be positive"),
        ("optimizer", "adagrad", "optimizer must be one of"),
        ("schedule", "linear", "schedule must be one of"),
        ("device", "tpu", "device must be auto, cpu"),
        ("val_split", 1.0, "validation split"),
        ("name", "../x", "a run name is"),
        ("label_smoothing", 1.0, "label smoothing"),
    ],
)
def test_impossible_values_are_usage_errors(field, value, words):
    with pytest.raises(UsageError, match=words):
        TrainConfig().with_overrides({field: value}).validate()


def test_config_files_take_dashes_or_underscores_and_a_train_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[train]\nbatch-size = 128\nlr = 1\nmodel = "tutorial"\n')
    config = TrainConfig().with_overrides(read_config_file(path))
    assert (config.batch_size, config.lr, config.model) == (128, 1.0, "tutorial")


def test_config_file_faults(tmp_path):
    with pytest.raises(NotFound):
        read_config_file(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("epochs = [")
    with pytest.raises(BadInput, match="not valid TOML"):
        read_config_file(tmp_path / "bad.toml")
    with pytest.raises(BadInput, match="unknown training option"):
        TrainConfig().with_overrides({"epoch": 3})
    with pytest.raises(BadInput, match="must be int"):
        TrainConfig().with_overrides({"epochs": "3"})


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(UsageError):
        parse_duration("soon")


@given(
    schedule=st.sampled_from(SCHEDULES), total=st.integers(1, 5000), warmup=st.floats(0, 0.9), step=st.integers(0, 5000)
)
def test_schedules_stay_between_zero_and_the_peak(schedule, total, warmup, step):
    assert 0.0 <= lr_multiplier(schedule, min(step, total), total, warmup) <= 1.0 + 1e-12


def test_onecycle_rises_to_the_peak_then_falls_to_nearly_zero():
    values = [lr_multiplier("onecycle", s, 100, 0.2) for s in range(101)]
    assert values[0] == pytest.approx(0.1) and values[20] == pytest.approx(1.0)
    assert values[-1] == pytest.approx(0.001)
    assert values.index(max(values)) == 20
    assert lr_multiplier("step", 60, 100, 0) == pytest.approx(0.1)
    assert lr_multiplier("step", 80, 100, 0) == pytest.approx(0.01)
    assert lr_multiplier("cosine", 100, 100, 0) == pytest.approx(0.0)


def test_run_folders_are_numbered_and_never_reused(tmp_path):
    first = runs.create_run_dir(tmp_path, "base-mnist", explicit=False)
    second = runs.create_run_dir(tmp_path, "base-mnist", explicit=False)
    assert (first.name, second.name) == ("base-mnist-1", "base-mnist-2")
    runs.create_run_dir(tmp_path, "mine", explicit=True)
    with pytest.raises(UsageError, match="already exists"):
        runs.create_run_dir(tmp_path, "mine", explicit=True)


def test_default_names():
    assert runs.default_name("base", "mnist") == "base-mnist"
    assert runs.default_name("conv(8, 3) fc(10)", "folder:/data/my digits") == "spec-my-digits"


def test_latest_pointer_resolves_to_the_best_model(tmp_path):
    from cnncli.core.modelfile import pretrained

    # no run yet: the bundled MNIST model (see tests/core/modelfile/test_reference.py for every form)
    assert resolve_model_file(None, tmp_path) == pretrained.BUNDLED[pretrained.DEFAULT].path
    run = runs.create_run_dir(tmp_path, "r", explicit=True)
    (run / runs.LAST).write_bytes(b"x")
    runs.set_latest(run)
    assert resolve_model_file(None, tmp_path) == run / runs.LAST
    (run / runs.BEST).write_bytes(b"x")
    assert resolve_model_file(None, tmp_path) == run / runs.BEST
    assert resolve_model_file(str(run), tmp_path) == run / runs.BEST
    assert resolve_model_file(str(run / "best"), tmp_path) == run / runs.BEST
    with pytest.raises(NotFound):
        resolve_model_file(str(tmp_path / "nothing"), tmp_path)
