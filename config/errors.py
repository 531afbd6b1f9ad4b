"""The API's one error shape, and the exception handler that produces it.

One error:      {"error": "...", "field": "...", "status": 400}   (field when known)
Several errors: {"error": "Multiple validation errors",
                 "details": [{"field": "...", "message": "..."}], "status": 400}
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rest_framework import exceptions, status
from rest_framework.response import Response


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


# ASCII only: int() and float() also take other scripts' digits ("٣" is 3), full-width
# digits, underscores and surrounding spaces, none of which the API accepts.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_integer(name: str, raw: str, errors: list[FieldError]) -> int | None:
    """``raw`` as an integer; None, with the error collected, when it is not one."""
    if _INTEGER.fullmatch(raw):
        try:
            return int(raw)
        except ValueError:  # more digits than Python converts; no valid value is that long
            pass
    errors.append(FieldError(name, f"'{name}' must be an integer, got: '{raw}'"))
    return None


def ascii_id(value) -> int | None:
    """A database id from outside (Stripe metadata, say), or None: ASCII digits only.

    ``"²".isdigit()`` is true, but no id: ``int("²")`` raises.
    """
    text = str(value or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def parse_number(name: str, raw: str, errors: list[FieldError]) -> float | None:
    """``raw`` as a finite decimal number; None, with the error collected, when it is not."""
    if _NUMBER.fullmatch(raw):
        value = float(raw)
        if math.isfinite(value):
            return value
    errors.append(FieldError(name, f"'{name}' must be a number, got: '{raw}'"))
    return None


class ApiError(exceptions.APIException):
    """An error with a message that is shown to the client word for word."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message)
        self.message = message
        self.field = field
        self.headers = headers or {}
        if status_code is not None:
            self.status_code = status_code


class InvalidInput(exceptions.APIException):
    """One or more validation errors, all reported together."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: list[FieldError]) -> None:
        assert errors, "InvalidInput needs at least one error"
        super().__init__(detail=errors[0].message)
        self.errors = errors


def error_body(exc: exceptions.APIException, status_code: int) -> dict:
    if isinstance(exc, InvalidInput):
        if len(exc.errors) == 1:
            only = exc.errors[0]
            return {"error": only.message, "field": only.field, "status": status_code}
        return {
            "error": "Multiple validation errors",
            "details": [{"field": e.field, "message": e.message} for e in exc.errors],
            "status": status_code,
        }
    if isinstance(exc, ApiError):
        body: dict = {"error": exc.message}
        if exc.field:
            body["field"] = exc.field
        body["status"] = status_code
        return body
    return {"error": _first_message(exc.detail), "status": status_code}


def _first_message(detail: object) -> str:
    """DRF's own errors may be nested lists/dicts: report the first message."""
    while isinstance(detail, list | dict) and detail:
        detail = next(iter(detail.values())) if isinstance(detail, dict) else detail[0]
    return str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    # Imported here: rest_framework.views imports the authentication classes,
    # which raise the errors above.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    response.data = error_body(exc, response.status_code)
    if isinstance(exc, ApiError):
        for name, value in exc.headers.items():
            response[name] = value
    return response
