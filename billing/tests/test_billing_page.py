"""The billing page, and its buttons that send the user to Stripe Checkout or the Portal."""

from __future__ import annotations

import re

import pytest

from billing import credits
from billing.models import CreditPack, Plan
from billing.tests.helpers import account_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def offers():
    premium, _ = Plan.objects.update_or_create(
        label="Premium-20000",
        defaults={"included_credits": 20000, "monthly_price": 49, "stripe_price_id": "price_plan"},
    )
    pack = CreditPack.objects.create(
        label="Pack-1000-test", credits=1000, price=10, stripe_price_id="price_pack"
    )
    unpriced = CreditPack.objects.create(label="Pack-unpriced", credits=5, price=1)
    return premium, pack, unpriced


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_page_is_for_signed_in_users(client):
    response = client.get("/billing/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_without_stripe_keys_the_page_says_billing_is_not_configured(
    signed_in, settings, alice, offers
):
    settings.STRIPE_SECRET_KEY = ""
    credits.grant_prepaid(alice, 70, "gift")
    page = signed_in.get("/billing/").content.decode()
    assert "Billing is not configured" in page
    assert "Current plan: Free" in page
    assert "0 of 50 included credits" in page
    assert re.search(r"Prepaid credits</dt>\s*<dd>70</dd>", page)
    assert "Subscribe" not in page and "Buy " not in page


def test_without_stripe_keys_the_buttons_never_reach_stripe(signed_in, settings, offers):
    settings.STRIPE_SECRET_KEY = ""
    premium, pack, _ = offers
    response = signed_in.post(f"/billing/plans/{premium.pk}/subscribe", follow=True)
    assert response.redirect_chain == [("/billing/", 302)]
    assert "Billing is not configured" in response.content.decode()


def test_with_keys_the_page_offers_the_plans_and_packs_that_have_a_price(
    signed_in, stripe_keys, offers
):
    premium, pack, unpriced = offers
    page = signed_in.get("/billing/").content.decode()
    assert "Billing is not configured" not in page
    assert f'action="/billing/plans/{premium.pk}/subscribe"' in page
    assert f'action="/billing/packs/{pack.pk}/buy"' in page
    assert "Pack-unpriced" not in page
    assert "Manage subscription" not in page  # no Stripe customer yet


def test_subscribing_opens_a_checkout_session_in_subscription_mode(
    signed_in, stripe_recorder, alice, offers
):
    premium, _, _ = offers
    response = signed_in.post(f"/billing/plans/{premium.pk}/subscribe")
    assert response.status_code == 303
    assert response["Location"] == "https://checkout.stripe.test/session_1"
    [sent] = stripe_recorder
    assert sent["path"] == "/v1/checkout/sessions"
    assert sent["authorization"] == "Bearer sk_test_cutout"
    form = sent["form"]
    assert form["mode"] == "subscription"
    assert form["line_items[0][price]"] == "price_plan"
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == str(alice.pk)
    assert form["customer_email"] == alice.email
    assert "customer" not in form
    assert form["subscription_data[metadata][user_id]"] == str(alice.pk)
    assert (
        form["success_url"] == "http://testserver/billing/success?session_id={CHECKOUT_SESSION_ID}"
    )
    assert form["cancel_url"] == "http://testserver/billing/cancel"


def test_buying_a_pack_opens_a_payment_checkout_for_the_linked_customer(
    signed_in, stripe_recorder, alice, offers
):
    _, pack, _ = offers
    account = account_for(alice)
    account.stripe_customer_id = "cus_alice"
    account.save()
    response = signed_in.post(f"/billing/packs/{pack.pk}/buy")
    assert (response.status_code, response["Location"]) == (
        303,
        "https://checkout.stripe.test/session_1",
    )
    form = stripe_recorder[0]["form"]
    assert (form["mode"], form["line_items[0][price]"]) == ("payment", "price_pack")
    assert form["customer"] == "cus_alice"
    assert "customer_email" not in form
    assert form["metadata[pack_id]"] == str(pack.pk)
    assert form["client_reference_id"] == str(alice.pk)


def test_a_pack_without_a_price_is_not_for_sale(signed_in, stripe_recorder, offers):
    _, _, unpriced = offers
    response = signed_in.post(f"/billing/packs/{unpriced.pk}/buy")
    assert response.status_code == 302
    assert stripe_recorder == []


def test_manage_opens_the_customer_portal(signed_in, stripe_recorder, alice):
    account = account_for(alice)
    account.stripe_customer_id = "cus_alice"
    account.save()
    assert "Manage subscription" in signed_in.get("/billing/").content.decode()
    response = signed_in.post("/billing/portal")
    assert (response.status_code, response["Location"]) == (
        303,
        "https://billing_portal.stripe.test/session_1",
    )
    [sent] = stripe_recorder
    assert sent["path"] == "/v1/billing_portal/sessions"
    assert sent["form"] == {"customer": "cus_alice", "return_url": "http://testserver/billing/"}


def test_when_stripe_cannot_be_reached_the_user_is_told(signed_in, settings, stripe_keys, offers):
    premium, _, _ = offers
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: nothing listens
    response = signed_in.post(f"/billing/plans/{premium.pk}/subscribe", follow=True)
    assert response.redirect_chain == [("/billing/", 302)]
    assert "Stripe could not be reached" in response.content.decode()


def test_success_and_cancel_pages(signed_in):
    assert "Thank you" in signed_in.get("/billing/success?session_id=cs_1").content.decode()
    assert "Nothing was charged" in signed_in.get("/billing/cancel").content.decode()


@pytest.mark.parametrize(
    ("path", "thai"),
    [("/billing/success", "ชำระเงินเรียบร้อยแล้ว"), ("/billing/cancel", "ไม่มีการเรียกเก็บเงิน")],
)
def test_the_checkout_pages_speak_thai(client, alice, path, thai):
    client.force_login(alice)
    assert thai in client.get(path, HTTP_ACCEPT_LANGUAGE="th").content.decode()
