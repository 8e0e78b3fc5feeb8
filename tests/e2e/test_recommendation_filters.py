"""The recommendations panel's genre and decade filters, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser_journey import panel_titles, sign_up
from tests.gnn.test_filters import rarest_genre

pytestmark = pytest.mark.browser


def settled(page):
    """Wait until htmx has finished with the panel (swapped, settled, its new
    form wired up): a change made before that sends nothing."""
    busy = "#recommendations.htmx-settling, #recommendations.htmx-swapping, .htmx-request"
    expect(page.locator(busy)).to_have_count(0)


def on_shelf(page, pattern: str):
    """Wait for the panel that htmx swapped in: it refreshes itself with its filter."""
    expect(page.locator("#recommendations")).to_have_attribute("data-refresh", re.compile(pattern))
    settled(page)


def test_choosing_a_genre_and_a_decade_refills_the_panel(page, trained_committed, screenshot):
    sign_up(page, "filterer")
    everything = panel_titles(page)
    settled(page)
    genre = rarest_genre(12)
    page.get_by_label("Genre").select_option(genre.slug)
    cards = page.locator("#recommendations .rec-card")
    on_shelf(page, f"genre={genre.slug}")
    expect(cards).to_have_count(10)
    for tags in cards.locator(".rec-genres").all_inner_texts():
        assert genre.name in tags
    assert panel_titles(page) != everything
    screenshot(page, "recommendations-filtered")

    # A rating keeps the shelf: what comes in below is on the same filter.
    first = cards.first.locator(".movie-title a").inner_text()
    cards.first.get_by_role("radio", name=f"Rate {first} 5 stars out of 5").click()
    expect(page.get_by_test_id("basis")).to_contain_text("From your 1 rating")
    expect(cards).to_have_count(11)
    settled(page)
    expect(page.locator("#panel-genre")).to_have_value(genre.slug)
    shown = page.locator("#recommendations .rec-card .rec-genres").all_inner_texts()
    assert len(shown) == 11 and all(genre.name in genres for genres in shown), shown

    page.get_by_label("Genre").select_option("")
    on_shelf(page, r"\?n=10$")
    decade = page.locator("#panel-decade option").nth(1).get_attribute("value")
    page.get_by_label("Decade").select_option(decade)
    on_shelf(page, f"decade={decade}")
    years = page.locator("#recommendations .movie-year").all_inner_texts()
    assert years and all(int(decade) <= int(y.strip("()")) < int(decade) + 10 for y in years)
