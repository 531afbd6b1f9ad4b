"""What a caller who hit a limit is told: the daily 429 says when to come back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from billing.credits import DAILY_LIMIT, seconds_to_next_utc_midnight

pytestmark = pytest.mark.django_db


def test_the_daily_429_says_when_the_allowance_resets(rmbg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 1
    assert rmbg(small_car_jpeg).status_code == 200
    before = timezone.now()
    refused = rmbg(small_car_jpeg)
    after = timezone.now()
    assert refused.status_code == 429
    assert refused.json() == {"error": DAILY_LIMIT, "status": 429}
    wait = int(refused["Retry-After"])
    assert seconds_to_next_utc_midnight(after) <= wait <= seconds_to_next_utc_midnight(before)


def test_the_next_utc_midnight_is_counted_in_whole_seconds():
    assert seconds_to_next_utc_midnight(datetime(2026, 11, 29, 23, 59, 30, tzinfo=UTC)) == 30
    assert seconds_to_next_utc_midnight(datetime(2026, 11, 29, 0, 0, tzinfo=UTC)) == 86400
