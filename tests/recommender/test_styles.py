"""What the site's CSS promises a low-vision member, computed from the CSS itself."""

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "site.css").read_text()


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", block))


def _schemes() -> dict[str, dict[str, str]]:
    light = _variables(CSS[: CSS.index("@media (prefers-color-scheme: dark)")])
    dark_block = re.search(r"@media \(prefers-color-scheme: dark\)\s*\{(.*?)\n\}", CSS, re.S)
    return {"light": light, "dark": {**light, **_variables(dark_block.group(1))}}


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_computed_as_wcag_does():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("star", ["star", "star-off"])
@pytest.mark.parametrize("ground", ["surface", "bg"])
def test_rated_and_unrated_stars_stand_out_3_to_1_in_both_schemes(scheme, star, ground):
    colours = _schemes()[scheme]
    assert contrast(colours[star], colours[ground]) >= 3.0, (scheme, star, ground)


def test_star_previews_on_hover_only_where_there_is_hover():
    outside = re.sub(r"@media \(hover: hover\)\s*\{.*?\n\}", "", CSS, flags=re.S)
    hover_rules = [line for line in outside.splitlines() if ".star" in line and ":hover" in line]
    assert all(".star-clear" in line for line in hover_rules), hover_rules
    assert re.search(r"@media \(hover: hover\)\s*\{[^}]*fieldset:hover \.star", CSS)
