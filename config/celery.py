"""The Celery application of the batch workers: ``celery -A config worker``.

Configured from Django's settings (the CELERY_* names). With no broker set,
nothing here runs: batches.engine hands the same tasks to an in-process pool.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("cutout")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # A task is acknowledged when it ends, not when it starts: a worker killed
    # mid-image leaves its message to the broker, which hands it to another.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # One message at a time per worker process: a long batch is shared out, not
    # hoarded by the first worker to ask.
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    # Progress and results are in the database (batches.models), not a result backend.
    result_backend=None,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    beat_schedule={
        "purge-expired-batches": {
            "task": "batches.tasks.purge",
            "schedule": crontab(minute="*/15"),
        },
    },
)
app.autodiscover_tasks(["batches"])


@worker_process_init.connect
def _warm_up(**_kwargs) -> None:
    """Each worker process caps its malloc arenas and loads the models before its first task."""
    from django.conf import settings

    from removal import malloc
    from removal.inference import warm_up

    malloc.limit_arenas(settings.REMOVAL_MALLOC_ARENA_MAX)
    warm_up()
