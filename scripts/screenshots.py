"""Screenshots of every page a visitor, a member and a curator reach, on a
phone (390x844) and a laptop (1366x900), light and dark: the set to look at
before calling a page done, and to compare before and after a change.

    python scripts/screenshots.py --base http://127.0.0.1:8000 --out shots/ \
        --member NAME:PASSWORD --curator NAME:PASSWORD [--movie ID] [--full-page]

It only reads pages (it logs in, nothing else), so it is safe on a dev site
with real data. Files are named who-page-size-scheme.png.
"""

import argparse
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

SIZES = {"phone": (390, 844), "laptop": (1366, 900)}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pages(movie: int) -> dict[str, list[tuple[str, str]]]:
    return {
        "visitor": [
            ("home", "/"),
            ("movies", "/movies/"),
            ("movie", f"/movies/{movie}/"),
            ("login", "/accounts/login/"),
            ("signup", "/accounts/signup/"),
            ("not-found", "/no-such-page/"),
        ],
        "member": [
            ("home", "/"),
            ("welcome", "/welcome/"),
            ("movies", "/movies/"),
            ("movie", f"/movies/{movie}/"),
            ("watchlist", "/ratings/watchlist/"),
            ("history", "/accounts/history/"),
            ("profile", "/accounts/profile/"),
            ("model", "/model/"),
        ],
        "curator": [
            ("ops", "/ops/"),
            ("admin", "/admin/"),
            ("admin-movie", f"/admin/catalog/movie/{movie}/change/"),
        ],
    }


def log_in(page, base: str, credentials: str) -> None:
    name, _, password = credentials.partition(":")
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--member", required=True, help="NAME:PASSWORD of a member")
    parser.add_argument("--curator", required=True, help="NAME:PASSWORD of a staff member")
    parser.add_argument("--movie", type=int, default=1, help="the movie whose pages to take")
    parser.add_argument("--full-page", action="store_true", help="the whole page, not the screen")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.base.rstrip("/")
    taken = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        for who, urls in pages(args.movie).items():
            for scheme in ("light", "dark"):
                for size, (width, height) in SIZES.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height}, color_scheme=scheme
                    )
                    page = context.new_page()
                    if who != "visitor":
                        log_in(page, base, args.member if who == "member" else args.curator)
                    for name, path in urls:
                        page.goto(base + path)
                        page.wait_for_load_state("networkidle")
                        page.screenshot(
                            path=str(args.out / f"{who}-{name}-{size}-{scheme}.png"),
                            full_page=args.full_page,
                        )
                        taken += 1
                    context.close()
        browser.close()
    print(f"{taken} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
