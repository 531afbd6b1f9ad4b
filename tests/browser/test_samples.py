"""Sample photos, served by the site itself, try the service in one click."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_editor_queue import wait_until_done

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_sample_on_the_landing_page_opens_in_the_editor(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/")
    samples = page.locator("#samples button.sample")
    assert samples.count() == 4
    for image in page.locator("#samples img").all():
        assert image.evaluate("i => i.complete && i.naturalWidth > 0")
        assert image.get_attribute("alt")
    screenshot(f"landing-samples-{width}")
    samples.first.click()
    page.wait_for_url(re.compile(r"/editor/"))
    page.wait_for_selector("#workspace:not([hidden])")
    assert page.locator(".queue-name").inner_text() == "car-1.jpg"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_sample_in_the_editor_is_processed(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    with page.expect_response(re.compile(r"/static/samples/anime-girl-1")) as sample:
        page.click("#samples button[data-name='anime-girl-1.jpg']")
    assert sample.value.url.startswith(live_server.url)
    wait_until_done(page, 1)
    assert page.is_visible("#workspace")
    screenshot(f"editor-sample-{width}")
