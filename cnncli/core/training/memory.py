"""Whether a network can be trained here at all: checked on the analysis, before a weight is allocated.

A spec is text anyone can type: `conv(1000000000, 3)` asks for terabytes. Building it would end in
an allocator error at best and the out-of-memory killer at worst, so the pure analysis counts first:
the weights, their gradients and two optimizer moments (4 copies), and one batch of layer outputs.
The bound is the device's whole memory, so only networks that cannot fit are refused.
"""

from __future__ import annotations

import os

import torch

from cnncli.core.arch.cost import summarise
from cnncli.core.arch.shapes import ChainReport
from cnncli.core.errors import UsageError
from cnncli.core.units import byte_size

COPIES = 4  # weights, gradients and the two moments of Adam (SGD keeps fewer)


def device_memory(device: torch.device) -> int | None:
    """The device's total memory in bytes, where it can be known."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    if device.type == "cpu":
        try:
            return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    return None


def training_bytes(report: ChainReport, batch_size: int) -> int:
    """A lower bound of what training needs: COPIES of every saved tensor and one batch of outputs."""
    totals = summarise(report, batch_size).totals
    return COPIES * totals.param_bytes + totals.activation_bytes + totals.input_bytes


def check_memory(report: ChainReport, batch_size: int, device: torch.device) -> None:
    """UsageError when the network cannot be trained on `device` in any case."""
    need, have = training_bytes(report, batch_size), device_memory(device)
    if have is not None and need > have:
        raise UsageError(
            f"training this network needs at least {byte_size(need)} (its weights four times and a batch of "
            f"{batch_size:,} images' layer outputs), more than the {byte_size(have)} of {device}",
            "use a smaller network (fewer channels or features) or a smaller --batch-size",
        )
