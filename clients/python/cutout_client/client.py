"""Client and AsyncClient: the same calls, blocking or awaitable."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from cutout_client import errors
from cutout_client._core import (
    Call,
    ImageInput,
    RetryPolicy,
    Sink,
    content_length,
    log_retry,
    make_call,
    read_image,
    removal_fields,
    result_from,
    settings,
    upload_chunks,
    usage_params,
)
from cutout_client.batch_calls import AsyncBatchCalls, BatchCalls
from cutout_client.types import (
    BillingCycleSummary,
    MembershipUsage,
    Models,
    ProgressCallback,
    Result,
    build,
    models_from,
    usage_from,
)

DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class _Base:
    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.api_key, self.base_url = settings(api_key, base_url)
        self.timeout = timeout
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff)
        self._open(timeout)

    def _open(self, timeout: float | httpx.Timeout) -> None:
        raise NotImplementedError

    def _removal(
        self,
        image: ImageInput,
        idempotency_key: str | None,
        options: dict[str, Any],
    ) -> Call:
        return make_call(
            "POST",
            "/rmbg",
            self.api_key,
            idempotency_key=idempotency_key,
            fields=removal_fields(**options),
            image=read_image(image),
            # Raw image bytes; errors as JSON (DRF answers "image/*" alone with a 406).
            accept="image/*, application/json",
        )

    def _usage(self, params: dict[str, str]) -> Call:
        return make_call("GET", "/api/membership-usage", self.api_key, params=params)

    def _failure(self, response: httpx.Response) -> errors.ApiError:
        return errors.error_from(response)


class Client(_Base, BatchCalls):
    """Blocking client; one instance may be shared by threads (httpx.Client is)."""

    def _open(self, timeout: float | httpx.Timeout) -> None:
        self._http = httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def remove(
        self,
        image: ImageInput,
        *,
        format: str | None = None,
        mask: bool = False,
        w: int = 0,
        h: int = 0,
        exact_resize: bool = False,
        angle: float | None = None,
        expand: bool = True,
        bg_color: str | None = None,
        model: str | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: ProgressCallback | None = None,
        on_download_progress: ProgressCallback | None = None,
    ) -> Result:
        """Remove the background of ``image``; see the README for every option."""
        options = dict(
            format=format,
            mask=mask,
            w=w,
            h=h,
            exact_resize=exact_resize,
            angle=angle,
            expand=expand,
            bg_color=bg_color,
            model=model,
        )
        call = self._removal(image, idempotency_key, options)
        response, content = self._send(call, on_upload_progress, on_download_progress)
        return result_from(response, content, call)

    def membership_usage(
        self,
        year: int | None = None,
        month: int | None = None,
        period_start: int | datetime | None = None,
        billing_cycle: bool = False,
    ) -> MembershipUsage:
        call = self._usage(usage_params(year, month, period_start, billing_cycle))
        return usage_from(json.loads(self._send(call)[1]))

    def billing_cycles(self) -> list[BillingCycleSummary]:
        call = self._usage({"listBillingCycles": "true"})
        cycles = json.loads(self._send(call)[1])["billingCycles"]
        return [build(BillingCycleSummary, c) for c in cycles]

    def models(self) -> Models:
        call = make_call("GET", "/api/models", self.api_key)
        return models_from(json.loads(self._send(call)[1]))

    def _send(
        self,
        call: Call,
        on_upload: ProgressCallback | None = None,
        on_download: ProgressCallback | None = None,
        into: Path | None = None,
    ) -> tuple[httpx.Response, bytes]:
        """The answer's body, or with ``into`` an empty one: the body went to that file."""
        attempt = 0
        while True:
            try:
                return self._attempt(call, on_upload, on_download, into)
            except (errors.ApiError, httpx.TransportError) as failure:
                wait = self.retry.delay(attempt, failure)
                if wait is None:
                    raise _final(failure) from None
                log_retry(call, attempt, failure, wait)
                time.sleep(wait)
                attempt += 1

    def _attempt(
        self,
        call: Call,
        on_upload: ProgressCallback | None,
        on_download: ProgressCallback | None,
        into: Path | None,
    ) -> tuple[httpx.Response, bytes]:
        request = self._http.build_request(
            call.method,
            self.base_url + call.path,
            params=call.params,
            headers=call.headers,
            content=None if call.body is None else upload_chunks(call.body, on_upload),
        )
        response = self._http.send(request, stream=True)
        try:
            if not response.is_success:
                response.read()
                raise self._failure(response)
            sink = Sink(into, content_length(response), on_download)
            with sink:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
        finally:
            response.close()
        return response, sink.content()


