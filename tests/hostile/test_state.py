"""Hostile training states (what `cnn train --resume` reads) and config files (`--config`, a run's
config.toml): damaged bytes, edited TOML of every type, tensors of the wrong shape or another
architecture. Each loads, or is our own one-line error before anything is changed."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.errors import BadInput
from cnncli.core.nn.build import build_model
from cnncli.core.training.checkpoint import META_KEY, TrainingState, load_state, save_state
from cnncli.core.training.config import TrainConfig, read_config_file
from cnncli.core.training.session import _optimizer
from tests.support.mutations import TOML_VALUES, damaged_bytes, edited_tree, expect_clean_failure

torch.set_num_threads(1)
FUZZ = settings(max_examples=300, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _fresh(model: str = "tiny", optimizer: str = "adamw"):
    torch.manual_seed(0)
    net = build_model(ARCHITECTURES[model].layers, (1, 28, 28), 10)
    return net, _optimizer(TrainConfig(optimizer=optimizer), net)


def _trained_state(path: Path, model: str = "tiny", optimizer: str = "adamw") -> Path:
    net, opt = _fresh(model, optimizer)
    loss = net(torch.randn(4, 1, 28, 28)).logsumexp(1).mean()
    loss.backward()
    opt.step()
    history = [{"epoch": 1, "step": 1, "train_loss": 2.3, "test_accuracy": 0.1}]
    state = TrainingState(epoch=1, step=1, elapsed=0.5, images=4, best_accuracy=0.1, history=history)
    save_state(path, net, opt, state)
    return path


@pytest.fixture(scope="module")
def state_bytes(tmp_path_factory) -> bytes:
    return _trained_state(tmp_path_factory.mktemp("state") / "state.safetensors").read_bytes()


def _load(path: Path) -> None:
    net, opt = _fresh()
    before = [p.detach().clone() for p in net.parameters()]
    with expect_clean_failure() as failed:
        state = load_state(path, net, opt)
    if failed:  # refused: nothing was changed
        assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
        return
    assert len(state.history) == state.epoch
    # what loaded can train: one more step must not raise
    net(torch.randn(2, 1, 28, 28)).sum().backward()
    opt.step()


def test_a_real_state_round_trips(tmp_path):
    path = _trained_state(tmp_path / "state.safetensors")
    net, opt = _fresh()
    assert load_state(path, net, opt).epoch == 1


@FUZZ
@given(data=st.data())
def test_damaged_states_load_or_are_bad_input(tmp_path, state_bytes, data):
    header_end = 8 + int.from_bytes(state_bytes[:8], "little")
    path = tmp_path / "state.safetensors"
    path.write_bytes(data.draw(damaged_bytes(state_bytes, focus=header_end)))
    _load(path)


@FUZZ
@given(data=st.data())
def test_edited_state_toml_loads_or_is_bad_input(tmp_path, state_bytes, data):
    path = tmp_path / "state.safetensors"
    path.write_bytes(state_bytes)
    tensors = load_file(path)
    document = tomllib.loads(_metadata(path)[META_KEY])
    edited = data.draw(edited_tree(document, TOML_VALUES))
    try:
        text = tomli_w.dumps(edited)
    except (TypeError, ValueError):
        text = str(edited)
    save_file(tensors, path, metadata={META_KEY: text})
    _load(path)


def _metadata(path: Path) -> dict[str, str]:
    raw = path.read_bytes()
    return json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])["__metadata__"]


@FUZZ
@given(data=st.data())
def test_edited_state_tensors_load_or_are_bad_input(tmp_path, state_bytes, data):
    """Tensors removed, renamed, reshaped or retyped: the optimizer's moments and the RNG too."""
    path = tmp_path / "state.safetensors"
    path.write_bytes(state_bytes)
    tensors, metadata = load_file(path), _metadata(path)
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(tensors)))
        action = data.draw(st.sampled_from(["remove", "rename", "reshape", "retype", "scalar"]))
        if action == "remove":
            del tensors[name]
        elif action == "rename":
            new_name = data.draw(st.sampled_from(["optimizer/99/exp_avg", "optimizer/x/y", "optimizer/0", name + "x"]))
            tensors[new_name] = tensors.pop(name)
        elif action == "reshape":
            tensors[name] = tensors[name].flatten()[: max(1, tensors[name].numel() - 1)].clone()
        elif action == "retype":
            tensors[name] = tensors[name].to(data.draw(st.sampled_from([torch.float64, torch.int32, torch.uint8])))
        else:
            tensors[name] = torch.tensor(1.0)
    save_file(tensors, path, metadata=metadata)
    _load(path)


