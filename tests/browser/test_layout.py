"""Every page fits the screen at phone and desktop widths, signed in and out."""

from __future__ import annotations

import pytest

from tests.browser.test_api_keys_page import create_key
from tests.browser.test_pages import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = [390, 1280]
PUBLIC = {
    "landing": "/",
    "editor": "/editor/",
    "api-reference": "/api/docs/",
    "sign-in": "/accounts/login/",
    "sign-up": "/accounts/signup/",
    "password-reset": "/accounts/password/reset/",
    "not-found": "/no-such-page/",
}
PRIVATE = {
    "usage": "/dashboard/",
    "billing": "/billing/",
    "email": "/accounts/email/",
    "password": "/accounts/password/change/",
    "editor-signed-in": "/editor/",
    "landing-signed-in": "/",
}


def overflow(page) -> int:
    """How many px the page is wider than the window (0 when it does not scroll sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways(page, live_server, alice, screenshot, width):
    page.set_viewport_size({"width": width, "height": 844})
    wide = {}
    for name, path in PUBLIC.items():
        visit(page, live_server.url + path)
        screenshot(f"{name}-{width}")
        wide[name] = overflow(page)
    sign_in(page, live_server, alice.email)
    for name, path in PRIVATE.items():
        visit(page, live_server.url + path)
        screenshot(f"{name}-{width}")
        wide[name] = overflow(page)
    create_key(page, live_server, "A key with a long enough name to matter")
    screenshot(f"api-keys-new-{width}")
    wide["api-keys-new"] = overflow(page)
    for button in page.locator("button:visible").all():
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, button.inner_text()
    assert {name: px for name, px in wide.items() if px > 0} == {}
