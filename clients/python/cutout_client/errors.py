"""Typed errors, read from the server's one error shape.

One error:      {"error": "...", "field": "...", "status": 400}
Several errors: {"error": "Multiple validation errors",
                 "details": [{"field": "...", "message": "..."}], "status": 400}
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

# The messages that tell the three 429s apart: the status alone does not.
TOO_FAST = "You're making requests too quickly"
DAILY = "daily limit"
MONTHLY = "monthly limit"
STILL_RUNNING = "still running"  # a batch's result.zip asked for too soon (also a 409)


@dataclass(frozen=True)
class FieldDetail:
    field: str
    message: str


class CutoutError(Exception):
    """Anything this client raises."""


class ConnectionFailed(CutoutError):
    """The server could not be reached (after the retries)."""


class WaitTimeout(CutoutError, TimeoutError):
    """``Batch.wait`` ran out of time; the batch itself goes on."""


class InvalidSignature(CutoutError):
    """A callback's ``Cutout-Signature`` is missing, malformed, wrong or too old."""


class ApiError(CutoutError):
    """The server answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        field: str | None = None,
        details: list[FieldDetail] | None = None,
        retry_after: float | None = None,
        body: object = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field
        self.details = details or []
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        if self.details:
            listed = "; ".join(f"{d.field}: {d.message}" for d in self.details)
            return f"{self.message} ({listed})"
        return self.message


class ValidationError(ApiError):
    """400: a parameter or the upload was refused; ``field`` / ``details`` say which."""


class InvalidApiKey(ApiError):
    """401."""


class EmailNotVerified(ApiError):
    """403: the account's e-mail address is not verified yet."""


class PermissionDenied(ApiError):
    """403 for another reason."""


class TooManyRequests(ApiError):
    """429, short-term rate limit: wait ``retry_after`` seconds."""


class DailyLimitReached(ApiError):
    """429: the anonymous daily allowance is used up."""


class MonthlyLimitReached(ApiError):
    """429: no credits left this period."""


class NotFound(ApiError):
    """404: no such batch (or another user's), or no output for that file."""


class BatchNotEnded(ApiError):
    """409: the batch's result.zip is ready once the batch has ended."""


class IdempotencyInProgress(ApiError):
    """409: a request under this Idempotency-Key is still being processed."""


class IdempotencyKeyReused(ApiError):
    """422: the Idempotency-Key was used for a different request."""


class ServerBusy(ApiError):
    """503: every processing slot was taken; wait ``retry_after`` seconds."""


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in seconds (the delta-seconds form, the one the server sends)."""
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def error_from(response: httpx.Response) -> ApiError:
    """The typed error for a non-2xx answer whose body has been read."""
    status = response.status_code
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
        field = body.get("field")
        details = [
            FieldDetail(str(d.get("field")), str(d.get("message")))
            for d in body.get("details") or []
            if isinstance(d, dict)
        ]
    else:
        message = response.text.strip()[:500] or response.reason_phrase
        field, details = None, []
    kind = _kind(status, message)
    return kind(
        message,
        status=status,
        field=field,
        details=details,
        retry_after=retry_after(response),
        body=body,
    )


def _kind(status: int, message: str) -> type[ApiError]:
    if status == 429:
        if DAILY in message:
            return DailyLimitReached
        if MONTHLY in message:
            return MonthlyLimitReached
        return TooManyRequests
    if status == 403:
        return EmailNotVerified if "not verified" in message else PermissionDenied
    if status == 409 and STILL_RUNNING in message:
        return BatchNotEnded
    by_status: dict[int, type[ApiError]] = {
        400: ValidationError,
        401: InvalidApiKey,
        404: NotFound,
        409: IdempotencyInProgress,
        422: IdempotencyKeyReused,
        503: ServerBusy,
    }
    return by_status.get(status, ApiError)
