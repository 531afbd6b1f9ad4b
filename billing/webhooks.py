"""POST /stripe/webhook: verify, record once, and apply each Stripe event atomically."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from billing import credits, stripe_gateway, subscriptions
from billing.models import CreditPack, StripeEvent
from billing.subscriptions import Observed, from_unix
from config.errors import ascii_id

logger = logging.getLogger(__name__)

IGNORED = "ignored"
DUPLICATE = "duplicate"
PROCESSED = "processed"
FAILED = "failed"

# Invoices that open a new period of their subscription.
PERIOD_REASONS = {"subscription_create", "subscription_cycle", "subscription_update"}

Handler = Callable[[dict[str, Any], datetime], None]
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        for event_type in types:
            HANDLERS[event_type] = func
        return func

    return register


def receive(payload: bytes, signature: str | None) -> str:
    """Process one delivery; raises stripe_gateway.InvalidWebhook for a bad signature."""
    event = stripe_gateway.construct_event(payload, signature)
    handler = HANDLERS.get(event.get("type", ""))
    if handler is None:
        return IGNORED
    with transaction.atomic():
        record, _ = StripeEvent.objects.get_or_create(
            event_id=event["id"], defaults={"type": event["type"]}
        )
        # Locking the event row serialises two deliveries of one event: it applies once.
        record = StripeEvent.objects.select_for_update().get(pk=record.pk)
        if record.processed_at is not None:
            return DUPLICATE
        try:
            with transaction.atomic():  # all of the event's changes, or none
                handler(event["data"]["object"], from_unix(event["created"]))
        except Exception as exc:
            # Kept unprocessed: Stripe redelivers, e.g. once checkout linked the customer.
            logger.exception("Stripe event %s (%s) failed", event["id"], event["type"])
            record.error = f"{type(exc).__name__}: {exc}"[:2000]
            record.save(update_fields=["error"])
            return FAILED
        record.processed_at = timezone.now()
        record.error = ""
        record.save(update_fields=["processed_at", "error"])
    return PROCESSED


@handles("checkout.session.completed", "checkout.session.async_payment_succeeded")
def checkout_completed(session: dict, as_of: datetime) -> None:
    reference = ascii_id(session.get("client_reference_id"))
    user = get_user_model().objects.filter(pk=reference).first() if reference else None
    if user is None:
        logger.warning("Checkout session %s names no user of ours", session.get("id"))
        return
    subscriptions.link_customer(user, session.get("customer") or "")
    if session.get("mode") != "payment" or session.get("payment_status") != "paid":
        return  # a subscription's credits come with its own events
    pack_id = ascii_id((session.get("metadata") or {}).get("pack_id"))
    pack = CreditPack.objects.filter(pk=pack_id).first() if pack_id else None
    if pack is None:
        raise ValueError(f"paid checkout session {session['id']} names no credit pack")
    # Once per session, however many times Stripe delivers the event.
    credits.grant_prepaid(
        user, pack.credits, f"Credit pack {pack.label}", stripe_reference=session["id"]
    )


@handles(
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
)
def subscription_changed(sub: dict, as_of: datetime) -> None:
    items = (sub.get("items") or {}).get("data") or []
    subscriptions.apply(
        Observed(
            subscription_id=sub["id"],
            customer_id=_id(sub.get("customer")),
            as_of=as_of,
            status=sub.get("status"),
            price_id=_price_id(items[0]) if items else None,
            cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
            period=_subscription_period(sub, items),
            metadata=sub.get("metadata"),
        )
    )


@handles("invoice.paid")
def invoice_paid(invoice: dict, as_of: datetime) -> None:
    """The credit reset: a paid subscription invoice opens the subscription's new period."""
    subscription_id, metadata = _invoice_subscription(invoice)
    if not subscription_id:
        return  # a one-off invoice
    line = _subscription_line(invoice)
    moves = invoice.get("billing_reason") in PERIOD_REASONS and line is not None
    subscriptions.apply(
        Observed(
            subscription_id=subscription_id,
            customer_id=_id(invoice.get("customer")),
            as_of=as_of,
            status="active",
            status_if=("past_due", "unpaid", "incomplete"),
            price_id=_price_id(line) if line else None,
            period=_period(line.get("period")) if moves else None,
            metadata=metadata,
        )
    )


@handles("invoice.payment_failed")
def invoice_payment_failed(invoice: dict, as_of: datetime) -> None:
    subscription_id, _ = _invoice_subscription(invoice)
    if not subscription_id:
        return
    subscriptions.apply(
        Observed(
            subscription_id=subscription_id,
            customer_id=_id(invoice.get("customer")),
            as_of=as_of,
            status="past_due",
            status_if=("active", "trialing"),
            may_create=False,
        )
    )


def _id(value) -> str:
    """An id, whether the field holds it or the expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""


def _price_id(item: dict) -> str:
    """The price of a subscription item or invoice line, in any API version's shape."""
    price = _id(item.get("price"))
    if not price:  # invoice lines from API 2025-03-31 on
        price = _id(((item.get("pricing") or {}).get("price_details") or {}).get("price"))
    return price or _id(item.get("plan"))  # legacy plans share the price's id


def _period(period: dict | None) -> tuple[datetime, datetime] | None:
    if not period or not period.get("start") or not period.get("end"):
        return None
    return from_unix(period["start"]), from_unix(period["end"])


def _subscription_period(sub: dict, items: list[dict]) -> tuple[datetime, datetime] | None:
    # API 2025-03-31+ keeps the period on each item; older versions on the subscription.
    periods = [
        _period({"start": i.get("current_period_start"), "end": i.get("current_period_end")})
        for i in items
    ]
    periods = [p for p in periods if p is not None]
    if periods:
        return max(periods, key=lambda p: p[1])
    return _period({"start": sub.get("current_period_start"), "end": sub.get("current_period_end")})


def _invoice_subscription(invoice: dict) -> tuple[str, dict | None]:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = _id(details.get("subscription")) or _id(invoice.get("subscription"))
    legacy = invoice.get("subscription_details") or {}
    return subscription, details.get("metadata") or legacy.get("metadata")


def _subscription_line(invoice: dict) -> dict | None:
    """The line billing the subscription's newest period (not a proration)."""
    lines = [line for line in (invoice.get("lines") or {}).get("data") or [] if line.get("period")]

    def is_plan_charge(line: dict) -> bool:
        parent = line.get("parent") or {}
        details = parent.get("subscription_item_details") or {}
        if parent.get("type") == "subscription_item_details":
            return not details.get("proration")
        return line.get("type") == "subscription" and not line.get("proration")

    candidates = [line for line in lines if is_plan_charge(line)] or lines
    if not candidates:
        return None
    return max(candidates, key=lambda line: line["period"].get("end") or 0)
