"""Posters on the first screen, and stars a keyboard can use: on a phone and
on a laptop, in a real browser."""

import pytest
from playwright.sync_api import expect

from ratings.models import Rating
from tests.e2e.test_browser_journey import sign_up

pytestmark = pytest.mark.browser

# Posters wholly on the first screen, loaded (not a broken image), with alt text.
POSTERS_ON_SCREEN = """() => [...document.querySelectorAll('#recommendations .rec-card img.poster')]
  .filter(img => {
    const box = img.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= innerHeight && box.width > 40
      && img.complete && img.naturalWidth > 0 && img.alt.startsWith('Poster: ');
  }).length"""


def test_the_first_screen_shows_posters_four_on_a_phone_five_a_row_on_a_laptop(
    sized_page, trained_committed, screenshot
):
    size, page = sized_page
    sign_up(page, f"posters-{size}")
    expect(page.locator("#recommendations .rec-card")).to_have_count(10)
    page.wait_for_function(f"() => ({POSTERS_ON_SCREEN})() >= 4")
    tops = page.locator("#recommendations .rec-card").evaluate_all(
        "cards => cards.map(card => Math.round(card.getBoundingClientRect().top))"
    )
    per_row = tops.count(tops[0])
    assert per_row == (1 if size == "phone" else 5), tops
    # Every image on the page says what it shows.
    assert page.locator("img:not([alt]), img[alt='']").count() == 0
    screenshot(page, f"posters-{size}")


def test_a_star_group_is_one_tab_stop_arrows_move_and_enter_saves(sized_page, trained_committed):
    size, page = sized_page
    sign_up(page, f"keys-{size}")
    card = page.locator("#recommendations .rec-card").first
    title = card.locator(".movie-title a").inner_text()
    group = card.get_by_role("radiogroup", name=f"Your rating of {title}")
    expect(group.get_by_role("radio")).to_have_count(5)

    # Tab from the title's link lands on the group once, on its first star;
    # the next Tab leaves the group.
    card.locator(".movie-title a").focus()
    page.keyboard.press("Tab")
    first = group.get_by_role("radio", name=f"Rate {title} 1 star out of 5")
    expect(first).to_be_focused()
    page.keyboard.press("Tab")
    expect(group.get_by_role("radio").and_(page.locator(":focus"))).to_have_count(0)

    # Back in; arrows move the focus and save nothing until Enter.
    page.keyboard.press("Shift+Tab")
    expect(first).to_be_focused()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    fourth = group.get_by_role("radio", name=f"Rate {title} 4 stars out of 5")
    expect(fourth).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowRight")
    assert not Rating.objects.filter(user__username=f"keys-{size}").exists()
    page.keyboard.press("Enter")
    expect(card.locator(".star-status")).to_contain_text("Saved ★4")
    assert Rating.objects.get(user__username=f"keys-{size}").value == 4
    # The saved star is now the group's one stop, checked.
    checked = card.get_by_role("radio", name=f"Rate {title} 4 stars out of 5")
    expect(checked).to_have_attribute("aria-checked", "true")
    expect(checked).to_have_attribute("tabindex", "0")
