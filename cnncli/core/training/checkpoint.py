"""The training state that `--resume` continues from: safetensors for the tensors, TOML for the rest.

state.safetensors holds the model's state (model/<name>), the optimizer's per-parameter state
(optimizer/<index>/<key>) and the random-number generators (rng/cpu, rng/cuda/<device>); its header
metadata embeds state.toml: the counters (epoch, step), the optimizer's hyperparameters, the metrics
history and the best result so far. One file, written atomically, so the state on disk is always one
consistent moment of the run. Nothing is ever unpickled.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from cnncli.core.atomic import atomic_write_text, atomic_write_with
from cnncli.core.errors import BadInput, NotFound

STATE_FORMAT = 1
META_KEY = "cnn.state.toml"


@dataclass
class TrainingState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimizer steps taken in all
    step_in_epoch: int = 0  # steps taken in the current, unfinished epoch (0 at an epoch boundary)
    elapsed: float = 0.0  # seconds of training so far (evaluation excluded)
    images: int = 0  # training images processed so far
    best_accuracy: float = -1.0  # the best selection accuracy (validation, else test); -1: none yet
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


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    if not path.is_file():
        raise NotFound(f"no training state at {path}", "only runs that finished at least one step can be resumed")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
        document = tomllib.loads(metadata[META_KEY])
    except (SafetensorError, OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(
            f"{path} is not a readable training state: {exc}",
            "it may be truncated or edited; the run's models are still usable",
        ) from None
    if document.get("format") != STATE_FORMAT:
        raise BadInput(f"{path} has training-state format {document.get('format')!r}; this cnn reads {STATE_FORMAT}")
    return tensors, document


def load_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> TrainingState:
    """Restore model, optimizer and RNG from `path`; every tensor is checked before any is used."""
    tensors, document = _read(path)
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
    model.load_state_dict(model_state)
    _load_optimizer(path, optimizer, tensors, document)
    torch.set_rng_state(tensors["rng/cpu"])
    cuda_states = [tensors[k] for k in sorted(t for t in tensors if t.startswith("rng/cuda/"))]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    try:
        return TrainingState(**document["state"])
    except TypeError as exc:
        raise BadInput(f"{path}: the [state] table is malformed: {exc}") from None


def _load_optimizer(
    path: Path, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], document: dict[str, Any]
) -> None:
    fresh = optimizer.state_dict()
    groups = document.get("optimizer", {}).get("groups", [])
    if len(groups) != len(fresh["param_groups"]):
        raise BadInput(
            f"{path}: {len(groups)} optimizer parameter groups, the optimizer has {len(fresh['param_groups'])}",
            "was the optimizer changed since the run started?",
        )
    merged = []
    for saved, current in zip(groups, fresh["param_groups"], strict=True):
        group = dict(current)
        # keep the fresh group's keys that TOML could not hold (None); take the saved numbers
        group.update({k: tuple(v) if isinstance(current.get(k), tuple) else v for k, v in saved.items()})
        merged.append(group)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": merged})
    except (ValueError, KeyError, RuntimeError) as exc:
        raise BadInput(f"{path}: the optimizer state does not fit this optimizer: {exc}") from None
