"""One way to name a model, resolved by one function for every command.

    reference = resolve_reference("runs/lean-mnist-1")      # ModelReference(path, kind, description)

What a model reference may be (the README's table lists which commands take each):

    a model file           runs/lean-mnist-1/best.safetensors (".safetensors" may be left off)
    a run folder           runs/lean-mnist-1: its best model, else its last
    a folder of runs       runs (what --out names): the run its `latest` pointer names
    the pointer itself     runs/latest
    a bundled model        pretrained:mnist, pretrained:fashion-mnist (see pretrained.py)
    nothing                the newest run (runs/latest) if there is one, else pretrained:mnist

A bundled model is checked against its pinned sha256 whichever way it is named (also as a plain path to
the file inside the package). When nothing matches, the NotFound error lists what was looked for.
Pure Python: commands resolve a reference before they import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cnncli.core.errors import NotFound, UsageError
from cnncli.core.modelfile import pretrained
from cnncli.core.modelfile.header import SUFFIX as MODEL_SUFFIX
from cnncli.core.modelfile.runs import BEST, LAST, LATEST, latest_run


class ReferenceKind(StrEnum):
    FILE = "file"
    RUN = "run"
    RUNS_FOLDER = "runs-folder"
    LATEST = "latest"
    BUNDLED = "bundled"


@dataclass(frozen=True)
class ModelReference:
    path: Path  # the .safetensors file
    kind: ReferenceKind
    description: str  # for people: "the latest run (runs/lean-mnist-3/best.safetensors)"
    run_dir: Path | None = None  # the run folder the model belongs to, where there is one
    bundled: pretrained.BundledModel | None = None

    @property
    def is_bundled(self) -> bool:
        return self.bundled is not None


_FORMS_HINT = (
    "name a .safetensors file, a run folder (runs/NAME), a folder of runs (runs), runs/latest, "
    "or a bundled model ({bundled}); the README's table lists every form"
)


def _forms_hint() -> str:
    return _FORMS_HINT.format(bundled=", ".join(m.reference for m in pretrained.BUNDLED.values()))


def resolve_reference(text: str | None, runs_dir: str | Path = "runs") -> ModelReference:
    """The model file a reference names (see the module's docstring for the forms)."""
    if text is None:
        return _default(Path(runs_dir))
    if not text.strip():  # Path("") is the current folder, which is not what an empty name asks for
        raise UsageError("the model name is empty", _forms_hint())
    if text.startswith(pretrained.PREFIX):
        return _bundled(text.removeprefix(pretrained.PREFIX))
    path = Path(text)
    if path.is_dir():
        return _folder(path)
    if path.is_file():
        return _file(path)
    with_suffix = Path(text + MODEL_SUFFIX)
    if not path.suffix and with_suffix.is_file():
        return _file(with_suffix)
    if path.suffix == MODEL_SUFFIX:  # only a file can be meant
        raise NotFound(f"no model file {path} (a name ending in {MODEL_SUFFIX} means a file)", _forms_hint())
    looked = [
        f"a model file {path}" + ("" if path.suffix else f" or {with_suffix}"),
        f"a run folder or a folder of runs at {path}",
    ]
    if not path.suffix:
        looked.append(f"a bundled model (these are named {pretrained.PREFIX}NAME)")
    raise NotFound(f"no model file or run folder at {text!r}: looked for {', '.join(looked)}", _forms_hint())


def resolve_run_folder(text: str, runs_dir: str | Path = "runs") -> Path:
    """The run folder a reference names, for `cnn train --resume`: a run folder, a folder of runs or its pointer.

    A run that stopped before its first model was saved still resumes, so no model is required here.
    """
    if not text.strip():
        raise UsageError("the run name is empty", "give a run folder, e.g. runs/lean-mnist-1, or the runs folder")
    hint = "give a run folder (runs/NAME), the folder of runs (runs) or runs/latest"
    path = Path(text)
    if text.startswith(pretrained.PREFIX) or (path.is_file() and path.suffix in (MODEL_SUFFIX, ".onnx")):
        raise UsageError(
            f"--resume continues a run folder; {text} is a model",
            f"to start a new run from its weights use: cnn train --init {text}",
        )
    if path.is_file() and path.name != LATEST:
        raise NotFound(f"{path} is not a run folder: it is a file", hint)
    if path.is_file():
        return latest_run(path.parent)
    if not path.is_dir():
        raise NotFound(f"{path} is not a run folder: nothing is there", hint)
    if (path / LATEST).is_file() and not _is_run(path):
        return latest_run(path)
    if not _is_run(path):
        raise NotFound(f"{path} is not a run folder (no config.toml) nor a folder of runs (no {LATEST})", hint)
    return path


def _is_run(folder: Path) -> bool:
    from cnncli.core.modelfile.runs import CONFIG

    return (folder / CONFIG).is_file() or (folder / BEST).is_file() or (folder / LAST).is_file()


def _default(runs_dir: Path) -> ModelReference:
    if (runs_dir / LATEST).exists():
        run = latest_run(runs_dir)
        path = _model_in(run)
        return ModelReference(path, ReferenceKind.LATEST, f"the latest run ({path})", run)
    return _bundled(pretrained.DEFAULT)


def _bundled(name: str) -> ModelReference:
    model = pretrained.BUNDLED.get(name)
    if model is None:
        known = ", ".join(m.reference for m in pretrained.BUNDLED.values())
        raise NotFound(f"no bundled model {pretrained.PREFIX}{name}: the bundled models are {known}", _forms_hint())
    path = pretrained.verify(model)
    return ModelReference(path, ReferenceKind.BUNDLED, f"the bundled model {model.reference}", bundled=model)


def _file(path: Path) -> ModelReference:
    if path.name == LATEST and path.suffix != MODEL_SUFFIX:
        run = latest_run(path.parent)
        model = _model_in(run)
        return ModelReference(model, ReferenceKind.LATEST, f"the latest run ({model})", run)
    bundled = pretrained.bundled_for_path(path)
    if bundled is not None:
        pretrained.verify(bundled)
        return ModelReference(path, ReferenceKind.BUNDLED, f"the bundled model {bundled.reference}", bundled=bundled)
    run = path.parent if path.name in (BEST, LAST) else None
    return ModelReference(path, ReferenceKind.FILE, f"the model file {path}", run)


def _folder(path: Path) -> ModelReference:
    if _is_run(path):
        model = _model_in(path)
        return ModelReference(model, ReferenceKind.RUN, f"the run {path} ({model.name})", path)
    if (path / LATEST).is_file():
        run = latest_run(path)
        model = _model_in(run)
        return ModelReference(model, ReferenceKind.RUNS_FOLDER, f"the latest run ({model})", run)
    raise NotFound(
        f"the folder {path} holds no model: looked for {path / BEST}, {path / LAST} (a run folder) "
        f"and {path / LATEST} (a folder of runs)",
        _forms_hint(),
    )


def _model_in(run_dir: Path) -> Path:
    for name in (BEST, LAST):
        if (run_dir / name).is_file():
            return run_dir / name
    raise NotFound(
        f"{run_dir} holds no model ({BEST} or {LAST})",
        "the run may have stopped before its first epoch ended; resume it with cnn train --resume",
    )


def resolve_model_file(target: str | None, out: str | Path = "runs") -> Path:
    """Only the model file a model reference names (resolve_reference gives how it was named too)."""
    return resolve_reference(target, out).path
