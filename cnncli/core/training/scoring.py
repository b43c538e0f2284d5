"""Loss and accuracy of a model on a whole split: batched, in inference mode, data already on the device."""

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
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    normaliser: Normaliser,
    amp: torch.dtype | None,
) -> Score:
    """Mean cross-entropy and accuracy over uint8 batches; leaves the model in the mode it found it in."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count = None, None, 0
    try:
        for images, labels in batches:
            with autocast(images.device, amp):
                logits = model(normaliser(images)).float()
            batch_loss = F.cross_entropy(logits, labels, reduction="sum")
            batch_correct = (logits.argmax(1) == labels).sum()
            loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
            correct = batch_correct if correct is None else correct + batch_correct
            count += int(labels.shape[0])
    finally:
        model.train(was_training)
    if count == 0:
        return Score(float("nan"), 0.0, 0)
    return Score(loss_sum.item() / count, correct.item() / count, count)  # type: ignore[union-attr]
