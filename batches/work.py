"""The work of batch tasks, the same on Celery workers and on the in-process pool."""

from __future__ import annotations

import logging
import time
from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile

from batches import callbacks, engine, jobs
from batches.intake import storage
from batches.models import Batch, BatchFile
from removal.geometry import OutputTooLarge
from removal.imaging import UnreadableImage
from removal.pipeline import Busy, RemovalOptions, remove_background

logger = logging.getLogger(__name__)
UNREADABLE = "File could not be read as an image (the data is corrupted or truncated)"
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp"}


def options_of(batch: Batch) -> RemovalOptions:
    stored = dict(batch.options)
    if stored.get("bg_color") is not None:
        stored["bg_color"] = tuple(stored["bg_color"])
    return RemovalOptions(**stored)


def process_file(file_id: int) -> None:
    item = jobs.start(file_id)
    if item is None:
        return
    try:
        with storage().open(item.input) as handle:
            result = remove_background(handle, options_of(item.batch))
    except UnreadableImage:
        jobs.end(file_id, BatchFile.FAILED, error=UNREADABLE)
        return
    except OutputTooLarge as exc:
        jobs.end(file_id, BatchFile.FAILED, error=exc.message)
        return
    except Busy:
        # This process is busy with other images: try again in a while, uncounted.
        jobs.requeue(file_id, counted=False)
        time.sleep(1)
        engine.enqueue_files([file_id])
        return
    except Exception:
        # Anything else (a bug, a host without the shared storage): tried again with this
        # attempt counted (jobs.start), until jobs.start gives it up and releases its credits.
        logger.exception("batch %s file %d failed", item.batch_id, item.index)
        jobs.requeue(file_id, counted=True)
        engine.enqueue_files([file_id])
        return
    extension = EXTENSIONS[result.format]
    path = storage().save(
        f"batches/{item.batch_id}/out/{item.index:04d}.{extension}", ContentFile(result.content)
    )
    done = jobs.end(
        file_id,
        BatchFile.DONE,
        output=path,
        output_name=str(PurePosixPath(item.name).with_suffix(f".{extension}")),
        width=result.width,
        height=result.height,
    )
    if not done:  # timed out or given up meanwhile: not charged, so not kept
        storage().delete(path)
    logger.info("batch %s file %d %s", item.batch_id, item.index, "done" if done else "dropped")


def send_callback(batch_id, attempt: int) -> None:
    """Deliver the callback of an ended batch; schedule the next try if it fails."""
    batch = Batch.objects.filter(pk=batch_id).select_related("user").first()
    if batch is None or batch.callback_delivered_at is not None or not batch.callback_url:
        return
    outcome = callbacks.deliver(batch)
    Batch.objects.filter(pk=batch.pk).update(
        callback_attempts=attempt + 1,
        callback_status=outcome.status[:200],
        callback_delivered_at=outcome.delivered_at,
    )
    if outcome.delivered_at is None and attempt + 1 < settings.BATCH_CALLBACK_TRIES:
        gaps = settings.BATCH_CALLBACK_BACKOFF or [60]
        engine.send_callback(batch.pk, attempt + 1, delay=gaps[min(attempt, len(gaps) - 1)])


def purge() -> None:
    timed_out = jobs.time_out_overdue()
    jobs.callbacks_never_queued()
    purged = jobs.purge_expired()
    orphans = jobs.purge_orphans()
    from billing.housekeeping import forget_old_anonymous

    forgotten = forget_old_anonymous()
    logger.info(
        "purge: %d files timed out, %d batches deleted, %d orphan uploads deleted, "
        "%d anonymous records forgotten",
        timed_out,
        purged,
        orphans,
        forgotten,
    )
