"""OpenAPI description of GET /api/membership-usage."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from removal.schema import ERROR_BODY

CYCLE = {
    "periodStartUnix": serializers.IntegerField(),
    "periodEndUnix": serializers.IntegerField(),
    "appUsage": serializers.IntegerField(),
    "apiUsage": serializers.IntegerField(),
}

BILLING_CYCLE = inline_serializer(
    "BillingCycle",
    fields={
        **CYCLE,
        "includedCredits": serializers.IntegerField(),
        "prepaidCredits": serializers.IntegerField(),
        "usedIncludedCredits": serializers.IntegerField(help_text="appUsage + apiUsage"),
        "remainingIncludedCredits": serializers.IntegerField(
            help_text="max(0, includedCredits − usedIncludedCredits)"
        ),
        "stripeBillingSynced": serializers.BooleanField(
            help_text="true when the period comes from Stripe, false for a calendar month"
        ),
    },
)

USAGE = inline_serializer(
    "MembershipUsage",
    fields={
        "membership": serializers.CharField(help_text="The plan, e.g. Free or Premium-20000."),
        "credits": serializers.IntegerField(help_text="Credits included per billing period."),
        "prepaidCredits": serializers.IntegerField(help_text="Prepaid credits left."),
        "app_usage": serializers.IntegerField(help_text="Images from the web app."),
        "api_usage": serializers.IntegerField(help_text="Images from API keys."),
        "billingCycle": BILLING_CYCLE,
        "billingCycles": serializers.ListField(
            child=inline_serializer("BillingCycleSummary", fields=CYCLE),
            help_text="Only with listBillingCycles, and then alone.",
        ),
    },
)

MEMBERSHIP_USAGE = {
    "operation_id": "membershipUsage",
    "summary": "Plan, credits and usage",
    "description": (
        "Usage of the caller's account (x-api-key only). Without parameters: the current "
        "UTC calendar month. `year`/`month` pick another month; `periodStartUnix` picks a "
        "billing period instead (not with `year`/`month`). `expand=billing_cycle` or "
        "`includeBillingCycle=true` adds `billingCycle`. `listBillingCycles=true` returns "
        "only `billingCycles`, newest first, and ignores everything else."
    ),
    "parameters": [
        OpenApiParameter("year", OpenApiTypes.INT, description="1–9999, UTC calendar year."),
        OpenApiParameter("month", OpenApiTypes.INT, description="1–12."),
        OpenApiParameter(
            "periodStartUnix", OpenApiTypes.INT, description="Start of a billing period (unix s)."
        ),
        OpenApiParameter(
            "expand", OpenApiTypes.STR, description="Comma-separated flags: billing_cycle."
        ),
        OpenApiParameter("includeBillingCycle", OpenApiTypes.STR, enum=["1", "true", "0", "false"]),
        OpenApiParameter("listBillingCycles", OpenApiTypes.STR, enum=["1", "true", "0", "false"]),
    ],
    "responses": {
        200: OpenApiResponse(
            USAGE,
            examples=[
                OpenApiExample(
                    "Current month with its billing cycle",
                    value={
                        "membership": "Premium-20000",
                        "credits": 20000,
                        "prepaidCredits": 500,
                        "app_usage": 12,
                        "api_usage": 340,
                        "billingCycle": {
                            "periodStartUnix": 1764547200,
                            "periodEndUnix": 1767225600,
                            "appUsage": 12,
                            "apiUsage": 340,
                            "includedCredits": 20000,
                            "prepaidCredits": 500,
                            "usedIncludedCredits": 352,
                            "remainingIncludedCredits": 19648,
                            "stripeBillingSynced": True,
                        },
                    },
                ),
                OpenApiExample(
                    "listBillingCycles=true",
                    value={
                        "billingCycles": [
                            {
                                "periodStartUnix": 1764547200,
                                "periodEndUnix": 1767225600,
                                "appUsage": 12,
                                "apiUsage": 340,
                            },
                            {
                                "periodStartUnix": 1761955200,
                                "periodEndUnix": 1764547199,
                                "appUsage": 3,
                                "apiUsage": 1022,
                            },
                        ]
                    },
                ),
            ],
        ),
        400: OpenApiResponse(
            ERROR_BODY,
            examples=[
                OpenApiExample(
                    "Period and month together",
                    value={
                        "error": "'periodStartUnix' cannot be combined with 'year' or 'month'",
                        "field": "periodStartUnix",
                        "status": 400,
                    },
                )
            ],
        ),
        401: OpenApiResponse(ERROR_BODY, description="Missing or invalid API key."),
        429: OpenApiResponse(ERROR_BODY, description="Too many requests; see Retry-After."),
    },
    "tags": ["Account"],
}
