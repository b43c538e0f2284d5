"""A model file as an ONNX graph, checked against torch before it is written.

The graph is the inference network (batch norms folded into the convs, as `open_model` runs it) behind
the model's own Normaliser: it takes the prepared uint8 pixels (N x C x H x W, N free) and returns the
logits (no softmax). So the normalisation travels inside the graph, and the only preparation outside
it is the recipe named in the metadata, the same code (prepare.py) on the torch and the ONNX paths.

Exporter: torch.onnx.export with dynamo=True (torch.export + onnxscript), the one PyTorch maintains;
the TorchScript exporter warns on torch 2.14 that it will be removed. A dynamic batch is declared with
torch.export.Dim, so the batch-2 example input does not fix it. The dynamo path is slower to run
(about 20 s against 2.6 s for the TorchScript one on a tiny model on 2 shared cores), which is why
`cnn train` does not export at its end: see the README.

Parity, before anything is written: the model's dataset's test split when it is present (never
downloaded for this), else GENERATED_INPUTS fixed random images, through torch and ONNX Runtime; the
argmax must agree on every image and the logits within PARITY_TOLERANCE, else BadInput and no file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from cnncli import __version__
from cnncli.core.atomic import atomic_write_bytes
from cnncli.core.data.arrays import load_split_arrays
from cnncli.core.errors import BadInput, CnnError, UsageError
from cnncli.core.inference.engine import export_beside
from cnncli.core.inference.model import InferenceModel, open_model
from cnncli.core.inference.prepare import PrepareOptions, recipe_for
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.modelfile.onnxfile import (
    INPUT,
    METADATA_KEY,
    OUTPUT,
    SHA256_KEY,
    file_sha256,
    is_onnx,
    open_onnx,
    session_options,
)
from cnncli.core.modelfile.reference import resolve_model_file
from cnncli.core.reporting import NULL_REPORTER, Reporter

OPSET = 18  # the dynamo exporter's own default on torch 2.14; ONNX Runtime 1.22+ runs it
PARITY_TOLERANCE = 1e-4  # max |logit difference|; folding and kernel order give about 1e-6
GENERATED_INPUTS = 256  # random images for the parity check when the test split is not present
PARITY_BATCH = 500
FORMAT = "1"  # of the metadata_props below; bumped when a reader of the old keys could misread them


@dataclass(frozen=True)
class Parity:
    inputs: str  # what was compared: "mnist test split" or "generated"
    count: int
    argmax_agree: int
    max_abs_logit_diff: float
    tolerance: float = PARITY_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.argmax_agree == self.count and self.max_abs_logit_diff <= self.tolerance


@dataclass(frozen=True)
class ExportReport:
    source: Path  # the .safetensors it came from
    path: Path  # the .onnx written
    sha256: str  # of the source file
    size: int  # bytes written
    parity: Parity
    exporter: str
    seconds: float


def export_model(
    target: str | None,
    output: str | os.PathLike[str] | None = None,
    data_dir: str | None = None,
    runs_dir: str | Path = "runs",
    progress: Reporter = NULL_REPORTER,
) -> ExportReport:
    started = time.perf_counter()
    source = resolve_model_file(target, runs_dir)
    if is_onnx(source):
        raise UsageError(f"{source} is already an ONNX model", "export the .safetensors model it came from")
    path = Path(output) if output is not None else export_beside(source)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"the output {path} should end in .onnx")
    sha256 = file_sha256(source)
    model = open_model(str(source), "cpu")
    graph = _Graph(model)
    task = progress.start("exporting to ONNX")
    proto = _export(graph, model.metadata)
    progress.finish(task, f"opset {OPSET}")
    session = ort.InferenceSession(proto.SerializeToString(), session_options(), providers=["CPUExecutionProvider"])
    parity = _parity(graph, session, model, data_dir, progress)
    if not parity.passed:
        raise BadInput(
            f"the ONNX graph answers differently from the model: argmax agrees on {parity.argmax_agree:,} of "
            f"{parity.count:,} images, max |logit difference| {parity.max_abs_logit_diff:.2e} "
            f"(tolerance {parity.tolerance:.0e})",
            "nothing was written; please report this with the model file",
        )
    exporter = f"torch.onnx.export dynamo=True (torch {torch.__version__}, onnx {onnx.__version__}), opset {OPSET}"
    onnx.helper.set_model_props(proto, metadata_props(model.metadata, sha256, parity, exporter))
    data = proto.SerializeToString()
    atomic_write_bytes(path, data)
    open_onnx(path)  # what we wrote reads back through the same checks as any other file
    return ExportReport(source, path, sha256, len(data), parity, exporter, time.perf_counter() - started)


class _Graph(nn.Module):
    """uint8 pixels -> the model's Normaliser -> the inference network -> logits."""

    def __init__(self, model: InferenceModel) -> None:
        super().__init__()
        self.network = model.network.to(memory_format=torch.contiguous_format)
        self.normalise = model.normaliser()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(self.normalise(images))


