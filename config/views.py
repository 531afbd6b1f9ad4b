from __future__ import annotations

from django.conf import settings
from django.shortcuts import render

from billing.models import Plan


def home(request):
    context = {
        "plans": Plan.objects.all(),
        "anonymous_daily_limit": settings.ANONYMOUS_DAILY_LIMIT,
    }
    return render(request, "home.html", context)
