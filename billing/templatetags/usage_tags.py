from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def date_from_unix(value: int) -> str:
    return date_format(datetime.fromtimestamp(int(value), tz=UTC), "j M Y")


@register.filter
def subtract(value: float, amount: float) -> float:
    return round(float(value) - float(amount), 2)
