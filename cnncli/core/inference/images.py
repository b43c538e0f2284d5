"""Reading one image a user hands us, safely, into a float picture the recipes can work on.

Anything may arrive: a photo from a phone (EXIF-rotated, 12 megapixels), a scan, a transparent PNG, a
16-bit TIFF, a file that only claims to be an image, a truncated download, a decompression bomb. Each
is either a picture or an ImageError with a one-line reason; nothing else escapes, so one bad file
never stops a batch.

    read_picture(source, colour=False) -> float32 array in [0, 1]: H x W (grey) or H x W x 3 (colour)

Only the formats below are opened (Pillow would otherwise also try EPS through Ghostscript, and more),
and a header that promises more than MAX_PIXELS pixels is refused before a byte of it is decoded.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from cnncli.core.errors import BadInput

FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
FORMAT_NAMES = "PNG, JPEG, BMP, GIF, TIFF, WebP, PPM"
MAX_PIXELS = 40_000_000  # our cap, well below Pillow's warning (89 MP): a 40 MP photo is already huge
MAX_BYTES = 256 * 1024 * 1024  # a bigger file is no photo of a digit
WORK_SIZE = 512  # longer side pictures are reduced to first: ample for any model input, cheap to clean
EXIF_ORIENTATION = 0x0112
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's "L" conversion

# what Pillow raises for damaged, truncated or hostile files
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class ImageError(BadInput):
    """One input that is not an image we can read; the batch goes on without it."""


@dataclass(frozen=True)
class ImageSource:
    """One input: a file, or bytes that arrived another way (`-`: standard input)."""

    name: str  # as shown to the user: the path given, or "-"
    path: Path | None = None
    data: bytes | None = None

    def size(self) -> int:
        return len(self.data) if self.data is not None else self.path.stat().st_size  # type: ignore[union-attr]

    def stream(self) -> io.BufferedIOBase:
        return io.BytesIO(self.data) if self.data is not None else open(self.path, "rb")  # type: ignore[arg-type]


def refuse_bombs() -> None:
    """Make Pillow's DecompressionBombWarning an error, process-wide (the filter list is global, so this
    is done once from the main thread rather than per image in the decoding threads)."""
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def read_picture(source: ImageSource, colour: bool = False) -> np.ndarray:
    """The image upright, transparency composited on its paper, as float32 in [0, 1]; ImageError otherwise."""
    try:
        size = source.size()
        stream = source.stream() if 0 < size <= MAX_BYTES else None
    except OSError as error:
        raise ImageError(f"cannot read it: {error.strerror or error}") from None
    if size == 0:
        raise ImageError("empty file (0 bytes)")
    if stream is None:
        raise ImageError(f"{size / 2**20:,.0f} MiB is more than an image we read ({MAX_BYTES // 2**20} MiB)")
    try:
        with stream, _open(stream) as image:
            picture, alpha = _decoded(image)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"not an image in a format cnn reads ({FORMAT_NAMES})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"more pixels than the {MAX_PIXELS // 1_000_000}-megapixel cap (a decompression bomb?)"
        ) from None
    except _DECODE_ERRORS as error:
        raise ImageError(f"damaged or truncated image ({_reason(error)})") from None
    picture = _composite(picture, alpha)
    return _in_colour(picture) if colour else _in_grey(picture)


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:160] if text else type(error).__name__


def _open(stream: io.BufferedIOBase) -> Image.Image:
    image = Image.open(stream, formats=FORMATS)
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageError(
            f"{width} x {height} is {width * height / 1e6:,.0f} megapixels, over the "
            f"{MAX_PIXELS // 1_000_000}-megapixel cap (a decompression bomb?)"
        )
    if image.format == "JPEG" and max(image.size) > 2 * WORK_SIZE:
        image.draft(image.mode, (WORK_SIZE, WORK_SIZE))  # let the JPEG decoder itself scale down: far faster
    return image


def _decoded(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels as float32 in [0, 1] (H x W or H x W x 3) and alpha (H x W) or None."""
    image.load()
    if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)
    image = _standard_mode(image)
    if max(image.size) > WORK_SIZE and image.mode in ("L", "LA", "RGB", "RGBA"):
        factor = max(image.size) // WORK_SIZE
        if factor > 1:
            image = image.reduce(factor)  # a box average: cheap, and the recipes resample precisely later
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _wide(image), None
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if image.mode in ("LA", "RGBA"):
        return pixels[..., :-1].squeeze(-1) if image.mode == "LA" else pixels[..., :3], pixels[..., -1]
    return pixels, None


def _standard_mode(image: Image.Image) -> Image.Image:
    """L, LA, RGB, RGBA, or a 16/32-bit grey mode: every other mode converted on the way in."""
    mode = image.mode
    transparent = "transparency" in image.info
    if mode in ("P", "PA"):
        return image.convert("RGBA" if transparent or mode == "PA" else "RGB")
    if mode == "1":
        return image.convert("L")
    if mode in ("L", "RGB") and transparent:
        return image.convert("LA" if mode == "L" else "RGBA")
    if mode in ("L", "LA", "RGB", "RGBA") or mode.startswith("I") or mode == "F":
        return image
    if mode == "La":
        return image.convert("LA")
    if mode == "RGBa":
        return image.convert("RGBA")
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _wide(image: Image.Image) -> np.ndarray:
    """16- and 32-bit grey, and float images, scaled to [0, 1] by the range their type can hold."""
    pixels = np.asarray(image).astype(np.float32)
    if image.mode == "F":
        top = 1.0 if pixels.max(initial=0.0) <= 1.0 else 255.0
    else:
        top = 65535.0 if pixels.max(initial=0.0) <= 65535 else float(pixels.max())
    pixels = np.clip(pixels / top, 0.0, 1.0)
    if max(pixels.shape) > WORK_SIZE:
        factor = max(pixels.shape) // WORK_SIZE
        height, width = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
        pixels = pixels[:height, :width].reshape(height // factor, factor, width // factor, factor).mean((1, 3))
    return pixels


def _composite(picture: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Transparent pixels become the paper: white under dark ink, black under light ink.

    A transparent PNG of a drawn digit has no paper of its own; whichever colour contrasts with what is
    drawn is the one the recipes then recognise as paper.
    """
    if alpha is None or alpha.min() >= 1.0:
        return picture
    grey = picture if picture.ndim == 2 else picture @ LUMA
    drawn = float(alpha.sum())
    paper = 1.0 if drawn == 0 or float((grey * alpha).sum()) / drawn < 0.5 else 0.0
    weight = alpha if picture.ndim == 2 else alpha[..., None]
    return picture * weight + paper * (1.0 - weight)


def _in_grey(picture: np.ndarray) -> np.ndarray:
    return picture if picture.ndim == 2 else picture @ LUMA


def _in_colour(picture: np.ndarray) -> np.ndarray:
    return np.repeat(picture[..., None], 3, axis=2) if picture.ndim == 2 else picture