class AsyncClient(_Base, AsyncBatchCalls):
    """The same calls as Client, to await."""

    def _open(self, timeout: float | httpx.Timeout) -> None:
        self._http = httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def remove(
        self,
        image: ImageInput,
        *,
        format: str | None = None,
        mask: bool = False,
        w: int = 0,
        h: int = 0,
        exact_resize: bool = False,
        angle: float | None = None,
        expand: bool = True,
        bg_color: str | None = None,
        model: str | None = None,
        idempotency_key: str | None = None,
        on_upload_progress: ProgressCallback | None = None,
        on_download_progress: ProgressCallback | None = None,
    ) -> Result:
        options = dict(
            format=format,
            mask=mask,
            w=w,
            h=h,
            exact_resize=exact_resize,
            angle=angle,
            expand=expand,
            bg_color=bg_color,
            model=model,
        )
        call = self._removal(image, idempotency_key, options)
        response, content = await self._send(call, on_upload_progress, on_download_progress)
        return result_from(response, content, call)

    async def membership_usage(
        self,
        year: int | None = None,
        month: int | None = None,
        period_start: int | datetime | None = None,
        billing_cycle: bool = False,
    ) -> MembershipUsage:
        call = self._usage(usage_params(year, month, period_start, billing_cycle))
        return usage_from(json.loads((await self._send(call))[1]))

    async def billing_cycles(self) -> list[BillingCycleSummary]:
        call = self._usage({"listBillingCycles": "true"})
        cycles = json.loads((await self._send(call))[1])["billingCycles"]
        return [build(BillingCycleSummary, c) for c in cycles]

    async def models(self) -> Models:
        call = make_call("GET", "/api/models", self.api_key)
        return models_from(json.loads((await self._send(call))[1]))

    async def _send(
        self,
        call: Call,
        on_upload: ProgressCallback | None = None,
        on_download: ProgressCallback | None = None,
        into: Path | None = None,
    ) -> tuple[httpx.Response, bytes]:
        attempt = 0
        while True:
            try:
                return await self._attempt(call, on_upload, on_download, into)
            except (errors.ApiError, httpx.TransportError) as failure:
                wait = self.retry.delay(attempt, failure)
                if wait is None:
                    raise _final(failure) from None
                log_retry(call, attempt, failure, wait)
                await asyncio.sleep(wait)
                attempt += 1

    async def _attempt(
        self,
        call: Call,
        on_upload: ProgressCallback | None,
        on_download: ProgressCallback | None,
        into: Path | None,
    ) -> tuple[httpx.Response, bytes]:
        request = self._http.build_request(
            call.method,
            self.base_url + call.path,
            params=call.params,
            headers=call.headers,
            content=None if call.body is None else _aiter(upload_chunks(call.body, on_upload)),
        )
        response = await self._http.send(request, stream=True)
        try:
            if not response.is_success:
                await response.aread()
                raise self._failure(response)
            sink = Sink(into, content_length(response), on_download)
            with sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
        finally:
            await response.aclose()
        return response, sink.content()


async def _aiter(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _final(failure: Exception) -> Exception:
    if isinstance(failure, httpx.TransportError):
        error = errors.ConnectionFailed(f"{type(failure).__name__}: {failure}")
        error.__cause__ = failure
        return error
    return failure
