"""The header of a model file, read in pure Python: what `cnn summary` needs, without torch.

A model file is a safetensors file: an 8-byte little-endian header length N, N bytes of JSON, then the
tensor data. The JSON maps each tensor's name to its dtype, shape and [begin, end) byte offsets into
the data, and "__metadata__" to string values; ours holds the model's TOML document under "cnn.toml".

Everything a damaged or foreign file can do wrong is checked here, before torch sees a byte of it: too
short, a length past the end, JSON that does not parse, offsets that overlap, leave gaps or run past
the end (a truncated file), a zip or a pickle renamed to .safetensors (never unpickled), metadata
missing or invalid. Each is a BadInput that names the file and the fault.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnncli.core.arch.modules import DTYPE_SIZES, TensorSpec
from cnncli.core.arch.shapes import Shape, format_shape
from cnncli.core.errors import BadInput, NotFound
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.safe_parse import loads_json

METADATA_KEY = "cnn.toml"  # the safetensors metadata entry that holds the model's TOML document
SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit: a larger length is garbage, not a header

_NOT_A_MODEL_HINT = "the file is damaged or not a cnn model file: copy it again, or save it again from its run"


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it; the bytes stay on disk."""

    name: str
    dtype: str  # safetensors spelling: F32, I64, ...
    shape: Shape
    offsets: tuple[int, int]  # [begin, end) within the data that follows the header

    @property
    def nbytes(self) -> int:
        return self.offsets[1] - self.offsets[0]


@dataclass(frozen=True)
class ModelHeader:
    path: Path
    metadata: ModelMetadata
    tensors: dict[str, TensorEntry]  # the tensor index, by name, in file order
    toml: str  # the embedded TOML document, exactly as stored
    header_bytes: int  # N, the JSON's length
    file_bytes: int


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """NAME.toml beside NAME.safetensors: the same metadata, for people to read (never read back)."""
    return Path(path).with_suffix(".toml")


def _bad(path: Path, problem: str, hint: str | None = _NOT_A_MODEL_HINT) -> BadInput:
    return BadInput(f"{path}: {problem}", hint)


def _foreign_format(path: Path, start: bytes) -> BadInput | None:
    """Name the formats people most often rename by mistake; a pickle is never loaded."""
    hint = "cnn never unpickles files, which can run code; convert it to safetensors, or train with cnn"
    if start.startswith(b"PK\x03\x04"):
        return _bad(path, "is a zip archive (a PyTorch .pt/.pth checkpoint?), not a safetensors model file", hint)
    if len(start) >= 2 and start[0] == 0x80 and 2 <= start[1] <= 5:
        return _bad(path, "is a Python pickle, not a safetensors model file", hint)
    return None


def _read_raw_header(path: Path) -> tuple[dict[str, Any], int, int]:
    """The header's JSON object, its length and the file's length."""
    try:
        # a FIFO or a device would block the open or never end: only regular files are model files
        if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():
            raise _bad(path, "is not a regular file (a pipe or a device?)", "give the path of a .safetensors file")
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = handle.read(9)
            length = int.from_bytes(start[:8], "little")
            # a safetensors header is a JSON object, so byte 8 is "{", even in a damaged one; other
            # formats renamed to .safetensors are named if we know them
            if start[8:9] != b"{":
                foreign = _foreign_format(path, start)
                if foreign:
                    raise foreign
            if len(start) < 8:
                raise _bad(path, f"is {size} bytes long, too short for a safetensors header (truncated?)")
            if length > size - 8:
                raise _bad(
                    path,
                    f"its header length ({length:,} bytes) runs past the end of the file ({size:,} bytes): "
                    "truncated, or not a safetensors file",
                )
            if length > MAX_HEADER_BYTES:
                raise _bad(path, f"its header length ({length:,} bytes) is over the safetensors limit")
            handle.seek(8)
            raw = handle.read(length)
    except FileNotFoundError:
        raise NotFound(f"no model file {path}", "train one with `cnn train`, or check the path") from None
    except IsADirectoryError:
        raise NotFound(f"{path} is a folder, not a model file", f"give the {SUFFIX} file inside it") from None
    except OSError as error:
        raise BadInput(f"cannot read {path}: {error.strerror or error}") from None
    try:
        header = loads_json(raw.decode("utf-8"))
    except ValueError as error:  # not UTF-8, not JSON, or nested too deeply
        raise _bad(path, f"its header is not valid JSON ({error}): the file is damaged") from None
    if not isinstance(header, dict):
        raise _bad(path, "its header is not a JSON object: the file is damaged")
    return header, length, size


