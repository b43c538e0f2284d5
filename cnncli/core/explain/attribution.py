"""Where the evidence lies: Grad-CAM (Selvaraju et al. 2017) and integrated gradients (Sundararajan et
al. 2017), each for one image and one class, on the network's logits.

Both are a few lines of autograd, written here rather than imported from Captum: `import captum.attr`
also imports matplotlib.pyplot, mplot3d and Captum's LLM attribution (measured: 1.2 CPU-seconds more
than `import torch` alone, 5.0 against 3.8, medians of 5 paired whole-process timings on 2 cores) and
would make matplotlib, an optional extra, a dependency of every install. Captum is the reference:
tests/core/explain/test_attribution.py checks both maps against its IntegratedGradients and
LayerGradCam to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IG_STEPS = 64  # Gauss-Legendre nodes on the path: the completeness gap is below 1% of the logit change at 64
IG_BATCH = 16  # path points per network call: bounds memory on large inputs (a 224 px colour image, a wide net)


@dataclass(frozen=True)
class IntegratedGradients:
    map: np.ndarray  # float32 H x W: the attribution summed over the input's channels
    gap: float  # completeness: sum of the attribution minus (logit(x) - logit(baseline)); 0 when exact
    change: float  # logit(x) - logit(baseline), the amount the attribution shares out


def integrated_gradients(
    network: nn.Module, image: torch.Tensor, baseline: torch.Tensor, target: int, steps: int = IG_STEPS
) -> IntegratedGradients:
    """IG of logit `target` along the straight path from `baseline` to `image` (both 1 x C x H x W,
    normalised), by Gauss-Legendre quadrature (as Captum's default method)."""
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=image.dtype, device=image.device)
    scales = torch.tensor(weights / 2, dtype=image.dtype, device=image.device)
    delta = image - baseline
    total = torch.zeros_like(image)
    for start in range(0, steps, IG_BATCH):
        alpha = alphas[start : start + IG_BATCH].view(-1, 1, 1, 1)
        path = (baseline + alpha * delta).requires_grad_(True)
        logits = network(path)[:, target]
        (grads,) = torch.autograd.grad(logits.sum(), path)
        total += (grads * scales[start : start + IG_BATCH].view(-1, 1, 1, 1)).sum(dim=0, keepdim=True)
    attribution = (delta * total).sum(dim=1)[0]
    with torch.no_grad():
        ends = network(torch.cat([image, baseline]))[:, target]
    change = float(ends[0] - ends[1])
    return IntegratedGradients(attribution.detach().float().cpu().numpy(), float(attribution.sum()) - change, change)


def grad_cam(network: nn.Module, image: torch.Tensor, layer: nn.Module, target: int) -> np.ndarray:
    """Grad-CAM of logit `target` at `layer`'s output, brought up to the image's size (bilinear): float32 H x W.

    Each channel of the layer's maps is weighted by the mean gradient of the logit over it; the
    weighted sum, through a ReLU (only what speaks for the class), is the map.
    """
    kept: list[torch.Tensor] = []
    image = image.detach().requires_grad_(True)  # the weights are frozen: without this no graph is recorded
    handle = layer.register_forward_hook(lambda _m, _i, output: kept.append(output))
    try:
        logit = network(image)[0, target]
    finally:
        handle.remove()
    (maps,) = kept
    (grads,) = torch.autograd.grad(logit, maps)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=image.shape[2:], mode="bilinear", align_corners=False)
    return cam[0, 0].detach().float().cpu().numpy()
