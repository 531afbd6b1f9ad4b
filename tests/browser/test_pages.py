"""The web app as a person uses it, in Chromium."""

from __future__ import annotations

import re

import pytest
import requests
from django.core import mail
from PIL import Image

from accounts.tests.factories import PASSWORD
from conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)
CAR = DATA / "car-1.jpg"


def watch_status(page) -> None:
    """Record whether the upload status (progress bar) was ever shown."""
    page.evaluate(
        """() => {
        window.statusShown = false;
        const status = document.getElementById('status');
        new MutationObserver(() => { if (!status.hidden) window.statusShown = true; })
          .observe(status, {attributes: true});
    }"""
    )


def upload_and_wait(page) -> None:
    watch_status(page)
    page.set_input_files("#file", str(CAR))
    page.wait_for_selector("#workspace:not([hidden])")
    assert page.evaluate("window.statusShown")
    assert page.eval_on_selector("#upload-progress", "p => p.value") == 100


def post_with_key(live_server, raw_key: str) -> requests.Response:
    """The photo to /rmbg from a plain HTTP client, as a user's script would send it."""
    with open(CAR, "rb") as photo:
        return requests.post(
            f"{live_server.url}/rmbg",
            headers={"x-api-key": raw_key},
            files={"image": photo},
            timeout=60,
        )


def sign_in(page, live_server, email: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_load_state()


def test_an_anonymous_visitor_removes_a_background_and_downloads_it(
    page, live_server, screenshot, tmp_path
):
    page.goto(f"{live_server.url}/editor/")
    assert "free images left today" in page.inner_text("#allowance")
    remaining = int(page.inner_text("#remaining"))
    upload_and_wait(page)
    assert int(page.inner_text("#remaining")) == remaining - 1
    screenshot("editor-result")

    page.select_option("#format", "png")
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "car-1-cutout.png"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    image = Image.open(path)
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (480, 360))
    assert image.getpixel((2, 2))[3] == 0
    assert image.getpixel((240, 200))[3] > 200


def test_the_editor_applies_background_size_and_format(page, live_server, tmp_path):
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    page.check("input[name=bg][value=color]")
    page.fill("#bg-name", "red")
    page.fill("#width", "240")
    page.fill("#height", "")
    page.select_option("#format", "jpeg")
    assert page.inner_text("#output-size") == "Output: 240 × 180 px"
    with page.expect_download() as download_info:
        page.click("#download")
    path = tmp_path / "out.jpg"
    download_info.value.save_as(path)
    image = Image.open(path)
    assert (image.format, image.size) == ("JPEG", (240, 180))
    r, g, b = image.getpixel((1, 1))
    assert r > 240 and g < 20 and b < 20


def test_the_editor_shows_the_apis_error_message(page, live_server, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"just some text")
    page.goto(f"{live_server.url}/editor/")
    page.set_input_files("#file", str(bad))
    page.wait_for_selector("#error:not([hidden])")
    assert (
        page.inner_text("#error")
        == "File does not appear to be a valid image (invalid file signature)"
    )


def test_the_editor_shows_one_clear_message_for_a_gif(page, live_server, tmp_path):
    # A real GIF is wrong twice (extension and signature); the field gets one error.
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8), "blue").save(gif, "GIF")
    page.goto(f"{live_server.url}/editor/")
    page.set_input_files("#file", str(gif))
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == (
        "File type '.gif' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg"
    )


def test_the_landing_page_drop_zone_opens_the_editor(page, live_server, screenshot):
    page.goto(f"{live_server.url}/")
    screenshot("landing")
    assert "Pricing" in page.inner_text("main")
    page.set_input_files("#home-file", str(CAR))
    page.wait_for_url(re.compile(r"/editor/"))
    page.wait_for_selector("#workspace:not([hidden])")


def test_sign_up_verify_edit_and_see_one_app_credit_used(page, live_server, screenshot):
    page.goto(f"{live_server.url}/accounts/signup/")
    screenshot("signup")
    page.fill("input[name=email]", "erin@example.com")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[-1].body).group(0)
    page.goto(link)
    page.click("form button[type=submit]")
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/editor/")
    assert "credits left" in page.inner_text("#allowance")
    upload_and_wait(page)

    page.goto(f"{live_server.url}/dashboard/")
    assert page.inner_text("#app-usage") == "1"
    assert page.inner_text("#api-usage") == "0"
    assert page.locator("svg.chart rect.bar-app").count() >= 1
    screenshot("dashboard")


def test_create_copy_use_and_revoke_a_key(page, live_server, alice, screenshot):
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/api-keys/")
    page.fill("#id_name", "From the browser")
    page.click("text=Create key")
    raw_key = page.input_value("#new-key")
    assert raw_key.startswith("rbg_")
    page.click("button[data-copy='#new-key']")
    assert page.evaluate("navigator.clipboard.readText()") == raw_key
    screenshot("api-keys-new")

    assert post_with_key(live_server, raw_key).status_code == 200

    page.goto(f"{live_server.url}/api-keys/")
    assert page.input_value("table.keys input[name=name]") == "From the browser"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("table.keys button:has-text('Revoke')")
    page.wait_for_selector("text=stopped working immediately")
    screenshot("api-keys-revoked")
    assert post_with_key(live_server, raw_key).status_code == 401


def test_the_api_reference_loads_without_leaving_the_machine(page, live_server, screenshot):
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    paths = {path.replace("\u200b", "") for path in shown}
    assert {"/rmbg", "/api/membership-usage"} <= paths
    screenshot("api-reference")
    assert page.outside_requests == []


def test_a_key_pasted_into_the_api_reference_works(page, live_server, alice_key):
    page.goto(f"{live_server.url}/api/docs/")
    page.click("button.authorize")
    page.fill(".modal-ux input[type=text]", alice_key)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.close-modal")
    page.click("#operations-Account-membershipUsage .opblock-summary")
    page.click("button.try-out__btn")
    page.click("button.execute")
    page.wait_for_selector(".responses-table .response-col_status >> text=200")
    body = page.inner_text(".responses-table .microlight")
    assert '"membership"' in body


def test_the_billing_page_says_when_billing_is_off(page, live_server, alice, screenshot, settings):
    settings.STRIPE_SECRET_KEY = ""
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/billing/")
    assert "not configured" in page.inner_text("main")
    screenshot("billing")
