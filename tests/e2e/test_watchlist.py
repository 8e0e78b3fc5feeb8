"""The watchlist, in a real browser."""

import pytest
from playwright.sync_api import expect

from ratings.models import WatchlistItem
from tests.e2e.test_browser_journey import card_titled, htmx_ready, panel_titles, sign_up

pytestmark = pytest.mark.browser


def test_want_to_watch_from_a_card_then_rate_it_from_the_watchlist(
    page, trained_committed, screenshot
):
    sign_up(page, "watcher")
    title = panel_titles(page)[0]
    card = card_titled(page, title).locator("xpath=ancestor::li")
    card.get_by_role("button", name=f"Add {title} to your watchlist").click()
    # Chosen: the card says so where it is, and another comes in below.
    expect(card.get_by_role("button", name=f"Take {title} off your watchlist")).to_be_visible()
    expect(page.locator("#recommendations .rec-card")).to_have_count(11)
    assert list(WatchlistItem.objects.values_list("movie__title", flat=True)) == [title]
    page.reload()
    htmx_ready(page)
    assert title not in panel_titles(page)  # already chosen: not recommended again

    page.get_by_role("link", name="Watchlist").click()
    htmx_ready(page)
    rows = page.get_by_test_id("watchlist").locator(".poster-card")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(title)
    screenshot(page, "watchlist")
    rows.first.get_by_role("radio", name=f"Rate {title} 4 stars out of 5").click()
    expect(rows.first.locator(".star-status")).to_contain_text("Saved")
    assert not WatchlistItem.objects.exists()  # watched now
    page.reload()
    expect(page.get_by_text("Nothing here yet")).to_be_visible()


def test_the_movie_page_toggles_the_watchlist(page, trained_committed):
    sign_up(page, "toggler")
    page.get_by_role("link", name="Movies", exact=True).click()
    htmx_ready(page)
    link = page.locator(".movie-row .movie-title a").first
    title = link.inner_text()
    link.click()
    htmx_ready(page)
    page.get_by_role("button", name=f"Add {title} to your watchlist").click()
    off = page.get_by_role("button", name=f"Take {title} off your watchlist")
    expect(off).to_have_attribute("aria-pressed", "true")
    assert WatchlistItem.objects.filter(movie__title=title).exists()
    off.click()
    expect(page.get_by_role("button", name=f"Add {title} to your watchlist")).to_be_visible()
    assert not WatchlistItem.objects.exists()
