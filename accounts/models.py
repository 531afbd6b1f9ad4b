from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

KEY_PREFIX = "rbg_"
# The visible part of a key: "rbg_" and 8 characters, enough to recognise it in a list.
VISIBLE_LENGTH = len(KEY_PREFIX) + 8
MAX_KEYS_PER_USER = 10
# last_used_at is written at most this often per key, not on every request.
LAST_USED_PRECISION = timedelta(minutes=5)


class User(AbstractUser):
    """Signs in with e-mail (django-allauth); the username is generated."""

    email = models.EmailField("email address", unique=True)
    # Bumped at each logout: the user tokens our pages were given stop working.
    # db_default: rows written by code that predates the field still get a version.
    token_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)

    def end_user_tokens(self) -> None:
        User.objects.filter(pk=self.pk).update(token_version=models.F("token_version") + 1)


def display_name(user) -> str:
    """How pages and e-mails address someone: a name they set, else their e-mail address."""
    if not getattr(user, "is_authenticated", False):
        return ""
    return user.get_full_name() or user.email


def digest(raw_key: str) -> str:
    """HMAC-SHA256 of a key: what is stored instead of the key itself."""
    secret = settings.API_KEY_HMAC_SECRET.encode()
    return hmac.new(secret, raw_key.encode(), hashlib.sha256).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)

    def for_key(self, raw_key: str) -> ApiKey | None:
        """The active key matching ``raw_key``, with its user, in one query."""
        if not raw_key.startswith(KEY_PREFIX) or len(raw_key) < VISIBLE_LENGTH + 16:
            return None
        from allauth.account.models import EmailAddress

        verified = EmailAddress.objects.filter(user=OuterRef("user"), verified=True)
        candidates = (
            self.active()
            .filter(prefix=raw_key[:VISIBLE_LENGTH])
            .select_related("user")
            .annotate(user_email_verified=Exists(verified))
        )
        wanted = digest(raw_key)
        for key in candidates:
            if hmac.compare_digest(key.digest, wanted):
                return key
        return None


class ApiKey(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=VISIBLE_LENGTH, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user, name: str) -> tuple[ApiKey, str]:
        """Create a key; the raw key is returned once and never stored."""
        name = name.strip()
        if not name:
            raise ValidationError("Give the key a name.")
        with transaction.atomic():
            # Lock the user row so two concurrent creations cannot both pass the limit.
            User.objects.select_for_update().get(pk=user.pk)
            if cls.objects.active().filter(user=user).count() >= MAX_KEYS_PER_USER:
                raise ValidationError(
                    f"You can have at most {MAX_KEYS_PER_USER} API keys. Revoke one first."
                )
            raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
            key = cls.objects.create(
                user=user, name=name, prefix=raw_key[:VISIBLE_LENGTH], digest=digest(raw_key)
            )
        return key, raw_key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self) -> None:
        """Record use, at most once per LAST_USED_PRECISION."""
        now = timezone.now()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=self.pk).update(last_used_at=now)
            self.last_used_at = now
