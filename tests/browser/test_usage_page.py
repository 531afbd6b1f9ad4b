"""The usage page warns before and when the included credits run out; its chart reads on a phone."""

from __future__ import annotations

import pytest

from billing.tests.helpers import put_on_plan
from tests.browser.test_pages import post_with_key, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def use(live_server, raw_key: str, n: int) -> None:
    for _ in range(n):
        assert post_with_key(live_server, raw_key).status_code == 200


@pytest.mark.parametrize("width", [390, 1280])
def test_it_warns_at_80_and_100_percent_and_its_labels_are_readable(
    page, live_server, alice, alice_key, settings, screenshot, width
):
    settings.STRIPE_SECRET_KEY = ""
    put_on_plan(alice, included=10)
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, alice.email)
    use(live_server, alice_key, 7)
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#usage-warning").count() == 0

    use(live_server, alice_key, 1)
    page.reload()
    assert "You have used 80 % of the included credits" in page.inner_text("#usage-warning")
    for label in ("#chart-peak", "#chart-axis span >> nth=0", "#chart-axis span >> nth=1"):
        size = page.locator(label).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        box = page.locator(label).bounding_box()
        assert size >= 12 and box["height"] >= 12, (label, size, box)
    screenshot(f"usage-80-{width}")

    use(live_server, alice_key, 2)
    page.reload()
    warning = page.inner_text("#usage-warning")
    assert "You have used all 10 included credits" in warning
    assert "ask the administrator" in warning and "Buy" not in warning
    screenshot(f"usage-100-{width}")
