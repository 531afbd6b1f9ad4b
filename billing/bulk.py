"""Credits for work that outlives a request: a batch reserves all its credits at once.

A batch is accepted whole or not at all: the credits of every file are taken in
one transaction on the locked account row, or none are and the caller gets the
monthly-limit 429. Each reservation is held until ``held_until`` (the batch's
deadline), not just for the life of a request, so a long batch keeps its credits
while it waits in the queue; each is committed when its file succeeds and
released when it fails or is cancelled (billing.credits.commit and release).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from billing import credits
from billing.credits import MONTHLY_LIMIT, Reservation
from billing.models import Charge
from config.errors import ApiError


def reserve_many(user, channel: str, count: int, *, api_key=None, held_until: datetime) -> list:
    """Reserve ``count`` credits, included ones first; their Charge ids, or a 429 for none."""
    if count <= 0:
        return []
    now = timezone.now()
    with transaction.atomic():
        # The account row is locked until commit: single requests reserving at the
        # same time queue behind this batch, so together they cannot overdraw.
        account = credits.locked_account(user, now)
        credits.recount_reservations(account, now)
        included = max(0, account.remaining_included - account.reserved_included)
        prepaid = max(0, account.prepaid_balance - account.reserved_prepaid)
        if included + prepaid < count:
            raise ApiError(
                MONTHLY_LIMIT,
                status_code=429,
                headers={
                    "X-Credits-Required": str(count),
                    "X-Credits-Available": str(included + prepaid),
                },
            )
        from_included = min(count, included)
        sources = [Charge.INCLUDED] * from_included + [Charge.PREPAID] * (count - from_included)
        rows = Charge.objects.bulk_create(
            Charge(
                user=user,
                status=Charge.RESERVED,
                source=source,
                channel=channel,
                period_start=account.period_start,
                reserved_at=now,
                api_key=api_key,
                held_until=held_until,
            )
            for source in sources
        )
        account.reserved_included += from_included
        account.reserved_prepaid += count - from_included
        account.save(update_fields=["reserved_included", "reserved_prepaid"])
    return [row.pk for row in rows]


def held(charge_ids: list[int]) -> list[Reservation]:
    """The reservations among ``charge_ids`` still waiting to be committed or released."""
    rows = Charge.objects.filter(pk__in=charge_ids, status=Charge.RESERVED).order_by("pk")
    return [
        Reservation(
            charge_id=row.pk,
            user_id=row.user_id,
            channel=row.channel,
            source=row.source,
            period_start=row.period_start,
        )
        for row in rows
    ]


def commit_all(charge_ids: list[int]) -> int:
    """Commit what is still held of ``charge_ids``; how many credits that charged."""
    reservations = held(charge_ids)
    for reservation in reservations:
        credits.commit(reservation)
    return len(reservations)


def release_all(charge_ids: list[int]) -> None:
    for reservation in held(charge_ids):
        credits.release(reservation)
