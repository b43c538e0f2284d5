"""Prepared copies: a split's uint8 images and int64 labels in one safetensors file, read back at once.

Written atomically after the source verified, and tagged with a key naming that source (a built-in
dataset's checksum, a folder's fingerprint): a copy whose key differs (other data, an older format)
is ignored and rebuilt, never used.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from cnncli.core.atomic import atomic_write_with
from cnncli.core.safe_parse import loads_json

FORMAT = "cnn-prepared-1"


def load_prepared(path: Path, key: str, classes: int) -> tuple[torch.Tensor, torch.Tensor, dict] | None:
    """(images, labels, extra) when `path` is a prepared copy of the data `key` names, else None.

    A copy is checked as any file we are handed: tensors of the right kinds, labels in [0, classes).
    """
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("key") != key:
                return None
            images, labels = handle.get_tensor("images"), handle.get_tensor("labels")
        extra = {k[5:]: loads_json(v) for k, v in meta.items() if k.startswith("json:")}
    except (SafetensorError, OSError, ValueError):  # a damaged or foreign file: rebuild it
        return None
    if images.dtype != torch.uint8 or labels.dtype != torch.int64 or images.ndim != 4 or labels.ndim != 1:
        return None
    if len(images) != len(labels) or (len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < classes):
        return None
    return images, labels, extra


def save_prepared(path: Path, images: torch.Tensor, labels: torch.Tensor, key: str, **extra) -> None:
    """Write the copy atomically; `extra` values travel as JSON in the metadata (load returns them)."""
    meta = {"format": FORMAT, "key": key, **{f"json:{k}": json.dumps(v) for k, v in extra.items()}}
    tensors = {"images": images.contiguous(), "labels": labels.contiguous()}
    atomic_write_with(path, lambda temp: save_file(tensors, str(temp), metadata=meta))
