"""The model eval and predict run: batch norms folded into the convs, in-place activations, and the
same outputs as the network as saved."""

from __future__ import annotations

import pytest
import torch

from cnncli.core.modelfile.weights import load_model, save_model
from tests.support.helpers import WITH_BATCHNORM, metadata_for, random_model


@pytest.mark.parametrize("spec", [WITH_BATCHNORM, "base", "lean", "tutorial"])
def test_the_inference_network_computes_what_the_saved_one_does(tmp_path, spec):
    from cnncli.core.inference.model import open_model

    metadata = metadata_for(spec, (1, 28, 28))
    path = save_model(tmp_path / "m.safetensors", random_model(metadata, seed=4), metadata)
    reference = load_model(path).model
    model = open_model(str(path), "cpu")
    images = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = reference(images)
        got = model.network(images.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert [name for name, _ in model.network.named_children()] == [n for n, _ in reference.named_children()]


def test_batch_norms_after_convs_are_folded_away(tmp_path):
    from cnncli.core.inference.model import open_model

    metadata = metadata_for("base")
    path = save_model(tmp_path / "m.safetensors", random_model(metadata), metadata)
    network = open_model(str(path), "cpu").network
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())
    assert isinstance(network.bn1, torch.nn.Identity) and network.conv1.bias is not None
    assert all(m.inplace for m in network.modules() if isinstance(m, torch.nn.ReLU))


def _lean_with_scales(tmp_path, scale_sign: float):
    """A random `lean` model whose batch norms' scales all have the given sign, and the network as saved."""
    from cnncli.core.inference.model import open_model

    metadata = metadata_for("lean")
    model = random_model(metadata, seed=5)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.copy_(module.weight.abs() * scale_sign + 0.01 * scale_sign)
    path = save_model(tmp_path / "m.safetensors", model, metadata)
    return open_model(str(path), "cpu").network, load_model(path).model


def _same_outputs(network, reference) -> bool:
    images = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = reference(images)
        got = network(images.contiguous(memory_format=torch.channels_last))
    # random weights make logits of ~1e4: float rounding is relative to the largest of them
    return bool((got - expected).abs().max() <= 1e-5 * expected.abs().max())


def test_batch_norms_after_max_pooling_fold_when_their_scales_are_positive(tmp_path):
    network, reference = _lean_with_scales(tmp_path, 1.0)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())
    assert all(network.get_submodule(f"conv{i}").bias is not None for i in (1, 2, 3))
    assert _same_outputs(network, reference)


def test_a_negative_scale_keeps_the_norm_behind_max_pooling(tmp_path):
    # max(a*x + b) is a*min(x) + b for a < 0: folding across the pool would change the function
    network, reference = _lean_with_scales(tmp_path, -1.0)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules()) == 3
    assert network.conv1.bias is None
    assert _same_outputs(network, reference)
