"""Reserve a credit before processing, commit it on success, release it on failure.

Signed-in callers spend the included credits of their current billing period
first, then prepaid credits. Anonymous callers get a daily allowance per IP.

The account row counts the reservations in flight, so reserving is one conditional
UPDATE (billing.sql): checking the balance and taking the credit are one atomic
step, and concurrent requests queue on the row lock, so they can neither overdraw
a balance nor charge twice. The ledger (Charge rows) stays the truth: before a
request is refused, the in-flight counts are recounted from it, which also drops
the reservations of requests that died.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from billing import counters, idempotency, periods, sql
from billing.idempotency import Seen
from billing.models import AnonymousUsage, Charge, CreditAccount
from config.errors import ApiError
from config.operations import CREDITS_CHARGED

logger = logging.getLogger(__name__)

MONTHLY_LIMIT = "You've reached your monthly limit. Consider purchasing more credits."
DAILY_LIMIT = "You've reached your daily limit. Please sign up for more access."


@dataclass(frozen=True)
class Reservation:
    charge_id: int | None = None
    user_id: int | None = None
    channel: str = Charge.APP
    source: str = ""
    period_start: datetime | None = None
    anonymous_ip: str | None = None
    anonymous_day: date | None = None
    anonymous_attempt: int | None = None  # its Idempotency-Key record
    replay: bool = False  # an Idempotency-Key retry of a request already charged

    @property
    def charges(self) -> int:
        return 0 if self.replay else 1


def stale_after() -> timedelta:
    """A reservation older than this belongs to a request that died: it no longer counts."""
    return timedelta(seconds=settings.STALE_RESERVATION_SECONDS)


def alive(now: datetime) -> Q:
    """Reservations whose request (or batch) may still be running."""
    return Q(reserved_at__gt=now - stale_after()) | Q(held_until__gt=now)


def held(user_id: int, now: datetime) -> dict[str, int]:
    """Credits held by reservations whose request may still be running, by source."""
    live = Charge.objects.filter(alive(now), user_id=user_id, status=Charge.RESERVED)
    return _by_source(live)


def _by_source(reservations) -> dict[str, int]:
    return dict(reservations.values_list("source").annotate(n=Count("id")))


def available(account: CreditAccount, now: datetime) -> tuple[int, int]:
    """(included, prepaid) credits a request could take now: what reserve() agrees with."""
    holding = held(account.user_id, now)
    return (
        max(0, account.remaining_included - holding.get(Charge.INCLUDED, 0)),
        max(0, account.prepaid_balance - holding.get(Charge.PREPAID, 0)),
    )


def locked_account(user, now: datetime) -> CreditAccount:
    """The account row, locked until the transaction ends, on its current period."""
    # of=("self",): lock the account only, never the plan row every user shares.
    locked = CreditAccount.objects.select_for_update(of=("self",)).select_related("plan")
    account = locked.filter(user=user).first()
    if account is None:
        CreditAccount.objects.for_user(user)
        account = locked.get(user=user)
    periods.roll(account, now)
    return account


def reserve(
    user,
    channel: str,
    *,
    ip: str,
    api_key=None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
):
    """Reserve a credit; ``fingerprint`` identifies the request an idempotency key is for."""
    key = idempotency_key or None
    if user is None:
        return _reserve_anonymous(ip, key, fingerprint)
    now = timezone.now()
    attempt = (user.pk, channel, now, api_key.pk if api_key else None, key, fingerprint)
    if not key:
        reservation = _reserve(*attempt)
        if reservation is not None:
            return reservation
    with transaction.atomic():
        # No credit at first sight, or a retry to recognise: lock the account (retries
        # carrying the same key queue here) and bring it to its current period.
        account = locked_account(user, now)
        reservation = None
        if key:
            alive_since = now - stale_after()
            seen = idempotency.for_user(user.pk, key, fingerprint, now, alive_since)
            if seen is Seen.REPLAY:
                return Reservation(user_id=user.pk, channel=channel, replay=True)
            reservation = _reserve(*attempt)
        if reservation is None:
            # Before refusing: requests that died hold nothing, recount what is in flight.
            recount_reservations(account, now)
            reservation = _reserve(*attempt)
    if reservation is None:
        raise ApiError(MONTHLY_LIMIT, status_code=429)
    return reservation


def _reserve(user_id, channel, now, api_key_id, idempotency_key, fingerprint) -> Reservation | None:
    """Reserve an included credit, else a prepaid one; None when neither is left."""
    when = _to_db(now)
    in_one_statement = connection.vendor == "postgresql" and not connection.in_atomic_block
    with connection.cursor() as cursor:
        for source in sql.SOURCES:
            if in_one_statement:  # the path of nearly every request
                params = [user_id, when, when, channel, when, api_key_id, idempotency_key]
                cursor.execute(sql.TAKE_AND_RECORD[source], [*params, fingerprint])
                row = cursor.fetchone()
            else:
                with transaction.atomic():
                    cursor.execute(sql.TAKE[source], [user_id, when, when])
                    taken = cursor.fetchone()
                    if taken is None:
                        continue
                    period_start = taken[1]
                    params = [user_id, channel, period_start, when, api_key_id, idempotency_key]
                    cursor.execute(sql.RECORD[source], [*params, fingerprint])
                    row = (cursor.fetchone()[0], period_start)
            if row is not None:
                return Reservation(
                    charge_id=row[0],
                    user_id=user_id,
                    channel=channel,
                    source=source,
                    period_start=_from_db(row[1]),
                )
    return None


def recount_reservations(account: CreditAccount, now: datetime) -> None:
    """Drop reservations of requests that died and recount the rest (account locked)."""
    reservations = Charge.objects.filter(user_id=account.user_id, status=Charge.RESERVED)
    reservations.exclude(alive(now)).delete()
    in_flight = _by_source(reservations)
    account.reserved_included = in_flight.get(Charge.INCLUDED, 0)
    account.reserved_prepaid = in_flight.get(Charge.PREPAID, 0)
    account.save(update_fields=["reserved_included", "reserved_prepaid"])


def _to_db(moment: datetime):
    return connection.ops.adapt_datetimefield_value(moment)


def _from_db(value) -> datetime:
    if isinstance(value, str):  # SQLite returns datetimes as text
        value = datetime.fromisoformat(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def commit(reservation: Reservation) -> None:
    if reservation.anonymous_attempt is not None:
        idempotency.finish_anonymous(reservation.anonymous_attempt)
    if reservation.charge_id is None:
        return  # anonymous (already counted) or an idempotent replay
    now = timezone.now()
    user_id = reservation.user_id
    settle = [_to_db(reservation.period_start)] if reservation.source == Charge.INCLUDED else []
    recorded = False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.SETTLE[reservation.source], [*settle, user_id])
            cursor.execute(sql.COMMIT_CHARGE, [_to_db(now), reservation.charge_id])
            if cursor.rowcount != 1:
                raise RuntimeError(f"reservation {reservation.charge_id} vanished before commit")
            try:
                counters.record_charge(user_id, reservation.channel, now, reservation.period_start)
                recorded = True
            except counters.RedisUnavailable:
                logger.warning("Redis unavailable: counters of user %s will be rebuilt", user_id)
                CreditAccount.objects.filter(user_id=user_id).update(counters_stale=True)
    except Exception:
        if recorded:  # Redis counted a charge the database did not keep
            _forget_counters(user_id)
        raise
    CREDITS_CHARGED.labels(reservation.channel).inc()


def _forget_counters(user_id: int) -> None:
    try:
        counters.forget_user(user_id)
    except counters.RedisUnavailable:
        CreditAccount.objects.filter(user_id=user_id).update(counters_stale=True)


def release(reservation: Reservation) -> None:
    if reservation.anonymous_attempt is not None:
        idempotency.forget_anonymous(reservation.anonymous_attempt)
    if reservation.anonymous_ip is not None:
        AnonymousUsage.objects.filter(
            ip=reservation.anonymous_ip, day=reservation.anonymous_day, used__gt=0
        ).update(used=F("used") - 1)
    elif reservation.charge_id is not None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql.UNRESERVE[reservation.source], [reservation.user_id])
            cursor.execute(sql.DELETE_RESERVATION, [reservation.charge_id])
            if cursor.rowcount != 1:  # already dropped as stale, and recounted then
                transaction.set_rollback(True)


@dataclass(frozen=True)
class Charged:
    """What one metered request holds: a reservation per credit it costs."""

    reservations: tuple[Reservation, ...]

    @property
    def charges(self) -> int:
        return sum(r.charges for r in self.reservations)


@contextmanager
def metered(
    caller,
    *,
    idempotency_key: str | None = None,
    fingerprint: Callable[[], str] | None = None,
    cost: int = 1,
) -> Iterator[Charged]:
    """Reserve ``cost`` credits for the block; commit them if it succeeds, else release them.

    ``fingerprint`` computes what identifies the request; it runs only when an
    Idempotency-Key is sent, to bind the key to that request. The first credit
    carries the key; a replay takes none.
    """
    idempotency.check_key(idempotency_key)
    taken = [
        reserve(
            caller.user,
            caller.channel,
            ip=caller.address,
            api_key=caller.api_key,
            idempotency_key=idempotency_key,
            fingerprint=fingerprint() if idempotency_key and fingerprint else "",
        )
    ]
    try:
        # A model that costs more takes one reservation a credit: each is the same
        # atomic step, and all are given back if any is refused.
        while not taken[0].replay and len(taken) < cost:
            taken.append(
                reserve(caller.user, caller.channel, ip=caller.address, api_key=caller.api_key)
            )
        yield Charged(tuple(taken))
    except BaseException:
        for reservation in taken:
            release(reservation)
        raise
    for reservation in taken:
        commit(reservation)


def _reserve_anonymous(ip: str, key: str | None, fingerprint: str) -> Reservation:
    now = timezone.now()
    attempt = None
    if key:
        seen = idempotency.for_address(ip, key, fingerprint, now, now - stale_after())
        if seen is Seen.REPLAY:
            return Reservation(replay=True)
        attempt = idempotency.start_anonymous(ip, key, fingerprint, now)
    today = now.date()
    try:
        _take_anonymous(ip, today)
    except ApiError:
        if attempt is not None:
            idempotency.forget_anonymous(attempt)
        raise
    return Reservation(anonymous_ip=ip, anonymous_day=today, anonymous_attempt=attempt)


def _take_anonymous(ip: str, today: date) -> None:
    limit = settings.ANONYMOUS_DAILY_LIMIT
    # One conditional UPDATE: atomic in the database, so no race can exceed the limit.
    allowance_left = AnonymousUsage.objects.filter(ip=ip, day=today, used__lt=limit)
    taken = allowance_left.update(used=F("used") + 1)
    if not taken:
        # The first request of the day (or of several arriving together) has no row
        # to count in yet: make sure there is one, then count once more.
        AnonymousUsage.objects.get_or_create(ip=ip, day=today)
        taken = allowance_left.update(used=F("used") + 1)
    if not taken:
        raise ApiError(
            DAILY_LIMIT,
            status_code=429,
            headers={"Retry-After": str(seconds_to_next_utc_midnight(timezone.now()))},
        )


def next_utc_midnight(now: datetime) -> datetime:
    """When the anonymous daily allowance starts afresh (days are UTC days)."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time.min, tzinfo=UTC)


def seconds_to_next_utc_midnight(now: datetime) -> int:
    return max(1, math.ceil((next_utc_midnight(now) - now).total_seconds()))


def grant_prepaid(user, amount: int, reason: str, *, stripe_reference: str | None = None):
    """Add prepaid credits, once per Stripe reference. Returns the grant, or None if a repeat."""
    from billing.models import CreditGrant

    with transaction.atomic():
        account = locked_account(user, timezone.now())
        if (
            stripe_reference
            and CreditGrant.objects.filter(stripe_reference=stripe_reference).exists()
        ):
            return None
        grant = CreditGrant.objects.create(
            user=user, amount=amount, reason=reason, stripe_reference=stripe_reference
        )
        account.prepaid_balance += amount
        account.save(update_fields=["prepaid_balance"])
    return grant
