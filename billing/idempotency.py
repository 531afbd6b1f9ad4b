"""Idempotency-Key: a retry of the same request is not charged twice; nothing else gets through.

A key is bound to the request it was first used with, by a fingerprint of the
upload and its options, for 24 hours, per user (per address for anonymous
callers). The same request again: a replay, not charged. Another request under
the key: 422, nothing processed. The same request while the first still runs:
409. A first attempt that died (its reservation went stale) frees the key.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from enum import Enum

from django.db import IntegrityError, transaction

from billing.models import AnonymousAttempt, Charge
from config.errors import ApiError

IN_PROGRESS = "A request with this Idempotency-Key is still being processed."
REUSED = "Idempotency-Key has already been used for a different request"
TOO_LONG = "Idempotency-Key must be 1 to 255 characters long."
WINDOW = timedelta(hours=24)


class Seen(Enum):
    NEW = "new"  # no attempt under the key counts: process and charge
    REPLAY = "replay"  # the same request succeeded before: process, charge nothing


def check_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= 255:
        raise ApiError(TOO_LONG, status_code=400)


def _judge(
    previous, seen: str, at: datetime, done: bool, fingerprint: str, alive_since: datetime
) -> Seen:
    """What an earlier attempt under the key (fingerprint ``seen``, made ``at``) means now."""
    # Bound to its first request: anything else under the key would be processed for
    # free. Checked before the in-flight state: it is no retry of that request.
    if not hmac.compare_digest(seen, fingerprint):
        raise ApiError(REUSED, status_code=422)
    if done:
        return Seen.REPLAY
    if at > alive_since:
        raise ApiError(IN_PROGRESS, status_code=409)
    # Its request died, so the key is free. A user's credit it held still counts as
    # in flight until the recount that comes before any refusal.
    previous.delete()
    return Seen.NEW


def for_user(
    user_id: int, key: str, fingerprint: str, now: datetime, alive_since: datetime
) -> Seen:
    """Judge the user's earlier charge under ``key`` (account row locked by the caller)."""
    previous = Charge.objects.filter(user_id=user_id, idempotency_key=key).first()
    if previous is None:
        return Seen.NEW
    if previous.reserved_at <= now - WINDOW:
        previous.idempotency_key = None  # the key may be reused; the charge stays
        previous.save(update_fields=["idempotency_key"])
        return Seen.NEW
    done = previous.status == Charge.COMMITTED
    fingerprint_then = previous.request_fingerprint
    return _judge(previous, fingerprint_then, previous.reserved_at, done, fingerprint, alive_since)


def for_address(
    address: str, key: str, fingerprint: str, now: datetime, alive_since: datetime
) -> Seen:
    """Judge an anonymous caller's earlier attempt under ``key``."""
    previous = AnonymousAttempt.objects.filter(address=address, key=key).first()
    if previous is None:
        return Seen.NEW
    if previous.started_at <= now - WINDOW:
        previous.delete()
        return Seen.NEW
    done, at = previous.done, previous.started_at
    return _judge(previous, previous.fingerprint, at, done, fingerprint, alive_since)


def start_anonymous(address: str, key: str, fingerprint: str, now: datetime) -> int:
    """Record an anonymous attempt under ``key``; 409 if a concurrent one just did."""
    try:
        with transaction.atomic():
            attempt = AnonymousAttempt.objects.create(
                address=address, key=key, fingerprint=fingerprint, started_at=now
            )
    except IntegrityError:
        raise ApiError(IN_PROGRESS, status_code=409) from None
    return attempt.pk


def finish_anonymous(attempt_id: int) -> None:
    AnonymousAttempt.objects.filter(pk=attempt_id).update(done=True)


def forget_anonymous(attempt_id: int) -> None:
    AnonymousAttempt.objects.filter(pk=attempt_id).delete()
