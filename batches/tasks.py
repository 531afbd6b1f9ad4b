"""Celery tasks: thin wrappers of batches.work, the code the in-process pool runs too."""

from __future__ import annotations

from config.celery import app


@app.task(name="batches.tasks.process_file")
def process_file(file_id: int) -> None:
    from batches import work

    work.process_file(file_id)


@app.task(name="batches.tasks.send_callback")
def send_callback(batch_id: str, attempt: int) -> None:
    from batches import work

    work.send_callback(batch_id, attempt)


@app.task(name="batches.tasks.purge")
def purge() -> None:
    from batches import work

    work.purge()
