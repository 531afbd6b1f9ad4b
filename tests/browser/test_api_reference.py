"""The API reference page: its header, and "Try it out" working with defaults."""

from __future__ import annotations

import pytest

from tests.browser.test_pages import CAR

pytestmark = pytest.mark.django_db(transaction=True)


def authorize(page, raw_key: str) -> None:
    page.click("button.authorize")
    page.fill(".modal-ux input[type=text]", raw_key)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.close-modal")


def test_try_it_out_with_only_a_file_returns_an_image(page, live_server, alice_key):
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")
    authorize(page, alice_key)
    page.click("#operations-Background_removal-removeBackground .opblock-summary")
    block = page.locator("#operations-Background_removal-removeBackground")
    block.locator("button.try-out__btn").click()
    # Nothing may be pre-filled with a value the API refuses (Swagger UI's "string").
    for field in block.locator(".parameters input[type=text]").all():
        assert field.input_value() in ("", "0", "true", "false"), field.input_value()
    block.locator("input[type=file]").set_input_files(str(CAR))
    with page.expect_response("**/rmbg") as answer:
        block.locator("button.execute").click()
    assert answer.value.status == 200, answer.value.text()
    assert answer.value.headers["content-type"].startswith("image/")
