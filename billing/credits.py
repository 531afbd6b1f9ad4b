"""Reserve a credit before processing, commit it on success, release it on failure.

Signed-in callers spend the included credits of their current billing period
first, then prepaid credits. Anonymous callers get a daily allowance per IP.
Every decision is taken with the account row locked, so concurrent requests
can neither overdraw a balance nor charge twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, F, PositiveIntegerField, When
from django.db.models.functions import Greatest
from django.utils import timezone

from billing import counters
from billing.models import AnonymousUsage, BillingPeriod, Charge, CreditAccount, Plan
from config.errors import ApiError

logger = logging.getLogger(__name__)

MONTHLY_LIMIT = "You've reached your monthly limit. Consider purchasing more credits."
DAILY_LIMIT = "You've reached your daily limit. Please sign up for more access."
IDEMPOTENCY_IN_PROGRESS = "A request with this Idempotency-Key is still being processed."
# A reservation older than this belongs to a request that died: it no longer counts.
STALE_RESERVATION = timedelta(minutes=10)
IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Reservation:
    charge_id: int | None = None
    user_id: int | None = None
    channel: str = Charge.APP
    source: str = ""
    period_start: datetime | None = None
    anonymous_ip: str | None = None
    anonymous_day: date | None = None
    replay: bool = False  # an Idempotency-Key retry of a request already charged

    @property
    def charges(self) -> int:
        return 0 if self.replay else 1


def account_for(user) -> CreditAccount:
    """The user's account, created on the default plan for the current month."""
    account = CreditAccount.objects.select_related("plan").filter(user=user).first()
    if account is not None:
        return account
    start, end, from_stripe = BillingPeriod.current_for(user, timezone.now())
    try:
        with transaction.atomic():
            account = CreditAccount.objects.create(
                user=user,
                plan=Plan.objects.default(),
                period_start=start,
                period_end=end,
                period_from_stripe=from_stripe,
            )
            transaction.on_commit(lambda: _mirror_period(user.pk, start, end))
            return account
    except IntegrityError:  # created by a concurrent request
        return CreditAccount.objects.select_related("plan").get(user=user)


def locked_account(user, now: datetime) -> CreditAccount:
    """The account row, locked until the transaction ends, on its current period."""
    # of=("self",): lock the account only, never the plan row every user shares.
    locked = CreditAccount.objects.select_for_update(of=("self",)).select_related("plan")
    account = locked.filter(user=user).first()
    if account is None:
        account_for(user)
        account = locked.get(user=user)
    roll_period(account, now)
    return account


def roll_period(account: CreditAccount, now: datetime, *, force: bool = False) -> None:
    """Move the cached period forward when ``now`` has left it (or a new one was recorded)."""
    if not force and account.period_start <= now < account.period_end:
        return
    # Imported here: billing.subscriptions builds on this module.
    from billing.subscriptions import lapse_ended

    lapse_ended(account, now)  # a cancelled subscription's plan ends with its period
    start, end, from_stripe = BillingPeriod.current_for(account.user_id, now)
    if start != account.period_start:
        account.period_used = Charge.objects.filter(
            user_id=account.user_id, status=Charge.COMMITTED, period_start=start
        ).count()
    account.period_start, account.period_end, account.period_from_stripe = start, end, from_stripe
    account.save(update_fields=["period_start", "period_end", "period_from_stripe", "period_used"])
    user_id = account.user_id
    transaction.on_commit(lambda: _mirror_period(user_id, start, end))


def _mirror_period(user_id: int, start: datetime, end: datetime) -> None:
    try:
        counters.mirror_period(user_id, start, end)
    except counters.RedisUnavailable:
        logger.warning("Redis unavailable: billing period of user %s not mirrored", user_id)


def reserve(user, channel: str, *, ip: str, api_key=None, idempotency_key: str | None = None):
    if user is None:
        return _reserve_anonymous(ip)
    now = timezone.now()
    with transaction.atomic():
        _no_fsync_wait()
        # Locking the account serialises this user's reservations: two requests
        # can never both take the last credit.
        account = locked_account(user, now)
        if idempotency_key:
            replay = _previous_attempt(user, idempotency_key, now)
            if replay is not None:
                return replay
        reserved = dict(
            Charge.objects.filter(
                user=user, status=Charge.RESERVED, reserved_at__gt=now - STALE_RESERVATION
            )
            .values_list("source")
            .annotate(n=Count("id"))
        )
        in_flight = sum(reserved.values())
        if account.period_used + in_flight < account.plan.included_credits:
            source = Charge.INCLUDED
        elif account.prepaid_balance - reserved.get(Charge.PREPAID, 0) > 0:
            source = Charge.PREPAID
        else:
            raise ApiError(MONTHLY_LIMIT, status_code=429)
        charge = Charge.objects.create(
            user=user,
            status=Charge.RESERVED,
            source=source,
            channel=channel,
            period_start=account.period_start,
            reserved_at=now,
            api_key=api_key,
            idempotency_key=idempotency_key or None,
        )
    return Reservation(
        charge_id=charge.pk,
        user_id=user.pk,
        channel=channel,
        source=source,
        period_start=account.period_start,
    )