def _tensor_entry(path: Path, name: str, value: Any) -> TensorEntry:
    if not isinstance(value, dict) or not {"dtype", "shape", "data_offsets"} <= value.keys():
        raise _bad(path, f"tensor {name!r} lacks its dtype, shape or data_offsets: the file is damaged")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_SIZES:
        raise _bad(path, f"tensor {name!r} has dtype {dtype!r}, which cnn does not read")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise _bad(path, f"tensor {name!r} has a malformed shape {shape!r}: the file is damaged")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise _bad(path, f"tensor {name!r} has malformed data_offsets {offsets!r}: the file is damaged")
    entry = TensorEntry(name, dtype, tuple(shape), (offsets[0], offsets[1]))
    numel = 1
    for dim in shape:
        numel *= dim
    if entry.nbytes != numel * DTYPE_SIZES[dtype]:
        raise _bad(
            path,
            f"tensor {name!r} ({dtype} {format_shape(entry.shape) or 'scalar'}) needs {numel * DTYPE_SIZES[dtype]:,} "
            f"bytes but its offsets span {entry.nbytes:,}: the file is damaged",
        )
    return entry


def _check_layout(path: Path, entries: list[TensorEntry], data_bytes: int) -> None:
    """The tensors tile the data exactly: no overlap, no gap, nothing past the end."""
    position = 0
    for entry in sorted(entries, key=lambda e: e.offsets):
        if entry.offsets[0] != position:
            problem = "overlaps the tensor before it" if entry.offsets[0] < position else "leaves a gap before it"
            raise _bad(path, f"tensor {entry.name!r} {problem}: the file is damaged")
        position = entry.offsets[1]
    if position > data_bytes:
        raise _bad(
            path,
            f"is truncated: its header promises {position:,} bytes of tensor data but only {data_bytes:,} follow",
        )
    if position < data_bytes:
        raise _bad(path, f"has {data_bytes - position:,} bytes after its last tensor: the file is damaged")


def read_model_header(path: str | os.PathLike[str]) -> ModelHeader:
    """The metadata and tensor index of a model file; reads only the header, never the weights."""
    path = Path(path)
    header, length, size = _read_raw_header(path)
    raw_metadata = header.pop("__metadata__", None) or {}
    if not isinstance(raw_metadata, dict) or not all(isinstance(v, str) for v in raw_metadata.values()):
        raise _bad(path, "its __metadata__ is not a table of strings: the file is damaged")
    entries = [_tensor_entry(path, name, value) for name, value in header.items()]
    _check_layout(path, entries, size - 8 - length)
    toml = raw_metadata.get(METADATA_KEY)
    if toml is None:
        raise _bad(path, f"is a safetensors file without cnn's metadata ({METADATA_KEY}), so not a cnn model file")
    try:
        metadata = ModelMetadata.from_toml(toml)
    except BadInput as error:
        raise _bad(path, error.message, error.hint) from None
    return ModelHeader(path, metadata, {e.name: e for e in entries}, toml, length, size)


def match_tensors(path: Path, found: dict[str, tuple[Shape, str]], expected: dict[str, TensorSpec]) -> None:
    """Every tensor the architecture needs is in the file with its shape and dtype, and nothing else is.

    `found` maps names to (shape, dtype); raises BadInput naming the first tensor that does not fit.
    """
    hint = (
        "the file's architecture and its weights disagree: was its metadata edited, or the file "
        "assembled by hand? Save the model again from its run"
    )
    for name, spec in expected.items():
        if name not in found:
            raise _bad(path, f"lacks tensor {name!r}, which its architecture needs", hint)
        shape, dtype = found[name]
        if tuple(shape) != spec.shape:
            raise _bad(
                path,
                f"tensor {name!r} has shape {_shape_text(shape)} but its architecture needs {_shape_text(spec.shape)}",
                hint,
            )
        if dtype != spec.dtype:
            raise _bad(path, f"tensor {name!r} is {dtype} but its architecture needs {spec.dtype}", hint)
    for name in found:
        if name not in expected:
            raise _bad(path, f"holds tensor {name!r}, which its architecture has no place for", hint)


def _shape_text(shape: Shape) -> str:
    return format_shape(shape) if shape else "() (a scalar)"
