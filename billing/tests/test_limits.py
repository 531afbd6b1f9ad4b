"""Abuse and allowance limits: the messages, the 429s and the X-RateLimit headers."""

from __future__ import annotations

import time

import pytest

from billing.credits import DAILY_LIMIT
from billing.models import AnonymousUsage
from billing.ratelimit import TOO_FAST

pytestmark = pytest.mark.django_db


def test_every_api_response_carries_rate_limit_headers(
    rmbg, client, small_car_jpeg, alice_key, settings
):
    settings.API_RATE_LIMIT = "100/minute"
    responses = [
        rmbg(small_car_jpeg),  # 200, anonymous
        rmbg(b"junk", name="x.png"),  # 400
        rmbg(small_car_jpeg, headers={"x-api-key": "rbg_wrong-key-wrong-key-wrong"}),  # 401
        client.get("/api/membership-usage", headers={"x-api-key": alice_key}),  # 200
    ]
    assert [r.status_code for r in responses] == [200, 400, 401, 200]
    for response in responses:
        assert response["X-RateLimit-Limit"] == "100"
        assert 0 <= int(response["X-RateLimit-Remaining"]) < 100
        assert int(response["X-RateLimit-Reset"]) >= int(time.time())


def test_remaining_counts_down(rmbg, small_car_jpeg, alice_key, settings):
    settings.API_RATE_LIMIT = "5/minute"
    remaining = [
        rmbg(b"junk", name="x.png", headers={"x-api-key": alice_key})["X-RateLimit-Remaining"]
        for _ in range(3)
    ]
    assert remaining == ["4", "3", "2"]


def test_too_many_requests_get_a_429_with_retry_after(rmbg, small_car_jpeg, alice_key, settings):
    settings.API_RATE_LIMIT = "3/minute"
    headers = {"x-api-key": alice_key}
    statuses = [rmbg(small_car_jpeg, headers=headers).status_code for _ in range(3)]
    refused = rmbg(small_car_jpeg, headers=headers)
    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json() == {"error": TOO_FAST, "status": 429}
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Remaining"] == "0"
    assert "X-Credits-Charged" not in refused


def test_the_limit_is_per_key_user_or_ip(rmbg, small_car_jpeg, alice_key, bob, settings):
    from accounts.models import ApiKey

    settings.API_RATE_LIMIT = "2/minute"
    other_key = ApiKey.issue(bob, "b")[1]
    bob.emailaddress_set.update(verified=True)
    for _ in range(2):
        rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert rmbg(small_car_jpeg, headers={"x-api-key": alice_key}).status_code == 429
    assert rmbg(small_car_jpeg, headers={"x-api-key": other_key}).status_code == 200
    assert rmbg(small_car_jpeg).status_code == 200  # anonymous, by IP


def test_anonymous_visitors_get_a_daily_allowance_per_ip(rmbg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 2
    assert [rmbg(small_car_jpeg).status_code for _ in range(2)] == [200, 200]
    refused = rmbg(small_car_jpeg)
    assert refused.status_code == 429
    assert refused.json() == {"error": DAILY_LIMIT, "status": 429}
    other_ip = rmbg(small_car_jpeg, remote_addr="203.0.113.5")
    assert other_ip.status_code == 200


def test_a_failed_anonymous_request_uses_no_allowance(rmbg, car_jpeg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 1
    truncated = car_jpeg[: len(car_jpeg) // 3]
    assert rmbg(truncated).status_code == 400  # fails after the reservation
    assert AnonymousUsage.objects.get().used == 0
    assert rmbg(small_car_jpeg).status_code == 200
