"""The editor after a result: the cut-out stays in view, sizes and colours are honest."""

from __future__ import annotations

import pytest

from tests.browser.test_pages import upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = [390, 1280]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_result_is_in_view_after_processing(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    page.wait_for_timeout(300)  # let any scrolling settle before measuring
    top, bottom, height = page.evaluate(
        """() => { const r = document.getElementById('result').getBoundingClientRect();
                   return [r.top, r.bottom, window.innerHeight]; }"""
    )
    assert top >= 0 and bottom <= height, (top, bottom, height)
    screenshot(f"editor-result-{width}")
