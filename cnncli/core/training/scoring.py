"""Loss and accuracy of a model on a whole split: batched, in inference mode, data already on the device.

The trainer scores a copy of the model in its inference form (core/nn/fold.py: batch norms folded,
activations in place), as `cnn eval` runs it, so the accuracies a run records are the ones `cnn eval`
then reports; and the evaluation between epochs, outside the training time but inside the run's wall
time, is up to 2x as fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnncli.core.runtime.normalise import Normaliser


@dataclass(frozen=True)
class Score:
    loss: float
    accuracy: float
    count: int


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


@torch.inference_mode()
def evaluate(
    network: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    normaliser: Normaliser,
    amp: torch.dtype | None,
) -> Score:
    """Mean cross-entropy and accuracy over uint8 batches, of a network in its inference form."""
    loss_sum, correct, count = None, None, 0
    for images, labels in batches:
        with autocast(images.device, amp):
            logits = network(normaliser(images)).float()
        batch_loss = F.cross_entropy(logits, labels, reduction="sum")
        batch_correct = (logits.argmax(1) == labels).sum()
        loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
        correct = batch_correct if correct is None else correct + batch_correct
        count += int(labels.shape[0])
    if count == 0:
        return Score(float("nan"), 0.0, 0)
    return Score(loss_sum.item() / count, correct.item() / count, count)  # type: ignore[union-attr]
