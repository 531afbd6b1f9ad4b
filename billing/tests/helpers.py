"""Shared set-up for the billing tests."""

from __future__ import annotations

from datetime import datetime

import requests
from django.utils import timezone

from billing.models import BillingPeriod, Charge, CreditAccount, Plan


def account_for(user) -> CreditAccount:
    return CreditAccount.objects.for_user(user)


def put_on_plan(user, included: int, prepaid: int = 0, label: str | None = None):
    plan, _ = Plan.objects.get_or_create(
        label=label or f"Test-{included}", defaults={"included_credits": included}
    )
    account = account_for(user)
    account.plan = plan
    account.prepaid_balance = prepaid
    account.save()
    return account


def record_period(user, start: datetime, end: datetime, *, stripe: bool = False):
    return BillingPeriod.objects.create(
        user=user,
        start=start,
        end=end,
        source=BillingPeriod.STRIPE if stripe else BillingPeriod.MANUAL,
    )


def past_charge(user, channel: str, charged_at: datetime, period_start: datetime) -> Charge:
    """A committed charge from the past, as the ledger would hold it."""
    return Charge.objects.create(
        user=user,
        status=Charge.COMMITTED,
        source=Charge.INCLUDED,
        channel=channel,
        period_start=period_start,
        reserved_at=charged_at,
        charged_at=charged_at,
    )


def committed(user, **filters) -> int:
    return Charge.objects.filter(user=user, status=Charge.COMMITTED, **filters).count()


def now() -> datetime:
    return timezone.now()


def post_over_http(
    base: str, image: bytes, key: str, idempotency_key: str | None = None
) -> requests.Response:
    """POST /rmbg to a live server, as a client on another machine would."""
    headers = {"x-api-key": key}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return requests.post(
        f"{base}/rmbg",
        headers=headers,
        files={"image": ("photo.png", image)},
        data={"format": "png"},
        timeout=120,
    )


def usage_over_http(base: str, key: str) -> dict:
    """GET /api/membership-usage with the billing cycle, from a live server."""
    response = requests.get(
        f"{base}/api/membership-usage",
        params={"expand": "billing_cycle"},
        headers={"x-api-key": key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()
