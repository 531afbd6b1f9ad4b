"""GET /api/membership-usage: parameters and the report, as rembg.com documents them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from billing import usage
from billing.credits import account_for
from billing.models import BillingPeriod, CreditAccount
from config.errors import FieldError, InvalidInput, parse_integer

TRUTHY = {"1", "true"}
FLAGS = TRUTHY | {"0", "false"}
# The last month reported must end before year 10000, the end of Python's datetime:
# December 9999 would end in year 10000.
YEARS = (1, 9998)
PERIOD_STARTS = (0, int(datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()))


@dataclass(frozen=True)
class UsageQuery:
    year: int
    month: int
    period_start: datetime | None
    include_cycle: bool
    list_cycles: bool


def parse_query(params) -> UsageQuery:
    now = timezone.now()
    errors: list[FieldError] = []
    if _flag(params, "listBillingCycles", errors):
        return UsageQuery(now.year, now.month, None, False, True)
    year = _integer(params, "year", *YEARS, errors)
    month = _integer(params, "month", 1, 12, errors)
    start_unix = _integer(params, "periodStartUnix", *PERIOD_STARTS, errors)
    if start_unix is not None and (params.get("year") or params.get("month")):
        errors.append(
            FieldError(
                "periodStartUnix", "'periodStartUnix' cannot be combined with 'year' or 'month'"
            )
        )
    # A list of flags, as rembg.com reads it: flags it does not know are ignored.
    expand = {f.strip() for f in params.get("expand", "").split(",")}
    include = _flag(params, "includeBillingCycle", errors)
    if errors:
        raise InvalidInput(errors)
    return UsageQuery(
        year=year or now.year,
        month=month or now.month,
        period_start=None if start_unix is None else datetime.fromtimestamp(start_unix, tz=UTC),
        include_cycle=include or "billing_cycle" in expand,
        list_cycles=False,
    )


def _integer(params, name: str, low: int, high: int, errors: list[FieldError]) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    value = parse_integer(name, raw, errors)
    if value is None:
        return None
    if not low <= value <= high:
        errors.append(FieldError(name, f"'{name}' must be between {low} and {high}, got: {value}"))
        return None
    return value


def _flag(params, name: str, errors: list[FieldError]) -> bool:
    raw = params.get(name)
    if raw is None:
        return False
    if raw.lower() not in FLAGS:
        errors.append(FieldError(name, f"'{name}' must be 1, true, 0 or false, got: '{raw}'"))
        return False
    return raw.lower() in TRUTHY


def report(user, query: UsageQuery) -> dict:
    account = account_for(user)
    if query.list_cycles:
        return {
            "billingCycles": [
                _cycle(account, start, end) for start, end in usage.billing_cycles(user, account)
            ]
        }
    if query.period_start is not None:
        app, api = usage.count(account, usage.cycle_buckets(user.pk, query.period_start))
    else:
        app, api = usage.count(account, usage.month_buckets(user.pk, query.year, query.month))
    body = {
        "membership": account.plan.label,
        "credits": account.plan.included_credits,
        "prepaidCredits": account.prepaid_balance,
        "app_usage": app,
        "api_usage": api,
    }
    if query.include_cycle:
        body["billingCycle"] = billing_cycle(user, account, query.period_start)
    return body


def _cycle(account: CreditAccount, start: datetime, end: datetime) -> dict:
    app, api = usage.count(account, usage.cycle_buckets(account.user_id, start))
    return {
        "periodStartUnix": int(start.timestamp()),
        "periodEndUnix": int(end.timestamp()),
        "appUsage": app,
        "apiUsage": api,
    }


def billing_cycle(user, account: CreditAccount, period_start: datetime | None) -> dict:
    start = period_start or account.period_start
    end = (
        account.period_end
        if start == account.period_start
        else usage.cycle_end(user, account, start)
    )
    cycle = _cycle(account, start, end)
    used = cycle["appUsage"] + cycle["apiUsage"]
    included = account.plan.included_credits
    return {
        **cycle,
        "includedCredits": included,
        "prepaidCredits": account.prepaid_balance,
        "usedIncludedCredits": used,
        "remainingIncludedCredits": max(0, included - used),
        "stripeBillingSynced": (
            account.period_from_stripe
            if start == account.period_start
            else BillingPeriod.objects.filter(
                user=user, start=start, source=BillingPeriod.STRIPE
            ).exists()
        ),
    }
