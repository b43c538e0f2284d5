"""An exported model (`cnn export`) opened with ONNX Runtime alone: checked, then run. No torch here.

    model = open_onnx(path)          # OnnxModel: path, metadata, classes, device, props
    logits = model.logits(images)    # uint8 N x C x H x W -> float32 N x classes

The graph takes the prepared uint8 pixels and normalises them itself (the torch Normaliser, traced
into the graph at export), so no one can feed it pixels normalised another way. A file someone hands
us may be anything; each fault is a one-line BadInput, found before anything is sized by a claim:

    too big, truncated or garbage protobuf      ONNX Runtime's parser refuses it; we say so in one line
    tensors whose data lives in other files     ONNX Runtime (>= 1.22) refuses absolute paths and any
                                                that resolve outside the model's folder, before reading
    an input claiming 10^9 pixels               checked against MAX_INPUT_VALUES and the metadata's
                                                shape before any batch is made
    metadata that does not parse                ModelMetadata.from_toml: bounded TOML, every key checked
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from cnncli.core.errors import BadInput, NotFound
from cnncli.core.modelfile.metadata import ModelMetadata

ONNX_SUFFIX = ".onnx"
INPUT = "images"  # uint8 N x C x H x W, N free
OUTPUT = "logits"  # float32 N x classes; no softmax applied
METADATA_KEY = "cnn.metadata"  # the model's whole TOML document, as in its .safetensors
SHA256_KEY = "source_sha256"  # of the .safetensors file it was exported from
MAX_FILE_BYTES = 1 << 30  # protobuf itself stops at 2 GiB; cnn's models are a few MB
MAX_INPUT_VALUES = 3 * 2048 * 2048  # per image: far past any model cnn trains (MNIST: 784)
_NOT_AN_EXPORT_HINT = "export the model again with: cnn export MODEL"


@dataclass(frozen=True)
class OnnxModel:
    path: Path
    metadata: ModelMetadata
    props: dict[str, str]  # the file's metadata_props, as stored
    session: ort.InferenceSession = field(repr=False)
    device: str = "cpu (onnxruntime)"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.metadata.classes

    def logits(self, images: np.ndarray) -> np.ndarray:
        try:
            return self.session.run([OUTPUT], {INPUT: np.ascontiguousarray(images, dtype=np.uint8)})[0]
        except Exception as error:  # a graph that loads but cannot run (a damaged file): one line
            raise _bad(self.path, f"the model failed to run ({_first_line(error)})") from None


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks (an export records its source's; predict compares)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_onnx(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ONNX_SUFFIX


def _bad(path: Path, problem: str, hint: str | None = _NOT_AN_EXPORT_HINT) -> BadInput:
    return BadInput(f"{path}: {problem}", hint)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """One intra-op thread per core, no spinning between batches: the cores are shared with the image
    decoders (and, on this project's 2-core machines, with other work), which a spinning pool starves."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: its warnings are not ours to print on the user's stderr
    return options


def open_onnx(path: str | os.PathLike[str], threads: int | None = None) -> OnnxModel:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise NotFound(f"no model file at {path}") from None
    except OSError as error:
        raise _bad(path, f"cannot read it ({error.strerror or error})", None) from None
    if not path.is_file():
        raise _bad(path, "is not a file", None)
    if size == 0:
        raise _bad(path, "is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise _bad(path, f"{size:,} bytes is more than a model cnn reads ({MAX_FILE_BYTES:,})")
    try:
        # by path, so that any external data resolves (and is confined) to the model's own folder
        session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime's own classes (InvalidProtobuf, Fail, ...): all one-liners to us
        raise _bad(path, f"not a model ONNX Runtime can load ({_first_line(error)})") from None
    props = dict(session.get_modelmeta().custom_metadata_map)
    if METADATA_KEY not in props:
        raise _bad(path, f"not a cnn export: its metadata has no {METADATA_KEY}")
    try:
        metadata = ModelMetadata.from_toml(props[METADATA_KEY])
    except BadInput as error:
        raise _bad(path, error.message, error.hint) from None
    _check_signature(path, session, metadata)
    return OnnxModel(path, metadata, props, session)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    line = line.removeprefix("[ONNXRuntimeError] : ").strip()
    return line[:200]


def _check_signature(path: Path, session: ort.InferenceSession, metadata: ModelMetadata) -> None:
    """One uint8 input of the metadata's shape (any batch), one float output of its classes."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if [i.name for i in inputs] != [INPUT] or [o.name for o in outputs] != [OUTPUT]:
        raise _bad(path, f"expected one input '{INPUT}' and one output '{OUTPUT}'")
    shape, kind = inputs[0].shape, inputs[0].type
    if kind != "tensor(uint8)" or len(shape) != 4 or not all(isinstance(d, int) and d >= 1 for d in shape[1:]):
        raise _bad(path, f"its input is {kind} {shape}; expected uint8 [batch, channels, height, width]")
    values = math.prod(shape[1:])  # Python integers: a claim of 10^30 cannot wrap around
    if values > MAX_INPUT_VALUES:
        claim = " x ".join(f"{d:,}" for d in shape[1:])
        raise _bad(path, f"its input claims {claim} = {values:,} values per image, over {MAX_INPUT_VALUES:,}")
    if tuple(shape[1:]) != tuple(metadata.input_shape):
        raise _bad(path, f"its input is {shape[1:]} but its metadata says {list(metadata.input_shape)}")
    out_shape, out_kind = outputs[0].shape, outputs[0].type
    if out_kind != "tensor(float)" or len(out_shape) != 2 or out_shape[1] != metadata.num_classes:
        raise _bad(path, f"its output is {out_kind} {out_shape}; expected float [batch, {metadata.num_classes}]")
