"""Server-rendered pages of the billing app: the usage dashboard."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from batches.presentation import recent
from billing.dashboard import period_view


@login_required
def dashboard(request):
    context = period_view(request.user, request.GET.get("period"))
    context["batches"] = recent(request.user)
    context["retention_hours"] = settings.BATCH_RETENTION_HOURS
    return render(request, "billing/dashboard.html", context)
