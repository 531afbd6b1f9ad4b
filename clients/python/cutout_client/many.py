"""Any number of images as batches within the server's limits: split, send, wait, unpack.

``Run`` holds the plan and what has happened; the blocking and the async clients
drive it (``drive``, ``adrive``), differing only in how they wait.

Each batch is sent under an Idempotency-Key derived from its files (path, size,
modification time; an archive entry's CRC) and the options. A retry of the upload
gets the batch made the first time, and so does a second run after an
interruption: the batches sent before it are waited for, not paid again. The
server keeps a key with its batch for 24 hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import json
import re
import time
import uuid
import zipfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from cutout_client import errors
from cutout_client._multipart import Part
from cutout_client.many_plan import Failure, Item, Plan

if TYPE_CHECKING:
    from cutout_client.batches import BatchCounts, _BatchState
    from cutout_client.client import AsyncClient, Client

# The server's limits (README, "Batches"). A lower BATCH_MAX_FILES or BATCH_MAX_MB
# on the server is learnt from its 400 and the batch is split again.
MAX_FILES = 500
MAX_BATCH_BYTES = 1024 * 1024 * 1024
TOO_MANY = re.compile(r"at most (\d+) images")
TOO_LARGE = re.compile(r"maximum total size of (\d+) MB")
AUTH_ERRORS = (errors.InvalidApiKey, errors.EmailNotVerified)
OUT_OF_CREDITS = (errors.MonthlyLimitReached, errors.DailyLimitReached)
ERRORS_CSV = "errors.csv"


@dataclass(frozen=True)
class ManyProgress:
    total: int  # files of this run (inputs skipped because their output exists are not)
    finished: int  # done or failed so far
    done: int
    failed: int
    unsent: int  # files not sent yet
    batch_ids: tuple[str, ...]  # the batches sent so far, in order


@dataclass
class ManyReport:
    done: list[tuple[str, Path]] = field(default_factory=list)  # (source, output)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # their output existed
    batch_ids: list[str] = field(default_factory=list)
    credits_charged: int = 0
    errors_csv: Path | None = None  # written when something failed


class Run:
    def __init__(
        self,
        inputs: Iterable[Any],
        outdir: str | Path,
        options: dict[str, Any],
        *,
        callback_url: str | None,
        max_files: int,
        max_batch_bytes: int,
        skip_existing: bool,
    ) -> None:
        self.outdir = Path(outdir)
        self.options, self.callback_url = options, callback_url
        self.max_files, self.max_bytes = max_files, max_batch_bytes
        fmt = (options.get("format") or "webp").lower()
        self.plan = Plan(inputs, self.outdir, {"jpeg": "jpg"}.get(fmt, fmt), skip_existing)
        # Files refused before sending (too large, unsafe in an archive) are failures too.
        self.report = ManyReport(failed=self.plan.failed, skipped=self.plan.skipped)
        self.total = len(self.plan.items) + len(self.plan.failed)
        self.unsent: deque[Item] = deque(self.plan.items)
        self.active: list[tuple[list[Item], _BatchState]] = []
        self._counts: dict[str, BatchCounts] = {}

    def _fail(self, source: str, error: str, batch_id: str | None = None) -> None:
        self.report.failed.append(Failure(source, error, batch_id))

    # --- sending -----------------------------------------------------------------

    def next_chunk(self) -> list[Item] | None:
        """The next batch's files: at most max_files of them and max_batch_bytes in all."""
        chunk: list[Item] = []
        size = 0
        while self.unsent and len(chunk) < self.max_files:
            item = self.unsent[0]
            if chunk and size + item.size > self.max_bytes:
                break
            chunk.append(self.unsent.popleft())
            size += item.size
        return chunk or None

    def parts(self, chunk: list[Item]) -> list[Part]:
        names = sent_names([PurePosixPath(item.source.replace("\\", "/")).name for item in chunk])
        return [Part(name, item.size, item.open) for name, item in zip(names, chunk, strict=True)]

    def key(self, chunk: list[Item]) -> str:
        stamps = [self.options, self.callback_url, [item.stamp for item in chunk]]
        digest = hashlib.sha256(json.dumps(stamps, sort_keys=True, default=str).encode())
        return f"cutout-many-{digest.hexdigest()}"

    def refused(self, chunk: list[Item], key: str, failure: Exception) -> str | None:
        """After a failed upload: a new key to send it again under, or None (settled)."""
        if isinstance(failure, AUTH_ERRORS):
            raise failure
        if isinstance(failure, errors.ValidationError) and failure.field != "image":
            raise failure  # an option or the callback URL: every batch would be refused
        if isinstance(failure, errors.IdempotencyKeyReused) and key.startswith("cutout-many-"):
            return fresh_key()  # a file changed without its size or time changing
        if isinstance(failure, errors.ValidationError) and self._learn(failure.message, chunk):
            self.unsent.extendleft(reversed(chunk))  # split again, under the server's limit
            return None
        if isinstance(failure, OUT_OF_CREDITS):
            # The next batches would be refused as well: they are not sent.
            chunk = chunk + list(self.unsent)
            self.unsent.clear()
        for item in chunk:
            self._fail(item.source, f"batch refused: {failure}")
        return None

    def _learn(self, message: str, chunk: list[Item]) -> bool:
        if (found := TOO_MANY.search(message)) and int(found[1]) < len(chunk):
            self.max_files = int(found[1])
            return True
        if (found := TOO_LARGE.search(message)) and len(chunk) > 1:
            self.max_bytes = min(self.max_bytes, int(found[1]) * 1024 * 1024)
            self.max_bytes = min(self.max_bytes, sum(item.size for item in chunk) - 1)
            return True
        return False

    def sent(self, chunk: list[Item], key: str, batch: _BatchState) -> str | None:
        """After an upload: None, or a new key if the key led to a dead earlier batch."""
        counts = batch.counts
        # A batch of an earlier run that ended with nothing done (cancelled, timed out):
        # nothing of it was charged; sending the files again is the only way forward.
        dead = batch.ended and not counts.done and (counts.cancelled or batch.started_at)
        if dead and key.startswith("cutout-many-"):
            return fresh_key()
        self.active.append((chunk, batch))
        self.report.batch_ids.append(batch.id)
        self._counts[batch.id] = counts
        return None

    # --- receiving ---------------------------------------------------------------

    def seen(self, batch: _BatchState) -> None:
        self._counts[batch.id] = batch.counts

    def archive_for(self, batch: _BatchState) -> Path | None:
        """Where to put the batch's result.zip, or None when nothing in it is needed."""
        if not batch.counts.done:
            return None
        return self.outdir / f".cutout-batch-{batch.id}.zip"

    def settle(self, chunk: list[Item], batch: _BatchState, archive: Path | None) -> list[int]:
        """Unpack the outputs of an ended batch; the indexes result.zip lacked, to fetch alone."""
        self.active = [(c, b) for c, b in self.active if b is not batch]
        self.report.credits_charged += batch.credits_charged or 0
        by_index = {file.index: file for file in batch.files}
        missing = []
        with zipfile.ZipFile(archive) if archive else contextlib.nullcontext() as result:
            names = set(result.namelist()) if result else set()
            for index, item in enumerate(chunk):
                file = by_index.get(index)
                if file is None or file.status != "done" or not file.output:
                    error = (file.error or file.status) if file else "not in the batch"
                    self._fail(item.source, error, batch.id)
                elif result is not None and file.output in names:
                    with result.open(file.output) as output:
                        write_atomically(item.target, output)
                    self.report.done.append((item.source, item.target))
                else:
                    missing.append(index)
        if archive is not None:
            archive.unlink(missing_ok=True)
        return missing

    def fetched(self, item: Item) -> None:
        self.report.done.append((item.source, item.target))

    def progress(self) -> ManyProgress:
        done = sum(c.done for c in self._counts.values())
        failed = sum(c.failed + c.cancelled for c in self._counts.values())
        local = len([f for f in self.report.failed if f.batch_id is None])
        return ManyProgress(
            total=self.total,
            finished=done + failed + local,
            done=done,
            failed=failed + local,
            unsent=len(self.unsent),
            batch_ids=tuple(self.report.batch_ids),
        )

    def close(self) -> None:
        self.plan.close()

    def finish(self) -> ManyReport:
        listing = self.outdir / ERRORS_CSV
        if self.report.failed:
            self.outdir.mkdir(parents=True, exist_ok=True)
            with listing.open("w", newline="", encoding="utf-8") as table:
                writer = csv.writer(table)
                writer.writerow(["input", "error", "batch"])
                for failure in self.report.failed:
                    writer.writerow([failure.source, failure.error, failure.batch_id or ""])
            self.report.errors_csv = listing
        else:
            listing.unlink(missing_ok=True)  # the last run's, its files now done
        return self.report


