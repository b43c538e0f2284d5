"""The model eval and predict run: batch norms folded into the convs, in-place activations, and the
same outputs as the network as saved."""

from __future__ import annotations

import pytest
import torch

from cnncli.core.modelfile.weights import load_model, save_model
from tests.support.helpers import WITH_BATCHNORM, metadata_for, random_model


@pytest.mark.parametrize("spec", [WITH_BATCHNORM, "base", "tutorial"])
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
