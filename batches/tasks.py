"""Celery tasks: thin wrappers of batches.work, the code the in-process pool runs too."""

from __future__ import annotations

import time

from django.db import DatabaseError

from config.celery import app


@app.task(
    name="batches.tasks.process_file",
    # The database away for a while (a restart, a failover): the file is tried again,
    # up to 12 times after random waits of up to 2, 4, 8 … 120 s (Celery's jitter spreads
    # a whole queue's retries), instead of staying queued until its batch's deadline.
    # An attempt the database did record counts (jobs.start).
    autoretry_for=(DatabaseError,),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=12,
)
def process_file(file_id: int) -> None:
    from batches import work

    work.process_file(file_id)


@app.task(name="batches.tasks.send_callback")
def send_callback(batch_id: str, attempt: int, due: float = 0) -> None:
    from batches import engine, work

    wait = due - time.time()
    if wait > 1:  # a hop of a longer delay (engine.LONGEST_HOP): not due yet
        engine.send_callback(batch_id, attempt, delay=wait)
        return
    work.send_callback(batch_id, attempt)


@app.task(name="batches.tasks.purge")
def purge() -> None:
    from batches import work

    work.purge()
