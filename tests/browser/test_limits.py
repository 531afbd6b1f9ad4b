"""Limits a person can act on: when they reset, what to do, and no upload meanwhile."""

from __future__ import annotations

import pytest

from billing.tests.helpers import put_on_plan
from tests.browser.test_pages import CAR, sign_in, upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = [390, 1280]


@pytest.mark.parametrize("width", WIDTHS)
def test_a_used_up_daily_allowance_says_when_it_resets(
    page, live_server, settings, screenshot, width
):
    settings.ANONYMOUS_DAILY_LIMIT = 1
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    assert page.is_hidden("#limit")
    upload_and_wait(page)
    for visit in ("after the last image", "on the next visit"):
        notice = page.inner_text("#limit")
        assert "reset at midnight UTC, in" in notice, visit
        assert page.locator("#limit a[href='/accounts/signup/']").count() == 1
        assert page.is_disabled("#file"), visit
        page.reload()
    screenshot(f"editor-daily-limit-{width}")


def test_out_of_credits_without_billing_does_not_say_buy(page, live_server, alice, settings):
    settings.STRIPE_SECRET_KEY = ""
    put_on_plan(alice, included=0)
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/editor/")
    notice = page.inner_text("#limit")
    assert "ask the administrator" in notice
    assert "Buy" not in notice and "purchas" not in page.inner_text("main").lower()
    assert page.is_disabled("#file")


def test_out_of_credits_with_billing_links_to_it(page, live_server, alice, stripe_keys):
    put_on_plan(alice, included=0)
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/editor/")
    assert page.locator("#limit a[href='/billing/']").count() == 1


def test_a_429_in_the_editor_shows_the_notice(page, live_server, settings):
    page.goto(f"{live_server.url}/editor/")
    settings.ANONYMOUS_DAILY_LIMIT = 0  # used up elsewhere after the page was rendered
    with page.expect_response("**/rmbg") as answer:
        page.set_input_files("#file", str(CAR))
    assert answer.value.status == 429
    page.wait_for_selector("#limit:not([hidden])")
    assert page.is_disabled("#file")
