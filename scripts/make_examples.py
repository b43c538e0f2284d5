"""Draw the example digit images in examples/: digits set in type, dark ink on light paper, NOT from MNIST.

    python scripts/make_examples.py                          # examples/digit-0.png ... digit-9.png
    python scripts/make_examples.py --out DIR --variants 10  # DIR/D/NAME.png, 10 per digit: a labelled folder

Each image is one digit in a TrueType face (Pillow's own, which ships with Pillow, then DejaVu and
Liberation where the system has them), drawn at a random size, slant and place on a page with uneven
light and paper grain, as a phone photo of a printed or stencilled digit would be. They stand for
"a digit from outside MNIST": `cnn predict examples/*.png` needs no download, and the labelled folder form
measures how a model does on digits it was not trained on (README, "Quick start").
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

SYSTEM_FACES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
)


def faces() -> list[str | None]:
    """None: Pillow's built-in face; then the system's that exist."""
    return [None, *(face for face in SYSTEM_FACES if Path(face).is_file())]


def _font(face: str | None, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size) if face is None else ImageFont.truetype(face, size)


def draw_digit(digit: int, face: str | None, rng: random.Random, side: int = 96) -> Image.Image:
    """One digit, dark on light, as a small greyscale photo."""
    size = rng.randint(int(side * 0.55), int(side * 0.8))
    glyph = Image.new("L", (side * 2, side * 2), 0)
    ImageDraw.Draw(glyph).text(
        (side, side), str(digit), fill=255, font=_font(face, size), anchor="mm", stroke_width=rng.randint(0, 3)
    )
    glyph = glyph.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC)
    box = glyph.getbbox() or (0, 0, side, side)
    glyph = glyph.crop(box)
    page = Image.new("L", (side, side), 0)
    left = rng.randint(0, max(0, side - glyph.width))
    top = rng.randint(0, max(0, side - glyph.height))
    page.paste(glyph, (left, top))
    ink = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    # a 256 px gradient turned, then its middle: always covered, whatever the angle
    paper = Image.linear_gradient("L").rotate(rng.uniform(0, 360)).crop((64, 64, 192, 192)).resize((side, side))
    paper = paper.point(lambda v: 205 + v * 40 // 255)  # light paper, lit unevenly
    grain = Image.frombytes("L", (side, side), bytes(rng.randint(100, 156) for _ in range(side * side)))
    paper = Image.blend(paper, grain, 0.15)  # seeded grain (Pillow's effect_noise is not), so reruns match
    ink_level = rng.randint(20, 70)
    return Image.composite(Image.new("L", (side, side), ink_level), paper, ink)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    parser.add_argument("--variants", type=int, default=0, help="N per digit, in a folder per digit (0: one each)")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    available = faces()
    for digit in range(10):
        if args.variants:
            folder = args.out / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(args.variants):
                face = available[(digit + index) % len(available)]
                draw_digit(digit, face, rng).save(folder / f"{index}.png")
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            draw_digit(digit, available[digit % len(available)], rng).save(args.out / f"digit-{digit}.png")


if __name__ == "__main__":
    main()
