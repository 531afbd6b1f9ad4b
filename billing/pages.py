"""Server-rendered pages of the billing app: the usage dashboard."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from billing.dashboard import period_view


@login_required
def dashboard(request):
    return render(
        request, "billing/dashboard.html", period_view(request.user, request.GET.get("period"))
    )
