"""Python client for Cutout, and any server that speaks rembg.com's /rmbg API."""

from __future__ import annotations

from cutout_client.client import AsyncClient, Client
from cutout_client.errors import (
    ApiError,
    ConnectionFailed,
    CutoutError,
    DailyLimitReached,
    EmailNotVerified,
    FieldDetail,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidApiKey,
    MonthlyLimitReached,
    PermissionDenied,
    ServerBusy,
    TooManyRequests,
    ValidationError,
)
from cutout_client.types import (
    BillingCycle,
    BillingCycleSummary,
    MembershipUsage,
    Model,
    Models,
    Progress,
    Result,
)

__all__ = [
    "ApiError",
    "AsyncClient",
    "BillingCycle",
    "BillingCycleSummary",
    "Client",
    "ConnectionFailed",
    "CutoutError",
    "DailyLimitReached",
    "EmailNotVerified",
    "FieldDetail",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InvalidApiKey",
    "MembershipUsage",
    "Model",
    "Models",
    "MonthlyLimitReached",
    "PermissionDenied",
    "Progress",
    "Result",
    "ServerBusy",
    "TooManyRequests",
    "ValidationError",
]
