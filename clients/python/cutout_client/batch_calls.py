"""The batch methods of Client and AsyncClient (mixed in): make or find one, remove_many."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Unpack
from urllib.parse import parse_qs, urlsplit

from cutout_client import many
from cutout_client._core import Call, ImageInput, make_call, read_image, removal_fields
from cutout_client._multipart import Body, Part
from cutout_client.batches import AsyncBatch, Batch, batch_call
from cutout_client.many import MAX_BATCH_BYTES, MAX_FILES, ManyProgress, ManyReport
from cutout_client.types import ProgressCallback, RemovalOptions

if TYPE_CHECKING:
    from cutout_client.client import AsyncClient, Client

# A batch's image: what ``remove`` takes (a path may be a ZIP archive of images),
# or (filename, bytes or binary file) to name it.
BatchInput = ImageInput | tuple[str, bytes | IO[bytes]]


def parts_of(images: Iterable[BatchInput]) -> list[Part]:
    """The upload's parts: paths are read when sent, the rest now."""
    parts = []
    for number, image in enumerate(images, 1):
        if isinstance(image, Part):  # remove_many's, read when sent
            parts.append(image)
        elif isinstance(image, tuple):
            name, content = image
            data = content if isinstance(content, bytes) else content.read()
            parts.append(Part.of_bytes(name, data))
        elif isinstance(image, str | os.PathLike):
            path = Path(image)
            parts.append(Part(path.name, path.stat().st_size, lambda path=path: path.open("rb")))
        else:
            name, data = read_image(image)
            # Unnamed buffers are told apart in the batch's files and result.zip.
            parts.append(
                Part.of_bytes(f"image-{number}.png" if name == "image.png" else name, data)
            )
    return parts


def create_call(
    api_key: str | None,
    parts: list[Part],
    options: dict[str, Any],
    callback_url: str | None,
    idempotency_key: str | None,
) -> Call:
    fields = removal_fields(**options)
    if callback_url:
        fields["callback_url"] = callback_url
    # The key is made here, once, and sent again on every retry of the upload: a
    # retry after a lost answer gets the batch made the first time, not a second one.
    key = idempotency_key or str(uuid.uuid4())
    return make_call(
        "POST", "/api/batches", api_key, idempotency_key=key, files=Body(fields, parts)
    )


def list_call(api_key: str | None, cursor: str | None, page_size: int | None) -> Call:
    params = {"cursor": cursor} if cursor else {}
    if page_size:
        params["limit"] = str(page_size)
    return make_call("GET", "/api/batches", api_key, params=params)


def next_cursor(page: dict[str, Any]) -> str | None:
    """Where the next page starts, from the page's ``next`` link (None on the last)."""
    link = page.get("next")
    return parse_qs(urlsplit(link).query).get("cursor", [None])[0] if link else None


def _secret_call(api_key: str | None, method: str) -> Call:
    return make_call(method, "/api/batches/callback-secret", api_key)


