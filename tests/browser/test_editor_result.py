"""The editor after a result: the cut-out stays in view, sizes and colours are honest."""

from __future__ import annotations

import pytest
from PIL import Image

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


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rotation_keeps_the_subjects_size(page, live_server, screenshot, tmp_path, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    assert page.input_value("#width") == page.input_value("#height") == ""
    page.fill("#angle", "45")
    # 480 x 360 turned 45° needs a 594 x 594 canvas; nothing squeezes it back.
    assert page.inner_text("#output-size") == "Output: 594 × 594 px"
    screenshot(f"editor-rotated-{width}")
    with page.expect_download() as download_info:
        page.click("#download")
    path = tmp_path / "out.png"
    download_info.value.save_as(path)
    assert Image.open(path).size == (594, 594)


@pytest.mark.parametrize("width", WIDTHS)
def test_an_unknown_colour_name_is_refused_not_painted_black(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    page.fill("#bg-name", "blurple")
    assert "not a colour we know" in page.inner_text("#bg-name-error")
    assert page.is_disabled("#download")
    corner = page.evaluate(
        "document.getElementById('result').getContext('2d').getImageData(1, 1, 1, 1).data[3]"
    )
    assert corner == 0  # still transparent, not black
    screenshot(f"editor-bad-colour-{width}")

    page.fill("#bg-name", "LightBlue")
    assert page.is_hidden("#bg-name-error")
    assert page.is_enabled("#download")
    rgb = page.evaluate(
        "[...document.getElementById('result').getContext('2d').getImageData(1, 1, 1, 1).data]"
    )
    assert rgb == [173, 216, 230, 255]
