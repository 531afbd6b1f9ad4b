"""Python client for Cutout, and any server that speaks rembg.com's /rmbg API."""

from __future__ import annotations

from cutout_client.batches import AsyncBatch, Batch, BatchCounts, BatchFile
from cutout_client.client import AsyncClient, Client
from cutout_client.errors import (
    ApiError,
    BatchNotEnded,
    ConnectionFailed,
    CutoutError,
    DailyLimitReached,
    EmailNotVerified,
    FieldDetail,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InvalidApiKey,
    InvalidSignature,
    MonthlyLimitReached,
    NotFound,
    PermissionDenied,
    ServerBusy,
    TooManyRequests,
    ValidationError,
    WaitTimeout,
)
from cutout_client.many import Failure, ManyProgress, ManyReport
from cutout_client.signatures import verify_callback
from cutout_client.types import (
    BillingCycle,
    BillingCycleSummary,
    MembershipUsage,
    Model,
    Models,
    Progress,
    RemovalOptions,
    Result,
)

__all__ = [
    "ApiError",
    "AsyncBatch",
    "AsyncClient",
    "Batch",
    "BatchCounts",
    "BatchFile",
    "BatchNotEnded",
    "BillingCycle",
    "BillingCycleSummary",
    "Client",
    "ConnectionFailed",
    "CutoutError",
    "DailyLimitReached",
    "EmailNotVerified",
    "Failure",
    "FieldDetail",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InvalidApiKey",
    "InvalidSignature",
    "ManyProgress",
    "ManyReport",
    "MembershipUsage",
    "Model",
    "Models",
    "MonthlyLimitReached",
    "NotFound",
    "PermissionDenied",
    "Progress",
    "RemovalOptions",
    "Result",
    "ServerBusy",
    "TooManyRequests",
    "ValidationError",
    "WaitTimeout",
    "verify_callback",
]
