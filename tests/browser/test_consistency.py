"""One voice across the site: names, wording, the current page, headers and error pages."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error

from billing.models import CreditPack, Plan
from tests.browser.test_api_keys_page import create_key
from tests.browser.test_layout import PRIVATE, PUBLIC, visit
from tests.browser.test_pages import sign_in, upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)
WIDTHS = [390, 1280]
# allauth's "Email", "Sign Up", "Signup": the site says "e-mail" and "Sign up".
OFF_WORDS = re.compile(r"(?<![-\w])[Ee]mails?\b|Sign Up|Signup|Sign In|Sign Out|\b1 \w+ images\b")


@pytest.fixture
def offers(db):
    """The seeded plan and pack (transactional tests start from empty tables)."""
    Plan.objects.default()
    Plan.objects.get_or_create(
        label="Premium-20000",
        defaults={"display_name": "Premium", "included_credits": 20000, "monthly_price": 49},
    )
    CreditPack.objects.get_or_create(label="Pack-1000", defaults={"credits": 1000, "price": 10})


def words_on(page) -> str:
    return (
        page.inner_text("body")
        + " "
        + " ".join(page.locator("input[type=submit], button").all_inner_texts())
    )


def title_cased(label: str) -> bool:
    words = label.split()
    return len(words) > 1 and all(w[:1].isupper() for w in words[1:] if w not in {"API", "I"})


def test_every_page_says_e_mail_and_sign_up_and_uses_sentence_case(page, live_server, alice):
    seen = {}
    for name, path in PUBLIC.items():
        visit(page, live_server.url + path)
        seen[name] = words_on(page)
    sign_in(page, live_server, alice.email)
    for name, path in PRIVATE.items():
        visit(page, live_server.url + path)
        seen[name] = words_on(page)
    for name, text in seen.items():
        assert not OFF_WORDS.findall(text), (name, OFF_WORDS.findall(text))
    for name, path in {**PUBLIC, **PRIVATE}.items():
        visit(page, live_server.url + path)
        buttons = page.locator("main button:visible, main .button:visible").all_inner_texts()
        assert not [b for b in buttons if title_cased(b.strip())], (name, buttons)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_pricing_shows_names_once_and_only_what_is_for_sale(
    page, live_server, settings, screenshot, offers, width
):
    settings.STRIPE_SECRET_KEY = ""
    page.set_viewport_size({"width": width, "height": 844})
    visit(page, f"{live_server.url}/")
    pricing = page.inner_text("[aria-labelledby=pricing-title]")
    screenshot(f"landing-pricing-billing-off-{width}")
    assert "$49" not in pricing and "Premium" not in pricing and "pack" not in pricing
    for card in page.locator(".plan").all_inner_texts():
        assert card.count("Free") <= 1, card
    assert "Free account" in pricing


def test_with_billing_on_the_plans_for_sale_show_their_display_names(
    page, live_server, settings, stripe_keys, offers
):
    settings.STRIPE_PRICE_IDS = {"Premium-20000": "price_premium", "Pack-1000": "price_pack"}
    visit(page, f"{live_server.url}/")
    pricing = page.inner_text("[aria-labelledby=pricing-title]")
    assert "Premium" in pricing and "$49" in pricing and "packs from $10" in pricing
    assert "Premium-20000" not in page.content()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_current_page_is_marked_and_usage_has_the_account_sidebar(
    page, live_server, alice, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 844})
    visit(page, f"{live_server.url}/editor/")
    assert page.locator(".nav-links [aria-current=page]").all_inner_texts() == ["Editor"]
    sign_in(page, live_server, alice.email)
    visit(page, f"{live_server.url}/dashboard/")
    assert page.locator(".nav-links [aria-current=page]").all_inner_texts() == ["Usage"]
    assert page.locator(".sidebar [aria-current=page]").all_inner_texts() == ["Usage"]
    screenshot(f"usage-sidebar-{width}")
    visit(page, f"{live_server.url}/accounts/email/")
    assert page.locator(".sidebar [aria-current=page]").all_inner_texts() == ["E-mail addresses"]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_api_reference_and_the_404_page_have_the_site_header(
    page, live_server, screenshot, width
):
    page.set_viewport_size({"width": width, "height": 844})
    visit(page, f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock-summary-path")
    assert page.locator(".site-header .nav-links [aria-current=page]").inner_text() == (
        "API reference"
    )
    screenshot(f"api-reference-header-{width}")
    answer = page.goto(f"{live_server.url}/no-such-page/")
    assert answer.status == 404
    assert page.locator(".site-header").count() == 1
    assert page.inner_text("h1") == "Page not found"
    screenshot(f"not-found-{width}")


def test_the_500_page_has_the_site_header():
    html = server_error(RequestFactory().get("/")).content.decode()
    assert 'class="site-header"' in html and "Something went wrong" in html


def test_revoke_looks_dangerous_and_sign_up_is_readable(page, live_server, alice):
    visit(page, f"{live_server.url}/")
    sign_up = page.locator(".nav-links a.button")
    assert sign_up.evaluate("a => getComputedStyle(a).color") == "rgb(255, 255, 255)"
    sign_in(page, live_server, alice.email)
    create_key(page, live_server, "Laptop")
    style = "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    rename = page.locator("table.keys button:has-text('Rename')").evaluate(style)
    revoke = page.locator("table.keys button:has-text('Revoke')").evaluate(style)
    assert rename != revoke
    red, green, blue = map(int, re.findall(r"\d+", revoke[0])[:3])
    assert red > 150 and green < 80 and blue < 80, revoke


def test_copy_says_so_only_when_the_clipboard_took_it(page, live_server, alice):
    page.add_init_script(
        "navigator.clipboard.writeText = () => Promise.reject(new DOMException('denied'))"
    )
    sign_in(page, live_server, alice.email)
    create_key(page, live_server, "Laptop")
    page.click("button[data-copy='#new-key']")
    button = page.locator("button[data-copy='#new-key']")
    page.wait_for_function("b => b.textContent !== 'Copy'", arg=button.element_handle())
    assert button.inner_text() != "Copied"
    assert "Ctrl+C" in button.inner_text()
    assert page.evaluate("document.activeElement.id") == "new-key"  # selected for a manual copy


def test_the_editors_credit_line_counts_down_in_full(page, live_server, alice):
    sign_in(page, live_server, alice.email)
    visit(page, f"{live_server.url}/editor/")
    included = int(page.inner_text("#included"))
    upload_and_wait(page)
    assert int(page.inner_text("#included")) == included - 1
    assert "(" not in page.inner_text("#allowance")
