"""What `cnn summary` asks the core: a built-in architecture, a spec or a model file, with its costs.

A model file contributes only its header, so summarising one reads no weights and imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cnncli.core.arch.builtins import ARCHITECTURES, resolve_model
from cnncli.core.arch.cost import ModelSummary, summarise
from cnncli.core.arch.modules import expected_tensors
from cnncli.core.arch.shapes import Shape, analyse
from cnncli.core.errors import UsageError
from cnncli.core.modelfile.header import SUFFIX, ModelHeader, match_tensors, read_model_header, sidecar_path
from cnncli.core.modelfile.pretrained import PREFIX
from cnncli.core.modelfile.reference import resolve_reference

# ---------------------------------------------------------------------------------------------
# The request: a built-in name, a spec string or a model file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRequest:
    model: str  # a built-in name, a spec string, or a model reference (see modelfile/reference.py)
    input_shape: Shape | None = None  # None: the architecture's own (a file: its metadata's)
    num_classes: int | None = None  # None: 10 (a file: its metadata's)
    batch_size: int = 1
    depth: int | None = None


@dataclass(frozen=True)
class SummaryResult:
    source: str  # "builtin", "spec" or "file"
    name: str | None  # the built-in architecture's name, if any
    description: str
    summary: ModelSummary
    header: ModelHeader | None = None  # a model file's metadata and tensor index
    notes: tuple[str, ...] = ()


def is_model_file(text: str) -> bool:
    """A model reference rather than an architecture: pretrained:NAME, a .safetensors name, or something on disk
    (a file, a run folder, a folder of runs, runs/latest)."""
    if not text.strip():
        return False  # an empty spec, not the current folder
    if text.startswith(PREFIX) or text.strip().endswith(SUFFIX) or "/" in text:  # a spec never holds a '/'
        return True
    try:
        return Path(text).exists() or Path(text + SUFFIX).is_file()
    except (OSError, ValueError):  # a long spec is too long a file name; a NUL byte cannot be one
        return False


def summarise_model(request: SummaryRequest) -> SummaryResult:
    if is_model_file(request.model) and not _is_builtin(request.model):
        return _summarise_file(request)
    model = resolve_model(request.model)
    report = analyse(model.layers, request.input_shape or model.input_shape, request.num_classes or 10, model.spec)
    source = "builtin" if model.name else "spec"
    return SummaryResult(source, model.name, model.description, summarise(report, request.batch_size, request.depth))


def _is_builtin(text: str) -> bool:
    return text.strip() in ARCHITECTURES


def _summarise_file(request: SummaryRequest) -> SummaryResult:
    if request.input_shape is not None or request.num_classes is not None:
        raise UsageError(
            "a model file has its own input shape and classes", "drop --input and --classes for a model file"
        )
    if Path(request.model).suffix.lower() == ".onnx":
        header, notes = _onnx_header(Path(request.model))
        report = header.metadata.analyse()
        summary = summarise(report, request.batch_size, request.depth)
        return SummaryResult("file", header.metadata.architecture.name, "", summary, header, tuple(notes))
    header = read_model_header(resolve_reference(request.model).path)
    metadata = header.metadata
    report = metadata.analyse()
    # the header alone says whether the weights fit the architecture: no need to read them
    match_tensors(header.path, {n: (e.shape, e.dtype) for n, e in header.tensors.items()}, expected_tensors(report))
    notes = []
    sidecar = sidecar_path(header.path)
    try:
        if sidecar.is_file() and sidecar.read_text(encoding="utf-8") != header.toml:
            notes.append(f"{sidecar.name} differs from the metadata inside the model file, which is the one cnn uses")
    except (OSError, UnicodeDecodeError):
        pass  # the sidecar is for people; an unreadable one changes nothing
    name = metadata.architecture.name
    return SummaryResult("file", name, "", summarise(report, request.batch_size, request.depth), header, tuple(notes))


def _onnx_header(path: Path) -> tuple[ModelHeader, list[str]]:
    """An exported model's metadata, read and checked by ONNX Runtime (about 0.4 s to import; no torch)."""
    from cnncli.core.modelfile.onnxfile import METADATA_KEY, SHA256_KEY, open_onnx

    model = open_onnx(path, threads=1)
    header = ModelHeader(path, model.metadata, {}, model.props[METADATA_KEY], 0, path.stat().st_size)
    notes = [f"an ONNX export of a model file with sha256 {model.props.get(SHA256_KEY, 'unknown')}"]
    if "parity" in model.props:
        notes.append(f"parity at export: {model.props['parity']}")
    return header, notes
