"""Stripe delivers events at least once, sometimes twice at the same moment."""

from __future__ import annotations

import pytest
from django.test import Client

from billing.models import CreditGrant, StripeEvent
from billing.tests.helpers import account_for
from billing.tests.stripe_events import deliver, event, pack_purchase

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("failed_before", [False, True], ids=["new", "failed-before"])
def test_simultaneous_deliveries_of_a_pack_purchase_grant_it_once(
    stripe_keys, alice, failed_before, together
):
    session = pack_purchase(alice, 1000)
    completed = event("checkout.session.completed", session)
    if failed_before:  # recorded, not applied: Stripe retries it
        StripeEvent.objects.create(
            event_id=completed["id"], type=completed["type"], error="OperationalError"
        )
    # The same event redelivered, and the same session under another event.
    bodies = [completed] * 5 + [event("checkout.session.async_payment_succeeded", session)] * 3
    answers = together(lambda body: deliver(Client(), body, stripe_keys).content, bodies)

    assert sorted(answers) == [b"duplicate"] * 6 + [b"processed"] * 2
    assert account_for(alice).prepaid_balance == 1000
    assert CreditGrant.objects.filter(stripe_reference=session["id"]).count() == 1
