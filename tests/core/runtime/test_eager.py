"""Optimizer steps without torch._dynamo: the same weights, bit for bit, and the import never happens."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from cnncli.core.runtime import eager

PROBE = """
import sys, torch
from torch import nn
from cnncli.core.runtime import eager
eager.skip_dynamo()
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
for _ in range(3):
    optimizer.zero_grad(set_to_none=True)
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    eager.step(optimizer)
optimizer.load_state_dict(optimizer.state_dict())
print("torch._dynamo" in sys.modules)
"""


def _trained(kind: str, stepper) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    groups = [
        {"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": 5e-4},
        {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0},
    ]
    optimizer = {
        "adamw": lambda: torch.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.99)),
        "adam": lambda: torch.optim.Adam(groups, lr=1e-2, betas=(0.9, 0.99)),
        "sgd": lambda: torch.optim.SGD(groups, lr=0.1, momentum=0.9, nesterov=True),
    }[kind]()
    generator = torch.Generator().manual_seed(1)
    for _ in range(5):
        images, labels = torch.randn(6, 1, 8, 8, generator=generator), torch.randint(0, 3, (6,), generator=generator)
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        stepper(optimizer)
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("kind", ["adamw", "adam", "sgd"])
def test_the_plain_step_gives_the_same_weights_as_torch_s(kind):
    ours = _trained(kind, eager.step)
    theirs = _trained(kind, lambda optimizer: optimizer.step())
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_an_eager_run_never_imports_torch_dynamo():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
