"""What the API answers about a batch."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from batches import archive, jobs
from batches.models import Batch, BatchFile

RECENT = 10  # batches on the usage page
STATUS_WORDS = {
    Batch.QUEUED: _("Queued"),
    Batch.RUNNING: _("Running"),
    Batch.DONE: _("Done"),
    Batch.CANCELLED: _("Cancelled"),
}


def _url(request, name: str, *args) -> str:
    path = reverse(name, args=args)
    return request.build_absolute_uri(path) if request is not None else path


def summary(batch: Batch, request=None) -> dict:
    return summaries([batch], request)[0]


def summaries(batches: list[Batch], request=None) -> list[dict]:
    """A page of batches in a fixed number of queries, however many are on it."""
    tallies = jobs.tallies(batches)
    return [_summary(batch, *tallies[batch.pk], request) for batch in batches]


def _summary(batch: Batch, counts: dict, charged: int, request) -> dict:
    return {
        "id": str(batch.id),
        "status": batch.status,
        "model": batch.options.get("model", ""),
        "format": batch.options.get("format", ""),
        "created_at": batch.created_at.isoformat(),
        "started_at": batch.started_at.isoformat() if batch.started_at else None,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "expires_at": jobs.expires_at(batch).isoformat(),
        "counts": counts,
        "credits_charged": charged,
        "callback_url": batch.callback_url or None,
        "status_url": _url(request, "batch", batch.id),
        "result_url": _url(request, "batch-result", batch.id),
    }


def detail(batch: Batch, request=None) -> dict:
    items = list(batch.files.all())
    # The names the outputs have in result.zip (two inputs may share one).
    in_zip = archive.unique_names([i for i in items if i.status == BatchFile.DONE and i.output])
    files = [
        {
            "index": item.index,
            "name": item.name,
            "status": item.status,
            "error": item.error or None,
            "output": in_zip.get(item.pk),
            "width": item.width,
            "height": item.height,
            "url": _url(request, "batch-file", batch.id, item.index) if item.output else None,
        }
        for item in items
    ]
    return {**summary(batch, request), "files": files}


def recent(user) -> list[dict]:
    """The user's newest batches for the usage page: their summaries, with the batch
    itself (its dates) and its status in the page's language."""
    batches = list(Batch.objects.filter(user=user).order_by("-created_at", "-pk")[:RECENT])
    return [
        {**summary, "batch": batch, "status_word": STATUS_WORDS[batch.status]}
        for batch, summary in zip(batches, summaries(batches), strict=True)
    ]
