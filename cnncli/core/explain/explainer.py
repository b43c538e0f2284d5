"""`cnn explain`'s core: for each image, what every stage of the network made of it, and why it decided.

    explainer = Explainer(open_model("runs/lean-mnist-1"), ExplainSettings(top_k=3, layers=["conv1"]))
    for outcome in explainer.run(expand_inputs(["digit.png"]), progress):
        ...  # Explanation or Failure (from predict), in input order

Images are prepared exactly as `cnn predict` prepares them (the same recipe, the same reader, bad
images failing alone). One image at a time: a forward pass keeps the chosen stages' maps, then
Grad-CAM and integrated gradients each take their own passes with gradients.

The inference network folds batch norms into the convs (the same function, so the same maps and
gradients) and runs its ReLUs in place; here they allocate, so a kept map is never overwritten and
autograd sees every activation as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from cnncli.core.errors import UsageError
from cnncli.core.explain.attribution import IG_STEPS, IntegratedGradients, grad_cam, integrated_gradients
from cnncli.core.explain.stages import Stage, captured, last_conv, select, stages
from cnncli.core.inference.images import refuse_bombs
from cnncli.core.inference.inputs import Input
from cnncli.core.inference.model import InferenceModel
from cnncli.core.inference.predict import Failure, prepare_input
from cnncli.core.inference.prepare import PrepareOptions, Recipe, recipe_for
from cnncli.core.reporting import NULL_REPORTER, Reporter

TOP_CHANNELS = 5  # the most active channels each stage lists: enough to name the few that dominate


@dataclass(frozen=True)
class ExplainSettings:
    top_k: int = 3  # how many of the likeliest classes to list
    target: str | None = None  # the class to explain (a label or an index); None: the predicted one
    layers: list[str] | None = None  # the stages to show; None: every conv and pool stage
    options: PrepareOptions = field(default_factory=PrepareOptions)
    steps: int = IG_STEPS  # integrated gradients' quadrature nodes

    def validate(self) -> ExplainSettings:
        if self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1, not {self.top_k}")
        if self.steps < 1:
            raise UsageError(f"--steps must be at least 1, not {self.steps}")
        return self


@dataclass(frozen=True)
class StageMaps:
    stage: Stage
    maps: np.ndarray  # float32 C x H x W
    minimum: float
    mean: float
    maximum: float
    zero_share: float  # share of exact zeros: after a ReLU, the units it switched off
    top_channels: tuple[tuple[int, float], ...]  # (channel, mean activation), most active first


@dataclass(frozen=True)
class Filters:
    layer: str  # the first conv's name
    weights: np.ndarray  # float32 out x in x kH x kW, batch norm folded in: the filters as applied


@dataclass(frozen=True)
class Explanation:
    name: str  # the input as the user named it
    seen: np.ndarray  # uint8 C x H x W: the image as the network sees it
    top: tuple[tuple[str, float], ...]  # the top_k classes and their probabilities, likeliest first
    predicted: int  # index of the likeliest class
    target: int  # the class explained: --target, else the predicted one
    stages: tuple[StageMaps, ...]
    cam: np.ndarray | None  # Grad-CAM, H x W at the input's size; None for a network without a conv
    cam_layer: str | None
    ig: IntegratedGradients

    @property
    def label(self) -> str:
        return self.top[0][0]


class Explainer:
    """A model, its recipe and the stages to show, ready to explain images one at a time."""

    def __init__(self, model: InferenceModel, settings: ExplainSettings | None = None) -> None:
        self.model = model
        self.settings = (settings or ExplainSettings()).validate()
        self.recipe: Recipe = recipe_for(model.metadata.preprocessing, self.settings.options)
        self.network = _for_gradients(model.network)
        self.all_stages = stages(model.network.report)
        self.chosen = select(self.all_stages, self.settings.layers)
        self.cam_stage = last_conv(self.all_stages)
        self.target = resolve_target(self.settings.target, model.classes)
        self.top_k = min(self.settings.top_k, len(model.classes))
        self.normaliser = model.normaliser()
        self.filters = _first_filters(self.network, self.all_stages)

    def run(self, inputs: Iterable[Input], progress: Reporter = NULL_REPORTER) -> Iterator[Explanation | Failure]:
        """One outcome per input, in order."""
        inputs = list(inputs)
        refuse_bombs()
        task = progress.start("explaining", total=len(inputs), unit="img")
        failed = 0
        for item in inputs:
            prepared = prepare_input(item, self.recipe)
            outcome = prepared if isinstance(prepared, Failure) else self.explain(item.name, prepared)
            failed += isinstance(outcome, Failure)
            yield outcome
            progress.update(task, advance=1)
        done = len(inputs) - failed
        progress.finish(task, f"{done:,} explained" + (f", {failed:,} failed" if failed else ""), ok=not failed)

    def explain(self, name: str, pixels: np.ndarray) -> Explanation:
        """One prepared image (uint8 C x H x W, as the recipe makes it)."""
        device = self.model.device
        batch = torch.tensor(pixels[None], device=device)  # a copy: the caller's array may be read-only
        image, baseline = self.normaliser(batch), self.normaliser(torch.zeros_like(batch))  # black baseline
        with torch.no_grad(), captured(self.network, self.chosen) as maps:
            probabilities = torch.softmax(self.network(image).float(), dim=1)[0]
        values, indices = probabilities.topk(self.top_k)
        classes = self.model.classes
        top = tuple((classes[i], p) for i, p in zip(indices.tolist(), values.tolist(), strict=True))
        predicted = int(indices[0])
        target = predicted if self.target is None else self.target
        cam = None
        if self.cam_stage is not None:
            layer = dict(self.network.named_modules())[self.cam_stage.module]
            cam = grad_cam(self.network, image, layer, target)
        ig = integrated_gradients(self.network, image, baseline, target, self.settings.steps)
        stage_maps = tuple(_summarised(stage, maps[stage.name][0]) for stage in self.chosen)
        return Explanation(
            name, pixels, top, predicted, target, stage_maps, cam, self.cam_stage and self.cam_stage.name, ig
        )


def resolve_target(target: str | None, classes: tuple[str, ...]) -> int | None:
    """A class by its label or its index; anything else lists the classes there are."""
    if target is None:
        return None
    if target in classes:
        return classes.index(target)
    if target.strip().isdigit() and int(target) < len(classes):
        return int(target)
    shown = ", ".join(classes[:20]) + (", ..." if len(classes) > 20 else "")
    raise UsageError(
        f"--target {target!r} is not one of the model's classes", f"its classes (or 0 to {len(classes) - 1}): {shown}"
    )


def _for_gradients(network: nn.Module) -> nn.Module:
    """The network with allocating activations and frozen weights: gradients flow to the input only."""
    for module in network.modules():
        if hasattr(module, "inplace"):
            module.inplace = False
    network.requires_grad_(False)
    return network.eval()


def _first_filters(network: nn.Module, all_stages: tuple[Stage, ...]) -> Filters | None:
    first = next((stage for stage in all_stages if stage.kind == "conv"), None)
    if first is None:
        return None
    conv = dict(network.named_modules())[first.name]
    return Filters(first.name, conv.weight.detach().float().cpu().numpy())


def _summarised(stage: Stage, maps: torch.Tensor) -> StageMaps:
    values = maps.float().cpu().contiguous().numpy()
    means = values.mean(axis=(1, 2))
    order = np.argsort(-means, kind="stable")[:TOP_CHANNELS]
    return StageMaps(
        stage,
        values,
        float(values.min()),
        float(values.mean()),
        float(values.max()),
        float((values == 0).mean()),
        tuple((int(c), float(means[c])) for c in order),
    )
