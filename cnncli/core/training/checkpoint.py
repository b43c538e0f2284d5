"""The training state that `--resume` continues from: safetensors for the tensors, TOML for the rest.

state.safetensors holds the model's state (model/<name>), the optimizer's per-parameter state
(optimizer/<index>/<key>) and the random-number generators (rng/cpu, rng/cuda/<device>); its header
metadata embeds state.toml: the counters (epoch, step), the optimizer's hyperparameters, the metrics
history and the best result so far. One file, written atomically, so the state on disk is always one
consistent moment of the run. Nothing is ever unpickled.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cnncli.core.atomic import atomic_write_text, atomic_write_with
from cnncli.core.errors import BadInput, NotFound
from cnncli.core.safe_parse import is_number, loads_toml

STATE_FORMAT = 1
META_KEY = "cnn.state.toml"


@dataclass
class TrainingState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken in all
    step_in_epoch: int = 0  # steps taken in the current, unfinished epoch (0 at an epoch boundary)
    elapsed: float = 0.0  # seconds of training so far (evaluation excluded)
    images: int = 0  # training images processed so far
    best_accuracy: float = -1.0  # the best validation accuracy; -1: none yet (or no hold-out, so never)
    best_epoch: int = 0
    stale_epochs: int = 0  # epochs since the best one, for --patience
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics.jsonl, one dict per epoch


def _drop_none(value: Any) -> Any:
    """TOML has no null: leave such keys out (they read back as absent)."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_drop_none(v) for v in value]
    return value


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    saved = optimizer.state_dict()
    tensors = {}
    for index, per_param in saved["state"].items():
        for key, value in per_param.items():
            tensors[f"optimizer/{index}/{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    groups = [{k: v for k, v in group.items() if k != "params"} for group in saved["param_groups"]]
    return tensors, groups


def save_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
    """Write the whole training state atomically (state.safetensors, and state.toml beside it)."""
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optimizer_tensors, groups = _optimizer_tensors(optimizer)
    tensors.update(optimizer_tensors)
    tensors["rng/cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for index, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = rng
    document = {"format": STATE_FORMAT, "state": _drop_none(asdict(state)), "optimizer": {"groups": _drop_none(groups)}}
    text = tomli_w.dumps(document)
    atomic_write_with(path, lambda temp: save_file(tensors, str(temp), metadata={META_KEY: text}))
    atomic_write_text(path.with_suffix(".toml"), text)


def _damaged(path: Path, problem: str, hint: str = "it may be truncated or edited; the run's models are still usable"):
    return BadInput(f"{path} is not a readable training state: {problem}", hint)


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    if not path.is_file():
        raise NotFound(f"no training state at {path}", "only runs that finished at least one step can be resumed")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        document = loads_toml(metadata[META_KEY])
    except (SafetensorError, OSError, KeyError, ValueError) as exc:  # ValueError: not TOML (TOMLDecodeError)
        raise _damaged(path, str(exc) or type(exc).__name__) from None
    if document.get("format") != STATE_FORMAT:
        raise BadInput(f"{path} has training-state format {document.get('format')!r}; this cnn reads {STATE_FORMAT}")
    return tensors, document


def load_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore model, optimizer and RNG from `path`; every tensor and value is checked before any is used."""
    tensors, document = _read(path)
    state = _training_state(path, document.get("state"))
    model_state = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    expected = model.state_dict()
    for name, value in expected.items():
        found = model_state.get(name)
        if found is None or found.shape != value.shape or found.dtype != value.dtype:
            what = "missing" if found is None else f"{tuple(found.shape)} {found.dtype}"
            raise BadInput(
                f"{path}: model tensor {name} is {what}, the model needs {tuple(value.shape)} {value.dtype}",
                "the state belongs to another architecture",
            )
    if set(model_state) - set(expected):
        raise BadInput(f"{path}: unexpected model tensors {sorted(set(model_state) - set(expected))[:3]}")
    rng = tensors.get("rng/cpu")
    reference = torch.get_rng_state()
    if rng is None or rng.dtype != reference.dtype or rng.shape != reference.shape:
        raise _damaged(path, "its CPU random-number state (rng/cpu) is missing or malformed")
    optimizer_state = _optimizer_state(path, optimizer, tensors, document)
    cuda_states = _cuda_rng_states(path, tensors)
    # everything checked: now change the model, the optimizer and the generators
    model.load_state_dict(model_state)
    try:
        optimizer.load_state_dict(optimizer_state)
    except (ValueError, KeyError, RuntimeError) as exc:
        raise BadInput(f"{path}: the optimizer state does not fit this optimizer: {exc}") from None
    torch.set_rng_state(rng)
    if cuda_states:
        torch.cuda.set_rng_state_all(cuda_states)
    return state


def _cuda_rng_states(path: Path, tensors: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """The saved CUDA generators, when this machine has as many GPUs as the saving one had; else none."""
    states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng/cuda/"))]
    if not states or not torch.cuda.is_available() or len(states) != torch.cuda.device_count():
        return []
    current = torch.cuda.get_rng_state_all()
    if any(s.dtype != c.dtype or s.shape != c.shape for s, c in zip(states, current, strict=True)):
        raise _damaged(path, "its CUDA random-number states (rng/cuda/N) are malformed")
    return states


# ---------------------------------------------------------------------------------------------
# Checking what the file holds: a damaged or hand-edited state is a BadInput, never a crash later
# ---------------------------------------------------------------------------------------------

MAX_SETTING = 1000.0  # see train_config.MAX_RATE
_COUNTERS = ("epoch", "step", "step_in_epoch", "images", "best_epoch", "stale_epochs")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_setting(value: Any) -> bool:
    """An optimizer setting torch can use in float32 arithmetic: finite, at most 1000 either way (torch's
    own checks bound betas, momentum and the rest more tightly; lr is set afresh at every step)."""
    return is_number(value) and abs(value) <= MAX_SETTING


def _training_state(path: Path, table: Any) -> TrainingState:
    """The [state] table as a TrainingState: every key known, every counter a whole number of at least 0."""
    if not isinstance(table, dict):
        raise _damaged(path, "it has no [state] table")
    known = {f.name for f in fields(TrainingState)}
    if set(table) - known:
        raise _damaged(path, f"unknown [state] keys {sorted(set(table) - known)[:3]}")
    for key in _COUNTERS:
        if key in table and not (_is_int(table[key]) and table[key] >= 0):
            raise _damaged(path, f"[state] {key} must be a whole number of at least 0, not {table[key]!r}")
    for key in ("elapsed", "best_accuracy"):
        if key in table and not is_number(table[key]):
            raise _damaged(path, f"[state] {key} must be a finite number, not {table[key]!r}")
    state = TrainingState(**table)
    history = state.history
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise _damaged(path, "[state] history must be a list of tables, one per epoch")
    # the length first: an epoch count of 10^11 must not become a list of 10^11 numbers
    if len(history) != state.epoch or [row.get("epoch") for row in history] != list(range(1, len(history) + 1)):
        raise _damaged(path, f"[state] history must hold epochs 1 to {state.epoch}, one table each")
    for row in history:
        bad = [key for key, value in row.items() if not is_number(value)]
        if bad:
            raise _damaged(
                path, f"[state] history: epoch {row['epoch']} has {bad[0]!r} = {row[bad[0]]!r}, not a number"
            )
    if state.best_epoch > state.epoch:
        raise _damaged(path, f"[state] best_epoch {state.best_epoch} is after the last epoch {state.epoch}")
    return state


# the per-parameter state each optimizer keeps once it has taken a step
_OPTIMIZER_KEYS = {
    torch.optim.SGD: frozenset({"momentum_buffer"}),
    torch.optim.Adam: frozenset({"step", "exp_avg", "exp_avg_sq"}),
    torch.optim.AdamW: frozenset({"step", "exp_avg", "exp_avg_sq"}),
}


def _optimizer_state(
    path: Path, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], document: dict[str, Any]
) -> dict[str, Any]:
    """The optimizer's state_dict from the file, each group value and tensor checked against the optimizer."""
    fresh = optimizer.state_dict()
    section = document.get("optimizer")
    groups = section.get("groups") if isinstance(section, dict) else None
    if not isinstance(groups, list) or not all(isinstance(group, dict) for group in groups):
        raise _damaged(path, "its [optimizer] groups are missing or malformed")
    if len(groups) != len(fresh["param_groups"]):
        raise BadInput(
            f"{path}: {len(groups)} optimizer parameter groups, the optimizer has {len(fresh['param_groups'])}",
            "was the optimizer changed since the run started?",
        )
    merged = [_merged_group(path, saved, current) for saved, current in zip(groups, fresh["param_groups"], strict=True)]
    _check_hyperparameters(path, type(optimizer), merged)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if not name.startswith("optimizer/"):
            continue
        index_text, _, key = name.removeprefix("optimizer/").partition("/")
        if not index_text.isdigit() or int(index_text) >= len(parameters) or not key:
            raise _damaged(path, f"tensor {name!r} names no parameter of the optimizer")
        state.setdefault(int(index_text), {})[key] = value
    keys = _OPTIMIZER_KEYS.get(type(optimizer))
    for index, per_param in state.items():
        parameter = parameters[index]
        if keys is not None and set(per_param) != keys:
            held = f"holds {sorted(per_param)}, not {sorted(keys)}"
            raise _damaged(path, f"the optimizer state of parameter {index} {held}")
        for key, value in per_param.items():
            shape = () if key == "step" else tuple(parameter.shape)
            if tuple(value.shape) != shape or not value.is_floating_point():
                raise _damaged(
                    path, f"optimizer/{index}/{key} is {tuple(value.shape)} {value.dtype}; the parameter needs {shape}"
                )
            if key == "step" and not (math.isfinite(value.item()) and value.item() >= 0):
                raise _damaged(path, f"optimizer/{index}/step is {value.item()}, not a count of steps")
    if state and len(state) != len(parameters):
        raise _damaged(path, f"the optimizer state covers {len(state)} of {len(parameters)} parameters")
    return {"state": state, "param_groups": merged}


def _check_hyperparameters(path: Path, kind: type[torch.optim.Optimizer], groups: list[dict[str, Any]]) -> None:
    """The optimizer's own checks of its settings (betas in [0, 1), lr and eps at least 0, ...), on a dummy."""
    accepted = set(inspect.signature(kind.__init__).parameters) - {"self", "params"}
    for group in groups:
        try:
            kind([torch.zeros(1, requires_grad=True)], **{k: v for k, v in group.items() if k in accepted})
        except (ValueError, TypeError, RuntimeError) as exc:
            raise _damaged(path, f"its optimizer settings are impossible: {exc}") from None


def _merged_group(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The fresh group with the saved numbers; keys the fresh group lacks, or values of another type, are faults.

    The fresh group's keys that TOML could not hold (None) stay as they are.
    """
    group = dict(current)
    for key, value in saved.items():
        if key == "params" or key not in current:
            raise _damaged(path, f"the optimizer group key {key!r} is not one this optimizer has")
        now = current[key]
        if isinstance(now, tuple):
            ok = isinstance(value, list) and len(value) == len(now) and all(_is_setting(v) for v in value)
            value = tuple(value) if ok else value
        elif isinstance(now, bool):  # amsgrad, nesterov, capturable...: how the optimizer works, fixed by the config
            ok = value is now
        elif isinstance(now, (int, float)):
            ok = _is_setting(value)
        else:
            ok = isinstance(value, type(now))
        if not ok:
            raise _damaged(path, f"the optimizer group value {key} = {value!r} does not fit ({now!r} expected)")
        group[key] = value
    return group
