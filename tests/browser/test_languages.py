"""Thai and English: from Accept-Language, or the footer's switcher, which is remembered.
The API keeps rembg.com's English words whatever the language."""

from __future__ import annotations

import pytest
import requests
from django.core import mail

from accounts.tests.factories import PASSWORD
from billing.tests.helpers import put_on_plan
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_pages import CAR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def thai_page(browser, live_server):
    context = browser.new_context(locale="th-TH", viewport={"width": 390, "height": 844})
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(live_server.url) else route.abort()
        ),
    )
    tab = context.new_page()
    yield tab
    context.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_a_thai_browser_gets_thai_pages_and_can_switch_to_english(thai_page, live_server, width):
    page = thai_page
    page.set_viewport_size({"width": width, "height": 844})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/")
    page.screenshot(path=str(ARTIFACTS / f"landing-th-{width}.png"), full_page=True)
    assert page.get_attribute("html", "lang") == "th"
    assert page.inner_text("h1") == "ลบพื้นหลังภาพ บนเครื่องของคุณเอง"
    assert "ตัวแก้ไข" in page.inner_text(".nav-links")
    page.goto(f"{live_server.url}/editor/")
    assert "ลบพื้นหลัง" in page.inner_text("h1")
    assert "ภาพฟรี" in page.inner_text("#allowance")
    page.screenshot(path=str(ARTIFACTS / f"editor-th-{width}.png"), full_page=True)

    page.select_option("#language", "en")
    page.click(".language-switcher button")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Remove a background"
    page.goto(f"{live_server.url}/")  # remembered, whatever the browser asks for
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("h1") == "Remove image backgrounds, on your own machines"


def test_dates_are_written_in_thai(thai_page, live_server, alice, settings):
    settings.STRIPE_SECRET_KEY = ""
    put_on_plan(alice, included=0)
    sign_in(thai_page, live_server, alice.email)
    thai_page.goto(f"{live_server.url}/editor/")
    renews = thai_page.inner_text("#limit time")
    assert any(month in renews for month in ("มกราคม", "ธันวาคม", "พฤศจิกายน")), renews


def test_the_api_answers_in_english_to_a_thai_caller(live_server):
    answer = requests.post(
        f"{live_server.url}/rmbg",
        headers={"Accept-Language": "th", "x-api-key": "rbg_wrong"},
        timeout=30,
    )
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid api key", "status": 401}
    assert "Content-Language" not in answer.headers


def test_a_thai_sign_up_gets_a_thai_e_mail(thai_page, live_server):
    thai_page.goto(f"{live_server.url}/accounts/signup/")
    thai_page.fill("input[name=email]", "somchai@example.com")
    thai_page.fill("input[name=password1]", PASSWORD)
    thai_page.fill("input[name=password2]", PASSWORD)
    thai_page.click("form button[type=submit]")
    thai_page.wait_for_load_state()
    assert mail.outbox[-1].body.startswith("สวัสดี somchai@example.com")


def test_the_account_pages_are_in_thai_too(thai_page, live_server, alice, settings):
    settings.STRIPE_SECRET_KEY = ""
    sign_in(thai_page, live_server, alice.email)
    for path, heading in (
        ("/api-keys/", "คีย์ API"),
        ("/dashboard/", "การใช้งาน"),
        ("/billing/", "การเรียกเก็บเงิน"),
    ):
        thai_page.goto(f"{live_server.url}{path}")
        assert thai_page.inner_text("h1") == heading, path
    assert "ไม่ได้ตั้งค่าการเรียกเก็บเงิน" in thai_page.inner_text("main")


def test_the_editors_own_messages_are_in_thai(thai_page, live_server):
    thai_page.goto(f"{live_server.url}/editor/")
    thai_page.set_input_files("#file", str(CAR))
    thai_page.wait_for_selector("#workspace:not([hidden])")
    assert thai_page.inner_text("#output-size") == "ผลลัพธ์: 480 × 360 พิกเซล"
    thai_page.fill("#bg-name", "blurple")
    assert thai_page.inner_text("#bg-name-error").startswith("ไม่รู้จักสี")
