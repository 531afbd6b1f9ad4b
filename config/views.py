from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from billing import stripe_gateway
from billing.models import CreditPack, Plan
from removal.samples import SAMPLES


def offers() -> dict:
    """What can be had on this server: the free plan, and what Stripe can sell (if on)."""
    selling = stripe_gateway.configured()
    default = Plan.objects.default()
    return {
        "plans": [p for p in Plan.objects.all() if p == default or (selling and p.price_id)],
        "packs": CreditPack.objects.filter(active=True).purchasable() if selling else [],
        "selling": selling,
    }


def home(request):
    context = {
        **offers(),
        "anonymous_daily_limit": settings.ANONYMOUS_DAILY_LIMIT,
        "samples": SAMPLES,
    }
    return render(request, "home.html", context)