def drive(client: Client, run: Run, poll: float, on_progress: Callable | None) -> ManyReport:
    _notify(run, on_progress)
    try:
        while (chunk := run.next_chunk()) is not None:
            key: str | None = run.key(chunk)
            while key is not None:
                try:
                    batch = client.create_batch(
                        run.parts(chunk),
                        idempotency_key=key,
                        callback_url=run.callback_url,
                        **run.options,
                    )
                except (errors.CutoutError, OSError) as exc:
                    key = run.refused(chunk, key, exc)
                else:
                    key = run.sent(chunk, key, batch)
            _notify(run, on_progress)
        while run.active:
            time.sleep(poll)
            for chunk, batch in list(run.active):
                run.seen(batch.refresh())
                if batch.ended:
                    archive = run.archive_for(batch)
                    if archive is not None:
                        batch.download(archive)
                    for index in run.settle(chunk, batch, archive):
                        batch.download_file(index, chunk[index].target)
                        run.fetched(chunk[index])
            _notify(run, on_progress)
    finally:
        run.close()
    return run.finish()


async def adrive(
    client: AsyncClient, run: Run, poll: float, on_progress: Callable | None
) -> ManyReport:
    _notify(run, on_progress)
    try:
        while (chunk := run.next_chunk()) is not None:
            key: str | None = run.key(chunk)
            while key is not None:
                try:
                    batch = await client.create_batch(
                        run.parts(chunk),
                        idempotency_key=key,
                        callback_url=run.callback_url,
                        **run.options,
                    )
                except (errors.CutoutError, OSError) as exc:
                    key = run.refused(chunk, key, exc)
                else:
                    key = run.sent(chunk, key, batch)
            _notify(run, on_progress)
        while run.active:
            await asyncio.sleep(poll)
            for chunk, batch in list(run.active):
                run.seen(await batch.refresh())
                if batch.ended:
                    archive = run.archive_for(batch)
                    if archive is not None:
                        await batch.download(archive)
                    for index in run.settle(chunk, batch, archive):
                        await batch.download_file(index, chunk[index].target)
                        run.fetched(chunk[index])
            _notify(run, on_progress)
    finally:
        run.close()
    return run.finish()


def _notify(run: Run, on_progress: Callable | None) -> None:
    if on_progress is not None:
        on_progress(run.progress())


def sent_names(names: list[str]) -> list[str]:
    """Names the server keeps as they are, none the same once its extension changes.

    result.zip then holds each output under the name the batch's status gives it,
    so every output goes back to its own input.
    """
    taken: set[str] = set()
    sent = []
    for name in names:
        path = PurePosixPath(name)
        stem = re.sub(r"[^\w.()+,=@ -]", "_", path.stem, flags=re.ASCII).strip(" .") or "image"
        suffix = re.sub(r"[^\w.]", "", path.suffix, flags=re.ASCII)
        candidate, number = stem, 2
        while candidate.casefold() in taken or candidate.casefold() == "errors":
            candidate, number = f"{stem} ({number})", number + 1
        taken.add(candidate.casefold())
        sent.append(candidate + suffix)
    return sent


def write_atomically(target: Path, source: IO[bytes]) -> None:
    """Under a temporary name first: a half-written output never counts as existing."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with partial.open("wb") as out:
        while chunk := source.read(256 * 1024):
            out.write(chunk)
    partial.replace(target)


def fresh_key() -> str:
    return str(uuid.uuid4())
