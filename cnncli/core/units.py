"""Sizes for people: bytes in KiB/MiB (or KB/MB as torchinfo prints them), and dimensions as 1x28x28."""

from __future__ import annotations

from collections.abc import Sequence


def byte_size(count: float, decimal: bool = False) -> str:
    """11594722 -> '11.1 MiB'; decimal=True as torchinfo gives sizes: 12796424 -> '12.80 MB'."""
    if decimal:
        for scale, suffix, digits in ((1e9, "GB", 2), (1e6, "MB", 2), (1e3, "KB", 1)):
            if count >= scale:
                return f"{count / scale:.{digits}f} {suffix}"
    else:
        for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if count >= scale:
                return f"{count / scale:.1f} {suffix}"
    return f"{int(count)} B"


def format_dims(dims: Sequence[int]) -> str:
    """(1, 28, 28) -> '1x28x28'; a receptive field (5, 5) -> '5x5'."""
    return "x".join(str(d) for d in dims)


def format_pair(pair: Sequence[int]) -> str:
    """A kernel, stride or padding as a spec writes it: (3, 3) -> '3', (3, 5) -> '3x5'."""
    return str(pair[0]) if pair[0] == pair[1] else format_dims(pair)
