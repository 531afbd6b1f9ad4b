"""The Celery application of the batch workers: ``celery -A config worker``.

Configured from Django's settings (the CELERY_* names). With no broker set,
nothing here runs: batches.engine hands the same tasks to an in-process pool.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import celeryd_after_setup, task_prerun, worker_process_init

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


# The size of this worker's pool, known in the main process before the pool forks.
_pool_size = 1


@celeryd_after_setup.connect
def _note_pool_size(instance, **_kwargs) -> None:
    global _pool_size
    _pool_size = instance.concurrency or 1


@worker_process_init.connect
def _warm_up(**_kwargs) -> None:
    """Each pool process takes its share of the cores, caps its malloc arenas and loads
    the models before its first task."""
    from django.conf import settings

    from removal import malloc
    from removal.inference import share_cores, warm_up

    share_cores(_pool_size)
    malloc.limit_arenas(settings.REMOVAL_MALLOC_ARENA_MAX)
    warm_up()


@task_prerun.connect
def _drop_broken_connections(**_kwargs) -> None:
    """A database connection kept between tasks (CELERY_DB_REUSE_MAX) is checked before
    each: one the server closed meanwhile is dropped, and the task opens a new one."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()
