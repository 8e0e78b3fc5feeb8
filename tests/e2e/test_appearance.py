"""How the site looks: dark mode from the system's preference."""

import pytest

from tests.e2e.test_browser_journey import sign_up

pytestmark = pytest.mark.browser


def _luminance(css: str) -> float:
    r, g, b = (int(v) for v in css.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_colours_follow_the_systems_preference(page, trained_committed, screenshot, scheme):
    page.emulate_media(color_scheme=scheme)
    sign_up(page, f"scheme-{scheme}")
    style = "getComputedStyle(document.querySelector({!r}))[{!r}]"
    body = _luminance(page.evaluate(style.format("html", "backgroundColor")))
    text = _luminance(page.evaluate(style.format("h1", "color")))
    panel = _luminance(page.evaluate(style.format("#recommendations", "backgroundColor")))
    if scheme == "dark":
        assert body < 0.2 and panel < 0.25 and text > 0.8
    else:
        assert body > 0.9 and panel > 0.9 and text < 0.2
    screenshot(page, f"recommendations-{scheme}")
