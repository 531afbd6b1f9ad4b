"""A batch: many images, one set of options, processed by workers file by file."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class Batch(models.Model):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    STATUSES = [(QUEUED, "Queued"), (RUNNING, "Running"), (DONE, "Done"), (CANCELLED, "Cancelled")]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="batches")
    channel = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    # The parsed options of /rmbg (removal.pipeline.RemovalOptions), as JSON.
    options = models.JSONField()
    # Files not finished yet (queued or running): the file that brings it to 0 ends the batch.
    remaining = models.PositiveIntegerField(default=0)
    callback_url = models.URLField(max_length=2000, blank=True)
    callback_attempts = models.PositiveSmallIntegerField(default=0)
    callback_status = models.CharField(max_length=200, blank=True)
    callback_delivered_at = models.DateTimeField(null=True, blank=True)
    # NULL, not "": only keys that were sent take part in the unique constraint.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Work not finished by then is given up and its credits released (tasks.purge).
    deadline = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_batch_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.id} of {self.user} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.DONE, self.CANCELLED)

    @staticmethod
    def deadline_from(now) -> timezone.datetime:
        return now + timedelta(seconds=settings.BATCH_TIMEOUT)


class BatchFile(models.Model):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    STATUSES = [
        (QUEUED, "Queued"),
        (RUNNING, "Running"),
        (DONE, "Done"),
        (FAILED, "Failed"),
        (CANCELLED, "Cancelled"),
    ]
    UNFINISHED = (QUEUED, RUNNING)

    batch = models.ForeignKey(Batch, models.CASCADE, related_name="files")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    error = models.TextField(blank=True)
    # Storage names (STORAGES["batches"]) of the upload and of the cut-out.
    input = models.CharField(max_length=300, blank=True)
    output = models.CharField(max_length=300, blank=True)
    output_name = models.CharField(max_length=500, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    # The credits reserved for this file (billing.Charge ids), committed when it is done.
    charge_ids = models.JSONField(default=list)
    # Deliveries of its task: a file that killed its worker every time is given up.
    attempts = models.PositiveSmallIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="one_file_per_batch_index")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class CallbackSecretManager(models.Manager):
    def for_user(self, user) -> CallbackSecret:
        secret, _ = self.get_or_create(user=user, defaults={"secret": CallbackSecret.generate()})
        return secret


class CallbackSecret(models.Model):
    """The key a user's batch callbacks are signed with (batches.callbacks).

    Kept as it is, not hashed: we sign with it, as Stripe keeps a webhook's secret.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="callback_secret"
    )
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    objects = CallbackSecretManager()

    def __str__(self) -> str:
        return f"callback secret of {self.user}"

    @staticmethod
    def generate() -> str:
        import secrets

        return "whsec_" + secrets.token_urlsafe(32)

    def rotate(self) -> None:
        self.secret = self.generate()
        self.created_at = timezone.now()
        self.save(update_fields=["secret", "created_at"])
