"""Usage as /api/membership-usage reports it: Redis counters, rebuilt from the ledger."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Count, Q

from billing import counters
from billing.models import Charge, CreditAccount
from billing.periods import month_bounds

logger = logging.getLogger(__name__)
CHANNELS = (Charge.APP, Charge.API)


@dataclass(frozen=True)
class Bucket:
    """A counter: its Redis key and the ledger rows it counts."""

    key: str
    query: Q


def month_buckets(user_id: int, year: int, month: int) -> list[Bucket]:
    start, end = month_bounds(datetime(year, month, 1, tzinfo=UTC))
    return [
        Bucket(
            counters.month_key(user_id, channel, start),
            Q(channel=channel, charged_at__gte=start, charged_at__lt=end),
        )
        for channel in CHANNELS
    ]


def cycle_buckets(user_id: int, period_start: datetime) -> list[Bucket]:
    return [
        Bucket(
            counters.cycle_key(user_id, channel, period_start),
            Q(channel=channel, period_start=period_start),
        )
        for channel in CHANNELS
    ]


def count(account: CreditAccount, buckets: list[Bucket]) -> list[int]:
    """Counter values from Redis; whatever is missing is rebuilt from the ledger."""
    keys = [b.key for b in buckets]
    try:
        if account.counters_stale:
            _discard_stale_counters(account)
        values = counters.read(keys)
        if None not in values:
            return values
        return _rebuild(account, buckets)
    except counters.RedisUnavailable:
        logger.warning(
            "Redis unavailable: usage of user %s read from the database", account.user_id
        )
        return _from_ledger(account.user_id, buckets)


def _from_ledger(user_id: int, buckets: list[Bucket]) -> list[int]:
    committed = Charge.objects.filter(user_id=user_id, status=Charge.COMMITTED)
    totals = committed.aggregate(
        **{f"b{i}": Count("id", filter=bucket.query) for i, bucket in enumerate(buckets)}
    )
    return [totals[f"b{i}"] for i in range(len(buckets))]


def _locked(account: CreditAccount) -> CreditAccount:
    return CreditAccount.objects.select_for_update(of=("self",)).get(pk=account.pk)


def _rebuild(account: CreditAccount, buckets: list[Bucket]) -> list[int]:
    with transaction.atomic():
        # The account lock orders this rebuild with commits (billing.credits.commit),
        # which count a charge in Redis while holding the same lock.
        _locked(account)
        values = counters.read([b.key for b in buckets])
        missing = [b for b, v in zip(buckets, values, strict=True) if v is None]
        counted = _from_ledger(account.user_id, missing)
        rebuilt = dict(zip([b.key for b in missing], counted, strict=True))
        if rebuilt:
            counters.store(rebuilt)
    return [rebuilt.get(b.key, v) for b, v in zip(buckets, values, strict=True)]


def _discard_stale_counters(account: CreditAccount) -> None:
    with transaction.atomic():
        locked = _locked(account)
        if locked.counters_stale:
            counters.forget_user(account.user_id)
            locked.counters_stale = False
            locked.save(update_fields=["counters_stale"])
    account.counters_stale = False  # this request's copy: later reads need not repeat it
