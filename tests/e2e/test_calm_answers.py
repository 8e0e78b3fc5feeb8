"""Answering a card does not move the page: it stays, says so, can be undone,
and what is new comes in below. On a phone and on a laptop."""

import pytest
from playwright.sync_api import expect

from accounts.models import User
from ratings.models import Dismissal, Rating
from tests.e2e.test_browser_journey import sign_up

pytestmark = pytest.mark.browser


def _where(page, card) -> tuple[float, float]:
    """The page's scroll position and the card's top on the screen."""
    top = card.evaluate("element => element.getBoundingClientRect().top")
    return page.evaluate("window.scrollY"), top


def test_rating_and_dismissing_a_card_keep_the_page_still(
    sized_page, trained_committed, screenshot
):
    size, page = sized_page
    sign_up(page, f"calm-{size}")
    member = User.objects.get(username=f"calm-{size}")
    cards = page.locator("#recommendations .rec-card")
    expect(cards).to_have_count(10)

    # The 6th card, in the middle of the screen; rate it 4 stars.
    sixth = cards.nth(5)
    title = sixth.locator(".movie-title a").inner_text()
    sixth.evaluate("element => element.scrollIntoView({block: 'center'})")
    before = _where(page, sixth)
    sixth.get_by_role("radio", name=f"Rate {title} 4 stars out of 5").click()
    expect(sixth.locator(".star-status")).to_contain_text("Saved ★4")
    # The list's update is announced, and comes in below.
    expect(page.locator(".rec-news")).to_contain_text("1 new recommendation below")
    expect(cards).to_have_count(11)
    after = _where(page, sixth)
    assert abs(after[0] - before[0]) <= 10 and abs(after[1] - before[1]) <= 10, (before, after)
    assert cards.nth(5).locator(".movie-title a").inner_text() == title  # nothing reshuffled
    assert Rating.objects.get(user=member, movie__title=title).value == 4
    screenshot(page, f"calm-rated-{size}")

    # Undo takes the rating back, in place.
    sixth.get_by_role("button", name=f"Undo: remove your rating of {title}").click()
    expect(sixth.locator(".star-status")).to_contain_text("Rating removed")
    assert not Rating.objects.filter(user=member, movie__title=title).exists()

    # "Not interested" on the 7th: hidden in place, with Undo on the card.
    seventh = cards.nth(6)
    other = seventh.locator(".movie-title a").inner_text()
    before = _where(page, seventh)
    seventh.get_by_role("button", name=f"Not interested in {other}").click()
    undo = seventh.get_by_role("button", name=f"Undo not interested in {other}")
    expect(undo).to_be_visible()
    expect(seventh.locator(".rec-hidden-bar")).to_contain_text("Hidden")
    after = _where(page, seventh)
    assert abs(after[0] - before[0]) <= 10 and abs(after[1] - before[1]) <= 10, (before, after)
    assert Dismissal.objects.filter(user=member, movie__title=other).exists()
    screenshot(page, f"calm-hidden-{size}")

    undo.click()
    expect(seventh.get_by_role("button", name=f"Not interested in {other}")).to_be_visible()
    expect(seventh.locator(".rec-hidden-bar")).to_be_hidden()
    assert not Dismissal.objects.filter(user=member, movie__title=other).exists()
