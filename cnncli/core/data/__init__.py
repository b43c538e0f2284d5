"""Datasets: fetching, verifying, parsing and caching them, and loading a split as tensors.

The entry point is `load_split` (documented in cnncli.core.data.load), with `Split` and `DatasetInfo`;
`cnn download` uses `acquire_all` and `survey`. They are imported here lazily, on first use: fetching and
listing need no torch, so `cnn download` does not pay for importing it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnncli.core.data.acquire import AcquireRequest, acquire_all, acquire_dataset
    from cnncli.core.data.catalog import DatasetInfo
    from cnncli.core.data.load import load_split
    from cnncli.core.data.split import Split
    from cnncli.core.data.store import survey

_HOMES = {
    "load_split": "cnncli.core.data.load",
    "Split": "cnncli.core.data.split",
    "DatasetInfo": "cnncli.core.data.catalog",
    "AcquireRequest": "cnncli.core.data.acquire",
    "acquire_dataset": "cnncli.core.data.acquire",
    "acquire_all": "cnncli.core.data.acquire",
    "survey": "cnncli.core.data.store",
}
__all__ = ["AcquireRequest", "DatasetInfo", "Split", "acquire_all", "acquire_dataset", "load_split", "survey"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
