"""A network's layers with their costs (parameters, multiply-adds, activation memory), and the totals.

Pure Python, from the spec analysis (cnncli/core/arch/shapes.py) and the predicted module layout
(cnncli/core/arch/modules.py); a model file contributes only its header, so summarising one reads no weights
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

from cnncli.core.arch.modules import expected_tensors, module_type
from cnncli.core.arch.shapes import ChainReport, LayerReport, Shape
from cnncli.core.errors import UsageError

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
