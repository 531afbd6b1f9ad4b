"""Subscription state, plans and billing periods, as Stripe's webhooks report them.

Deliveries may come late, twice or out of order, so every change is guarded:
the state (status, plan, cancel flag) is taken only from an event at least as
new as the last one applied, and a billing period only ever moves forward.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from billing import credits, periods
from billing.models import BillingPeriod, CreditAccount, Plan, Subscription
from config.errors import ascii_id

logger = logging.getLogger(__name__)


class UnknownCustomer(Exception):
    """An event about a Stripe customer no user is linked to (yet)."""


@dataclass(frozen=True)
class Observed:
    """What one event says about a subscription; None means "the event does not say"."""

    subscription_id: str
    customer_id: str
    as_of: datetime
    status: str | None = None
    # Apply ``status`` only to a new row or one in these statuses (None: any).
    status_if: tuple[str, ...] | None = None
    price_id: str | None = None
    cancel_at_period_end: bool | None = None
    period: tuple[datetime, datetime] | None = None
    metadata: dict | None = None
    # False: an event that only updates a subscription we already know.
    may_create: bool = True


def from_unix(value) -> datetime | None:
    return None if value in (None, "") else datetime.fromtimestamp(int(value), tz=UTC)


def link_customer(user, customer_id: str) -> CreditAccount:
    account = credits.locked_account(user, timezone.now())
    if customer_id and account.stripe_customer_id != customer_id:
        account.stripe_customer_id = customer_id
        account.save(update_fields=["stripe_customer_id"])
    return account


def user_for(customer_id: str, metadata: dict | None):
    """The user of a Stripe customer, else of the user_id our Checkout put in the metadata."""
    if customer_id:
        account = CreditAccount.objects.filter(stripe_customer_id=customer_id).first()
        if account is not None:
            return account.user
    user_id = ascii_id((metadata or {}).get("user_id"))
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    if user is None:
        raise UnknownCustomer(f"no user for Stripe customer {customer_id!r}")
    link_customer(user, customer_id)
    return user


def apply(seen: Observed) -> Subscription | None:
    """Store what the event says, record a new period, and put the account on its plan."""
    now = timezone.now()
    known = Subscription.objects.filter(stripe_subscription_id=seen.subscription_id).first()
    if known is None and not seen.may_create:
        logger.info("Stripe event about unknown subscription %s ignored", seen.subscription_id)
        return None
    user = known.user if known is not None else user_for(seen.customer_id, seen.metadata)
    # The account lock serialises every billing change of this user (webhooks,
    # reservations, rebuilds): two events can never interleave their updates.
    account = credits.locked_account(user, now)
    row, created = Subscription.objects.select_for_update().get_or_create(
        stripe_subscription_id=seen.subscription_id,
        defaults={"user": user, "stripe_customer_id": seen.customer_id, "status": "incomplete"},
    )
    if created or seen.as_of >= row.state_as_of:
        _take_state(row, seen, created)
    recorded = _take_period(row, seen)
    row.save()
    _put_on_plan(account, row, now)
    if recorded:
        periods.roll(account, now, force=True)
    return row


def _take_state(row: Subscription, seen: Observed, created: bool) -> None:
    if seen.status and (created or seen.status_if is None or row.status in seen.status_if):
        row.status = seen.status
    if seen.price_id:
        plan = Plan.objects.for_price(seen.price_id)
        if plan is None:
            logger.warning("Stripe price %s is no plan's: set it in the admin", seen.price_id)
        else:
            row.plan = plan
    if seen.cancel_at_period_end is not None:
        row.cancel_at_period_end = seen.cancel_at_period_end
    if seen.customer_id:
        row.stripe_customer_id = seen.customer_id
    row.state_as_of = seen.as_of


def _take_period(row: Subscription, seen: Observed) -> bool:
    """Move the subscription's period forward; record it if the subscription is live."""
    if seen.period is None:
        return False
    start, end = seen.period
    if row.current_period_end is not None and end < row.current_period_end:
        return False  # an older delivery: periods never move back
    row.current_period_start, row.current_period_end = start, end
    if not row.is_live:
        return False
    period, created = BillingPeriod.objects.get_or_create(
        user=row.user,
        start=start,
        defaults={
            "end": end,
            "source": BillingPeriod.STRIPE,
            "stripe_subscription_id": row.stripe_subscription_id,
        },
    )
    if created or (period.end, period.source) != (end, BillingPeriod.STRIPE):
        period.end, period.source = end, BillingPeriod.STRIPE
        period.stripe_subscription_id = row.stripe_subscription_id
        period.save()
        return True
    return False


def _put_on_plan(account: CreditAccount, row: Subscription, now: datetime) -> None:
    if row.is_live and row.plan_id and account.plan_id != row.plan_id:
        account.plan = row.plan
        account.save(update_fields=["plan"])
    elif row.is_ended:
        periods.lapse_ended(account, now)


def current_for(user) -> Subscription | None:
    """The subscription the billing page shows: a live one first, else the latest."""
    rows = Subscription.objects.filter(user=user).select_related("plan")
    return rows.filter(status__in=Subscription.LIVE).first() or rows.first()
