"""Reading the images `cnn predict` is handed: every mode and format, EXIF orientation, transparency,
16-bit, large pictures, and hostile files that must fail alone with a one-line reason."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.core.data import load_split
from cnncli.core.inference.images import WORK_SIZE, ImageError, ImageSource, read_picture, refuse_bombs
from tests.support.photos import jpeg_bytes, photo_of, pixel_bomb_png, write_hostile_files

LOSSLESS = {"PNG", "BMP", "TIFF", "GIF"}
CASES = (
    [("PNG", mode) for mode in ("L", "LA", "RGB", "RGBA", "P", "I;16", "1")]
    + [("JPEG", mode) for mode in ("L", "RGB", "CMYK")]
    + [("BMP", mode) for mode in ("1", "L", "P", "RGB")]
    + [("GIF", mode) for mode in ("L", "P")]
    + [("TIFF", mode) for mode in ("L", "LA", "RGB", "RGBA", "P", "I;16", "CMYK", "1")]
    + [("WEBP", mode) for mode in ("RGB", "RGBA")]
)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """A real MNIST digit (a 7) as a 64 x 64 photo of dark ink on light paper."""
    digit = load_split("mnist-sample", "test").images[0, 0].numpy()
    return photo_of(digit, 64, 64, 0.8, (0.0, 0.0), seed=1)


def in_mode(photo: Image.Image, mode: str) -> Image.Image:
    """The grey photo in `mode`, holding the same picture (opaque where there is alpha)."""
    if mode == "I;16":
        return Image.fromarray(np.asarray(photo).astype(np.uint16) * 257)  # uint16: mode I;16
    if mode == "1":
        return photo.point(lambda v: 255 if v > 128 else 0).convert("1", dither=Image.Dither.NONE)
    if mode == "P":
        return photo.convert("RGB").quantize(256)
    if mode == "CMYK":
        return photo.convert("RGB").convert("CMYK")
    return photo.convert(mode)


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def read(data: bytes, colour: bool = False) -> np.ndarray:
    return read_picture(ImageSource("test", data=data), colour=colour)


@pytest.mark.parametrize(("fmt", "mode"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_every_mode_and_format_reads_as_the_same_grey_picture(photo, fmt, mode):
    data = saved(in_mode(photo, mode), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    with Image.open(io.BytesIO(data)) as check:
        assert check.format == fmt
    picture = read(data)
    assert picture.shape == (64, 64) and picture.dtype == np.float32
    assert picture.min() >= 0.0 and picture.max() <= 1.0
    expected = np.asarray(in_mode(photo, "1").convert("L") if mode == "1" else photo, dtype=np.float32) / 255
    tolerance = 0.02 if fmt in LOSSLESS | {"WEBP"} and mode != "P" else 0.05  # JPEG and palettes are lossy
    assert np.abs(picture - expected).mean() < tolerance


def test_colour_pictures_keep_their_channels():
    image = Image.new("RGB", (10, 6), (200, 30, 10))
    picture = read(saved(image, "PNG"), colour=True)
    assert picture.shape == (6, 10, 3)
    assert picture[0, 0] == pytest.approx([200 / 255, 30 / 255, 10 / 255])
    assert read(saved(image.convert("L"), "PNG"), colour=True).shape == (6, 10, 3)  # grey given as RGB


def test_sixteen_bit_grey_is_scaled_by_its_own_range():
    values = np.array([[0, 65535], [32896, 257]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    picture = read(saved(image, "PNG"))
    assert picture == pytest.approx(values / 65535, abs=1e-6)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_is_applied(photo, fmt):
    """Stored turned a quarter, with EXIF orientation 6 ('rotate 90 clockwise to view'): read upright."""
    stored = photo.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    upright = read(saved(photo, fmt, quality=95) if fmt == "JPEG" else saved(photo, fmt))
    turned = read(saved(stored, fmt, exif=exif, **({"quality": 95} if fmt == "JPEG" else {})))
    assert turned.shape == upright.shape
    assert np.abs(turned - upright).mean() < (0.001 if fmt == "PNG" else 0.02)
    without = read(saved(stored, fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    assert np.abs(without - upright).mean() > 0.02  # the tag is what turned it


@pytest.mark.parametrize(("ink", "paper"), [(0, 1.0), (255, 0.0)])
def test_transparency_becomes_the_paper_that_contrasts_with_the_ink(ink, paper):
    """A drawn digit on a transparent background: the colour under the transparent pixels (junk here)
    is ignored; the background becomes white under dark ink and black under light ink."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)  # junk colours everywhere
    pixels[..., 3] = 0
    pixels[8:24, 14:18] = (ink, ink, ink, 255)  # an opaque stroke: a 1
    for mode in ("RGBA", "LA"):
        image = Image.fromarray(pixels, mode="RGBA").convert(mode)
        picture = read(saved(image, "PNG"))
        assert picture[0, 0] == pytest.approx(paper) and picture[16, 15] == pytest.approx(ink / 255)


