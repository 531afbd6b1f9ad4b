"""allauth, told the site's name: its e-mails said "Hello from 127.0.0.1:8300"."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {"site_name": settings.SITE_NAME, **context})
