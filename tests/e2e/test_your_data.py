"""A member takes their data and leaves, in a real browser."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.models import User
from ratings.models import Rating
from tests.e2e.test_browser_journey import htmx_ready, sign_up

pytestmark = pytest.mark.browser


def test_download_my_data_then_delete_my_account(page, trained_committed, screenshot):
    sign_up(page, "leaver")
    card = page.locator("#recommendations .rec-card").first
    title = card.locator(".movie-title a").inner_text()
    card.get_by_role("radio", name=f"Rate {title} 4 stars out of 5").click()
    expect(page.get_by_test_id("basis")).to_contain_text("From your 1 rating")

    page.get_by_role("link", name="Profile").click()
    htmx_ready(page)
    expect(page.get_by_test_id("taste")).to_contain_text("How you rate")
    screenshot(page, "profile")
    with page.expect_download() as download:
        page.get_by_test_id("download").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["profile"]["username"] == "leaver" and data["profile"]["zip_code"] == "94110"
    assert [(r["title"], r["value"]) for r in data["ratings"]] == [(title, 4)]

    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("That is not your password")).to_be_visible()
    assert User.objects.filter(username="leaver").exists()
    screenshot(page, "account-delete")

    page.get_by_label("Your password").fill("a long enough passphrase")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".messages")).to_contain_text(
        "The account leaver and everything it held are deleted."
    )
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    assert not User.objects.filter(username="leaver").exists()
    assert not Rating.objects.filter(user__username="leaver").exists()
