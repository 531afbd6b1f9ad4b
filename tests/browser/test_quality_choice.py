"""The editor's quality choice: Fast (u2netp) or Best (isnet), with its price, remembered."""

from __future__ import annotations

import pytest

from removal.tests.test_models_quality import isnet_installed  # noqa: F401 - a fixture
from tests.browser.test_pages import upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)

# Where the woman beside the car stands in car-1 (480 x 360): u2netp drops her.
WOMAN = (422, 180)


def alpha_at(page, x: int, y: int) -> int:
    return page.evaluate(
        """([x, y]) => document.getElementById('result').getContext('2d')
            .getImageData(x, y, 1, 1).data[3]""",
        [x, y],
    )


@pytest.mark.usefixtures("isnet_installed")
@pytest.mark.parametrize("width", [390, 1280])
def test_best_quality_keeps_the_woman_and_is_remembered(page, live_server, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/editor/")
    choice = page.inner_text("#quality")
    assert "Fast" in choice and "Best" in choice
    assert "isnet, AGPL-3.0" in choice and "1 credit" in choice
    assert page.is_checked("input[name=model][value=u2netp]")
    upload_and_wait(page)
    assert alpha_at(page, *WOMAN) < 30

    page.check("input[name=model][value=isnet]")
    page.reload()
    assert page.is_checked("input[name=model][value=isnet]")
    with page.expect_request("**/rmbg") as sent:
        upload_and_wait(page)
    assert b'name="model"\r\n\r\nisnet' in sent.value.post_data_buffer
    assert alpha_at(page, *WOMAN) > 200
    screenshot(f"editor-quality-{width}")


def test_one_model_means_no_choice(page, live_server, settings, tmp_path):
    settings.REMOVAL_MODEL_DIR = str(tmp_path)  # only the bundled model
    page.goto(f"{live_server.url}/editor/")
    assert page.locator("#quality").count() == 0