def _no_fsync_wait() -> None:
    """A reservation need not survive a database crash: a lost one is a released one.

    Its transaction so skips the wait for the WAL flush (PostgreSQL only); commits,
    which record the money, keep full durability.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _previous_attempt(user, idempotency_key: str, now: datetime) -> Reservation | None:
    previous = Charge.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if previous is None:
        return None
    if previous.reserved_at <= now - IDEMPOTENCY_WINDOW:
        previous.idempotency_key = None  # the key may be reused after 24 hours
        previous.save(update_fields=["idempotency_key"])
        return None
    if previous.status == Charge.COMMITTED:
        return Reservation(user_id=user.pk, channel=previous.channel, replay=True)
    if previous.reserved_at > now - STALE_RESERVATION:
        raise ApiError(IDEMPOTENCY_IN_PROGRESS, status_code=409)
    previous.delete()  # a reservation whose request died
    return None


def commit(reservation: Reservation) -> None:
    if reservation.charge_id is None:
        return  # anonymous (already counted) or an idempotent replay
    now = timezone.now()
    recorded = False
    try:
        with transaction.atomic():
            updated = Charge.objects.filter(
                pk=reservation.charge_id, status=Charge.RESERVED
            ).update(status=Charge.COMMITTED, charged_at=now)
            if updated != 1:
                raise RuntimeError(f"reservation {reservation.charge_id} vanished before commit")
            changes = {
                "period_used": Case(
                    When(period_start=reservation.period_start, then=F("period_used") + 1),
                    default=F("period_used"),
                    output_field=PositiveIntegerField(),
                )
            }
            if reservation.source == Charge.PREPAID:
                changes["prepaid_balance"] = Greatest(
                    F("prepaid_balance") - 1, 0, output_field=PositiveIntegerField()
                )
            # The UPDATE locks the account row until COMMIT, which orders this
            # commit with counter rebuilds (billing.usage) that take the same lock.
            account = CreditAccount.objects.filter(user_id=reservation.user_id)
            account.update(**changes)
            try:
                counters.record_charge(
                    reservation.user_id, reservation.channel, now, reservation.period_start
                )
                recorded = True
            except counters.RedisUnavailable:
                logger.warning(
                    "Redis unavailable: usage counters of user %s will be rebuilt",
                    reservation.user_id,
                )
                account.update(counters_stale=True)
    except Exception:
        if recorded:  # Redis counted a charge the database did not keep
            _forget_counters(reservation.user_id)
        raise


def _forget_counters(user_id: int) -> None:
    try:
        counters.forget_user(user_id)
    except counters.RedisUnavailable:
        CreditAccount.objects.filter(user_id=user_id).update(counters_stale=True)


def release(reservation: Reservation) -> None:
    if reservation.anonymous_ip is not None:
        AnonymousUsage.objects.filter(
            ip=reservation.anonymous_ip, day=reservation.anonymous_day, used__gt=0
        ).update(used=F("used") - 1)
    elif reservation.charge_id is not None:
        Charge.objects.filter(pk=reservation.charge_id, status=Charge.RESERVED).delete()


@contextmanager
def metered(caller, *, idempotency_key: str | None = None) -> Iterator[Reservation]:
    """Reserve a credit for the block; commit it if the block succeeds, else release it."""
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
        raise ApiError("Idempotency-Key must be 1 to 255 characters long.", status_code=400)
    reservation = reserve(
        caller.user,
        caller.channel,
        ip=caller.ip,
        api_key=caller.api_key,
        idempotency_key=idempotency_key,
    )
    try:
        yield reservation
    except BaseException:
        release(reservation)
        raise
    commit(reservation)


def _reserve_anonymous(ip: str) -> Reservation:
    today = timezone.now().date()
    limit = settings.ANONYMOUS_DAILY_LIMIT
    # One conditional UPDATE: atomic in the database, so no race can exceed the limit.
    today_row = AnonymousUsage.objects.filter(ip=ip, day=today)
    taken = today_row.filter(used__lt=limit).update(used=F("used") + 1)
    if not taken and not today_row.exists():
        AnonymousUsage.objects.get_or_create(ip=ip, day=today)
        taken = today_row.filter(used__lt=limit).update(used=F("used") + 1)
    if not taken:
        raise ApiError(DAILY_LIMIT, status_code=429)
    return Reservation(anonymous_ip=ip, anonymous_day=today)


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
