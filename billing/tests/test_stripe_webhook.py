"""POST /stripe/webhook with signed events in the shape of the current Stripe API."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from accounts.authentication import Caller
from billing import counters, credits
from billing.models import (
    BillingPeriod,
    CreditAccount,
    CreditGrant,
    Plan,
    StripeEvent,
    Subscription,
)
from billing.tests.helpers import account_for
from billing.tests.stripe_events import (
    checkout_session,
    deliver,
    event,
    invoice,
    pack_purchase,
    signature,
    subscription,
    unix,
)

pytestmark = pytest.mark.django_db

PRICE = "price_premium_test"


@pytest.fixture
def premium(stripe_keys) -> Plan:
    plan, _ = Plan.objects.update_or_create(
        label="Premium-20000", defaults={"included_credits": 20000, "stripe_price_id": PRICE}
    )
    return plan


@pytest.fixture
def customer(alice) -> str:
    account = account_for(alice)
    account.stripe_customer_id = "cus_alice"
    account.save()
    return "cus_alice"


@pytest.fixture
def send(client, stripe_keys, django_capture_on_commit_callbacks):
    def post(event_type: str, obj: dict, **kwargs):
        # Runs what waits for the commit, e.g. mirroring the period into Redis.
        with django_capture_on_commit_callbacks(execute=True):
            return deliver(client, event(event_type, obj, **kwargs), stripe_keys)

    return post


@pytest.fixture
def usage(client, alice_key):
    def get(**params):
        response = client.get("/api/membership-usage", params, headers={"x-api-key": alice_key})
        assert response.status_code == 200
        return response.json()

    return get


def account(user) -> CreditAccount:
    return CreditAccount.objects.select_related("plan").get(user=user)


def spend(user, channel: str = "api") -> None:
    caller = Caller(user=user, channel=channel, ip="127.0.0.1", api_key=None)
    with credits.metered(caller):
        pass


def test_a_forged_signature_is_refused(client, stripe_keys, alice, customer, premium):
    now = timezone.now()
    body = event(
        "customer.subscription.created",
        subscription("sub_1", customer, PRICE, now, now + timedelta(days=30)),
    )
    response = deliver(client, body, "whsec_someone_else")
    assert response.status_code == 400
    assert not Subscription.objects.exists()
    assert not StripeEvent.objects.exists()
    assert account(alice).plan.label == "Free"


def test_an_unsigned_delivery_is_refused(client, stripe_keys, alice, customer, premium):
    now = timezone.now()
    body = event(
        "customer.subscription.created",
        subscription("sub_1", customer, PRICE, now, now + timedelta(days=30)),
    )
    assert deliver(client, body, stripe_keys, **{"Stripe-Signature": None}).status_code == 400
    assert deliver(client, body, stripe_keys, **{"Stripe-Signature": "t=1,v1=0"}).status_code == 400
    assert not Subscription.objects.exists()


def test_a_signature_from_long_ago_is_refused_as_a_replay(client, stripe_keys, alice, premium):
    body = event("customer.subscription.created", {"id": "sub_1"})
    old = signature(json.dumps(body), stripe_keys, timestamp=unix(timezone.now()) - 3600)
    assert deliver(client, body, stripe_keys, **{"Stripe-Signature": old}).status_code == 400


def test_a_signature_dated_beyond_the_tolerance_ahead_is_refused(
    client, stripe_keys, alice, premium
):
    body = event("customer.subscription.created", {"id": "sub_1"})
    payload = json.dumps(body)
    ahead = signature(payload, stripe_keys, timestamp=unix(timezone.now()) + 3600)
    response = deliver(client, body, stripe_keys, **{"Stripe-Signature": ahead})
    assert response.status_code == 400
    assert response.json() == {"error": "Invalid signature", "status": 400}
    assert not StripeEvent.objects.exists()


def test_a_signature_a_few_seconds_ahead_is_accepted(client, stripe_keys, customer, premium):
    # Clocks differ a little between Stripe and us: within the tolerance is fine.
    now = timezone.now()
    body = event(
        "customer.subscription.created",
        subscription("sub_1", customer, PRICE, now, now + timedelta(days=30)),
    )
    skewed = signature(json.dumps(body), stripe_keys, timestamp=unix(now) + 10)
    response = deliver(client, body, stripe_keys, **{"Stripe-Signature": skewed})
    assert response.status_code == 200
    assert StripeEvent.objects.get(event_id=body["id"]).processed_at is not None


def test_a_signed_event_without_an_id_is_a_400_and_recorded_nowhere(
    client, stripe_keys, alice, customer, premium
):
    now = timezone.now()
    body = event(
        "customer.subscription.created",
        subscription("sub_1", customer, PRICE, now, now + timedelta(days=30)),
    )
    del body["id"]
    response = deliver(client, body, stripe_keys)
    assert response.status_code == 400
    assert response.json() == {
        "error": "A Stripe event must have an id",
        "field": "id",
        "status": 400,
    }
    assert not StripeEvent.objects.exists()
    assert not Subscription.objects.exists()


def test_an_unknown_event_type_is_answered_200_and_ignored(send):
    response = send("customer.tax_id.created", {"id": "txi_1"})
    assert response.status_code == 200
    assert response.content == b"ignored"
    assert not StripeEvent.objects.exists()


def test_a_new_subscription_sets_the_period_and_the_included_credits(
    send, alice, customer, premium, usage
):
    now = timezone.now()
    start, end = now - timedelta(minutes=1), now - timedelta(minutes=1) + timedelta(days=30)
    assert send(
        "customer.subscription.created", subscription("sub_1", customer, PRICE, start, end)
    ).content == (b"processed")
    assert send(
        "invoice.paid",
        invoice("sub_1", customer, PRICE, start, end, billing_reason="subscription_create"),
    ).content == (b"processed")

    row = Subscription.objects.get(stripe_subscription_id="sub_1")
    assert (row.user, row.status, row.plan) == (alice, "active", premium)
    period = BillingPeriod.objects.get(user=alice)
    assert (period.source, unix(period.start), unix(period.end)) == (
        "stripe",
        unix(start),
        unix(end),
    )
    cached = account(alice)
    assert (cached.plan, unix(cached.period_start), cached.period_from_stripe) == (
        premium,
        unix(start),
        True,
    )
    assert (
        counters.client().get(f"user:{alice.pk}:billing_period_start") == str(unix(start)).encode()
    )
    body = usage(expand="billing_cycle")
    assert (body["membership"], body["credits"]) == ("Premium-20000", 20000)
    cycle = body["billingCycle"]
    assert (cycle["periodStartUnix"], cycle["periodEndUnix"]) == (unix(start), unix(end))
    assert cycle["includedCredits"] == 20000
    assert cycle["stripeBillingSynced"] is True


def test_a_renewal_resets_usage_and_keeps_the_old_periods_counters(
    send, alice, customer, premium, usage
):
    now = timezone.now()
    first = (now - timedelta(days=20), now + timedelta(days=10))
    send("customer.subscription.created", subscription("sub_1", customer, PRICE, *first))
    spend(alice, "api")
    spend(alice, "app")
    assert usage(expand="billing_cycle")["billingCycle"]["usedIncludedCredits"] == 2

    later = first[1] + timedelta(hours=2)
    second = (first[1], first[1] + timedelta(days=30))
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = send("invoice.paid", invoice("sub_1", customer, PRICE, *second))
        assert response.content == b"processed"
        assert account(alice).included_used == 0
        cycle = usage(expand="billing_cycle")["billingCycle"]
        assert (cycle["periodStartUnix"], cycle["usedIncludedCredits"]) == (unix(second[0]), 0)
        assert cycle["remainingIncludedCredits"] == 20000
        assert cycle["stripeBillingSynced"] is True
        cycles = usage(listBillingCycles="true")["billingCycles"]
    assert [c["periodStartUnix"] for c in cycles] == [unix(second[0]), unix(first[0])]
    assert (cycles[1]["appUsage"], cycles[1]["apiUsage"]) == (1, 1)
    assert (cycles[0]["appUsage"], cycles[0]["apiUsage"]) == (0, 0)


def test_a_pack_grants_prepaid_credits_once_even_when_the_event_arrives_three_times(
    client, stripe_keys, alice
):
    session = pack_purchase(alice, 1000)
    body = event("checkout.session.completed", session)
    answers = [deliver(client, body, stripe_keys).content for _ in range(3)]
    assert answers == [b"processed", b"duplicate", b"duplicate"]
    # Stripe also reports the same session under another event id: still one grant.
    deliver(client, event("checkout.session.async_payment_succeeded", session), stripe_keys)

    assert account(alice).prepaid_balance == 1000
    assert CreditGrant.objects.filter(user=alice, stripe_reference=session["id"]).count() == 1
    assert account(alice).stripe_customer_id == "cus_new"
    assert StripeEvent.objects.get(event_id=body["id"]).processed_at is not None


def test_a_pack_paid_by_a_delayed_method_is_granted_when_the_payment_succeeds(send, alice):
    session = pack_purchase(alice, 500, customer="cus_a", payment_status="unpaid")
    send("checkout.session.completed", session)
    assert account(alice).prepaid_balance == 0
    send("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
    assert account(alice).prepaid_balance == 500


def test_an_older_subscription_update_arriving_late_does_not_move_the_period_back(
    send, alice, customer, premium
):
    now = timezone.now()
    old = (now - timedelta(days=40), now - timedelta(days=10))
    new = (now - timedelta(days=10), now + timedelta(days=20))
    t = unix(now)
    send(
        "customer.subscription.updated",
        subscription("sub_1", customer, PRICE, *new),
        created=t - 10,
    )
    send(
        "customer.subscription.updated",
        subscription("sub_1", customer, PRICE, *old, status="past_due", cancel_at_period_end=True),
        created=t - 100,
    )
    send("invoice.paid", invoice("sub_1", customer, PRICE, *old), created=t - 90)

    row = Subscription.objects.get(stripe_subscription_id="sub_1")
    assert (row.status, row.cancel_at_period_end) == ("active", False)
    assert unix(row.current_period_end) == unix(new[1])
    assert unix(account(alice).period_start) == unix(new[0])
    assert not BillingPeriod.objects.filter(start=old[0]).exists()


def test_a_payment_failure_arriving_after_the_payment_that_fixed_it_changes_nothing(
    send, alice, customer, premium
):
    now = timezone.now()
    period = (now - timedelta(days=1), now + timedelta(days=29))
    t = unix(now)
    send("customer.subscription.created", subscription("sub_1", customer, PRICE, *period))
    send("invoice.paid", invoice("sub_1", customer, PRICE, *period), created=t + 5)
    send("invoice.payment_failed", invoice("sub_1", customer, PRICE, *period), created=t + 1)
    assert Subscription.objects.get().status == "active"


def test_a_cancellation_falls_back_to_free_at_period_end(
    send, client, alice, customer, premium, usage
):
    now = timezone.now()
    period = (now - timedelta(days=5), now + timedelta(days=25))
    send("customer.subscription.created", subscription("sub_1", customer, PRICE, *period))
    deleted = subscription("sub_1", customer, PRICE, *period, status="canceled")
    assert send("customer.subscription.deleted", deleted).content == b"processed"

    # Paid until the end of the period: the plan stays until then.
    assert Subscription.objects.get().status == "canceled"
    assert account(alice).plan == premium
    client.force_login(alice)
    assert "then the Free plan" in client.get("/billing/").content.decode()

    with mock.patch("django.utils.timezone.now", return_value=period[1] + timedelta(seconds=1)):
        spend(alice)
        assert usage()["membership"] == "Free"
    assert account(alice).plan.is_default


def test_a_subscription_deleted_after_its_period_is_free_at_once(send, alice, customer, premium):
    now = timezone.now()
    period = (now - timedelta(days=31), now - timedelta(minutes=1))
    send("customer.subscription.created", subscription("sub_1", customer, PRICE, *period))
    send(
        "customer.subscription.deleted",
        subscription("sub_1", customer, PRICE, *period, status="unpaid"),
    )
    assert account(alice).plan.label == "Free"


def test_payment_failed_shows_past_due_on_the_billing_page(send, client, alice, customer, premium):
    now = timezone.now()
    period = (now - timedelta(days=1), now + timedelta(days=29))
    send("customer.subscription.created", subscription("sub_1", customer, PRICE, *period))
    client.force_login(alice)
    assert "past due" not in client.get("/billing/").content.decode()

    send("invoice.payment_failed", invoice("sub_1", customer, PRICE, *period))

    assert Subscription.objects.get().status == "past_due"
    page = client.get("/billing/").content.decode()
    assert "Payment failed" in page
    assert "Past due" in page


def test_an_event_for_an_unknown_customer_is_kept_until_checkout_links_it(
    send, client, stripe_keys, alice, premium
):
    now = timezone.now()
    body = event(
        "customer.subscription.created",
        subscription("sub_1", "cus_later", PRICE, now, now + timedelta(days=30)),
    )
    first = deliver(client, body, stripe_keys)
    assert first.status_code == 500  # Stripe will deliver it again
    record = StripeEvent.objects.get(event_id=body["id"])
    assert record.processed_at is None and "cus_later" in record.error

    send(
        "checkout.session.completed",
        checkout_session(alice, mode="subscription", customer="cus_later"),
    )
    assert deliver(client, body, stripe_keys).content == b"processed"
    assert account(alice).plan == premium


def test_the_user_named_in_the_subscription_metadata_is_found_before_checkout_completes(
    send, alice, premium
):
    now = timezone.now()
    sub = subscription(
        "sub_1",
        "cus_fresh",
        PRICE,
        now,
        now + timedelta(days=30),
        metadata={"user_id": str(alice.pk)},
    )
    assert send("customer.subscription.created", sub).content == b"processed"
    assert account(alice).stripe_customer_id == "cus_fresh"
    assert account(alice).plan == premium


def test_older_api_versions_are_understood(send, alice, customer, premium):
    """Period on the subscription, the legacy `subscription` field and `price` on lines."""
    now = timezone.now().replace(microsecond=0)
    start, end = now - timedelta(hours=1), now + timedelta(days=30)
    legacy = {
        "id": "sub_old",
        "customer": customer,
        "status": "active",
        "cancel_at_period_end": False,
        "current_period_start": unix(start),
        "current_period_end": unix(end),
        "items": {"data": [{"id": "si_1", "plan": {"id": PRICE}}]},
    }
    send("customer.subscription.created", legacy)
    assert unix(account(alice).period_start) == unix(start)
    renewal = (end, end + timedelta(days=30))
    old_invoice = {
        "id": "in_old",
        "customer": customer,
        "subscription": "sub_old",
        "billing_reason": "subscription_cycle",
        "lines": {
            "data": [
                {
                    "type": "subscription",
                    "price": {"id": PRICE},
                    "period": {"start": unix(renewal[0]), "end": unix(renewal[1])},
                }
            ]
        },
    }
    send("invoice.paid", old_invoice)
    assert BillingPeriod.objects.filter(user=alice, start=renewal[0], source="stripe").exists()


def test_a_price_id_from_the_environment_maps_to_its_plan(send, settings, alice, customer, premium):
    settings.STRIPE_PRICE_IDS = {"Premium-20000": "price_from_env"}
    now = timezone.now()
    sub = subscription("sub_1", customer, "price_from_env", now, now + timedelta(days=30))
    send("customer.subscription.created", sub)
    assert account(alice).plan == premium
    assert premium.price_id == "price_from_env"


@pytest.mark.parametrize("weird", ["²", "١", "12abc"])
def test_ids_that_only_look_like_digits_name_nobody(send, alice, premium, weird):
    now = timezone.now()
    sub = subscription(
        "sub_w", "cus_w", PRICE, now, now + timedelta(days=30), metadata={"user_id": weird}
    )
    assert send("customer.subscription.created", sub).status_code == 500  # kept for a retry
    session = checkout_session(alice, mode="payment", customer="cus_x", metadata={"pack_id": weird})
    session["client_reference_id"] = weird
    assert send("checkout.session.completed", session).status_code == 200  # names no user
    assert not CreditGrant.objects.exists()
