"""Stripe webhook events in the shape of the current API, signed the way Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from datetime import datetime

_ids = itertools.count(1)


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def event(event_type: str, obj: dict, *, created: int | None = None, event_id: str = "") -> dict:
    return {
        "id": event_id or f"evt_test_{next(_ids)}",
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def signature(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header: t=..., v1=HMAC-SHA256(secret, "{t}.{payload}")."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def deliver(client, body: dict, secret: str, **headers):
    payload = json.dumps(body)
    if "Stripe-Signature" not in headers:
        headers["Stripe-Signature"] = signature(payload, secret)
    headers = {k: v for k, v in headers.items() if v is not None}
    return client.post("/stripe/webhook", payload, content_type="application/json", headers=headers)


def subscription(
    sub_id: str,
    customer: str,
    price: str,
    start: datetime,
    end: datetime,
    *,
    status: str = "active",
    cancel_at_period_end: bool = False,
    metadata: dict | None = None,
) -> dict:
    """A subscription as API 2025-03-31+ sends it: the period lives on each item."""
    return {
        "id": sub_id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "metadata": metadata or {},
        "items": {
            "object": "list",
            "data": [
                {
                    "id": f"si_{sub_id}",
                    "object": "subscription_item",
                    "price": {"id": price, "object": "price"},
                    "current_period_start": unix(start),
                    "current_period_end": unix(end),
                }
            ],
        },
    }


def invoice(
    sub_id: str,
    customer: str,
    price: str,
    start: datetime,
    end: datetime,
    *,
    billing_reason: str = "subscription_cycle",
) -> dict:
    """A subscription invoice as API 2025-03-31+ sends it (parent.subscription_details)."""
    return {
        "id": f"in_{next(_ids)}",
        "object": "invoice",
        "customer": customer,
        "billing_reason": billing_reason,
        "status": "paid",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub_id, "metadata": {}},
        },
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": f"il_{next(_ids)}",
                    "object": "line_item",
                    "period": {"start": unix(start), "end": unix(end)},
                    "pricing": {"type": "price_details", "price_details": {"price": price}},
                    "parent": {
                        "type": "subscription_item_details",
                        "subscription_item_details": {
                            "subscription": sub_id,
                            "subscription_item": f"si_{sub_id}",
                            "proration": False,
                        },
                    },
                }
            ],
        },
    }


def checkout_session(
    user, *, mode: str, customer: str, payment_status: str = "paid", metadata=None
) -> dict:
    return {
        "id": f"cs_test_{next(_ids)}",
        "object": "checkout.session",
        "mode": mode,
        "client_reference_id": str(user.pk),
        "customer": customer,
        "payment_status": payment_status,
        "status": "complete",
        "metadata": metadata or {},
    }


def pack_purchase(user, credits: int = 1000, **session_fields) -> dict:
    """A paid Checkout session for a new credit pack of ``credits``."""
    from billing.models import CreditPack

    pack = CreditPack.objects.create(label=f"Pack-{credits}-test", credits=credits, price=10)
    fields = {"mode": "payment", "customer": "cus_new", **session_fields}
    return checkout_session(user, metadata={"pack_id": str(pack.pk)}, **fields)
