"""Posters: an uploaded image resized once to the two sizes the pages use, or,
for a movie without one, a poster drawn once from its title, year and genres,
so no page ever shows a blank.

Names carry a hash of their content: a browser may keep any of them for a
year (the media view says so), and a new upload or a renamed movie gets a new
name instead of a stale cached picture.
"""

import colorsys
import hashlib
import io
import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from PIL import Image, ImageOps, UnidentifiedImageError

# Width x height, 2:3 like a one-sheet. The card size fits a five-a-row grid
# on a desktop at twice its pixels; the page size, the movie page.
CARD = (320, 480)
PAGE = (600, 900)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MIN_SIDE = 100
# Pillow refuses images with more pixels than this (a decompression bomb: a
# few kilobytes of PNG that decode to gigabytes).
Image.MAX_IMAGE_PIXELS = 50_000_000


class PosterError(ValueError):
    """An upload that is not a usable poster; the message says why."""


@dataclass(frozen=True)
class Renditions:
    card: bytes
    page: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.page).hexdigest()[:12]


def renditions(data: bytes) -> Renditions:
    """JPEGs of the card and page sizes from an uploaded image (any format
    Pillow reads), turned upright by its EXIF orientation and cropped to 2:3
    around the upper middle, where titles and faces sit."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PosterError(f"the file is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError):
        raise PosterError("the file is not an image we can read (JPEG, PNG, WebP or GIF)") from None
    if min(upright.size) < MIN_SIDE:
        raise PosterError(
            f"the image is {upright.width}×{upright.height} px; a poster needs at least "
            f"{MIN_SIDE} px on each side"
        )
    rgb = upright.convert("RGB")
    return Renditions(card=_jpeg(rgb, CARD), page=_jpeg(rgb, PAGE))


def _jpeg(image: Image.Image, size: tuple[int, int]) -> bytes:
    fitted = ImageOps.fit(image, size, Image.Resampling.LANCZOS, centering=(0.5, 0.4))
    out = io.BytesIO()
    fitted.save(out, "JPEG", quality=84, optimize=True, progressive=True)
    return out.getvalue()


# --- Generated posters --------------------------------------------------------

# A pair of colours per first genre, dark enough for white text at 4.5:1 or
# more; the title's hash turns the hue a little so two dramas differ.
PALETTES = {
    "Action": ("#7a1f1f", "#2b0d0d"),
    "Adventure": ("#7a4a12", "#2a1a06"),
    "Animation": ("#1f5f7a", "#0b2430"),
    "Children's": ("#2f6a2a", "#10260e"),
    "Comedy": ("#8a5a00", "#2e1e00"),
    "Crime": ("#3b3b4f", "#12121a"),
    "Documentary": ("#44524a", "#161c18"),
    "Drama": ("#5a2a5e", "#1e0e20"),
    "Fantasy": ("#3d2a7a", "#140e2a"),
    "Film-Noir": ("#333333", "#0d0d0d"),
    "Horror": ("#5c0f14", "#1a0406"),
    "Musical": ("#7a2a55", "#2a0e1d"),
    "Mystery": ("#223a5e", "#0b1320"),
    "Romance": ("#8a2f4a", "#2e0f18"),
    "Sci-Fi": ("#124f63", "#061b22"),
    "Thriller": ("#4a3a1a", "#181309"),
    "War": ("#4b5320", "#191c0a"),
    "Western": ("#7a3d12", "#2a1406"),
}
DEFAULT_PALETTE = ("#4a4a52", "#16161a")


def generated_digest(title: str, year: int | None, genres: list[str]) -> str:
    """What a generated poster depends on: a change to any of it draws a new one."""
    key = "\x1f".join([title, str(year or ""), *genres, "v1"])
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def generated_svg(title: str, year: int | None, genres: list[str]) -> bytes:
    """A 2:3 SVG poster: the genre's colours, a few shapes placed by the
    title's hash, the title set in as large a size as fits, the year and
    genres below. The same movie always gives the same bytes."""
    seed = hashlib.sha256(title.encode()).digest()
    top, bottom = PALETTES.get(genres[0] if genres else "", DEFAULT_PALETTE)
    turn = (seed[0] % 40 - 20) / 360
    top, bottom = _turn(top, turn), _turn(bottom, turn)
    lines, size = _title_lines(title)
    line_height = size * 1.12
    block = line_height * len(lines)
    first_baseline = 150 - block / 2 + size * 0.85
    text = "".join(
        f'<tspan x="100" y="{first_baseline + i * line_height:.1f}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    shapes = []
    for i in range(3):
        b = seed[1 + i * 3 : 4 + i * 3]
        cx, cy, r = 20 + b[0] % 160, 20 + b[1] % 260, 30 + b[2] % 70
        shapes.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="#fff" fill-opacity="0.{4 + i * 2:02d}"/>'
        )
    angle = seed[10] % 180
    stripe = (
        f'<rect x="-60" y="{120 + seed[11] % 80}" width="320" height="{8 + seed[12] % 18}" '
        f'fill="#fff" fill-opacity="0.07" transform="rotate({angle} 100 150)"/>'
    )
    caption = escape(" · ".join(genres[:3]))
    year_text = f"{year}" if year else ""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 300" width="200" height="300">'
        f'<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/>'
        "</linearGradient></defs>"
        f'<rect width="200" height="300" fill="url(#g)"/>{"".join(shapes)}{stripe}'
        '<rect x="10" y="10" width="180" height="280" fill="none" stroke="#fff" '
        'stroke-opacity="0.35"/>'
        '<g fill="#fff" font-family="Georgia, \'Times New Roman\', serif" text-anchor="middle">'
        f'<text font-size="{size}" font-weight="700">{text}</text>'
        f'<text x="100" y="262" font-size="15" font-family="system-ui, sans-serif">'
        f"{year_text}</text>"
        f'<text x="100" y="280" font-size="9" font-family="system-ui, sans-serif" '
        f'fill-opacity="0.85">{caption}</text>'
        "</g></svg>"
    )
    return svg.encode()


def _turn(colour: str, turn: float) -> str:
    """The colour with its hue turned (no SVG filter: the media's CSP, like the
    site's, refuses inline styles)."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    r, g, b = colorsys.hls_to_rgb((h + turn) % 1, lightness, s)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def _title_lines(title: str) -> tuple[list[str], int]:
    """The title broken at spaces into at most five lines at the largest size
    (26 down to 13) whose lines fit 170 units across; a long word is cut."""
    for size in (26, 22, 19, 16, 13):
        # A serif capital-heavy line averages about 0.55 em a character.
        per_line = max(4, math.floor(170 / (size * 0.55)))
        lines = _wrap(title, per_line)
        if len(lines) <= 5 and all(len(line) <= per_line for line in lines):
            return lines, size
    lines = _wrap(title, per_line)[:5]
    lines[-1] = lines[-1][: per_line - 1] + "…"
    return [line[:per_line] for line in lines], 13


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]
