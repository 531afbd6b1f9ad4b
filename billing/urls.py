from __future__ import annotations

from django.urls import path

from billing import pages, views

urlpatterns = [
    path("api/membership-usage", views.MembershipUsageView.as_view(), name="membership-usage"),
    path("dashboard/", pages.dashboard, name="dashboard"),
]
