from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def subtract(value: float, amount: float) -> float:
    return round(float(value) - float(amount), 2)
