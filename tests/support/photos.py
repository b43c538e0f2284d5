"""Real image files for the predict tests: MNIST digits rendered as photos of ink on paper, every Pillow
mode and format, and hostile files (empty, text, truncated, a pixel bomb)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

# (width, height, digit height as a share of the shorter side, offset of the digit's centre from the middle)
PHOTO_LAYOUTS = [
    (64, 64, 0.8, (0.0, 0.0)),
    (200, 120, 0.7, (0.12, -0.05)),
    (500, 500, 0.5, (-0.1, 0.15)),
    (90, 160, 0.6, (0.05, 0.1)),
]


def photo_of(
    digit: np.ndarray, width: int, height: int, share: float, offset: tuple[float, float], seed: int
) -> Image.Image:
    """A 28 x 28 white-on-black MNIST digit as a greyscale photo of dark ink on light paper: scaled up,
    placed off-centre with margins, lit unevenly (a gradient across the page), with paper grain."""
    rng = np.random.default_rng(seed)
    side = max(8, round(share * min(width, height) * 28 / 20))  # the 20 px digit box becomes share of the side
    glyph = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC), dtype=np.float32) / 255
    ink = np.zeros((height, width), dtype=np.float32)
    top = round(height / 2 + offset[1] * height - side / 2)
    left = round(width / 2 + offset[0] * width - side / 2)
    rows = slice(max(0, top), min(height, top + side))
    cols = slice(max(0, left), min(width, left + side))
    ink[rows, cols] = glyph[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]
    y, x = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    gradient = 0.08 * ((x / width - 0.5) * np.cos(angle) + (y / height - 0.5) * np.sin(angle))
    paper = 0.86 + gradient + rng.normal(0, 0.012, (height, width))
    pen = 0.12 + rng.uniform(-0.04, 0.04)
    pixels = paper - (paper - pen) * np.clip(ink, 0, 1)
    return Image.fromarray(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8), mode="L")


def jpeg_bytes(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel_bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header promising width x height pixels, with almost no data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def write_hostile_files(folder: Path, sample_png: bytes, sample_jpeg: bytes) -> dict[str, Path]:
    """Files that must each fail alone: empty, text, truncated PNG and JPEG, pixel bombs, an unsupported format."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "empty": (folder / "empty.png", b""),
        "text": (folder / "notes.png", b"this is not an image, just text saved with a .png name\n"),
        "truncated_png": (folder / "truncated.png", sample_png[: len(sample_png) // 2]),
        "truncated_jpeg": (folder / "truncated.jpg", sample_jpeg[: len(sample_jpeg) // 2]),
        "bomb": (folder / "bomb.png", pixel_bomb_png(30_000, 30_000)),
        "over_cap": (folder / "large.png", pixel_bomb_png(8_000, 6_000)),
        "unsupported": (folder / "drawing.png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}
