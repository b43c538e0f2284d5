"""Grad-CAM and integrated gradients, written by hand, against Captum's (the reference implementation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnncli.core.explain.attribution import grad_cam, integrated_gradients
from cnncli.core.explain.explainer import _for_gradients
from cnncli.core.explain.stages import last_conv, stages
from cnncli.core.nn.fold import fold_batch_norms, in_place_activations
from tests.support.helpers import metadata_for, random_model

captum_attr = pytest.importorskip("captum.attr")

CASES = [("tiny", (1, 28, 28)), ("base", (1, 28, 28)), ("cifar", (3, 32, 32))]


def network_and_image(name: str, shape: tuple[int, int, int], seed: int = 0):
    """The inference network (batch norms folded, ReLUs in place), made ready as explain makes it."""
    model = random_model(metadata_for(name, shape), seed)
    network = _for_gradients(in_place_activations(fold_batch_norms(model.eval())))
    generator = torch.Generator().manual_seed(seed)
    image = torch.randn(1, *shape, generator=generator).contiguous(memory_format=torch.channels_last)
    return network, image


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_integrated_gradients_equal_captums(name, shape):
    network, image = network_and_image(name, shape)
    baseline = torch.full_like(image, -0.4)
    ours = integrated_gradients(network, image, baseline, target=3, steps=32)
    theirs, delta = captum_attr.IntegratedGradients(network).attribute(
        image, baseline, target=3, n_steps=32, method="gausslegendre", return_convergence_delta=True
    )
    expected = theirs.sum(dim=1)[0].detach().numpy()
    scale = np.abs(expected).max()
    assert np.abs(ours.map - expected).max() <= 1e-4 * scale
    assert ours.gap == pytest.approx(float(delta), abs=1e-3 * abs(ours.change) + 1e-5)


@pytest.mark.parametrize(("name", "shape"), CASES)
def test_grad_cam_equals_captums_brought_up_to_the_input(name, shape):
    network, image = network_and_image(name, shape)
    stage = last_conv(stages(network.report))
    layer = dict(network.named_modules())[stage.module]
    ours = grad_cam(network, image, layer, target=5)
    cam = captum_attr.LayerGradCam(network, layer).attribute(image, target=5, relu_attributions=True)
    expected = captum_attr.LayerAttribution.interpolate(cam, shape[1:], "bilinear")[0, 0].detach().numpy()
    assert ours.shape == shape[1:]
    assert np.allclose(ours, expected, rtol=1e-4, atol=1e-6 * max(1.0, float(np.abs(expected).max())))


def test_the_attribution_shares_out_the_change_of_the_logit():
    """Completeness (Sundararajan et al.): at 64 steps the sum is the logit change to within 1%."""
    network, image = network_and_image("base", (1, 28, 28), seed=1)
    result = integrated_gradients(network, image, torch.zeros_like(image), target=0)
    assert abs(result.change) > 0.01
    assert abs(result.gap) <= 0.01 * abs(result.change)