def test_a_palette_gif_with_a_transparent_colour_and_only_its_first_frame(photo):
    first = photo.convert("P")
    second = Image.new("P", photo.size, 0)
    data = saved(first, "GIF", save_all=True, append_images=[second], transparency=255)
    picture = read(data)
    assert np.abs(picture - np.asarray(photo, dtype=np.float32) / 255).mean() < 0.05


def test_a_large_photo_is_reduced_before_the_recipe_sees_it(photo):
    big = photo.resize((2000, 1500), Image.Resampling.BILINEAR)
    for fmt in ("PNG", "JPEG"):
        picture = read(saved(big, fmt))
        assert WORK_SIZE <= max(picture.shape) < 2 * WORK_SIZE
        assert picture.shape[1] / picture.shape[0] == pytest.approx(4 / 3, rel=0.02)


def test_hostile_files_fail_each_with_its_own_reason(tmp_path, photo):
    png, jpeg = saved(photo, "PNG"), jpeg_bytes(photo)
    files = write_hostile_files(tmp_path, png, jpeg)
    reasons = {}
    for name, path in files.items():
        with pytest.raises(ImageError) as caught:
            read_picture(ImageSource(str(path), path=path))
        reasons[name] = caught.value.message
    assert reasons["empty"] == "empty file (0 bytes)"
    assert reasons["text"].startswith("not an image in a format cnn reads (PNG, JPEG")
    assert reasons["unsupported"].startswith("not an image in a format cnn reads")
    assert reasons["truncated_png"].startswith("damaged or truncated image")
    assert reasons["truncated_jpeg"].startswith("damaged or truncated image")
    assert "40-megapixel cap" in reasons["bomb"] and "40-megapixel cap" in reasons["over_cap"]
    assert reasons["over_cap"].startswith("8000 x 6000 is 48 megapixels")
    for reason in reasons.values():
        assert "\n" not in reason


def test_pillows_bomb_warning_is_an_error_too(tmp_path):
    """100 megapixels: past Pillow's warning (89 MP), short of its error (179 MP)."""
    refuse_bombs()
    path = tmp_path / "warning.png"
    path.write_bytes(pixel_bomb_png(10_000, 10_000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may slip through as a mere warning
        with pytest.raises(ImageError, match="40-megapixel cap"):
            read_picture(ImageSource(str(path), path=path))


def test_formats_outside_the_list_are_not_opened(tmp_path, photo):
    """Pillow reads ICO (and EPS, through Ghostscript): cnn opens only the formats it lists."""
    path = tmp_path / "icon.png"
    path.write_bytes(saved(photo.convert("RGBA"), "ICO"))
    with pytest.raises(ImageError, match="not an image in a format cnn reads"):
        read_picture(ImageSource(str(path), path=path))


def test_a_file_that_vanished_or_cannot_be_read(tmp_path):
    with pytest.raises(ImageError, match="cannot read it"):
        read_picture(ImageSource("gone.png", path=Path(tmp_path / "gone.png")))


def test_a_file_bigger_than_any_image_we_read_is_refused_unread(tmp_path, monkeypatch, photo):
    from cnncli.core.inference import images

    monkeypatch.setattr(images, "MAX_BYTES", 1024 * 1024)
    path = tmp_path / "huge.png"
    path.write_bytes(saved(photo, "PNG") + b"\0" * (2 * 1024 * 1024))
    with pytest.raises(ImageError, match=r"2 MiB is more than an image we read \(1 MiB\)"):
        read_picture(ImageSource(str(path), path=path))
