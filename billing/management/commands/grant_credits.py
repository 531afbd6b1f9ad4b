from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from billing.credits import grant_prepaid
from billing.models import CreditAccount


class Command(BaseCommand):
    help = "Add prepaid credits to a user's balance (recorded as a grant)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--prepaid", required=True, type=int)
        parser.add_argument("--reason", default="granted by an operator")

    def handle(self, *args, email: str, prepaid: int, reason: str, **options) -> None:
        if prepaid < 1:
            raise CommandError("--prepaid must be a positive number of credits.")
        user = get_user_model().objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with e-mail {email}.")
        grant_prepaid(user, prepaid, reason)
        balance = CreditAccount.objects.for_user(user).prepaid_balance
        self.stdout.write(f"Granted {prepaid} prepaid credits to {user.email}; balance {balance}.")
