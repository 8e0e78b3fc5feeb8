"""What a new member does, in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from ratings.models import Dismissal, Rating

pytestmark = pytest.mark.browser


def sign_up(page, username="newcomer", *, skip_onboarding=True):
    """Sign up through the form; sign-up lands on the onboarding page, which
    these tests skip unless asked not to."""
    page.goto("/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Password confirmation").fill("a long enough passphrase")
    page.get_by_label("Age").fill("27")
    page.get_by_label("Gender").select_option("F")
    page.get_by_label("Occupation").select_option("engineer")
    page.get_by_label("ZIP code").fill("94110")
    page.get_by_role("button", name=re.compile("Sign up")).click()
    htmx_ready(page)
    if skip_onboarding:
        page.get_by_test_id("skip").click()
        htmx_ready(page)


def htmx_ready(page):
    """Wait until htmx has taken over the page: a click before that would be a
    plain form post (which works, but is not what the test is about)."""
    page.wait_for_function("() => document.readyState === 'complete' && window.htmx !== undefined")


def card_titled(page, title):
    return page.locator("#recommendations .rec-card .movie-title a").filter(
        has_text=re.compile(f"^{re.escape(title)}$")
    )


def panel_titles(page) -> list[str]:
    return page.locator("#recommendations .rec-card .movie-title a").all_inner_texts()


def test_sign_up_rate_and_watch_recommendations_change(page, trained_committed, screenshot):
    sign_up(page)

    expect(page.get_by_role("heading", name="Recommended for you")).to_be_visible()
    expect(page.get_by_test_id("basis")).to_contain_text("From your profile alone")
    cold = panel_titles(page)
    assert len(cold) == 10
    screenshot(page, "1-recommendations-cold-start")

    # Rate five movies with the stars: each click saves at once; the card stays
    # where it is and says so, and a new recommendation comes in below.
    for count in range(1, 6):
        movie = page.locator("#recommendations .rec-card:not(.is-answered)").first
        card = page.locator(
            f'#recommendations .rec-card[data-movie="{movie.get_attribute("data-movie")}"]'
        )
        title = card.locator(".movie-title a").inner_text()
        card.get_by_role("radio", name=f"Rate {title} 5 stars out of 5").click()
        expect(card_titled(page, title)).to_have_count(1)
        expect(card.locator(".star-status")).to_contain_text("Saved ★5")
        expect(page.locator("#recommendations .rec-card")).to_have_count(10 + count)
    member = User.objects.get(username="newcomer")
    assert Rating.objects.filter(user=member, value=5).count() == 5
    # The next visit shows the list the ratings made.
    page.reload()
    htmx_ready(page)
    expect(page.get_by_test_id("basis")).to_contain_text("From your 5 ratings")
    warm = panel_titles(page)
    assert warm != cold and len(warm) == 10
    # A reason, where one is strong enough to show, points at one of the five.
    rated = set(Rating.objects.filter(user=member).values_list("movie__title", flat=True))
    for reason in page.locator("#recommendations .because").all_inner_texts():
        assert (
            reason.startswith("Popular with ") or reason.removeprefix("Because you rated ") in rated
        )
    screenshot(page, "2-recommendations-after-five-ratings")

    # The history shows the five ratings; change one, remove one.
    page.get_by_role("link", name="My ratings").click()
    htmx_ready(page)
    rows = page.locator(".history .movie-row")
    expect(rows).to_have_count(5)
    first_title = rows.first.locator(".movie-title a").inner_text()
    rows.first.get_by_role("radio", name=f"Rate {first_title} 2 stars out of 5").click()
    expect(rows.first.locator(".star-status")).to_contain_text("Saved")
    assert Rating.objects.get(user=member, movie__title=first_title).value == 2
    screenshot(page, "3-rating-history")
    last_title = rows.last.locator(".movie-title a").inner_text()
    rows.last.get_by_role("button", name=f"Remove your rating of {last_title}").click()
    expect(rows).to_have_count(4)
    assert not Rating.objects.filter(user=member, movie__title=last_title).exists()

    # "Not interested" hides a movie from the recommendations.
    page.get_by_role("link", name="For you").click()
    htmx_ready(page)
    hidden = page.locator("#recommendations .rec-card .movie-title a").first.inner_text()
    page.get_by_role("button", name=f"Not interested in {hidden}").click()
    expect(page.get_by_role("button", name=f"Undo not interested in {hidden}")).to_be_visible()
    assert Dismissal.objects.filter(user=member, movie__title=hidden).exists()
    page.reload()
    htmx_ready(page)
    assert hidden not in panel_titles(page)

    # It can be undone from the profile.
    page.get_by_role("link", name="Profile").click()
    htmx_ready(page)
    screenshot(page, "4-profile")
    page.get_by_role("button", name=f"Undo not interested in {hidden}").click()
    expect(page.get_by_role("button", name=f"Undo not interested in {hidden}")).to_have_count(0)
    assert not Dismissal.objects.filter(user=member).exists()


def test_catalogue_search_movie_page_and_model_page(
    page, trained_committed, screenshot, django_user_model
):
    django_user_model.objects.create_user(
        username="browser",
        password="a long enough passphrase",
        age=40,
        gender="M",
        occupation="writer",
    )
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("browser")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Log in").click()
    htmx_ready(page)

    page.get_by_role("link", name="Movies", exact=True).click()
    htmx_ready(page)
    screenshot(page, "5-catalogue")
    page.get_by_label("Title").fill("wild")
    expect(page.locator("#results .movie-row").first).to_contain_text(re.compile("wild", re.I))
    expect(page).to_have_url(re.compile(r"q=wild"))
    for title in page.locator("#results .movie-title a").all_inner_texts():
        assert "wild" in title.lower()

    page.locator("#results .movie-title a").first.click()
    htmx_ready(page)
    expect(page.get_by_role("heading", name="Members' ratings")).to_be_visible()
    expect(page.get_by_role("heading", name="Similar movies")).to_be_visible()
    title = page.locator("h1").inner_text().split(" (")[0]
    page.get_by_role("radio", name=f"Rate {title} 4 stars out of 5").first.click()
    expect(page.locator(".stars").first).to_contain_text("Saved")
    screenshot(page, "6-movie-page")

    page.goto("/model/")
    expect(page.get_by_test_id("model-version")).to_have_text(trained_committed)
    expect(page.locator("table.metrics").first).to_contain_text("NDCG@10")
    screenshot(page, "7-model-page")


def test_stars_work_from_the_keyboard(page, trained_committed, django_user_model):
    sign_up(page, "keyboard")
    star = page.locator("#recommendations .rec-card").first.locator("button.star").nth(3)
    label = star.get_attribute("aria-label")
    star.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("basis")).to_contain_text("From your 1 rating")
    title = label.removeprefix("Rate ").removesuffix(" 4 stars out of 5")
    assert Rating.objects.get(user__username="keyboard", movie__title=title).value == 4


def test_a_failed_save_shows_an_error(page, trained_committed):
    sign_up(page, "offline")
    page.route("**/ratings/movie/**", lambda route: route.abort())
    card = page.locator("#recommendations .rec-card").first
    card.locator("button.star").first.click()
    expect(card.locator(".star-status")).to_contain_text("Not saved")
    assert not Rating.objects.filter(user__username="offline").exists()


def test_stars_work_without_javascript(browser, live_server, trained_committed, django_user_model):
    django_user_model.objects.create_user(
        username="nojs",
        password="a long enough passphrase",
        age=33,
        gender="O",
        occupation="artist",
    )
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("nojs")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Log in").click()
    page.goto("/movies/")
    title = page.locator(".movie-row .movie-title a").first.inner_text()
    page.get_by_role(
        "button", name=f"Rate {title} 3 stars out of 5"
    ).first.click()  # no script: buttons
    expect(page.locator(".messages")).to_contain_text(f"Saved: {title}.")
    assert Rating.objects.get(user__username="nojs", movie__title=title).value == 3
    context.close()


def test_visitors_see_popular_movies_and_are_asked_to_log_in_to_rate(
    page, trained_committed, screenshot
):
    page.goto("/")
    expect(page.get_by_role("link", name=re.compile("Sign up, it takes a minute"))).to_be_visible()
    screenshot(page, "0-visitor-home")
    page.get_by_role("link", name="Log in to rate").first.click()
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))


def test_layout_reads_well_on_a_tablet(browser, live_server, trained_committed, screenshot):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 768, "height": 1024})
    page = context.new_page()
    page.goto("/")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, "the page scrolls sideways on a tablet"
    screenshot(page, "8-visitor-home-tablet")
    context.close()


def test_api_docs_render_offline_under_the_csp(page, db, screenshot):
    page.goto("/api/docs")
    expect(page.get_by_text("Reel API").first).to_be_visible()
    expect(page.get_by_text("/api/recommendations/{user_id}").first).to_be_visible()
    screenshot(page, "9-api-docs")
