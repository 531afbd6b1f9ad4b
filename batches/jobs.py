"""The life of a batch: made (credits reserved), files processed, cancelled, ended, purged.

Locks are always taken batch row first, then file rows, so that a file that
ends, a cancel and the deadline sweep never deadlock. A file ends once: its
credits are committed (done) or released (failed, cancelled) in the same
transaction that moves it out of queued/running, so a task delivered twice (a
worker killed after the work, before the acknowledgement) changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import uuid
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from batches import engine
from batches.intake import Intake, storage
from batches.models import Batch, BatchFile
from billing import bulk
from billing.idempotency import REUSED, check_key
from config.errors import ApiError
from removal import registry
from removal.pipeline import RemovalOptions
from removal.validation import check_file

logger = logging.getLogger(__name__)
TIMED_OUT = "The batch timed out before this file could be processed."
GAVE_UP = "Processing failed repeatedly; the file was given up."
NOT_QUEUED = "Batch processing is unavailable right now. Please retry in a minute."
LEDGER_CHUNK = 10_000


def create(caller, options: RemovalOptions, uploads, received_bytes: int, **extra) -> Batch:
    """Store, check and reserve a new batch; its files are queued when the transaction commits.

    ``extra``: callback_url, idempotency_key. A batch whose credits are not all
    available is refused whole (429) and nothing of it is kept.
    """
    check_key(extra.get("idempotency_key"))  # an empty key is refused, as on /rmbg
    key = extra.get("idempotency_key") or None
    now = timezone.now()
    batch = Batch(
        user=caller.user,
        channel=caller.channel,
        options=asdict(options),
        callback_url=extra.get("callback_url", ""),
        idempotency_key=key,
        created_at=now,
        deadline=Batch.deadline_from(now),
    )
    if key:
        batch.request_fingerprint = fingerprint(options, uploads, batch.callback_url)
        earlier = _earlier(caller.user, key, batch.request_fingerprint)
        if earlier is not None:
            return earlier
    intake = Intake(batch.id)
    stored = intake.add_uploads(uploads, received_bytes)
    try:
        checked = [_check(item, options) for item in stored]
        cost = registry.all_models()[options.model].credits
        valid = sum(1 for _, error in checked if not error)
        with transaction.atomic():
            charge_ids = bulk.reserve_many(
                caller.user,
                caller.channel,
                valid * cost,
                api_key=caller.api_key,
                held_until=batch.deadline + timedelta(minutes=10),
            )
            batch.remaining = valid
            if not valid:
                batch.status, batch.finished_at = Batch.DONE, now
            batch.save()
            files = BatchFile.objects.bulk_create(
                _file(batch, index, item, error, charge_ids, cost, now)
                for index, (item, (_, error)) in enumerate(zip(stored, checked, strict=True))
            )
            queued = [f.pk for f in files if f.status == BatchFile.QUEUED]
            transaction.on_commit(lambda: _enqueue(batch.pk, queued))
            if not valid:
                transaction.on_commit(lambda: ended(batch.pk))
    except IntegrityError:
        # The same Idempotency-Key, sent twice at once: the other request made it.
        intake.discard()
        earlier = _earlier(caller.user, key, batch.request_fingerprint) if key else None
        if earlier is None:
            raise
        return earlier
    except BaseException:
        intake.discard()
        raise
    return batch


def _enqueue(batch_id, file_ids: list[int]) -> None:
    """Hand the files to the workers; if the broker cannot take them, the batch is undone."""
    try:
        engine.enqueue_files(file_ids)
    except Exception:  # whatever stops the hand-over: no batch is left waiting for ever
        logger.exception("batch %s: its files could not be queued; undone", batch_id)
        with transaction.atomic():
            batch = Batch.objects.select_for_update().get(pk=batch_id)
            for item in BatchFile.objects.select_for_update().filter(batch=batch):
                bulk.release_all(item.charge_ids)
            batch.delete()
        raise ApiError(NOT_QUEUED, status_code=503, headers={"Retry-After": "30"}) from None


def _check(item, options: RemovalOptions) -> tuple[object, str]:
    with storage().open(item.path) as handle:
        handle.name = item.name  # the checks read the extension the user gave
        return check_file(handle, options)


def _file(batch, index, item, error, charge_ids, cost, now) -> BatchFile:
    if error:
        return BatchFile(
            batch=batch,
            index=index,
            name=item.name,
            input=item.path,
            status=BatchFile.FAILED,
            error=error,
            finished_at=now,
        )
    taken = [charge_ids.pop(0) for _ in range(cost)]
    return BatchFile(batch=batch, index=index, name=item.name, input=item.path, charge_ids=taken)


def fingerprint(options: RemovalOptions, uploads, callback_url: str) -> str:
    """SHA-256 of the files, their names and the options: what an Idempotency-Key is bound to."""
    digest = hashlib.sha256(json.dumps([asdict(options), callback_url], sort_keys=True).encode())
    for upload in uploads:
        digest.update((upload.name or "").encode() + b"\0")
        upload.seek(0)
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()


def _earlier(user, key: str, request_fingerprint: str) -> Batch | None:
    earlier = Batch.objects.filter(user=user, idempotency_key=key).first()
    if earlier is not None and earlier.request_fingerprint != request_fingerprint:
        raise ApiError(REUSED, status_code=422)
    return earlier


def _unfinished_locked(file_id: int) -> tuple[Batch, BatchFile] | None:
    """The file and its batch, both locked (batch first), if the file has not ended."""
    batch_id = BatchFile.objects.filter(pk=file_id).values_list("batch_id", flat=True).first()
    if batch_id is None:
        return None
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    item = BatchFile.objects.select_for_update().get(pk=file_id)
    # Ended already: cancelled, timed out, or done by an earlier delivery of its task.
    return (batch, item) if item.status in BatchFile.UNFINISHED else None


def start(file_id: int) -> BatchFile | None:
    """Mark a file running for one more delivery of its task; None if there is nothing to do."""
    with transaction.atomic():
        found = _unfinished_locked(file_id)
        if found is None:
            return None
        batch, item = found
        if item.attempts >= settings.BATCH_MAX_ATTEMPTS:
            _end_locked(batch, item, BatchFile.FAILED, error=GAVE_UP)
            return None
        item.status = BatchFile.RUNNING
        item.attempts += 1
        item.save(update_fields=["status", "attempts"])
        if batch.status == Batch.QUEUED:
            batch.status, batch.started_at = Batch.RUNNING, timezone.now()
            batch.save(update_fields=["status", "started_at"])
    item.batch = batch
    return item


def requeue(file_id: int, *, counted: bool) -> None:
    """Back in the queue; ``counted=False`` (too busy to start it) gives the attempt back."""
    running = BatchFile.objects.filter(pk=file_id, status=BatchFile.RUNNING)
    if counted:
        running.update(status=BatchFile.QUEUED)
    else:
        running.filter(attempts__gt=0).update(status=BatchFile.QUEUED, attempts=F("attempts") - 1)


def end(file_id: int, status: str, **fields) -> bool:
    """End a running file as done or failed; False if it had already ended."""
    with transaction.atomic():
        found = _unfinished_locked(file_id)
        if found is None:
            return False
        _end_locked(*found, status, **fields)
    return True


def _end_locked(batch: Batch, item: BatchFile, status: str, **fields) -> None:
    """Both rows locked: settle the file's credits, and the batch's if it was the last."""
    if status == BatchFile.DONE:
        bulk.commit_all(item.charge_ids)
    else:
        bulk.release_all(item.charge_ids)
    item.status = status
    item.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(item, name, value)
    item.save()
    batch.remaining = max(0, batch.remaining - 1)
    _maybe_end_batch(batch)
    batch.save()


def _maybe_end_batch(batch: Batch) -> None:
    if batch.remaining == 0 and batch.finished_at is None:
        batch.finished_at = timezone.now()
        if batch.status != Batch.CANCELLED:
            batch.status = Batch.DONE
        transaction.on_commit(lambda: ended(batch.pk))


def cancel(batch: Batch) -> Batch:
    """Cancel the files not started; those running finish (and are charged) as usual."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.finished:
            return batch
        waiting = list(
            BatchFile.objects.select_for_update().filter(batch=batch, status=BatchFile.QUEUED)
        )
        now = timezone.now()
        for item in waiting:
            bulk.release_all(item.charge_ids)
            item.status, item.finished_at = BatchFile.CANCELLED, now
        BatchFile.objects.bulk_update(waiting, ["status", "finished_at"])
        batch.status = Batch.CANCELLED
        batch.remaining -= len(waiting)
        _maybe_end_batch(batch)
        batch.save()
    return batch


