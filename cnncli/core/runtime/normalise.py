"""Per-channel normalisation of uint8 images on the device: what training and inference both feed the net."""

from __future__ import annotations

from collections.abc import Sequence

import torch


class Normaliser:
    """uint8 images -> float, (x/255 - mean) / std per channel, in channels-last layout for the convs."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: torch.device) -> None:
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        # one multiply-add per pixel: x * scale + shift
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -mean_t / std_t

    @property
    def background(self) -> torch.Tensor:
        """What a 0 pixel becomes: the fill for pixels that augmentation brings in from outside."""
        return self.shift

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        out = torch.addcmul(self.shift, images.float(), self.scale)
        return out.contiguous(memory_format=torch.channels_last)
