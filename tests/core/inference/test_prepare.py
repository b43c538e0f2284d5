"""The recipes that turn real-world pictures into a model's input: MNIST's, Fashion-MNIST's, a resize."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnncli.core.data import load_split
from cnncli.core.inference.prepare import PrepareOptions, Recipe, clean, light_paper, otsu_threshold, recipe_for
from cnncli.core.modelfile.metadata import Preprocessing
from tests.support.photos import photo_of

MNIST = Recipe("mnist", 1, 28, 28)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """The 500 real MNIST test digits shipped as mnist-sample: uint8 N x 28 x 28, and their labels."""
    split = load_split("mnist-sample", "test")
    return split.images[:, 0].numpy(), split.labels.numpy()


def grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32) / 255


def ink_box(pixels: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    mass = pixels.astype(np.float64)
    total = mass.sum()
    return (mass.sum(1) * np.arange(28)).sum() / total, (mass.sum(0) * np.arange(28)).sum() / total


def test_mnist_images_come_out_as_they_went_in(digits):
    """The recipe is how MNIST was made, so MNIST's own digits are already its output: the same image,
    but for the few whose ink is fainter than white, which is stretched to white (the same pixels)."""
    images, _ = digits
    out = np.stack([MNIST(image.astype(np.float32) / 255)[0] for image in images])
    same = (out == images).all(axis=(1, 2))
    assert same.mean() > 0.97
    for before, after in zip(images[~same], out[~same], strict=True):
        assert np.array_equal(before > 0, after > 0) and after.max() == 255


def test_a_photo_of_dark_ink_on_paper_becomes_an_mnist_digit(digits):
    images, _ = digits
    for index, (width, height, share, offset) in enumerate([(64, 64, 0.8, (0, 0)), (200, 120, 0.6, (0.15, 0.1))]):
        original = images[index]
        photo = photo_of(original, width, height, share, offset, seed=index)
        assert light_paper(grey(photo)) and not light_paper(original / 255)
        out = MNIST(grey(photo))
        assert out.shape == (1, 28, 28) and out.dtype == np.uint8
        pixels = out[0]
        assert max(ink_box(pixels)) == 20  # the longer side of the ink's box, as MNIST's
        row, col = centre_of_mass(pixels)
        assert 13.5 <= row < 14.5 and 13.5 <= col < 14.5  # where MNIST puts the centre of mass
        assert pixels[[0, -1]].max() == 0 and pixels[:, [0, -1]].max() == 0  # clean black paper
        assert pixels.max() == 255  # white ink
        correlation = np.corrcoef(pixels.ravel().astype(float), original.ravel().astype(float))[0, 1]
        assert correlation > 0.85


def test_cleaning_removes_a_strong_lighting_gradient_and_paper_grain():
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:120, 0:160] / 120
    ink = np.zeros((120, 160), dtype=np.float32)
    ink[30:90, 70:84] = 1.0  # a thick stroke: a 1
    paper = 0.2 + 0.35 * x + 0.15 * y + rng.normal(0, 0.015, ink.shape)  # dark to bright across the page
    picture = np.clip(paper + 0.45 * ink, 0, 1).astype(np.float32)  # light ink on lit paper
    cleaned = clean(picture)
    assert cleaned[ink == 0].mean() < 0.01 and (cleaned[ink == 0] > 0).mean() < 0.01
    assert cleaned[ink == 1].mean() > 0.9


def test_otsu_splits_two_levels_between_them():
    values = np.concatenate([np.full(900, 0.1), np.full(100, 0.8)]).astype(np.float32)
    assert 0.1 < otsu_threshold(values) <= 0.8
    assert otsu_threshold(np.full(10, 0.5, dtype=np.float32)) == 0.5


def test_each_step_can_be_switched_off(digits):
    images, _ = digits
    photo = grey(photo_of(images[3], 300, 300, 0.4, (0.2, 0.2), seed=3))

    def run(**options) -> np.ndarray:
        return Recipe("mnist", 1, 28, 28, PrepareOptions(**options))(photo)[0]

    full = run()
    assert full.mean() < 60  # mostly black paper
    assert run(invert=False).mean() > 100  # light paper left light: what the network was never shown
    uncropped = run(crop=False)  # the whole page is the box: the digit stays small and off-centre
    assert max(ink_box(uncropped > 40)) < 12
    uncentred = run(center=False)
    rows, cols = np.flatnonzero(uncentred.any(1)), np.flatnonzero(uncentred.any(0))
    assert abs((rows[0] + rows[-1]) / 2 - 13.5) <= 0.5 and abs((cols[0] + cols[-1]) / 2 - 13.5) <= 0.5
    raw = run(raw=True)  # resized only: paper stays light, the digit small
    assert raw.mean() > 150
    assert not np.array_equal(run(clean=False), full)


def test_fashion_recipe_inverts_trims_and_fits_the_longer_side():
    picture = np.ones((200, 100), dtype=np.float32)  # white background
    picture[40:160, 30:70] = 0.3  # a dark garment, 120 x 40
    out = Recipe("fashion", 1, 28, 28)(picture)[0]
    height, width = ink_box(out)
    assert height == 28 and 8 <= width <= 10  # the longer side fills the frame, the aspect kept
    assert out[14, 14] > 200 and out[0, 0] == 0  # light object on black, as Fashion-MNIST has them


def test_resize_recipe_keeps_colour_and_fits_the_models_size():
    picture = np.zeros((64, 48, 3), dtype=np.float32)
    picture[..., 0] = 0.9  # red
    recipe = Recipe("resize", 3, 32, 32)
    assert recipe.colour
    out = recipe(picture)
    assert out.shape == (3, 32, 32) and out[0].min() == round(0.9 * 255) and out[1:].max() == 0
    grey_model = Recipe("resize", 1, 32, 32)(picture)
    assert grey_model.shape == (1, 32, 32) and grey_model[0, 0, 0] == round(0.9 * 255 * 0.299)


def test_the_recipe_comes_from_the_models_metadata():
    def pre(prepare: str, channels: int = 1) -> Preprocessing:
        return Preprocessing(channels, (28, 28), (0.5,) * channels, (0.5,) * channels, prepare)

    assert recipe_for(pre("mnist")).kind == "mnist"
    assert recipe_for(pre("fashion")).kind == "fashion"
    assert recipe_for(pre("resize", 3)).colour
    assert recipe_for(pre("something-new")).kind == "resize"  # unknown: the safe plain resize
    assert recipe_for(pre("mnist"), PrepareOptions(raw=True)).options.raw


def test_a_blank_picture_gives_a_blank_input():
    assert MNIST(np.full((40, 40), 0.8, dtype=np.float32)).max() == 0
