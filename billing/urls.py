from __future__ import annotations

from django.urls import path

from billing import pages, views

urlpatterns = [
    path("api/membership-usage", views.MembershipUsageView.as_view(), name="membership-usage"),
    path("billing/", views.billing, name="billing"),
    path("billing/plans/<int:plan_id>/subscribe", views.subscribe, name="billing-subscribe"),
    path("billing/packs/<int:pack_id>/buy", views.buy_pack, name="billing-buy-pack"),
    path("billing/portal", views.portal, name="billing-portal"),
    path("billing/success", views.checkout_success, name="billing-success"),
    path("billing/cancel", views.checkout_cancel, name="billing-cancel"),
    path("stripe/webhook", views.stripe_webhook, name="stripe-webhook"),
    path("dashboard/", pages.dashboard, name="dashboard"),
]