class BatchCalls:
    """Client's batch methods."""

    api_key: str | None
    _send: Callable[..., Any]

    def create_batch(
        self: Client,
        images: Iterable[BatchInput],
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: ProgressCallback | None = None,
        **options: Unpack[RemovalOptions],
    ) -> Batch:
        """Send ``images`` as one batch (up to the server's 500 files, 50 MB each, 1 GB).

        ``options`` are ``remove``'s (format, mask, w, h, exact_resize, angle, expand,
        bg_color, model), applied to every file.
        """
        call = create_call(
            self.api_key, parts_of(images), _options(options), callback_url, idempotency_key
        )
        response = self._send(call, on_upload_progress)
        return Batch(self, json.loads(response[1]), call.idempotency_key)

    def batch(self: Client, batch_id: str) -> Batch:
        """A batch made earlier (by id), with its files."""
        return Batch(self, json.loads(self._send(batch_call(self.api_key, batch_id))[1]))

    def batches(self: Client, *, page_size: int | None = None) -> Iterator[Batch]:
        """Your batches, newest first, fetched a page at a time (``page_size``: 1-100,
        the server's 50 by default) as you iterate. Each is a summary: its counts,
        not its files (``refresh()`` fetches them)."""
        cursor = None
        while True:
            page = json.loads(self._send(list_call(self.api_key, cursor, page_size))[1])
            yield from (Batch(self, data) for data in page["batches"])
            cursor = next_cursor(page)
            if cursor is None:
                return

    def remove_many(
        self: Client,
        inputs: Iterable[str | os.PathLike[str]],
        outdir: str | Path,
        *,
        max_files: int = MAX_FILES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        skip_existing: bool = True,
        poll: float = 2.0,
        on_progress: Callable[[ManyProgress], object] | None = None,
        callback_url: str | None = None,
        **options: Unpack[RemovalOptions],
    ) -> ManyReport:
        """Remove the backgrounds of any number of images, in as many batches as it takes.

        ``inputs``: files, folders (their images, recursively, keeping the layout) and
        globs; a ZIP archive's images go to a folder named after it. Outputs land in
        ``outdir`` under their inputs' names; what failed is in the report and in
        ``outdir/errors.csv``. See the README for the limits and the idempotency keys.
        """
        run = _run(inputs, outdir, options, callback_url, max_files, max_batch_bytes, skip_existing)
        return many.drive(self, run, poll, on_progress)

    def callback_secret(self: Client) -> str:
        """The secret batch callbacks are signed with (see ``verify_callback``)."""
        return json.loads(self._send(_secret_call(self.api_key, "GET"))[1])["secret"]

    def rotate_callback_secret(self: Client) -> str:
        """A new secret; callbacks signed with the old one stop at once."""
        return json.loads(self._send(_secret_call(self.api_key, "POST"))[1])["secret"]


class AsyncBatchCalls:
    """AsyncClient's batch methods."""

    api_key: str | None
    _send: Callable[..., Any]

    async def create_batch(
        self: AsyncClient,
        images: Iterable[BatchInput],
        *,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: ProgressCallback | None = None,
        **options: Unpack[RemovalOptions],
    ) -> AsyncBatch:
        call = create_call(
            self.api_key, parts_of(images), _options(options), callback_url, idempotency_key
        )
        response = await self._send(call, on_upload_progress)
        return AsyncBatch(self, json.loads(response[1]), call.idempotency_key)

    async def batch(self: AsyncClient, batch_id: str) -> AsyncBatch:
        answer = await self._send(batch_call(self.api_key, batch_id))
        return AsyncBatch(self, json.loads(answer[1]))

    async def batches(
        self: AsyncClient, *, page_size: int | None = None
    ) -> AsyncIterator[AsyncBatch]:
        cursor = None
        while True:
            answer = await self._send(list_call(self.api_key, cursor, page_size))
            page = json.loads(answer[1])
            for data in page["batches"]:
                yield AsyncBatch(self, data)
            cursor = next_cursor(page)
            if cursor is None:
                return

    async def remove_many(
        self: AsyncClient,
        inputs: Iterable[str | os.PathLike[str]],
        outdir: str | Path,
        *,
        max_files: int = MAX_FILES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        skip_existing: bool = True,
        poll: float = 2.0,
        on_progress: Callable[[ManyProgress], object] | None = None,
        callback_url: str | None = None,
        **options: Unpack[RemovalOptions],
    ) -> ManyReport:
        run = _run(inputs, outdir, options, callback_url, max_files, max_batch_bytes, skip_existing)
        return await many.adrive(self, run, poll, on_progress)

    async def callback_secret(self: AsyncClient) -> str:
        return json.loads((await self._send(_secret_call(self.api_key, "GET")))[1])["secret"]

    async def rotate_callback_secret(self: AsyncClient) -> str:
        return json.loads((await self._send(_secret_call(self.api_key, "POST")))[1])["secret"]


REMOVAL_DEFAULTS: dict[str, Any] = dict(
    format=None,
    mask=False,
    w=0,
    h=0,
    exact_resize=False,
    angle=None,
    expand=True,
    bg_color=None,
    model=None,
)


def _run(inputs, outdir, options, callback_url, max_files, max_batch_bytes, skip_existing):
    if max_files < 1 or max_batch_bytes < 1:
        raise ValueError("max_files and max_batch_bytes must be positive")
    return many.Run(
        inputs,
        outdir,
        _options(options),
        callback_url=callback_url,
        max_files=max_files,
        max_batch_bytes=max_batch_bytes,
        skip_existing=skip_existing,
    )


def _options(options: Any) -> dict[str, Any]:
    unknown = set(options) - set(REMOVAL_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return {**REMOVAL_DEFAULTS, **options}
