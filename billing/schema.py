"""OpenAPI description of GET /api/membership-usage."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    inline_serializer,
)
from rest_framework import serializers

from billing.membership import FLAGS, PERIOD_STARTS, YEARS
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
    required=False,
    help_text="Only with expand=billing_cycle or includeBillingCycle.",
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
    },
)

CYCLES = inline_serializer(
    "BillingCycleList",
    fields={
        "billingCycles": serializers.ListField(
            child=inline_serializer("BillingCycleSummary", fields=CYCLE),
            help_text="Newest first.",
        ),
    },
)

# Two bodies: the report, or (listBillingCycles) the cycles alone. Neither has the
# other's keys, so a client or a validator tells them apart by their required keys.
USAGE_OR_CYCLES = PolymorphicProxySerializer(
    component_name="MembershipUsageResponse",
    serializers=[USAGE, CYCLES],
    resource_type_field_name=None,
)


def _integer(low: int, high: int) -> dict:
    # The server reads ASCII digits only (config.errors.parse_integer).
    return {"type": "integer", "minimum": low, "maximum": high}


def _any_case(words) -> str:
    """A pattern matching ``words`` in any case (JSON Schema patterns have no flags)."""
    spelled = ("".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in w) for w in words)
    return f"^({'|'.join(sorted(spelled))})$"


# Any case, as billing.membership reads them: "True" is accepted, so the spec says so.
# No example: Swagger's "Try it out" would fill it in, and listBillingCycles=true
# answers something else than a newcomer's first call expects.
_FLAG = {"type": "string", "pattern": _any_case(FLAGS)}

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
        OpenApiParameter(
            "year",
            _integer(*YEARS),
            description="UTC calendar year (December 9999 would end in year 10000).",
        ),
        OpenApiParameter("month", _integer(1, 12), description="UTC calendar month."),
        OpenApiParameter(
            "periodStartUnix",
            _integer(*PERIOD_STARTS),
            description="Start of a billing period (unix s).",
        ),
        OpenApiParameter(
            "expand",
            OpenApiTypes.STR,
            description="Comma-separated flags; `billing_cycle` adds `billingCycle`, "
            "flags it does not know are ignored.",
        ),
        OpenApiParameter("includeBillingCycle", _FLAG),
        OpenApiParameter("listBillingCycles", _FLAG),
    ],
    "responses": {
        200: OpenApiResponse(
            USAGE_OR_CYCLES,
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
