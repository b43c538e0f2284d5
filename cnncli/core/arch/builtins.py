"""The built-in architectures: names for spec strings, each with the input it was designed for.

Input channels and the class count come from the dataset when a model is built (`classes` in a spec,
and the first conv takes whatever channels the data has), so `tutorial` works on MNIST and, where the
arithmetic allows, on 3-channel data too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnncli.core.arch.shapes import Shape
from cnncli.core.arch.spec import Layer, parse_spec
from cnncli.core.errors import NotFound, SpecError


@dataclass(frozen=True)
class Architecture:
    name: str
    spec: str
    description: str
    input_shape: Shape  # what it was designed for: (channels, height, width)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return parse_spec(self.spec)


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        # The default. Against `base` (float32, 2-core AVX2 CPU): pooling each conv's output before its batch
        # norm and ReLU hands them a quarter of the pixels (at full resolution they were a third of base's
        # step; max pooling commutes with both, and the norm still folds into the conv for inference), and
        # three-quarter widths nearly halve the convs' multiply-adds: 1.78x to 1.88x base's training images
        # a second side by side (benchmarks/architectures.py, 5 pairs of 300 steps, 3 of 600), for 0.04 to
        # 0.08 points of MNIST accuracy (99.54% or 99.50% against 99.58%, medians of seeds 0-2,
        # benchmarks/recipes.py) and 0.6 of Fashion-MNIST's. Pooling first at base's widths kept its accuracy
        # (99.67% and 99.51%, seeds 0-1) but ran 1.4x; six epochs of that, 1.85x in time, gave 99.46% at
        # seed 0. Nearly twice as fast won the default; the bundled models, trained once for everyone, are
        # `base`.
        Architecture(
            "lean",
            "conv(24, 3, padding=1, bias=false) maxpool(2) bn relu "
            "conv(48, 3, padding=1, bias=false) maxpool(2) bn relu "
            "conv(96, 3, padding=1, bias=false) maxpool(2) bn relu fc(classes)",
            "the default: three conv-pool-bn-relu stages and one small fc; the best accuracy per second",
            (1, 28, 28),
        ),
        Architecture(
            "base",
            "conv(32, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(64, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(128, 3, padding=1, bias=false) bn relu maxpool(2) fc(classes)",
            "the default before lean: three conv-bn-relu-pool stages, one small fc; half lean's speed",
            (1, 28, 28),
        ),
        # The fastest recipe's network: lean at two-thirds the width, as fast is base at half the width.
        Architecture(
            "quick",
            "conv(16, 3, padding=1, bias=false) maxpool(2) bn relu "
            "conv(32, 3, padding=1, bias=false) maxpool(2) bn relu "
            "conv(64, 3, padding=1, bias=false) maxpool(2) bn relu fc(classes)",
            "lean at two-thirds the width, pooling before the norm: 99% on MNIST in one epoch, in seconds",
            (1, 28, 28),
        ),
        Architecture(
            "fast",
            "conv(16, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(32, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(64, 3, padding=1, bias=false) bn relu maxpool(2) fc(classes)",
            "base at half the width: a quarter of the work, for 99% on MNIST in seconds",
            (1, 28, 28),
        ),
        Architecture(
            "cifar",
            "conv(32, 3, padding=1, bias=false) bn relu "
            "conv(64, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(128, 3, padding=1, bias=false) bn relu maxpool(2) "
            "conv(256, 3, padding=1, bias=false) bn relu maxpool(2) gap fc(classes)",
            "for 3-channel 32x32 photos (CIFAR-10): four conv-bn-relu stages, global average pooling",
            (3, 32, 32),
        ),
        Architecture(
            "tutorial",
            "conv(32, 5, padding=2) relu maxpool(2) conv(64, 5, padding=2) relu maxpool(2) dropout "
            "fc(1000) fc(classes)",
            "the reference network of the classic PyTorch MNIST tutorial (99.03% after 6 epochs)",
            (1, 28, 28),
        ),
        Architecture(
            "tiny",
            "conv(8, 3, padding=1) relu maxpool(2) conv(16, 3, padding=1) relu maxpool(2) fc(classes)",
            "two small convs and one fc: trains in seconds, for trying things out",
            (1, 28, 28),
        ),
        Architecture(
            "lenet5",
            "conv(6, 5, padding=2) tanh avgpool(2) conv(16, 5) tanh avgpool(2) fc(120) tanh fc(84) tanh fc(classes)",
            "LeCun et al. 1998: tanh and average-pooling subsampling, 28x28 input padded to 32x32",
            (1, 28, 28),
        ),
        Architecture(
            "examples",
            "conv(32, 3) relu conv(64, 3) relu maxpool(2) dropout(0.25) fc(128) relu dropout(0.5) fc(classes)",
            "the network of pytorch/examples mnist/main.py",
            (1, 28, 28),
        ),
    )
}


def names() -> list[str]:
    return list(ARCHITECTURES)


def lookup(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise NotFound(
            f"no built-in architecture named {name!r}",
            "built-in: " + ", ".join(ARCHITECTURES) + "; or give a spec string",
        ) from None


@dataclass(frozen=True)
class ResolvedModel:
    name: str | None  # the built-in name, or None for a spec string
    spec: str
    layers: tuple[Layer, ...]
    input_shape: Shape  # the architecture's own
    description: str = ""


DEFAULT_INPUT: Shape = (1, 28, 28)


def resolve_model(text: str) -> ResolvedModel:
    """A built-in architecture by name, or a spec string parsed."""
    text = text.strip()
    if text in ARCHITECTURES:
        arch = lookup(text)
        return ResolvedModel(arch.name, arch.spec, arch.layers, arch.input_shape, arch.description)
    try:
        layers = parse_spec(text)
    except SpecError as error:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", text):
            raise NotFound(
                f"{text!r} is neither a built-in architecture nor a spec",
                "built-in: " + ", ".join(names()) + "; a spec looks like 'conv(32, 3) relu maxpool(2) fc(classes)'",
            ) from None
        raise error
    return ResolvedModel(None, text, layers, DEFAULT_INPUT)
