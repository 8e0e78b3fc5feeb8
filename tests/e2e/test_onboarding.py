"""A newcomer's first step, in a real browser, on a phone and on a laptop."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from gnn.selectors import recommendations_for
from ratings.models import NotSeen, Rating
from tests.e2e.conftest import SIZES
from tests.e2e.test_browser_journey import htmx_ready, panel_titles, sign_up

pytestmark = pytest.mark.browser


def rows(page):
    return page.locator("#onboarding .ask-row")


def row_titles(page) -> list[str]:
    return page.locator("#onboarding .ask-row .movie-title a").all_inner_texts()


def test_rate_three_skip_two_then_the_list_reflects_them(sized_page, trained_committed, screenshot):
    size, page = sized_page
    username = f"onboard-{size}"
    sign_up(page, username, skip_onboarding=False)
    expect(page).to_have_url(re.compile(r"/welcome/$"))
    expect(page.get_by_test_id("progress")).to_contain_text("0 of 5: your list gets sharper")
    expect(rows(page)).to_have_count(10)
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
    screenshot(page, f"onboarding-1-start-{size}")

    answered, rated = [], {}
    for count, stars in enumerate((5, 4, 2), start=1):
        first = rows(page).first
        title = first.locator(".movie-title a").inner_text()
        first.get_by_role("radio", name=f"Rate {title} {stars} stars out of 5").click()
        expect(page.get_by_test_id("progress")).to_contain_text(f"{count} of 5")
        expect(page.locator("#onboarding .movie-title a", has_text=title)).to_have_count(0)
        expect(rows(page)).to_have_count(10)  # a new movie took its place
        answered.append(title)
        rated[title] = stars
    for _ in range(2):
        first = rows(page).first
        title = first.locator(".movie-title a").inner_text()
        first.get_by_role("button", name=f"Haven't seen {title}").click()
        expect(page.locator("#onboarding .movie-title a", has_text=title)).to_have_count(0)
        answered.append(title)
    expect(page.get_by_test_id("progress")).to_contain_text("3 of 5")
    screenshot(page, f"onboarding-2-answered-{size}")

    member = User.objects.get(username=username)
    stored = dict(Rating.objects.filter(user=member).values_list("movie__title", "value"))
    assert stored == rated
    assert set(NotSeen.objects.filter(user=member).values_list("movie__title", flat=True)) == set(
        answered[3:]
    )

    page.get_by_test_id("skip").click()
    htmx_ready(page)
    expect(page.get_by_test_id("basis")).to_contain_text("From your 3 ratings")
    titles = panel_titles(page)
    assert len(titles) == 10 and not set(titles) & set(rated)
    # The same profile with no ratings gets another list: these 3 moved it.
    twin = User.objects.create_user(
        username=f"twin-{size}", password="x" * 20, age=27, gender="F", occupation="engineer"
    )
    assert titles != [item.movie.title for item in recommendations_for(user=twin).items]
    assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
    screenshot(page, f"onboarding-3-recommendations-{size}")

    # Coming back later asks new movies: none of the five answered ones.
    page.get_by_test_id("rate-more").click()
    htmx_ready(page)
    expect(rows(page)).to_have_count(10)
    assert not set(row_titles(page)) & set(answered)
