"""The device to train on, its thread count, and whether bfloat16 autocast pays off there."""

from __future__ import annotations

import os
import re
from functools import cache

import torch

from cnncli.core.errors import DeviceUnavailable, UsageError


def resolve_device(name: str) -> torch.device:
    """auto (cuda, else mps, else cpu), cpu, cuda, cuda:N or mps; a missing accelerator is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise DeviceUnavailable("--device mps: this machine has no Apple GPU (MPS)", "use --device cpu or auto")
        return torch.device("mps")
    match = re.fullmatch(r"cuda(?::([0-9]+))?", name)
    if not match:
        raise UsageError(f"unknown device {name!r}", "devices: auto, cpu, cuda, cuda:N, mps")
    if not torch.cuda.is_available():
        raise DeviceUnavailable(
            f"--device {name}: CUDA is not available here",
            "this PyTorch sees no NVIDIA GPU; use --device cpu (or auto)",
        )
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise DeviceUnavailable(
            f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices",
            f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}",
        )
    return torch.device("cuda", index)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


@cache
def _cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: bf16 matrix work in hardware. Elsewhere bf16 is emulated and slower than fp32."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as handle:
            flags = handle.read()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def amp_dtype(device: torch.device, setting: str) -> torch.dtype | None:
    """bfloat16 for autocast, or None for float32. auto: on CUDA with bf16, on CPUs with native bf16."""
    if setting == "off":
        return None
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    elif device.type == "cpu":
        supported = _cpu_has_native_bf16() if setting == "auto" else True
    else:
        supported = setting == "on"
    if setting == "on" and not supported:
        raise DeviceUnavailable(f"--amp on: {device} has no bfloat16 support", "use --amp off")
    return torch.bfloat16 if supported else None


def set_threads(threads: int, processes: int = 1) -> int:
    """Use `threads` CPU threads, or all cores shared among `processes`; returns the number set."""
    count = threads or max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(count)
    return count
