"""What Client and AsyncClient share: inputs, the request, retries, the answer."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import httpx

from cutout_client import errors
from cutout_client._multipart import Body
from cutout_client.types import Progress, ProgressCallback, Result

logger = logging.getLogger("cutout_client")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
CHUNK = 64 * 1024
# An image: a path, bytes, a binary file, or {"base64": ...} (a data URL is fine), as rembg.js.
ImageInput = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | dict[str, str]

# Errors worth the same request again: the server never saw it, or dropped it half way.
# Not a read timeout: the server may still be working on it (a retry would get a 409).
RETRYABLE_TRANSPORT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.ReadError,
    httpx.WriteError,
    httpx.RemoteProtocolError,
)


def settings(api_key: str | None, base_url: str | None) -> tuple[str | None, str]:
    key = api_key if api_key is not None else os.environ.get("CUTOUT_API_KEY") or None
    url = base_url or os.environ.get("CUTOUT_BASE_URL") or DEFAULT_BASE_URL
    return key, url.rstrip("/")


def read_image(image: ImageInput) -> tuple[str, bytes]:
    """(filename, content). Buffers are sent as ``image.png``, as rembg.js sends them."""
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return path.name, path.read_bytes()
    if isinstance(image, bytes | bytearray | memoryview):
        return "image.png", bytes(image)
    if isinstance(image, dict):
        if "base64" not in image:
            raise TypeError('a dict image must be {"base64": "..."}')
        data = image["base64"]
        if data.startswith("data:"):
            data = data.partition(",")[2]
        try:
            return "image.png", base64.b64decode(data, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"image: not valid base64 ({exc})") from None
    if hasattr(image, "read"):
        name = getattr(image, "name", None)
        filename = Path(name).name if isinstance(name, str) and name else "image.png"
        return filename, image.read()
    raise TypeError(f"unsupported image type: {type(image).__name__}")


def removal_fields(
    *,
    format: str | None,
    mask: bool,
    w: int,
    h: int,
    exact_resize: bool,
    angle: float | None,
    expand: bool,
    bg_color: str | None,
    model: str | None,
) -> dict[str, str]:
    """The multipart fields, all strings, as rembg.js sends them."""
    fields = {
        "exact_resize": _flag(exact_resize),
        "w": str(w),
        "h": str(h),
        "mask": _flag(mask),
        "return_base64": "false",  # raw bytes: smaller than base64 in JSON
        "expand": _flag(expand),
    }
    optional = {"angle": angle, "bg_color": bg_color, "format": format, "model": model}
    fields.update({k: str(v) for k, v in optional.items() if v is not None})
    return fields


def _flag(value: bool) -> str:
    return "true" if value else "false"


def usage_params(
    year: int | None, month: int | None, period_start: int | datetime | None, billing_cycle: bool
) -> dict[str, str]:
    params: dict[str, str] = {}
    if year is not None:
        params["year"] = str(year)
    if month is not None:
        params["month"] = str(month)
    if period_start is not None:
        start = period_start.timestamp() if isinstance(period_start, datetime) else period_start
        params["periodStartUnix"] = str(int(start))
    if billing_cycle:
        params["expand"] = "billing_cycle"
    return params


@dataclass(frozen=True)
class Call:
    """One logical call: the same method, URL, headers and body on every attempt."""

    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, str]
    body: bytes | Body | None = None

    @property
    def idempotency_key(self) -> str:
        return self.headers["Idempotency-Key"]


def make_call(
    method: str,
    path: str,
    api_key: str | None,
    *,
    idempotency_key: str | None = None,
    params: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
    image: tuple[str, bytes] | None = None,
    files: Body | None = None,
    accept: str = "application/json",
) -> Call:
    headers = {"Accept": accept, "Idempotency-Key": idempotency_key or str(uuid.uuid4())}
    if api_key:
        headers["x-api-key"] = api_key
    body = None
    if image is not None:
        # httpx encodes the multipart body once; every attempt sends the same bytes.
        encoded = httpx.Request("POST", "http://x/", data=fields, files={"image": image})
        body = encoded.read()
        headers["Content-Type"] = encoded.headers["Content-Type"]
        headers["Content-Length"] = str(len(body))
    if files is not None:
        body = files  # streamed from the files on each attempt
        headers["Content-Type"] = files.content_type
        headers["Content-Length"] = str(len(files))
    return Call(method, path, headers, params or {}, body)


def upload_chunks(body: bytes | Body, callback: ProgressCallback | None) -> Iterator[bytes]:
    total, sent = len(body), 0
    chunks = body if isinstance(body, Body) else _slices(body)
    for chunk in chunks:
        sent += len(chunk)
        yield chunk
        if callback is not None:
            callback(event(sent, total, len(chunk), upload=True))


def _slices(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


def event(loaded: int, total: int | None, delta: int, *, upload: bool = False) -> Progress:
    progress = loaded / total if total else None
    return Progress(loaded, total, progress, delta, upload=upload, download=not upload)


class Sink:
    """Where an answer's body goes: memory, or a file written as ``.name.part`` then renamed.

    A download cut short leaves no file under the real name; a retry starts the
    ``.part`` again from the beginning.
    """

    def __init__(self, into: Path | None, total: int | None, callback: ProgressCallback | None):
        self.into, self.total, self.callback = into, total, callback
        self.loaded = 0
        self._parts: list[bytes] = []
        self._file: IO[bytes] | None = None
        self._partial = None if into is None else into.with_name(f".{into.name}.part")

    def __enter__(self) -> Sink:
        if self._partial is not None:
            self._partial.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._partial.open("wb")
        return self

    def write(self, chunk: bytes) -> None:
        if self._file is None:
            self._parts.append(chunk)
        else:
            self._file.write(chunk)
        self.loaded += len(chunk)
        if self.callback is not None:
            self.callback(event(self.loaded, self.total, len(chunk)))

    def __exit__(self, kind: object, *exc: object) -> None:
        if self._file is None or self._partial is None or self.into is None:
            return
        self._file.close()
        if kind is None:
            self._partial.replace(self.into)
        else:
            self._partial.unlink(missing_ok=True)

    def content(self) -> bytes:
        return b"".join(self._parts)


def content_length(response: httpx.Response) -> int | None:
    raw = response.headers.get("Content-Length")
    return int(raw) if raw and raw.isdigit() else None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff: float = 0.5  # first wait; doubles on each attempt
    max_wait: float = 60.0  # a longer Retry-After is not waited for: the error is raised

    def delay(self, attempt: int, failure: Exception) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= self.max_retries:
            return None
        if isinstance(failure, errors.TooManyRequests | errors.ServerBusy):
            hinted = failure.retry_after
        elif isinstance(failure, RETRYABLE_TRANSPORT):
            hinted = None
        else:
            return None
        backoff = min(self.backoff * 2**attempt, self.max_wait)
        if hinted is None:
            return random.uniform(backoff / 2, backoff)  # "equal jitter"
        if hinted > self.max_wait:
            return None
        # At least what the server asked for, plus jitter so that clients told the
        # same second do not all come back in that second.
        return hinted + random.uniform(0, min(backoff, 1.0))


def log_retry(call: Call, attempt: int, failure: Exception, wait: float) -> None:
    status = getattr(failure, "status", None) or type(failure).__name__
    logger.info(
        "retrying %s %s after %s in %.2fs (attempt %d, Idempotency-Key %s)",
        call.method,
        call.path,
        status,
        wait,
        attempt + 2,
        call.idempotency_key,
    )


def result_from(response: httpx.Response, content: bytes, call: Call) -> Result:
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    fmt = media.partition("/")[2] or "webp"
    return Result(
        content=content,
        format=fmt,
        width=int(response.headers.get("X-Width", 0)),
        height=int(response.headers.get("X-Height", 0)),
        credits_charged=int(response.headers.get("X-Credits-Charged", 0)),
        idempotency_key=call.idempotency_key,
    )
