"""Draw the home-screen icons of the web app manifest from the favicon's shapes.

The favicon (static/img/favicon.svg) is a teal rounded square with a white bolt on a
32-unit grid; Pillow draws the same shapes at each size (no SVG renderer is needed on the
build machine). Run: python tools/make_app_icons.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

TEAL = (0, 121, 107, 255)
BOLT = [(18.5, 4), (8, 18), (15, 18), (13, 28), (24, 13), (16.8, 13)]
OUT = Path(__file__).resolve().parent.parent / "static" / "img"


def icon(size: int, *, maskable: bool = False) -> Image.Image:
    scale = 4  # drawn larger, then reduced: smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        # Full bleed; the bolt stays inside the 80 % safe circle launchers crop to.
        draw.rectangle((0, 0, big, big), fill=TEAL)
        unit, offset = big * 0.7 / 32, big * 0.15
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 8 / 32, fill=TEAL)
        unit, offset = big / 32, 0
    draw.polygon([(offset + x * unit, offset + y * unit) for x, y in BOLT], fill=(255, 255, 255, 255))
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    for size in (192, 512):
        icon(size).save(OUT / f"app-icon-{size}.png", optimize=True)
    icon(512, maskable=True).save(OUT / "app-icon-maskable-512.png", optimize=True)
    # iOS and some Android launchers take a square without transparency.
    icon(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon-180.png", optimize=True)


if __name__ == "__main__":
    main()
