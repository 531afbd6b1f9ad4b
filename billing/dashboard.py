"""The usage dashboard's data: one billing period, its daily usage, and every period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing import membership, periods, stripe_gateway
from billing.models import Charge, CreditAccount

CHART_WIDTH = 720
CHART_HEIGHT = 180


@dataclass(frozen=True)
class Bar:
    day: date
    app: int
    api: int
    x: float
    width: float
    app_height: float
    api_height: float

    @property
    def total(self) -> int:
        return self.app + self.api


def period_view(user, requested_start: str | None) -> dict:
    account = CreditAccount.objects.for_user(user)
    cycles = periods.cycles(account)
    by_start = {period.start_unix: period for period in cycles}
    selected = by_start.get(_int(requested_start)) or cycles[0]
    cycle = membership.billing_cycle(account, periods.cycle_at(account, selected.start))
    bars, peak = daily_bars(user, selected.start, min(cycle.period.end, timezone.now()))
    used_percent = min(100, round(100 * cycle.used / cycle.included)) if cycle.included else 100
    return {
        "account": account,
        "cycles": cycles,
        "selected": selected,
        "cycle": cycle,
        "bars": bars,
        "peak": peak,
        "used_percent": used_percent,
        "warning": usage_warning(used_percent, current=selected is cycles[0]),
        "can_buy": stripe_gateway.configured(),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
    }


def usage_warning(used_percent: int, *, current: bool) -> str:
    """ "full" at 100 % of the included credits, "near" from 80 %: only for the current period."""
    if not current:
        return ""
    if used_percent >= 100:
        return "full"
    return "near" if used_percent >= 80 else ""


def daily_bars(user, start: datetime, last: datetime) -> tuple[list[Bar], int]:
    rows = (
        Charge.objects.filter(user=user, status=Charge.COMMITTED, period_start=start)
        .annotate(day=TruncDate("charged_at", tzinfo=UTC))
        .values("day", "channel")
        .annotate(n=Count("id"))
    )
    per_day: dict[date, dict[str, int]] = {}
    for row in rows:
        per_day.setdefault(row["day"], {})[row["channel"]] = row["n"]
    days = []
    day = start.date()
    while day <= last.date() and len(days) < 62:
        days.append(day)
        day += timedelta(days=1)
    days = days or [start.date()]
    peak = max([sum(v.values()) for v in per_day.values()] + [1])
    slot = CHART_WIDTH / len(days)
    bars = []
    for i, day in enumerate(days):
        counts = per_day.get(day, {})
        app, api = counts.get(Charge.APP, 0), counts.get(Charge.API, 0)
        bars.append(
            Bar(
                day=day,
                app=app,
                api=api,
                x=round(i * slot + slot * 0.15, 2),
                width=round(slot * 0.7, 2),
                app_height=round(CHART_HEIGHT * app / peak, 2),
                api_height=round(CHART_HEIGHT * api / peak, 2),
            )
        )
    return bars, peak


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None
