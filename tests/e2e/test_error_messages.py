"""What the server says when it refuses a click reaches the member, in a real
browser: a limit's "try again in N seconds" on the stars and on the other
buttons, never a bare status code."""

import re

import pytest
from playwright.sync_api import expect

from ratings.models import Dismissal, Rating
from tests.e2e.test_browser_journey import card_titled, htmx_ready, panel_titles, sign_up

pytestmark = pytest.mark.browser

WAIT = re.compile(r"Too many rating changes\. Try again in \d+ (seconds?|minutes|hours)\.")


def test_a_refused_click_shows_the_servers_message_in_place(
    page, trained_committed, settings, screenshot
):
    sign_up(page, "hasty")
    htmx_ready(page)
    settings.RATE_LIMIT_RATINGS = "2/86400"  # a day: no window ends mid-test
    first, second, third = panel_titles(page)[:3]
    for title in (first, second):
        card = card_titled(page, title).locator("xpath=ancestor::li")
        card.get_by_role("radio", name=f"Rate {title} 4 stars out of 5").click()
        expect(card.locator(".star-status")).to_contain_text("Saved ★4")  # rated, in place
    mine = Rating.objects.filter(user__username="hasty")
    assert mine.count() == 2

    card = card_titled(page, third).locator("xpath=ancestor::li")
    card.get_by_role("radio", name=f"Rate {third} 5 stars out of 5").click()
    expect(card.locator(".star-status")).to_have_text(WAIT)
    expect(card.locator(".star-status")).not_to_contain_text("something went wrong")

    card.get_by_role("button", name=f"Not interested in {third}").click()
    expect(card.locator(".action-status")).to_have_text(WAIT)
    card.scroll_into_view_if_needed()
    screenshot(page, "refused-click")
    # On a phone the message wraps under the buttons; nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    card.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "refused-click-phone")
    assert mine.count() == 2 and not Dismissal.objects.exists()
