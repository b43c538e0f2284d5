"""`cnn eval --errors DIR`: the most confidently wrong images as PNGs, and a contact sheet of them all.

    NN_idxINDEX_true-LABEL_pred-LABEL_conf-0.987.png   one per image, NN its rank (most confident first)
    contact-sheet.png                                   every one of them on a grid, each captioned

Each file is written atomically. The images are the dataset's own pixels; the sheet enlarges them
(nearest neighbour, so no pixel is invented) and writes the index, the true and the predicted class
and the confidence under each.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cnncli.core.atomic import atomic_write_bytes, write_error
from cnncli.core.errors import UsageError
from cnncli.core.inference.evaluation import WrongImage
from cnncli.core.naming import slug

CONTACT_SHEET = "contact-sheet.png"
TILE = 84  # px: the enlarged image on the sheet (28 px x 3)
CAPTION_LINES = 2
PAD = 6


@dataclass(frozen=True)
class Gallery:
    folder: Path
    files: tuple[Path, ...]  # in the order of the images, most confident first
    contact_sheet: Path | None  # None when there was nothing wrong to show


def _class_part(name: str) -> str:
    return slug(name, "class", keep=".-", trim="-")  # "_" separates the fields of the file name


def image_name(rank: int, wrong: WrongImage, classes: Sequence[str]) -> str:
    return (
        f"{rank:02d}_idx{wrong.index}_true-{_class_part(classes[wrong.true])}"
        f"_pred-{_class_part(classes[wrong.predicted])}_conf-{wrong.confidence:.3f}.png"
    )


def _picture(pixels: np.ndarray) -> Image.Image:
    """uint8 C x H x W -> a grey or RGB Pillow image."""
    if pixels.shape[0] == 1:
        return Image.fromarray(pixels[0], mode="L")
    return Image.fromarray(np.ascontiguousarray(pixels[:3].transpose(1, 2, 0)), mode="RGB")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def prepare_gallery_folder(folder: Path) -> Path:
    """Create the --errors folder before any work is done, so that a wrong path fails in a second rather
    than after the whole evaluation."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--errors {folder} is a file, not a folder", "name a folder (it is created if need be)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from exc
    return folder


def write_gallery(folder: Path, wrong: Sequence[WrongImage], classes: Sequence[str]) -> Gallery:
    """Write each wrong image and the contact sheet into `folder` (created if need be)."""
    folder = Path(folder)
    files = []
    for rank, item in enumerate(wrong, start=1):
        path = folder / image_name(rank, item, classes)
        atomic_write_bytes(path, _png(_picture(item.pixels)))
        files.append(path)
    sheet = None
    if wrong:
        sheet = folder / CONTACT_SHEET
        atomic_write_bytes(sheet, _png(contact_sheet(wrong, classes)))
    return Gallery(folder, tuple(files), sheet)


def contact_sheet(wrong: Sequence[WrongImage], classes: Sequence[str]) -> Image.Image:
    """A grid of the images, enlarged, each with its index and `true -> predicted  confidence` below."""
    font = ImageFont.load_default()
    line_height = _text_height(font) + 2
    columns = max(1, math.ceil(math.sqrt(len(wrong))))
    rows = math.ceil(len(wrong) / columns)
    captions = [
        (f"#{item.index}", f"{_short(classes[item.true])}->{_short(classes[item.predicted])} {item.confidence:.0%}")
        for item in wrong
    ]
    cell_width = max(TILE, *(_text_width(font, text) for pair in captions for text in pair)) + 2 * PAD
    cell_height = TILE + CAPTION_LINES * line_height + 2 * PAD
    sheet = Image.new("RGB", (columns * cell_width, rows * cell_height), "white")
    draw = ImageDraw.Draw(sheet)
    for number, (item, caption) in enumerate(zip(wrong, captions, strict=True)):
        left, top = (number % columns) * cell_width, (number // columns) * cell_height
        tile = _picture(item.pixels).convert("RGB")
        scale = max(1, TILE // max(tile.size))
        tile = tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)
        sheet.paste(tile, (left + (cell_width - tile.width) // 2, top + PAD))
        for line, text in enumerate(caption):
            x = left + (cell_width - _text_width(font, text)) // 2
            draw.text((x, top + PAD + TILE + 2 + line * line_height), text, fill="black", font=font)
    return sheet


def _short(name: str, limit: int = 12) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "."


def _text_width(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _text_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    _, top, _, bottom = font.getbbox("Ag#0")
    return int(bottom - top)
