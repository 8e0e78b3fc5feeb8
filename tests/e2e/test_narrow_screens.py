"""No page a visitor, a member or a curator can reach scrolls sideways on a
narrow phone (320 px) or a common one (390 px)."""

import re

import pytest
from playwright.sync_api import expect

from catalog.models import Movie
from tests.e2e.test_browser_journey import htmx_ready, sign_up

pytestmark = pytest.mark.browser

WIDTHS = (320, 390)
VISITOR = ["/", "/movies/", "/movies/?q=the", "/accounts/login/", "/accounts/signup/", "/model/",
           "/no-such-page/"]  # fmt: skip
MEMBER = ["/", "/welcome/", "/movies/", "/accounts/history/", "/ratings/watchlist/",
          "/accounts/profile/", "/accounts/password/", "/accounts/delete/", "/model/"]  # fmt: skip
CURATOR = ["/ops/", "/admin/", "/admin/catalog/movie/", "/admin/gnn/trainingrun/",
           "/admin/gnn/modelversion/", "/admin/accounts/user/"]  # fmt: skip


# What sticks out furthest to the right (not counting what scrolls inside a
# .table-wrap): a failure names the element.
WIDEST = """() => {
  let best = null, right = 0;
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('.table-wrap') && !el.classList.contains('table-wrap')) continue;
    const r = el.getBoundingClientRect().right;
    if (r > right) { right = r; best = el; }
  }
  return best ? best.tagName + '.' + best.className + ' ' + Math.round(right) : '';
}"""


def _too_wide(page, urls: list[str]) -> list[tuple[str, int, int]]:
    wide = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 844})
        for url in urls:
            page.goto(url)
            page.wait_for_load_state("load")  # the layout is the server's; no htmx needed
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                widest = page.evaluate(WIDEST)
                wide.append((url, width, scroll, widest))
    return wide


def test_no_page_scrolls_sideways_on_a_phone(
    browser, live_server, trained_committed, django_user_model
):
    movie = Movie.objects.order_by("-rating_count").first()
    visitor = browser.new_context(base_url=live_server.url)
    page = visitor.new_page()
    wide = _too_wide(page, [*VISITOR, f"/movies/{movie.pk}/"])
    visitor.close()

    member = browser.new_context(base_url=live_server.url)
    page = member.new_page()
    sign_up(page, "narrow")
    page.goto("/accounts/profile/")
    page.get_by_role("button", name="Make a new token").click()  # the new token is shown once
    htmx_ready(page)
    page.set_viewport_size({"width": 320, "height": 844})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > 320:
        wide.append(("/accounts/profile/ with a new token", 320, scroll))
    wide += _too_wide(page, [*MEMBER, f"/movies/{movie.pk}/"])
    member.close()

    django_user_model.objects.create_user(
        username="curator", password="a long enough passphrase", is_staff=True, is_superuser=True
    )
    curator = browser.new_context(base_url=live_server.url)
    page = curator.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("curator")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Log in").click()
    htmx_ready(page)
    wide += _too_wide(page, [*CURATOR, f"/admin/catalog/movie/{movie.pk}/change/"])
    curator.close()

    assert not wide, wide


def test_on_a_phone_the_menu_and_the_filters_fold_and_the_shelf_is_in_the_address(
    sized_page, trained_committed, screenshot
):
    size, page = sized_page
    sign_up(page, f"folded-{size}")
    header = page.locator(".site-header")
    menu = page.get_by_role("button", name="Menu")
    filters = page.get_by_role("button", name="Filters")
    if size == "phone":
        assert header.bounding_box()["height"] <= 64  # one line, not three
        expect(page.get_by_role("link", name="Watchlist")).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("link", name="Watchlist")).to_be_visible()
        menu.click()
        # The filters wait behind their button: the first movie is high on the screen.
        expect(page.get_by_label("Genre")).to_be_hidden()
        first = page.locator("#recommendations .rec-card").first.bounding_box()
        assert first["y"] < 400, first
        filters.click()
        expect(page.get_by_label("Genre")).to_be_visible()
    else:
        expect(menu).to_be_hidden()
        expect(filters).to_be_hidden()
        expect(page.get_by_role("link", name="Watchlist")).to_be_visible()
    screenshot(page, f"folded-{size}")

    # A shelf chosen is in the address: shareable, and Back returns to the one before.
    page.get_by_label("Genre").select_option("drama")
    expect(page).to_have_url(re.compile(r"/\?n=10&genre=drama$"))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/$"))
