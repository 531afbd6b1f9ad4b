"""GET /api/membership-usage: parameters and the report, as rembg.com documents them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from billing import periods, usage
from billing.credits import available
from billing.models import CreditAccount
from billing.periods import Period
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
    account = CreditAccount.objects.for_user(user)
    if query.list_cycles:
        cycles = [cycle_usage(account, period).as_json() for period in periods.cycles(account)]
        return {"billingCycles": cycles}
    if query.period_start is not None:
        app, api = usage.count(account, usage.cycle_buckets(user.pk, query.period_start))
    else:
        app, api = usage.count(account, usage.month_buckets(user.pk, query.year, query.month))
    left = available(account, timezone.now())  # read once, for the body and its cycle
    body = {
        "membership": account.plan.label,
        "credits": account.plan.included_credits,
        "prepaidCredits": left[1],
        "app_usage": app,
        "api_usage": api,
    }
    if query.include_cycle:
        start = query.period_start or account.period_start
        cycle = billing_cycle(account, periods.cycle_at(account, start), left=left)
        body["billingCycle"] = cycle.as_billing_cycle()
    return body


@dataclass(frozen=True)
class CycleUsage:
    """One billing period's usage and credits."""

    period: Period
    app: int
    api: int
    included: int = 0
    prepaid: int = 0
    remaining: int = 0

    @property
    def used(self) -> int:
        return self.app + self.api

    def as_json(self) -> dict:
        """The list entry of ``billingCycles``."""
        return {
            "periodStartUnix": self.period.start_unix,
            "periodEndUnix": self.period.end_unix,
            "appUsage": self.app,
            "apiUsage": self.api,
        }

    def as_billing_cycle(self) -> dict:
        """``billingCycle``, with the credits of the period."""
        return {
            **self.as_json(),
            "includedCredits": self.included,
            "prepaidCredits": self.prepaid,
            "usedIncludedCredits": self.used,
            "remainingIncludedCredits": self.remaining,
            "stripeBillingSynced": self.period.from_stripe,
        }


def cycle_usage(account: CreditAccount, period: Period) -> CycleUsage:
    """What the period's counters say, without its credits."""
    app, api = usage.count(account, usage.cycle_buckets(account.user_id, period.start))
    return CycleUsage(period, app, api)


def billing_cycle(
    account: CreditAccount, period: Period, *, left: tuple[int, int] | None = None
) -> CycleUsage:
    """One period's usage and credits, as membership-usage's ``billingCycle``.

    ``left``: ``credits.available()`` for now, when the caller has read it already.
    """
    counted = cycle_usage(account, period)
    included = account.plan.included_credits
    remaining = max(0, included - counted.used)
    prepaid = account.prepaid_balance
    if period.start == account.period_start:
        # Credits held by requests that may still be running are not available:
        # the report agrees with what a request would be refused.
        included_left, prepaid = left or available(account, timezone.now())
        remaining = min(remaining, included_left)
    return CycleUsage(period, counted.app, counted.api, included, prepaid, remaining)
