"""Running trained models: `cnn eval` on labelled splits and `cnn predict` on images from the world.

    from cnncli.core.inference import EvalRequest, evaluate_model
    result = evaluate_model(EvalRequest(model="runs/lean-mnist-1", split="test"))

    from cnncli.core.inference import Predictor, PredictSettings, expand_inputs, open_model
    predictor = Predictor(open_model(None), PredictSettings(top_k=3))
    for outcome in predictor.run(expand_inputs(["photos/"], recursive=True)):
        ...  # Prediction or Failure, in input order

Modules: model (finding, loading and checking the model), evaluation (the pass over a split),
metrics (per-class scores and the confusion matrix, pure Python), gallery (--errors), plot (--plot),
images (reading any image safely), prepare (each dataset's recipe for real-world images), inputs
(files, folders, globs, stdin) and predict (the batched pipeline, decoding in DataLoader workers).

Names are imported on first use, so importing this package costs nothing until one is needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnncli.core.inference.evaluation import evaluate_model
    from cnncli.core.inference.images import ImageError, ImageSource, read_picture
    from cnncli.core.inference.inputs import MissingInput, expand_inputs
    from cnncli.core.inference.metrics import ClassificationReport, classification_report
    from cnncli.core.inference.mistakes import Gallery, write_gallery
    from cnncli.core.inference.model import InferenceModel, check_dataset, open_model
    from cnncli.core.inference.pipeline import Failure, Prediction, PredictSettings
    from cnncli.core.inference.plot import plot_confusion, require_matplotlib
    from cnncli.core.inference.predict import Predictor
    from cnncli.core.inference.prepare import PrepareOptions, Recipe, recipe_for
    from cnncli.core.inference.results import EvalRequest, EvalResult, WrongImage

_HOMES = {
    "EvalRequest": "results",
    "EvalResult": "results",
    "WrongImage": "results",
    "evaluate_model": "evaluation",
    "Gallery": "gallery",
    "write_gallery": "gallery",
    "ImageError": "images",
    "ImageSource": "images",
    "read_picture": "images",
    "MissingInput": "inputs",
    "expand_inputs": "inputs",
    "ClassificationReport": "metrics",
    "classification_report": "metrics",
    "InferenceModel": "model",
    "check_dataset": "model",
    "open_model": "model",
    "plot_confusion": "plot",
    "require_matplotlib": "plot",
    "Failure": "pipeline",
    "Prediction": "pipeline",
    "Predictor": "predict",
    "PredictSettings": "pipeline",
    "PrepareOptions": "prepare",
    "Recipe": "prepare",
    "recipe_for": "prepare",
}
__all__ = [
    "ClassificationReport",
    "EvalRequest",
    "EvalResult",
    "Failure",
    "Gallery",
    "ImageError",
    "ImageSource",
    "InferenceModel",
    "MissingInput",
    "PredictSettings",
    "Prediction",
    "Predictor",
    "PrepareOptions",
    "Recipe",
    "WrongImage",
    "check_dataset",
    "classification_report",
    "evaluate_model",
    "expand_inputs",
    "open_model",
    "plot_confusion",
    "read_picture",
    "recipe_for",
    "require_matplotlib",
    "write_gallery",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