def ended(batch_id) -> None:
    """A batch has ended: its callback, if it asked for one, goes out."""
    if Batch.objects.filter(pk=batch_id).exclude(callback_url="").exists():
        try:
            engine.send_callback(batch_id, 0)
        except Exception:  # noqa: BLE001 - the broker is down: the purge sends it later
            logger.warning("batch %s: callback not queued", batch_id, exc_info=True)


def callbacks_never_queued(now=None) -> int:
    """Send the callbacks of batches that ended minutes ago and never tried theirs."""
    now = now or timezone.now()
    forgotten = Batch.objects.filter(
        finished_at__lt=now - timedelta(minutes=5),
        callback_attempts=0,
        callback_delivered_at__isnull=True,
    ).exclude(callback_url="")
    batch_ids = list(forgotten.values_list("pk", flat=True))
    for batch_id in batch_ids:
        engine.send_callback(batch_id, 0)
    return len(batch_ids)


def time_out_overdue(now=None) -> int:
    """Give up batches past their deadline: unfinished files fail, their credits come back."""
    now = now or timezone.now()
    given_up = 0
    for batch_id in Batch.objects.filter(deadline__lt=now, remaining__gt=0).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            batch = Batch.objects.select_for_update().get(pk=batch_id)
            overdue = BatchFile.objects.select_for_update().filter(
                batch=batch, status__in=BatchFile.UNFINISHED
            )
            for item in overdue:
                _end_locked(batch, item, BatchFile.FAILED, error=TIMED_OUT)
                given_up += 1
    return given_up


