from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone


def configured_price_id(label: str, stored: str) -> str:
    """A plan's or pack's Stripe price id: STRIPE_PRICE_IDS first, then the admin's value."""
    return settings.STRIPE_PRICE_IDS.get(label) or stored


class PricedQuerySet(models.QuerySet):
    def for_price(self, price_id: str):
        """The row whose configured Stripe price id is ``price_id``, or None."""
        if not price_id:
            return None
        labels = [label for label, price in settings.STRIPE_PRICE_IDS.items() if price == price_id]
        by_label = self.filter(label__in=labels).first() if labels else None
        if by_label is not None:
            return by_label
        for row in self.filter(stripe_price_id=price_id):
            if configured_price_id(row.label, row.stripe_price_id) == price_id:
                return row
        return None

    def purchasable(self) -> list:
        """Rows with a Stripe price id, i.e. what the billing page can sell."""
        return [row for row in self if row.price_id]


FREE_PLAN = {"label": "Free", "display_name": "Free", "included_credits": 50}


class PlanQuerySet(PricedQuerySet):
    def default(self) -> Plan:
        """The default plan; a Free plan is recreated if an operator deleted every plan."""
        plan = self.filter(is_default=True).first() or self.order_by("pk").first()
        if plan is None:
            plan, _ = self.get_or_create(
                label=FREE_PLAN["label"],
                defaults={
                    "display_name": FREE_PLAN["display_name"],
                    "included_credits": FREE_PLAN["included_credits"],
                    "is_default": True,
                },
            )
        return plan


class Plan(models.Model):
    """A subscription plan: a label such as ``Premium-20000`` and its credits per period."""

    label = models.CharField(max_length=50, unique=True)
    display_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="The name people see, e.g. Premium; the label if empty.",
    )
    included_credits = models.PositiveIntegerField(help_text="Credits included per billing period.")
    is_default = models.BooleanField(default=False, help_text="The plan of new and lapsed users.")
    stripe_price_id = models.CharField(max_length=100, blank=True, db_index=True)
    monthly_price = models.DecimalField(max_digits=8, decimal_places=2, default=0)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["included_credits"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_plan"
            )
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def name(self) -> str:
        """What pages call the plan: the label (``Premium-20000``) is for the API and Stripe."""
        return self.display_name or self.label

    @property
    def price_id(self) -> str:
        return configured_price_id(self.label, self.stripe_price_id)


class CreditAccountManager(models.Manager):
    def for_user(self, user) -> CreditAccount:
        """The user's account, created on the default plan and the current period."""
        account = self.select_related("plan").filter(user=user).first()
        if account is not None:
            return account
        # Imported here: billing.periods builds on these models.
        from billing import periods

        period = periods.current(user, timezone.now())
        try:
            with transaction.atomic():
                account = self.create(
                    user=user,
                    plan=Plan.objects.default(),
                    period_start=period.start,
                    period_end=period.end,
                    period_from_stripe=period.from_stripe,
                )
                transaction.on_commit(lambda: periods.mirror(user.pk, period))
                return account
        except IntegrityError:  # created by a concurrent request
            return self.select_related("plan").get(user=user)


class CreditAccount(models.Model):
    """A user's plan, prepaid balance and the state of the current billing period."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="credit_account"
    )
    plan = models.ForeignKey(Plan, models.PROTECT)
    prepaid_balance = models.PositiveIntegerField(default=0)
    # The current period, cached from BillingPeriod (or the calendar month).
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    period_from_stripe = models.BooleanField(default=False)
    # Included credits spent in the current period (app and api; prepaid not counted).
    included_used = models.PositiveIntegerField(default=0)
    # Reservations in flight, by the credits they hold. Kept with every reserve,
    # commit and release; recounted from the ledger before a request is refused.
    reserved_included = models.PositiveIntegerField(default=0)
    reserved_prepaid = models.PositiveIntegerField(default=0)
    # Set when a counter update could not reach Redis: rebuild on next read.
    counters_stale = models.BooleanField(default=False)
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)

    objects = CreditAccountManager()

    def __str__(self) -> str:
        return f"{self.user} on {self.plan}"

    @property
    def included_credits(self) -> int:
        return self.plan.included_credits

    @property
    def remaining_included(self) -> int:
        return max(0, self.plan.included_credits - self.included_used)


class BillingPeriod(models.Model):
    """A billing period recorded for a user, by Stripe's webhooks or by an operator."""

    STRIPE = "stripe"
    MANUAL = "manual"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="billing_periods"
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    source = models.CharField(
        max_length=10, choices=[(STRIPE, "Stripe"), (MANUAL, "Manual")], default=MANUAL
    )
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-start"]
        constraints = [models.UniqueConstraint(fields=["user", "start"], name="one_period_start")]

    def __str__(self) -> str:
        return f"{self.user}: {self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}"


