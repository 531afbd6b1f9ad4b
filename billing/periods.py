"""Billing periods, in one place: month bounds, the current period, roll-over, lapse, cycles.

A user's period is the one Stripe's webhooks (or an operator) recorded as
containing now, else the UTC calendar month. The account row caches the current
period; it rolls forward when a request finds now outside it.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction

from billing import counters
from billing.models import BillingPeriod, Charge, CreditAccount, Plan, Subscription

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    from_stripe: bool = False

    @property
    def start_unix(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_unix(self) -> int:
        return int(self.end.timestamp())


def month_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar month containing ``moment``: [start, next month's start)."""
    moment = moment.astimezone(UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    end = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    assert (end - start).days == days
    return start, end


def current(user, now: datetime) -> Period:
    """The period containing ``now``: a recorded one, else the UTC month."""
    recorded = (
        BillingPeriod.objects.filter(user=user, start__lte=now, end__gt=now)
        .order_by("-start")
        .first()
    )
    if recorded is not None:
        return Period(recorded.start, recorded.end, recorded.source == BillingPeriod.STRIPE)
    return Period(*month_bounds(now))


def roll(account: CreditAccount, now: datetime, *, force: bool = False) -> None:
    """Move the cached period forward when ``now`` has left it (or a new one was recorded).

    Called with the account row locked.
    """
    if not force and account.period_start <= now < account.period_end:
        return
    lapse_ended(account, now)  # a cancelled subscription's plan ends with its period
    period = current(account.user_id, now)
    if period.start != account.period_start:
        account.included_used = Charge.objects.filter(
            user_id=account.user_id,
            status=Charge.COMMITTED,
            source=Charge.INCLUDED,
            period_start=period.start,
        ).count()
    account.period_start, account.period_end = period.start, period.end
    account.period_from_stripe = period.from_stripe
    account.save(
        update_fields=["period_start", "period_end", "period_from_stripe", "included_used"]
    )
    user_id = account.user_id
    transaction.on_commit(lambda: mirror(user_id, period))


def mirror(user_id: int, period: Period) -> None:
    """Write the period to Redis under the documented keys; Redis being down is no error."""
    try:
        counters.mirror_period(user_id, period.start, period.end)
    except counters.RedisUnavailable:
        logger.warning("Redis unavailable: billing period of user %s not mirrored", user_id)


def lapse_ended(account: CreditAccount, now: datetime) -> None:
    """Back to the default plan once an ended subscription's paid period is over.

    Called with the account locked, by webhooks and whenever the period rolls over.
    """
    ended = Subscription.objects.filter(
        user_id=account.user_id, status__in=Subscription.ENDED, lapsed=False
    ).exclude(current_period_end__gt=now)
    if not ended.exists():
        return
    still_paying = Subscription.objects.filter(
        user_id=account.user_id, status__in=Subscription.LIVE
    ).exists()
    if not still_paying:
        account.plan = Plan.objects.default()
        account.save(update_fields=["plan"])
    ended.update(lapsed=True)


def cycles(account: CreditAccount) -> list[Period]:
    """Every period the user has used or had recorded, newest first, with its end."""
    user_id = account.user_id
    starts = set(
        Charge.objects.filter(user_id=user_id, status=Charge.COMMITTED)
        .values_list("period_start", flat=True)
        .distinct()
    )
    starts |= set(BillingPeriod.objects.filter(user_id=user_id).values_list("start", flat=True))
    starts = {s for s in starts if s <= account.period_start}
    starts.add(account.period_start)
    ordered = sorted(starts, reverse=True)
    found = [Period(ordered[0], account.period_end)]
    for newer, start in zip(ordered, ordered[1:], strict=False):
        found.append(Period(start, datetime.fromtimestamp(newer.timestamp() - 1, tz=UTC)))
    return found


def cycle_at(account: CreditAccount, start: datetime) -> Period:
    """The period that starts at ``start``, with its end."""
    if start == account.period_start:
        return Period(start, account.period_end, account.period_from_stripe)
    recorded = BillingPeriod.objects.filter(user_id=account.user_id, start=start).first()
    stripe = recorded is not None and recorded.source == BillingPeriod.STRIPE
    for period in cycles(account):
        if period.start == start:
            return Period(start, period.end, stripe)
    if recorded is not None:
        return Period(start, recorded.end, stripe)
    return Period(start, month_bounds(start)[1])
