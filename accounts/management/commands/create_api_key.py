from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.utils import generate_unique_username
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import ApiKey


class Command(BaseCommand):
    help = "Create a named API key for a user and print it once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--create-verified-user",
            action="store_true",
            help="Create the user (with a verified e-mail and no usable password) if missing.",
        )

    def handle(self, *args, email: str, name: str, create_verified_user: bool, **options) -> None:
        users = get_user_model().objects
        email = users.normalize_email(email).strip()
        with transaction.atomic():
            user = users.filter(email__iexact=email).first()
            if user is None:
                if not create_verified_user:
                    raise CommandError(
                        f"No user with e-mail {email}; pass --create-verified-user to create one."
                    )
                user = users.create_user(username=generate_unique_username([email]), email=email)
                user.set_unusable_password()
                user.save()
                EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
            try:
                _, raw_key = ApiKey.issue(user, name)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(raw_key)
