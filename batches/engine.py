"""Where batch work runs: Celery workers when a broker is set, else a pool in this process.

Both run the same functions (batches.work); only the hand-off differs. The
in-process pool is for the embedded defaults, one machine and no broker: it
lives in the web process, picks up files left unfinished by a restart, and runs
the periodic purge itself.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from config.once import PerProcess

logger = logging.getLogger(__name__)
PURGE_EVERY = 15 * 60  # seconds, as in config.celery's beat schedule


def uses_celery() -> bool:
    return bool(settings.CELERY_BROKER_URL)


def enqueue_files(file_ids: list[int]) -> None:
    if not file_ids:
        return
    if uses_celery():
        from batches import tasks

        with tasks.app.producer_or_acquire() as producer:
            for file_id in file_ids:
                tasks.process_file.apply_async((file_id,), producer=producer)
        return
    from batches import work

    for file_id in file_ids:
        pool().submit(_logged, work.process_file, file_id)


def send_callback(batch_id, attempt: int, delay: float = 0) -> None:
    if uses_celery():
        from batches import tasks

        tasks.send_callback.apply_async((str(batch_id), attempt), countdown=delay)
        return
    from batches import work

    timer = threading.Timer(
        delay, lambda: pool().submit(_logged, work.send_callback, batch_id, attempt)
    )
    timer.daemon = True
    timer.start()


def _logged(function, *args) -> None:
    from django.db import connections

    try:
        function(*args)
    except Exception:
        logger.exception("batch task %s%r failed", function.__name__, args)
    finally:
        # This thread's connections: none is left open between tasks.
        connections.close_all()


@PerProcess
def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.BATCH_THREADS, thread_name_prefix="batch")


def start_in_process() -> None:
    """Embedded defaults, at web process start: resume unfinished files, schedule the purge."""
    if uses_celery():
        return
    from batches import work
    from batches.models import BatchFile

    try:
        unfinished = list(
            BatchFile.objects.filter(status__in=BatchFile.UNFINISHED).values_list("pk", flat=True)
        )
    except Exception:  # noqa: BLE001 - no tables yet (before migrate): nothing to resume
        logger.warning("batches: could not look for unfinished files", exc_info=True)
        return
    if unfinished:
        logger.info("batches: resuming %d unfinished files", len(unfinished))
        enqueue_files(unfinished)

    def purge_now_and_later() -> None:
        pool().submit(_logged, work.purge)
        timer = threading.Timer(PURGE_EVERY, purge_now_and_later)
        timer.daemon = True
        timer.start()

    purge_now_and_later()
