"""The before/after comparison: a handle over the image, labelled, usable by keyboard."""

from __future__ import annotations

import pytest

from tests.browser.test_pages import upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)


def handle_share(page) -> float:
    """Where the handle's line stands, as a share of the image's width."""
    return page.evaluate(
        """() => { const c = document.getElementById('compare').getBoundingClientRect();
                   const l = document.getElementById('split-line').getBoundingClientRect();
                   return (l.left + l.width / 2 - c.left) / c.width; }"""
    )


def original_shown(page) -> str:
    return page.eval_on_selector("#before-wrap", "e => e.style.clipPath")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_handle_sits_over_the_image_and_moves_by_keyboard_and_pointer(
    page, live_server, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    compare = page.locator("#compare").bounding_box()
    line = page.locator("#split-line").bounding_box()
    assert line["y"] == pytest.approx(compare["y"], abs=2)
    assert line["height"] == pytest.approx(compare["height"], abs=2)
    assert handle_share(page) == pytest.approx(0.5, abs=0.02)
    assert page.is_visible("text=Before") and page.is_visible("text=After")
    screenshot(f"editor-compare-{width}")

    page.focus("#split")
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    assert handle_share(page) == pytest.approx(0.4, abs=0.02)
    assert original_shown(page) == "inset(0px 60% 0px 0px)"
    page.keyboard.press("End")
    assert original_shown(page) == "inset(0px 0% 0px 0px)"

    # A click on the image a quarter of the way across puts the handle there.
    page.mouse.click(compare["x"] + compare["width"] * 0.25, compare["y"] + compare["height"] / 2)
    assert handle_share(page) == pytest.approx(0.25, abs=0.05)
