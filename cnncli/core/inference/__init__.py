"""Running trained models: `cnn eval` on labelled splits.

    from cnncli.core.inference import EvalRequest, evaluate_model
    result = evaluate_model(EvalRequest(model="runs/base-mnist-1", split="test"))

Modules: model (finding, loading and checking the model), evaluation (the pass over a split),
metrics (per-class scores and the confusion matrix, pure Python), gallery (--errors) and plot (--plot).

Names are imported on first use, so importing this package costs nothing until one is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnncli.core.inference.evaluation import EvalRequest, EvalResult, WrongImage, evaluate_model
    from cnncli.core.inference.gallery import Gallery, write_gallery
    from cnncli.core.inference.metrics import ClassificationReport, classification_report
    from cnncli.core.inference.model import InferenceModel, check_fits, open_model
    from cnncli.core.inference.plot import plot_confusion, require_matplotlib

_HOMES = {
    "EvalRequest": "evaluation",
    "EvalResult": "evaluation",
    "WrongImage": "evaluation",
    "evaluate_model": "evaluation",
    "Gallery": "gallery",
    "write_gallery": "gallery",
    "ClassificationReport": "metrics",
    "classification_report": "metrics",
    "InferenceModel": "model",
    "check_fits": "model",
    "open_model": "model",
    "plot_confusion": "plot",
    "require_matplotlib": "plot",
}
__all__ = [
    "ClassificationReport",
    "EvalRequest",
    "EvalResult",
    "Gallery",
    "InferenceModel",
    "WrongImage",
    "check_fits",
    "classification_report",
    "evaluate_model",
    "open_model",
    "plot_confusion",
    "require_matplotlib",
    "write_gallery",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
