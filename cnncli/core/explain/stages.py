"""The stages `cnn explain` shows: each conv and pool layer, with the module whose output is its map.

A stage's map is what the next stage receives: a conv's or pool's output after the batch norm and the
activation straight after it (as CNN Explainer shows them), so "zeros" means units the ReLU switched off.
In `base` (conv bn relu pool) that is the conv's activation and the pool itself; in `lean` (conv pool bn
relu) the conv's raw output and the pool's activation. The shapes are the analysis's, as `cnn shapes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from cnncli.core.arch.shapes import ChainReport, LayerReport, Shape
from cnncli.core.arch.spec import ACTIVATIONS
from cnncli.core.errors import NotFound

POOL_KINDS = ("maxpool", "avgpool")
FOLLOWERS = ("bn", "dropout", *ACTIVATIONS)  # what may stand between a conv and its map: same shape, per element


@dataclass(frozen=True)
class Stage:
    name: str  # as `cnn shapes` names the layer: conv1, pool2, block1.conv1
    kind: str  # conv, maxpool or avgpool
    shape: Shape  # channels, height, width of its map
    module: str  # the module whose output is the map: the layer itself, or the activation after it
    activation: str | None  # the activation applied to the layer's output, if any


def stages(report: ChainReport) -> tuple[Stage, ...]:
    """Every conv and pool stage of an analysed network, in order."""
    leaves = report.leaves
    found = []
    for index, layer in enumerate(leaves):
        if layer.kind == "conv" or layer.kind in POOL_KINDS:
            last, activation = _followers(leaves, index)
            found.append(Stage(layer.name, layer.kind, layer.output_shape, last, activation))
    return tuple(found)


def _followers(leaves: tuple[LayerReport, ...], index: int) -> tuple[str, str | None]:
    """The last of the per-element layers straight after the layer at `index` (same block), and its activation."""
    parent = leaves[index].name.rpartition(".")[0]
    last, activation = leaves[index].name, None
    for layer in leaves[index + 1 :]:
        if layer.kind not in FOLLOWERS or layer.name.rpartition(".")[0] != parent:
            break
        last = layer.name
        activation = layer.kind if layer.kind in ACTIVATIONS else activation
    return last, activation


def select(all_stages: tuple[Stage, ...], names: list[str] | None) -> tuple[Stage, ...]:
    """The stages named (in the network's order), or all of them; an unknown name lists those there are."""
    if not names:
        return all_stages
    known = {stage.name for stage in all_stages}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise NotFound(
            f"no conv or pool layer named {', '.join(repr(n) for n in unknown)} in this model",
            "its conv and pool layers: " + ", ".join(stage.name for stage in all_stages),
        )
    wanted = set(names)
    return tuple(stage for stage in all_stages if stage.name in wanted)


@contextmanager
def captured(network: nn.Module, chosen: tuple[Stage, ...]) -> Iterator[dict[str, torch.Tensor]]:
    """Forward hooks that keep each chosen stage's map (detached) while the block runs."""
    maps: dict[str, torch.Tensor] = {}
    modules = dict(network.named_modules())
    handles = []
    for stage in chosen:

        def keep(_module: nn.Module, _inputs: object, output: torch.Tensor, name: str = stage.name) -> None:
            maps[name] = output.detach().clone()  # a copy: a later in-place op must not change what we show

        handles.append(modules[stage.module].register_forward_hook(keep))
    try:
        yield maps
    finally:
        for handle in handles:
            handle.remove()


def last_conv(all_stages: tuple[Stage, ...]) -> Stage | None:
    """Where Grad-CAM looks: the last conv stage, whose maps are the most semantic still spatial ones."""
    convs = [stage for stage in all_stages if stage.kind == "conv"]
    return convs[-1] if convs else None
