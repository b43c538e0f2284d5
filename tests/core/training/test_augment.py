"""Batched augmentation: each image's result is a transform of it the policy allows, drawn reproducibly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cnncli.core.training.augment import augment, policy_for, random_affine, random_flip, random_translate


def _images(n: int = 64, size: int = 12, seed: int = 0) -> torch.Tensor:
    # values 1..255 everywhere, so a zero can only come from the fill and every shift is identifiable
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n, 1, size, size), dtype=torch.uint8, generator=generator)


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """image moved by (dy, dx), zeros coming in: the reference random_translate must match."""
    h, w = image.shape[-2:]
    pad = max(abs(dy), abs(dx))
    padded = F.pad(image, (pad,) * 4)
    return padded[..., pad - dy : pad - dy + h, pad - dx : pad - dx + w]


def _shifts_of(original: torch.Tensor, moved: torch.Tensor, max_shift: int) -> list[tuple[int, int]]:
    span = range(-max_shift, max_shift + 1)
    return [(dy, dx) for dy in span for dx in span if torch.equal(_shifted(original, dy, dx), moved)]


@pytest.mark.parametrize("max_shift", [1, 2, 4])
def test_translate_moves_each_image_by_its_own_shift_within_the_bound(max_shift):
    images = _images()
    moved = random_translate(images, max_shift, torch.Generator().manual_seed(1))
    assert moved.shape == images.shape and moved.dtype == torch.uint8
    shifts = [_shifts_of(a, b, max_shift) for a, b in zip(images, moved, strict=True)]
    assert all(len(found) == 1 for found in shifts), "every result is exactly one allowed shift of its image"
    assert len({found[0] for found in shifts}) > 5, "the images do not all get the same shift"


def test_translate_by_zero_is_the_identity():
    images = _images()
    assert random_translate(images, 0, torch.Generator().manual_seed(1)) is images


def test_flip_mirrors_about_half_the_batch_and_leaves_the_rest():
    images = _images(n=400)
    flipped = random_flip(images, torch.Generator().manual_seed(2))
    mirrored = [torch.equal(b, a.flip(-1)) for a, b in zip(images, flipped, strict=True)]
    kept = [torch.equal(b, a) for a, b in zip(images, flipped, strict=True)]
    assert all(m != k for m, k in zip(mirrored, kept, strict=True))
    assert 150 < sum(mirrored) < 250


def test_the_same_seed_draws_the_same_batch_and_another_seed_another():
    images = _images()
    first = augment(images, policy_for("mnist"), torch.Generator().manual_seed(7))
    again = augment(images, policy_for("mnist"), torch.Generator().manual_seed(7))
    other = augment(images, policy_for("mnist"), torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(augment(images, policy_for("fashion"), torch.Generator().manual_seed(7)), images)


def test_digits_shift_but_never_mirror():
    images = _images(n=200)
    out = augment(images, policy_for("mnist"), torch.Generator().manual_seed(3))
    assert all(_shifts_of(a, b, 2) for a, b in zip(images, out, strict=True))
    assert not any(torch.equal(b, a.flip(-1)) for a, b in zip(images, out, strict=True))


def test_clothing_mirrors_but_never_shifts():
    # Fashion-MNIST's items are centred and scaled alike: shifting them cost 0.4-1.0 points of test
    # accuracy in the default 8 epochs (benchmarks/recipes.py), mirroring helps
    images = _images(n=200)
    out = augment(images, policy_for("fashion"), torch.Generator().manual_seed(4))
    assert all(torch.equal(b, a) or torch.equal(b, a.flip(-1)) for a, b in zip(images, out, strict=True))
    assert any(torch.equal(b, a.flip(-1)) and not torch.equal(a, a.flip(-1)) for a, b in zip(images, out, strict=True))


def test_photos_shift_by_up_to_4_pixels_and_mirror():
    images = _images(n=200)
    out = augment(images, policy_for("resize"), torch.Generator().manual_seed(5))
    for a, b in zip(images, out, strict=True):
        assert _shifts_of(a, b, 4) or _shifts_of(a.flip(-1), b, 4)


def test_affine_with_no_rotation_or_zoom_is_the_identity():
    images = _images().float()
    out = random_affine(images, 0.0, 0.0, torch.Generator().manual_seed(6))
    torch.testing.assert_close(out, images, atol=1e-3, rtol=0)


def test_affine_fills_the_border_with_the_background_value():
    background = -0.4242  # a normalised zero pixel
    images = torch.full((8, 1, 16, 16), background)
    out = random_affine(images, 30.0, 0.2, torch.Generator().manual_seed(6), fill=background)
    torch.testing.assert_close(out, images, atol=1e-5, rtol=0)