@pytest.mark.parametrize(("saved", "loaded"), [("tiny", "lenet5"), ("lenet5", "tiny")])
def test_a_state_of_another_architecture_is_refused(tmp_path, saved, loaded):
    path = _trained_state(tmp_path / "state.safetensors", saved)
    net, opt = _fresh(loaded)
    with pytest.raises(BadInput, match=r"model tensor conv1\.weight is") as caught:
        load_state(path, net, opt)
    assert "another architecture" in caught.value.hint


@pytest.mark.parametrize(("saved", "loaded"), [("sgd", "adamw"), ("adamw", "sgd")])
def test_a_state_of_another_optimizer_is_refused(tmp_path, saved, loaded):
    path = _trained_state(tmp_path / "state.safetensors", optimizer=saved)
    net, opt = _fresh(optimizer=loaded)
    with pytest.raises(BadInput):
        load_state(path, net, opt)


def test_a_pickle_renamed_state_is_refused_without_running_it(tmp_path):
    import pickle

    from tests.hostile.test_modelfile import _Marker

    marker = tmp_path / "pwned"
    path = tmp_path / "state.safetensors"
    path.write_bytes(pickle.dumps(_Marker(str(marker))))
    net, opt = _fresh()
    with pytest.raises(BadInput, match="not a readable training state"):
        load_state(path, net, opt)
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# Config files: read_config_file, then TrainConfig.with_overrides and validate
# ---------------------------------------------------------------------------------------------

VALID_CONFIG = TrainConfig(model="tiny", dataset="mnist-sample", batch_size=200, epochs=2).to_dict()


def _config(path: Path) -> None:
    with expect_clean_failure():
        TrainConfig().with_overrides(read_config_file(path)).validate()


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_edited_config_files_are_a_config_or_an_error(tmp_path, data):
    path = tmp_path / "train.toml"
    table = data.draw(edited_tree(VALID_CONFIG, TOML_VALUES))
    if data.draw(st.booleans()):
        table = {"train": table}
    try:
        path.write_text(tomli_w.dumps(table))
    except (TypeError, ValueError):
        path.write_text(str(table))
    _config(path)


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_damaged_config_bytes_are_a_config_or_an_error(tmp_path, data):
    path = tmp_path / "train.toml"
    path.write_bytes(data.draw(damaged_bytes(tomli_w.dumps(VALID_CONFIG).encode())))
    _config(path)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a = " + "[" * 100_000 + "]" * 100_000, "not valid TOML"),
        ("seed = 18446744073709551615", "seed must be at most"),  # past TOML's 64-bit integers
        ("seed = 9223372036854775807", None),
        ("seed = -1", "seed must be at least 0"),
        ("lr = inf", "lr must be a finite number"),
        ("weight_decay = nan", "weight decay must be a finite number"),
        ("threads = 9223372036854775807", "threads must be from 0 to 1024"),
        ('out = "runs\\u0000x"', "out must not contain a NUL character"),
        ("epochs = 1.5", "must be int"),
        ("epochs = true", "must be int"),
        ('epochs = "8"', "must be int"),
        ("epochs = 1979-05-27T07:32:00Z", "must be int"),
        ("nonsense = 1", "unknown training option"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
    ],
)
def test_config_values_out_of_every_range(tmp_path, text, words):
    path = tmp_path / "train.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    if words is None:
        TrainConfig().with_overrides(read_config_file(path)).validate()
        return
    with pytest.raises(Exception) as caught:
        TrainConfig().with_overrides(read_config_file(path)).validate()
    assert caught.type.__module__ == "cnncli.core.errors" and words in caught.value.message


# ---------------------------------------------------------------------------------------------
# Through the real program: `cnn train --resume RUN` on a damaged state exits 3 and runs nothing
# ---------------------------------------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-1000])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the header JSON
    path.write_bytes(bytes(data))


def _pickle(path: Path) -> None:
    import pickle

    from tests.hostile.test_modelfile import _Marker

    path.write_bytes(pickle.dumps(_Marker(str(path.parent / "pwned"))))


def _another_architecture(path: Path) -> None:
    _trained_state(path, "lenet5")


@pytest.mark.parametrize("damage", [_truncate, _flip, _pickle, _another_architecture], ids=lambda f: f.__name__[1:])
def test_resume_of_a_damaged_state_exits_3(cli, cnn, tmp_path, damage):
    quick = ["--dataset", "mnist-sample", "--model", "tiny", "--batch-size", "200", "--threads", "1"]
    first = cli("train", *quick, "--max-steps", "3", "--out", str(tmp_path / "runs"), "--name", "r")
    assert first.exit_code == 0, first.stderr
    run_dir = tmp_path / "runs" / "r"
    damage(run_dir / "state.safetensors")
    before = (run_dir / "last.safetensors").read_bytes()
    run = cnn("train", "--resume", str(run_dir), timeout=120)
    assert run.exit_code == 3, run.stderr
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr
    assert (run_dir / "last.safetensors").read_bytes() == before  # nothing ran
    assert not (run_dir / "pwned").exists()
