"""Small images as terminal block art (`cnn predict --show`): what the network actually saw.

On a colour terminal each character cell is two pixels, one above the other: the upper half block
drawn in the top pixel's colour on the bottom pixel's colour, so a 28 x 28 image is 28 columns by 14
lines at full resolution. Elsewhere each cell is the mean of its two pixels as a character of a
brightness ramp, which survives a log file or a pipe.
"""

from __future__ import annotations

from typing import Any

RAMP = " .:-=+*#%@"
UPPER_HALF = "▀"


def _rows(pixels: Any) -> list[list[tuple[int, int, int]]]:
    """uint8 C x H x W (an array) -> rows of (r, g, b), grey repeated."""
    channels = pixels.shape[0]
    planes = [pixels[min(c, channels - 1)].tolist() for c in range(3)] if channels in (1, 3) else None
    if planes is None:  # any other channel count: their mean, as grey
        grey = pixels.mean(axis=0).round().astype("uint8").tolist()
        planes = [grey, grey, grey]
    return [list(zip(*(plane[y] for plane in planes), strict=True)) for y in range(len(planes[0]))]


def block_art(pixels: Any, colour: bool) -> Any:
    """A Rich Text of the image: half blocks in colour, or a character ramp in plain text."""
    from rich.text import Text

    rows = _rows(pixels)
    if len(rows) % 2:
        rows.append([(0, 0, 0)] * len(rows[0]))
    art = Text()
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        for upper, lower in zip(top, bottom, strict=True):
            if colour:
                art.append(UPPER_HALF, style=f"{_rgb(upper)} on {_rgb(lower)}")
            else:
                level = (sum(upper) + sum(lower)) / (6 * 255)
                art.append(RAMP[min(len(RAMP) - 1, int(level * len(RAMP)))])
        art.append("\n")
    art.right_crop(1)  # the last newline: the console ends the line itself
    return art


def _rgb(pixel: tuple[int, int, int]) -> str:
    return f"rgb({pixel[0]},{pixel[1]},{pixel[2]})"