def _export(graph: _Graph, metadata: ModelMetadata) -> onnx.ModelProto:
    example = torch.zeros((2, *metadata.input_shape), dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1)
    quiet = io.StringIO()
    try:
        # the exporter prints its stages on stdout, which is the JSON's; and warns about things of its own
        with contextlib.redirect_stdout(quiet), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                (example,),
                input_names=[INPUT],
                output_names=[OUTPUT],
                dynamic_shapes=({0: batch},),
                opset_version=OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
    except CnnError:
        raise
    except Exception as error:
        raise BadInput(f"torch could not export this model to ONNX: {type(error).__name__}: {error}") from error
    return program.model_proto


def _parity(graph: _Graph, session: ort.InferenceSession, model: InferenceModel, data_dir, progress) -> Parity:
    meta = model.metadata
    images, described = _parity_inputs(meta, data_dir)
    task = progress.start(f"parity check on {described}", total=len(images), unit="img")
    agree, worst = 0, 0.0
    for start in range(0, len(images), PARITY_BATCH):
        chunk = images[start : start + PARITY_BATCH]
        with torch.inference_mode():
            expected = graph(torch.from_numpy(chunk)).float().numpy()
        got = session.run([OUTPUT], {INPUT: chunk})[0]
        agree += int((expected.argmax(axis=1) == got.argmax(axis=1)).sum())
        worst = max(worst, float(np.abs(expected - got).max()))
        progress.update(task, advance=len(chunk))
    parity = Parity(described, len(images), agree, worst)
    progress.finish(task, f"argmax {agree:,}/{len(images):,}, max |logit diff| {worst:.1e}", ok=parity.passed)
    return parity


def _parity_inputs(meta: ModelMetadata, data_dir) -> tuple[np.ndarray, str]:
    """The model's dataset's test split if it is here and fits the model; else fixed random images."""
    try:
        info, images, _ = load_split_arrays(meta.dataset.name, "test", data_dir, download=False, offline=True)
        if (info.channels, info.height, info.width) == tuple(meta.input_shape) and len(images):
            return np.ascontiguousarray(images), f"{info.name} test split"
    except CnnError:
        pass  # not present (or a folder): generated inputs below
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (GENERATED_INPUTS, *meta.input_shape), dtype=np.uint8), "generated images"


def metadata_props(meta: ModelMetadata, sha256: str, parity: Parity, exporter: str) -> dict[str, str]:
    """The keys a user of the file reads (README: "Export to ONNX"), all strings; JSON where structured."""
    pre = meta.preprocessing
    recipe = recipe_for(pre)
    return {
        "cnn.format": FORMAT,
        "classes": json.dumps(list(meta.classes)),
        "input": json.dumps(
            {"name": INPUT, "dtype": "uint8", "layout": "NCHW", "channels": pre.channels, "size": list(pre.size)}
        ),
        "output": json.dumps({"name": OUTPUT, "softmax_applied": False}),
        "normalisation": json.dumps(
            {"mean": list(pre.mean), "std": list(pre.std), "in_graph": True, "formula": "(x / 255 - mean) / std"}
        ),
        "prepare": json.dumps({"recipe": recipe.kind, "parameters": asdict(PrepareOptions())}),
        "architecture": json.dumps({"name": meta.architecture.name, "spec": meta.architecture.spec}),
        "dataset": json.dumps({"name": meta.dataset.name, "checksum": meta.dataset.checksum}),
        SHA256_KEY: sha256,
        "cnn_version": __version__,
        "exporter": exporter,
        "parity": json.dumps({**asdict(parity), "passed": parity.passed}),
        METADATA_KEY: meta.to_toml(),
    }
