"""The API keys page in Chromium: created once, shown once, copied honestly."""

from __future__ import annotations

import pytest

from accounts.models import ApiKey
from tests.browser.test_pages import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def create_key(page, live_server, name: str) -> str:
    page.goto(f"{live_server.url}/api-keys/")
    page.fill("#id_name", name)
    page.click("text=Create key")
    page.wait_for_selector("#new-key")
    page.wait_for_load_state()  # its stylesheet too: tests read computed styles
    return page.input_value("#new-key")


def test_reloading_after_creating_a_key_creates_no_second_one(page, live_server, alice):
    sign_in(page, live_server, alice.email)
    raw_key = create_key(page, live_server, "Laptop")
    assert raw_key.startswith("rbg_")
    page.reload()
    page.wait_for_load_state()
    assert ApiKey.objects.active().filter(user=alice).count() == 1
    assert page.locator("#new-key").count() == 0
    assert raw_key not in page.content()
