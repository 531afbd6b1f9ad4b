"""Server-rendered pages of the removal app: the web editor."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.authentication import client_ip
from billing.credits import account_for
from billing.models import AnonymousUsage


def allowance(request) -> dict:
    """What the visitor may still process: credits, or the anonymous daily allowance."""
    if request.user.is_authenticated:
        account = account_for(request.user)
        return {
            "kind": "credits",
            "remaining": account.remaining_included + account.prepaid_balance,
            "included": account.remaining_included,
            "prepaid": account.prepaid_balance,
        }
    row = AnonymousUsage.objects.filter(ip=client_ip(request), day=timezone.now().date()).first()
    used = row.used if row else 0
    return {"kind": "daily", "remaining": max(0, settings.ANONYMOUS_DAILY_LIMIT - used)}


@never_cache  # the page embeds a user token: no cache or back button may keep it
def editor(request):
    return render(request, "removal/editor.html", {"allowance": allowance(request)})
