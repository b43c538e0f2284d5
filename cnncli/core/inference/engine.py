"""Which engine runs a model: ONNX Runtime where it can (it starts in a fraction of torch's import), else torch.

    choice = choose_engine("runs/lean-mnist-1", device="auto", engine="auto")
    choice.onnx_model   # an opened OnnxModel, or None: run choice.path with torch
    choice.note         # why an export beside the model was not used (for -v), or None

An .onnx file named directly runs on ONNX Runtime. A .safetensors model (a file, a run folder, the latest
run) runs on its export NAME.onnx beside it when that export is up to date: its recorded sha256 is the
model file's. A stale or unreadable export is ignored, with a note. `engine` forces one: torch never
opens the export; onnx requires one. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.modelfile.onnxfile import SHA256_KEY, OnnxModel, file_sha256, is_onnx, open_onnx
from cnncli.core.modelfile.pretrained import verify, verify_if_bundled
from cnncli.core.modelfile.reference import ModelReference, resolve_reference

ENGINES = ("auto", "torch", "onnx")
ONNX_DEVICES = ("auto", "cpu")  # ONNX Runtime runs here on the CPU provider only


@dataclass(frozen=True)
class EngineChoice:
    reference: ModelReference  # what the user named, resolved (reference.path: the model file)
    onnx_model: OnnxModel | None  # opened, when ONNX Runtime runs it
    note: str | None = None

    @property
    def path(self) -> Path:
        return self.reference.path


def export_beside(model_file: Path) -> Path:
    """Where a model file's export goes by default, and where predict looks for it: NAME.onnx beside it."""
    return model_file.with_suffix(".onnx")


def choose_engine(
    target: str | None, device: str = "auto", engine: str = "auto", runs_dir: str | Path = "runs"
) -> EngineChoice:
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'", "the engines are auto, torch and onnx")
    reference = resolve_reference(target, runs_dir)
    path = reference.path
    verify_if_bundled(path)  # an .onnx inside the package named by its path is checked too
    if is_onnx(path):
        if engine == "torch":
            raise UsageError(f"{path} is an ONNX model: it runs on ONNX Runtime", "drop --engine torch")
        _require_cpu(device, path)
        return EngineChoice(reference, open_onnx(path))
    if engine == "torch" or (engine == "auto" and device not in ONNX_DEVICES):
        return EngineChoice(reference, None)
    if engine == "onnx":
        _require_cpu(device, path)
    beside = export_beside(path)
    if reference.bundled is not None:  # a damaged or edited bundled export is an error, never skipped quietly
        verify(reference.bundled, export=True)
    model, note = _fresh_export(path, beside)
    if model is None and engine == "onnx":
        raise NotFound(f"no up-to-date export of {path}: {note}", f"export it with: cnn export {path}")
    return EngineChoice(reference, model, note)


def _fresh_export(path: Path, beside: Path) -> tuple[OnnxModel | None, str]:
    if not beside.is_file():
        return None, f"{beside} does not exist"
    try:
        model = open_onnx(beside)
    except (BadInput, NotFound) as error:
        return None, f"ignoring {beside}: {error.message}"
    recorded = model.props.get(SHA256_KEY, "")
    if recorded != file_sha256(path):
        return None, f"ignoring {beside}: stale (it records sha256 {recorded[:12]}..., {path.name} is another file)"
    return model, f"running {beside} on ONNX Runtime (up to date with {path.name})"


def _require_cpu(device: str, path: Path) -> None:
    if device not in ONNX_DEVICES:
        raise UsageError(f"{path} runs on ONNX Runtime on the CPU, not --device {device}", "drop --device")