def purge_expired(now=None) -> int:
    """Delete batches (records, inputs and outputs) older than the retention period."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.BATCH_RETENTION_HOURS)
    purged = 0
    for batch in Batch.objects.filter(created_at__lt=cutoff, remaining=0):
        _delete_files_under(f"batches/{batch.pk}")
        batch.delete()
        purged += 1
    return purged


def purge_orphans(now=None) -> int:
    """Delete uploads no batch names, once their newest file is past the retention period.

    A web process killed between storing a batch's files and committing its rows leaves
    them behind, and purge_expired deletes by row. An upload being stored is recent.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.BATCH_RETENTION_HOURS)
    try:
        names, _ = storage().listdir("batches")
    except FileNotFoundError:
        return 0
    ids = {}
    for name in names:
        with contextlib.suppress(ValueError):  # not a batch's
            ids[uuid.UUID(name)] = name
    known = set(Batch.objects.filter(pk__in=ids).values_list("pk", flat=True))
    purged = 0
    for pk, name in ids.items():
        if pk in known:
            continue  # purge_expired's, when its time comes: its files are not walked here
        newest = _newest_file_under(f"batches/{name}")
        if newest is None or newest < cutoff:
            _delete_files_under(f"batches/{name}")
            purged += 1
    return purged


def _newest_file_under(prefix: str):
    try:
        directories, files = storage().listdir(prefix)
    except FileNotFoundError:
        return None
    times = [storage().get_modified_time(f"{prefix}/{name}") for name in files]
    times += [_newest_file_under(f"{prefix}/{name}") for name in directories]
    return max((t for t in times if t is not None), default=None)


def _delete_files_under(prefix: str) -> None:
    """Every file of a batch, also a cut-out no row names (its worker was killed before)."""
    try:
        directories, files = storage().listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        storage().delete(f"{prefix}/{name}")
    for name in directories:
        _delete_files_under(f"{prefix}/{name}")
    # A directory on local storage stays when its files go; object storage has none.
    with contextlib.suppress(NotImplementedError, OSError):  # remote; not empty (a race)
        os.rmdir(storage().path(prefix))


def expires_at(batch: Batch):
    """When the periodic purge deletes the batch, its files and its outputs."""
    return batch.created_at + timedelta(hours=settings.BATCH_RETENTION_HOURS)


def tallies(batches: list[Batch]) -> dict[uuid.UUID, tuple[dict[str, int], int]]:
    """Each batch's files by status, and its committed credits read from the ledger.

    One query for the files of them all, plus one per LEDGER_CHUNK charges: SQLite
    takes at most 32 766 parameters in a query, and a page may hold more.
    """
    from billing.models import Charge

    found = {b.pk: {status: 0 for status, _ in BatchFile.STATUSES} for b in batches}
    batch_of = {}
    files = BatchFile.objects.filter(batch__in=list(found)).order_by()
    for batch_id, status, charge_ids in files.values_list("batch_id", "status", "charge_ids"):
        found[batch_id][status] += 1
        batch_of.update(dict.fromkeys(charge_ids, batch_id))
    charged = dict.fromkeys(found, 0)
    ids = list(batch_of)
    for start in range(0, len(ids), LEDGER_CHUNK):
        committed = Charge.objects.filter(
            pk__in=ids[start : start + LEDGER_CHUNK], status=Charge.COMMITTED
        )
        for charge_id in committed.values_list("pk", flat=True):
            charged[batch_of[charge_id]] += 1
    return {
        pk: ({"total": sum(by_status.values()), **by_status}, charged[pk])
        for pk, by_status in found.items()
    }
