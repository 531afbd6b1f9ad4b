from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.utils import timezone

from billing import credits, periods
from billing.models import (
    AnonymousUsage,
    BillingPeriod,
    Charge,
    CreditAccount,
    CreditGrant,
    CreditPack,
    Plan,
    StripeEvent,
    Subscription,
)


class WrittenByTheApp:
    """Rows the application writes (the ledger, Stripe's state): shown, not edited here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ("label", "included_credits", "monthly_price", "is_default", "stripe_price_id")


@admin.register(CreditAccount)
class CreditAccountAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "plan",
        "prepaid_balance",
        "included_used",
        "period_start",
        "period_end",
    )
    list_filter = ("plan",)
    search_fields = ("user__email", "stripe_customer_id")
    fields = (
        "user",
        "plan",
        "prepaid_balance",
        "period_start",
        "period_end",
        "period_from_stripe",
        "included_used",
        "reserved_included",
        "reserved_prepaid",
        "stripe_customer_id",
    )
    # Balances change through grants and charges (the ledger), never by hand.
    readonly_fields = tuple(f for f in fields if f not in ("plan", "stripe_customer_id"))

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CreditGrant)
class CreditGrantAdmin(admin.ModelAdmin):
    list_display = ("user", "amount", "reason", "created_at", "stripe_reference")
    search_fields = ("user__email", "reason", "stripe_reference")
    fields = ("user", "amount", "reason")
    autocomplete_fields = ("user",)

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, so the balance moves with the ledger row.
        grant = credits.grant_prepaid(obj.user, obj.amount, obj.reason or "admin grant")
        obj.pk = grant.pk
        messages.info(request, f"Granted {obj.amount} prepaid credits to {obj.user}.")


@admin.register(BillingPeriod)
class BillingPeriodAdmin(admin.ModelAdmin):
    list_display = ("user", "start", "end", "source", "stripe_subscription_id")
    list_filter = ("source",)
    search_fields = ("user__email",)
    autocomplete_fields = ("user",)

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            account = credits.locked_account(obj.user, timezone.now())
            periods.roll(account, timezone.now(), force=True)


@admin.register(Charge)
class ChargeAdmin(WrittenByTheApp, admin.ModelAdmin):
    list_display = ("user", "channel", "source", "status", "reserved_at", "charged_at")
    list_filter = ("status", "channel", "source")
    search_fields = ("user__email",)
    date_hierarchy = "reserved_at"

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AnonymousUsage)
class AnonymousUsageAdmin(admin.ModelAdmin):
    list_display = ("ip", "day", "used")
    search_fields = ("ip",)


@admin.register(CreditPack)
class CreditPackAdmin(admin.ModelAdmin):
    list_display = ("label", "credits", "price", "stripe_price_id", "active")
    list_editable = ("active",)


@admin.register(Subscription)
class SubscriptionAdmin(WrittenByTheApp, admin.ModelAdmin):
    list_display = (
        "user",
        "stripe_subscription_id",
        "status",
        "plan",
        "cancel_at_period_end",
        "current_period_end",
    )
    list_filter = ("status", "plan")
    search_fields = ("user__email", "stripe_subscription_id", "stripe_customer_id")


@admin.register(StripeEvent)
class StripeEventAdmin(WrittenByTheApp, admin.ModelAdmin):
    list_display = ("event_id", "type", "received_at", "processed_at", "error")
    list_filter = ("type",)
    search_fields = ("event_id",)
    date_hierarchy = "received_at"
