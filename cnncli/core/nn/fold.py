"""The inference form of a trained network: batch norms folded into the convs, activations in place.

Both `cnn eval`/`predict` (inference) and the evaluation between epochs (training) run this form, so the
accuracy a run reports is computed exactly as `cnn eval` computes it. On a 2-core AVX2 CPU it evaluates
`base` 2.0x and `fast` 1.6x as fast as the network as trained (float32, batches of 1,000, one thread).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def inference_form(network: nn.Module) -> nn.Module:
    """A copy of `network` in eval mode, its batch norms folded and its activations in place, channels-last
    (the layout the Normaliser hands over: weights in it spare a conversion per conv, about 1.5x on CPUs)."""
    with torch.no_grad():
        folded = fold_batch_norms(copy.deepcopy(network).eval())
    return in_place_activations(folded).to(memory_format=torch.channels_last)


def in_place_activations(network: nn.Module) -> nn.Module:
    """ReLUs that overwrite their input rather than allocate an output. Safe here: no gradients are
    kept, and the network is a plain sequence, so no layer's input is read again after it."""
    for module in network.modules():
        if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
            module.inplace = True
    return network


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """Each batch norm that a conv's output reaches folded into the conv's weights and bias (in eval mode
    it is one affine map per channel), and left as an Identity: one pass over the activations fewer.

    A norm reaches back over max pooling (`lean` pools before it) where every channel's scale is positive:
    the maximum of a*x + b is a*max(x) + b when a > 0, so pooling the folded conv's output is the same map.
    The same function, to float rounding (about 1e-6 of the logits); the module names stay as they were.
    """
    for module in network.modules():
        if not isinstance(module, nn.Sequential):
            continue
        layers = module._modules
        names = list(layers)
        for index, name in enumerate(names):
            norm = layers[name]
            if not (isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats):
                continue
            conv = _conv_reaching(norm, [(n, layers[n]) for n in reversed(names[:index])])
            if conv is not None:
                layers[conv] = fuse_conv_bn_eval(layers[conv].eval(), norm.eval())  # type: ignore[arg-type]
                layers[name] = nn.Identity()
    return network


def _conv_reaching(norm: nn.BatchNorm2d, before: list[tuple[str, nn.Module | None]]) -> str | None:
    """The name of the conv whose output reaches `norm` through nothing but max pooling, if the norm may
    be folded into it; `before` is the layers ahead of the norm, nearest first."""
    pooled = False
    for name, layer in before:
        if isinstance(layer, nn.Conv2d):
            return name if not pooled or _scales_positive(norm) else None
        if not isinstance(layer, nn.MaxPool2d):
            return None
        pooled = True
    return None


def _scales_positive(norm: nn.BatchNorm2d) -> bool:
    scale = norm.weight if norm.affine else torch.ones(norm.num_features)
    return bool((scale.detach() > 0).all())  # the running variance's square root is positive already
