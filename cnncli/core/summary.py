"""What `cnn summary` asks the core: a network's layers with their costs, and the totals.

Pure Python, from the spec analysis (cnncli/core/shapes.py) and the predicted module layout
(cnncli/core/layout.py); a model file contributes only its header, so summarising one reads no weights
and imports no torch. The tests check every figure against torchinfo and torch's FlopCounterMode.

Conventions, stated once: MACs are multiply-accumulates of convs and fully connected layers per image
(bias additions, pooling, normalisation and activations are not counted, as FlopCounterMode does not);
FLOPs = 2 x MACs. Activation memory is every layer's output for a batch, in fp32: what a training
forward pass may keep for backward (an upper bound). Trainable parameters are what the optimiser
updates; frozen state is what the model saves but does not train: batch-norm running_mean,
running_var and num_batches_tracked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from cnncli.core import architectures
from cnncli.core.errors import UsageError
from cnncli.core.layout import expected_tensors, module_type
from cnncli.core.modelheader import SUFFIX, ModelHeader, match_tensors, read_model_header, sidecar_path
from cnncli.core.shapes import ChainReport, LayerReport, Shape, analyse
from cnncli.core.shapes_query import resolve_model

ACTIVATION_DTYPE = "float32"
ACTIVATION_BYTES = 4  # per element, for the fp32 assumption above


@dataclass(frozen=True)
class SummaryRow:
    name: str  # conv1, block1.conv1, ...
    module_type: str  # the torch.nn class: Conv2d, BatchNorm1d, Sequential, ...
    kind: str  # the spec layer: conv, bn, block, ...
    spec: str  # the layer in spec syntax
    depth: int
    is_block: bool
    implicit: bool  # the flatten a spec implies before its first fc
    collapsed: bool  # a block whose layers --depth hides; its figures are their sums
    output_shape: Shape
    params: int  # trainable
    params_share: float  # percent of the network's trainable parameters
    macs: int  # per image
    activation_bytes: int  # its output for the whole batch (a block: its layers' outputs)
    receptive_field: tuple[int, int] | None


@dataclass(frozen=True)
class SummaryTotals:
    trainable_params: int
    frozen_params: int  # batch-norm running statistics: saved, never trained
    param_bytes: int  # every saved tensor, parameters and frozen state
    macs: int  # per image
    flops: int  # per image, 2 x macs
    input_bytes: int  # one batch of input
    activation_bytes: int  # every layer's output for one batch


@dataclass(frozen=True)
class ModelSummary:
    report: ChainReport
    rows: tuple[SummaryRow, ...]
    totals: SummaryTotals
    batch_size: int
    depth: int | None  # rows deeper than this are folded into their block; None shows all


def _block_activations(report: ChainReport, block: LayerReport) -> int:
    prefix = block.name + "."
    return sum(math.prod(r.output_shape) for r in report.leaves if r.name.startswith(prefix))


def summarise(report: ChainReport, batch_size: int = 1, depth: int | None = None) -> ModelSummary:
    """Rows and totals for an analysed network; `depth` N shows layers nested less than N deep."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    if depth is not None and depth < 1:
        raise UsageError(f"--depth must be at least 1, not {depth}")
    tensors = expected_tensors(report).values()
    trainable = sum(t.numel for t in tensors if t.trainable)
    rows = []
    for r in report.layers:
        if depth is not None and r.depth >= depth:
            continue
        elements = _block_activations(report, r) if r.is_block else math.prod(r.output_shape)
        rows.append(
            SummaryRow(
                name=r.name,
                module_type=module_type(r),
                kind=r.kind,
                spec=r.text,
                depth=r.depth,
                is_block=r.is_block,
                implicit=r.implicit,
                collapsed=r.is_block and depth is not None and r.depth == depth - 1,
                output_shape=r.output_shape,
                params=r.params,
                params_share=100.0 * r.params / trainable if trainable else 0.0,
                macs=r.macs,
                activation_bytes=elements * batch_size * ACTIVATION_BYTES,
                receptive_field=r.receptive_field,
            )
        )
    totals = SummaryTotals(
        trainable_params=trainable,
        frozen_params=sum(t.numel for t in tensors if not t.trainable),
        param_bytes=sum(t.nbytes for t in tensors),
        macs=report.total_macs,
        flops=2 * report.total_macs,
        input_bytes=math.prod(report.input_shape) * batch_size * ACTIVATION_BYTES,
        activation_bytes=sum(math.prod(r.output_shape) for r in report.leaves) * batch_size * ACTIVATION_BYTES,
    )
    return ModelSummary(report, tuple(rows), totals, batch_size, depth)


# ---------------------------------------------------------------------------------------------
# The request: a built-in name, a spec string or a model file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryRequest:
    model: str  # a built-in name, a spec string, or a path to a .safetensors model file
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
    """A path rather than an architecture: it ends in .safetensors or names something on disk."""
    if not text.strip():
        return False  # an empty spec, not the current folder
    if text.strip().endswith(SUFFIX):
        return True
    try:
        return Path(text).exists()
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
    return text.strip() in architectures.ARCHITECTURES


def _summarise_file(request: SummaryRequest) -> SummaryResult:
    if request.input_shape is not None or request.num_classes is not None:
        raise UsageError(
            "a model file has its own input shape and classes", "drop --input and --classes for a model file"
        )
    header = read_model_header(request.model)
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
