"""Batches: many images as one job (``POST /api/batches``), its progress, its result.zip.

``Batch`` and ``AsyncBatch`` hold what the server last said about a batch and
the calls on it, sharing the requests and the reading of the answers; the client
methods that make or find one are in batch_calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cutout_client import errors
from cutout_client._core import Call, make_call
from cutout_client.types import ProgressCallback, build

if TYPE_CHECKING:
    from cutout_client.client import AsyncClient, Client


@dataclass(frozen=True)
class BatchCounts:
    total: int = 0
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def finished(self) -> int:
        """Files that will not change any more: done, failed or cancelled."""
        return self.done + self.failed + self.cancelled


@dataclass(frozen=True)
class BatchFile:
    index: int  # its place in the batch, from 0 (an archive's entries in its order)
    name: str  # the name it was sent under, or its path in the archive
    status: str  # queued, running, done, failed, cancelled
    error: str | None = None  # as /rmbg words it
    output: str | None = None  # its name in result.zip
    width: int | None = None
    height: int | None = None
    url: str | None = None  # the output alone


class _BatchState:
    """What the server said about a batch; ``files`` is empty until a status is fetched."""

    id: str
    status: str  # queued, running, done, cancelled
    counts: BatchCounts
    files: list[BatchFile]
    credits_charged: int
    model: str
    format: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime
    callback_url: str | None
    status_url: str
    result_url: str

    def __init__(self, data: dict[str, Any], idempotency_key: str | None = None) -> None:
        self.idempotency_key = idempotency_key  # the key it was made under, when made here
        self.files = []
        self._update(data)

    def _update(self, data: dict[str, Any]) -> None:
        for name in ("id", "status", "credits_charged", "model", "format", "callback_url"):
            setattr(self, name, data.get(name))
        self.status_url, self.result_url = data.get("status_url"), data.get("result_url")
        for name in ("created_at", "started_at", "finished_at", "expires_at"):
            setattr(self, name, _time(data.get(name)))
        self.counts = build(BatchCounts, data.get("counts") or {})
        if "files" in data:
            self.files = [build(BatchFile, item) for item in data["files"]]

    @property
    def ended(self) -> bool:
        """Done or cancelled, every file settled: result.zip can be fetched."""
        return self.finished_at is not None

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in vars(self.counts).items() if v)
        return f"<{type(self).__name__} {self.id} {self.status}: {counts}>"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def batch_call(api_key: str | None, batch_id: str, method: str = "GET", suffix: str = "") -> Call:
    accept = "application/zip, application/json" if suffix else "application/json"
    path = f"/api/batches/{quote(str(batch_id), safe='')}{suffix}"
    return make_call(method, path, api_key, accept=accept)


class Batch(_BatchState):
    """A batch on the server, for the blocking Client."""

    def __init__(self, client: Client, data: dict[str, Any], key: str | None = None) -> None:
        self._client = client
        super().__init__(data, key)

    def refresh(self) -> Batch:
        """Fetch the status: counts and every file."""
        call = batch_call(self._client.api_key, self.id)
        self._update(json.loads(self._client._send(call)[1]))
        return self

    def wait(
        self,
        poll: float = 2.0,
        timeout: float | None = None,
        on_progress: Callable[[Batch], object] | None = None,
    ) -> Batch:
        """Refresh every ``poll`` seconds until the batch ends; WaitTimeout after ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self.refresh()
            if on_progress is not None:
                on_progress(self)
            pause = _pause(self, poll, deadline)
            if pause is None:
                return self
            time.sleep(pause)

    def cancel(self) -> Batch:
        """Cancel the files not started (they cost nothing); those running finish."""
        call = batch_call(self._client.api_key, self.id, "DELETE")
        self._update(json.loads(self._client._send(call)[1]))
        return self

    def download(self, path: str | Path, on_progress: ProgressCallback | None = None) -> Path:
        """Stream result.zip to ``path`` (written as .part, then renamed); BatchNotEnded before."""
        target = Path(path)
        call = batch_call(self._client.api_key, self.id, suffix="/result.zip")
        self._client._send(call, on_download=on_progress, into=target)
        return target

    def download_file(self, index: int, path: str | Path) -> Path:
        """One file's output alone (``files[index].url``); NotFound if it has none."""
        target = Path(path)
        self._client._send(_file_call(self._client.api_key, self.id, index), into=target)
        return target


class AsyncBatch(_BatchState):
    """A batch on the server, for the AsyncClient: the same calls, awaited."""

    def __init__(self, client: AsyncClient, data: dict[str, Any], key: str | None = None) -> None:
        self._client = client
        super().__init__(data, key)

    async def refresh(self) -> AsyncBatch:
        call = batch_call(self._client.api_key, self.id)
        self._update(json.loads((await self._client._send(call))[1]))
        return self

    async def wait(
        self,
        poll: float = 2.0,
        timeout: float | None = None,
        on_progress: Callable[[AsyncBatch], object] | None = None,
    ) -> AsyncBatch:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            await self.refresh()
            if on_progress is not None:
                on_progress(self)
            pause = _pause(self, poll, deadline)
            if pause is None:
                return self
            await asyncio.sleep(pause)

    async def cancel(self) -> AsyncBatch:
        call = batch_call(self._client.api_key, self.id, "DELETE")
        self._update(json.loads((await self._client._send(call))[1]))
        return self

    async def download(self, path: str | Path, on_progress: ProgressCallback | None = None) -> Path:
        target = Path(path)
        call = batch_call(self._client.api_key, self.id, suffix="/result.zip")
        await self._client._send(call, on_download=on_progress, into=target)
        return target

    async def download_file(self, index: int, path: str | Path) -> Path:
        target = Path(path)
        await self._client._send(_file_call(self._client.api_key, self.id, index), into=target)
        return target


def _file_call(api_key: str | None, batch_id: str, index: int) -> Call:
    return make_call("GET", f"/api/batches/{batch_id}/files/{index}", api_key, accept="*/*")


def _pause(batch: _BatchState, poll: float, deadline: float | None) -> float | None:
    """Seconds to sleep before the next poll; None once ended; WaitTimeout past the deadline."""
    if batch.ended:
        return None
    if deadline is None:
        return poll
    left = deadline - time.monotonic()
    if left <= 0:
        raise errors.WaitTimeout(f"batch {batch.id} still {batch.status} ({batch.counts})")
    return min(poll, left)
