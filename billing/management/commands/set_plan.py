from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from billing.credits import locked_account
from billing.models import Plan


class Command(BaseCommand):
    help = "Put a user on a plan, e.g. --plan Premium-20000."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--plan", required=True, help="The plan's label.")

    def handle(self, *args, email: str, plan: str, **options) -> None:
        user = get_user_model().objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with e-mail {email}.")
        chosen = Plan.objects.filter(label__iexact=plan.strip()).first()
        if chosen is None:
            labels = ", ".join(Plan.objects.values_list("label", flat=True))
            raise CommandError(f"No plan {plan!r}. Plans: {labels}.")
        with transaction.atomic():
            account = locked_account(user, timezone.now())
            account.plan = chosen
            account.save(update_fields=["plan"])
        self.stdout.write(f"{user.email} is now on {chosen.label}.")
