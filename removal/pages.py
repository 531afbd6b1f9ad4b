"""Server-rendered pages of the removal app: the web editor."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.authentication import client_ip, network_of
from billing.credits import available
from billing.models import AnonymousUsage, CreditAccount


def allowance(request) -> dict:
    """What the visitor may still process: credits, or the anonymous daily allowance."""
    if request.user.is_authenticated:
        included, prepaid = available(CreditAccount.objects.for_user(request.user), timezone.now())
        return {
            "kind": "credits",
            "remaining": included + prepaid,
            "included": included,
            "prepaid": prepaid,
        }
    row = AnonymousUsage.objects.filter(
        ip=network_of(client_ip(request)), day=timezone.now().date()
    ).first()
    used = row.used if row else 0
    return {"kind": "daily", "remaining": max(0, settings.ANONYMOUS_DAILY_LIMIT - used)}


@never_cache  # the page embeds a user token: no cache or back button may keep it
def editor(request):
    return render(request, "removal/editor.html", {"allowance": allowance(request)})
