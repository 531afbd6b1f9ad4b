"""The one module that talks to Stripe: Checkout, the Customer Portal, webhook signatures.

stripe-python is used directly. STRIPE_API_BASE points it at another host (a
loopback fake Stripe in the tests); tests replace this seam and nothing deeper.
"""

from __future__ import annotations

import time
from typing import Any

import stripe
from django.conf import settings

# Raised for anything that went wrong between us and Stripe.
StripeError = stripe.StripeError


class BillingNotConfigured(Exception):
    """No Stripe secret key: the service runs without paid plans."""


class InvalidWebhook(Exception):
    """A webhook whose body or signature does not check out; the message is shown."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    if not configured():
        raise BillingNotConfigured
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    # Stripe's own retries, with idempotency keys, for a network error or a 5xx.
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=2
    )


def create_checkout_session(
    *,
    mode: str,
    price_id: str,
    user,
    customer_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> str:
    """A Checkout Session for one price; returns the URL of Stripe's hosted page.

    ``mode`` is "subscription" for a plan, "payment" for a credit pack.
    """
    params: dict[str, Any] = {
        "mode": mode,
        "line_items": [{"price": price_id, "quantity": 1}],
        "client_reference_id": str(user.pk),
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"user_id": str(user.pk), **(metadata or {})},
    }
    if customer_id:
        params["customer"] = customer_id
    else:
        params["customer_email"] = user.email
        if mode == "payment":
            # A customer to link to the user, as subscription mode always creates.
            params["customer_creation"] = "always"
    if mode == "subscription":
        # The subscription's own events then name the user even if they arrive
        # before checkout.session.completed has linked the customer.
        params["subscription_data"] = {"metadata": {"user_id": str(user.pk)}}
    session = client().v1.checkout.sessions.create(params=params)
    return session.url


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    """A Customer Portal session; returns its URL."""
    session = client().v1.billing_portal.sessions.create(
        params={"customer": customer_id, "return_url": return_url}
    )
    return session.url


def construct_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event of a webhook delivery, as plain dicts, once its signature is verified."""
    if not signature or not settings.STRIPE_WEBHOOK_SECRET:
        raise InvalidWebhook("Invalid signature")
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    try:
        event = stripe.Webhook.construct_event(
            payload, signature, settings.STRIPE_WEBHOOK_SECRET, tolerance=tolerance
        )
    except (ValueError, stripe.SignatureVerificationError):
        raise InvalidWebhook("Invalid signature") from None
    # stripe-python refuses only signatures older than the tolerance; one dated
    # far ahead would otherwise stay replayable until that future moment.
    if _signed_at(signature) > time.time() + tolerance:
        raise InvalidWebhook("Invalid signature")
    event = event.to_dict()
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidWebhook("A Stripe event must have an id", field="id")
    return event


def _signed_at(signature: str) -> int:
    """The header's t=, read as stripe-python reads it (its first t item)."""
    for item in signature.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value)
    raise InvalidWebhook("Invalid signature")  # unreachable once stripe-python verified it
