"""Records that stop mattering: deleted by the periodic purge (batches.work.purge)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing import idempotency
from billing.models import AnonymousAttempt, AnonymousUsage


def forget_old_anonymous(now=None) -> int:
    """Anonymous allowances of past days and Idempotency-Keys past their window."""
    now = now or timezone.now()
    # Yesterday's row stays: a request that started just before midnight may still release it.
    usage, _ = AnonymousUsage.objects.filter(day__lt=(now - timedelta(days=1)).date()).delete()
    attempts, _ = AnonymousAttempt.objects.filter(
        started_at__lt=now - idempotency.WINDOW - timedelta(hours=1)
    ).delete()
    return usage + attempts