class Charge(models.Model):
    """One credit, reserved before processing and committed on success: the ledger."""

    RESERVED = "reserved"
    COMMITTED = "committed"
    INCLUDED = "included"
    PREPAID = "prepaid"
    APP = "app"
    API = "api"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="charges")
    status = models.CharField(
        max_length=10, choices=[(RESERVED, "Reserved"), (COMMITTED, "Committed")]
    )
    source = models.CharField(max_length=10, choices=[(INCLUDED, "Included"), (PREPAID, "Prepaid")])
    channel = models.CharField(max_length=3, choices=[(APP, "Web app"), (API, "API")])
    period_start = models.DateTimeField()
    reserved_at = models.DateTimeField(default=timezone.now)
    charged_at = models.DateTimeField(null=True, blank=True)
    api_key = models.ForeignKey(
        "accounts.ApiKey", models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # NULL, not "": only keys that were sent take part in the unique constraint.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # SHA-256 of the request an idempotency key was first used with: the key is bound to it.
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    # A reservation that outlives a request (a batch's file, billing.bulk) stays held
    # until then, whatever its age; NULL: held for the life of one request.
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reserved_at"]
        indexes = [
            models.Index(fields=["user", "status", "period_start", "channel"]),
            models.Index(fields=["user", "status", "charged_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="one_charge_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.channel} {self.status} {self.reserved_at:%Y-%m-%d %H:%M}"


class CreditGrant(models.Model):
    """Prepaid credits added to a balance: a pack bought, or an operator's grant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="credit_grants")
    amount = models.PositiveIntegerField()
    reason = models.CharField(max_length=200)
    # Stripe's id of what paid for it (checkout session): a grant happens once.
    stripe_reference = models.CharField(  # noqa: DJ001 - NULLs stay out of the unique index
        max_length=255, null=True, blank=True, unique=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.amount} prepaid credits for {self.user} ({self.reason})"


class AnonymousUsage(models.Model):
    """Images processed per client IP per UTC day, for visitors without an account."""

    ip = models.GenericIPAddressField()
    day = models.DateField()
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ip", "day"], name="one_row_per_ip_day")]

    def __str__(self) -> str:
        return f"{self.ip} on {self.day}: {self.used}"


class AnonymousAttempt(models.Model):
    """An anonymous request sent with an Idempotency-Key: the key is bound to it for 24 h."""

    address = models.GenericIPAddressField()
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    done = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address", "key"], name="one_attempt_per_address_key")
        ]

    def __str__(self) -> str:
        return f"{self.address} {self.key}"


class CreditPack(models.Model):
    """Prepaid credits sold once through Stripe Checkout (payment mode)."""

    label = models.CharField(max_length=50, unique=True)
    credits = models.PositiveIntegerField()
    stripe_price_id = models.CharField(max_length=100, blank=True, db_index=True)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    active = models.BooleanField(default=True, help_text="Offered on the billing page.")

    objects = PricedQuerySet.as_manager()

    class Meta:
        ordering = ["credits"]

    def __str__(self) -> str:
        return self.label

    @property
    def price_id(self) -> str:
        return configured_price_id(self.label, self.stripe_price_id)


class Subscription(models.Model):
    """A Stripe subscription as its webhooks last described it."""

    # Statuses in which the subscription's plan applies.
    LIVE = ("active", "trialing", "past_due")
    # Statuses after which the user goes back to the default plan at period end.
    ENDED = ("canceled", "unpaid", "incomplete_expired")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=100, unique=True)
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=30)
    plan = models.ForeignKey(Plan, models.PROTECT, null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    # Creation time of the newest event applied: an older one arriving late is ignored.
    state_as_of = models.DateTimeField(null=True, blank=True)
    # Set once the account went back to the default plan after this ended.
    lapsed = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-current_period_end", "-pk"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"

    @property
    def status_label(self) -> str:
        return self.status.replace("_", " ").capitalize()

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE

    @property
    def is_ended(self) -> bool:
        return self.status in self.ENDED


class StripeEvent(models.Model):
    """A webhook event received: stored so that a redelivery does nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
