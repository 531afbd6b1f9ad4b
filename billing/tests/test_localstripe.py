"""Against localstripe, a fake Stripe on loopback that delivers signed webhooks to our server.

localstripe speaks the legacy API: Plans instead of Prices, the period on the
subscription rather than its items, no invoice.paid, no customer.subscription.updated,
no Checkout, no Portal, no renewals. What it has runs end to end here:
a subscription created and deleted through stripe-python, and the signed
customer.subscription.created/deleted events it sends to /stripe/webhook.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
import requests
import stripe
from django.db import transaction

from billing import credits
from billing.models import BillingPeriod, CreditAccount, Plan, Subscription
from billing.subscriptions import from_unix
from billing.tests.helpers import account_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_stripe(localstripe_url, live_server, settings, stripe_keys):
    settings.STRIPE_API_BASE = localstripe_url
    # localstripe signs every event it makes with this secret and posts it to us.
    requests.post(
        f"{localstripe_url}/_config/webhooks/cutout",
        data={"url": f"{live_server.url}/stripe/webhook", "secret": stripe_keys},
        timeout=5,
    ).raise_for_status()
    yield stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": localstripe_url})
    # Later tests' events must not reach a server that is gone: a closed port.
    requests.post(
        f"{localstripe_url}/_config/webhooks/cutout",
        data={"url": "http://127.0.0.1:9/", "secret": stripe_keys},
        timeout=5,
    )


def wait_for(condition, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("localstripe's webhook did not arrive in time")


def test_a_subscription_made_in_stripe_reaches_us_through_its_signed_webhooks(fake_stripe, alice):
    price_id = f"price_premium_{uuid.uuid4().hex[:8]}"
    fake_stripe.v1.plans.create(
        params={
            "id": price_id,
            "amount": 4900,
            "currency": "usd",
            "interval": "month",
            "product": {"name": "Premium"},
        }
    )
    free = Plan.objects.default()  # transactional tests start from empty tables
    premium, _ = Plan.objects.update_or_create(
        label="Premium-20000", defaults={"included_credits": 20000, "stripe_price_id": price_id}
    )
    card = fake_stripe.v1.tokens.create(
        params={
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
        }
    )
    customer = fake_stripe.v1.customers.create(params={"email": alice.email, "source": card.id})
    account = account_for(alice)
    account.stripe_customer_id = customer.id  # as checkout.session.completed would have
    account.save()

    sub = fake_stripe.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": price_id}]}
    )
    row = wait_for(lambda: Subscription.objects.filter(stripe_subscription_id=sub.id).first())

    start, end = from_unix(sub.current_period_start), from_unix(sub.current_period_end)
    assert (row.status, row.plan, row.current_period_end) == ("active", premium, end)
    period = BillingPeriod.objects.get(user=alice)
    assert (period.start, period.end, period.source) == (start, end, "stripe")
    account = CreditAccount.objects.get(user=alice)
    assert (account.plan, account.period_start, account.period_from_stripe) == (
        premium,
        start,
        True,
    )

    fake_stripe.v1.subscriptions.cancel(sub.id)
    wait_for(lambda: Subscription.objects.filter(pk=row.pk, status="canceled").exists())
    assert CreditAccount.objects.get(user=alice).plan == premium  # paid until the period ends
    with transaction.atomic():
        lapsed = credits.locked_account(alice, end + timedelta(seconds=1))
    assert lapsed.plan == free
