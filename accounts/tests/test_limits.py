"""Abuse and allowance limits: the messages, the 429s and the X-RateLimit headers."""

from __future__ import annotations

import time

import pytest

from accounts.ratelimit import TOO_FAST
from billing.credits import DAILY_LIMIT
from billing.models import AnonymousUsage

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


def test_the_limit_is_per_user_or_ip(rmbg, small_car_jpeg, alice_key, bob, settings):
    from accounts.models import ApiKey

    settings.API_RATE_LIMIT = "2/minute"
    other_key = ApiKey.issue(bob, "b")[1]
    bob.emailaddress_set.update(verified=True)
    for _ in range(2):
        rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert rmbg(small_car_jpeg, headers={"x-api-key": alice_key}).status_code == 429
    assert rmbg(small_car_jpeg, headers={"x-api-key": other_key}).status_code == 200
    assert rmbg(small_car_jpeg).status_code == 200  # anonymous, by IP


def test_more_keys_do_not_raise_a_users_limit(rmbg, small_car_jpeg, alice, alice_key, settings):
    from accounts.authentication import issue_user_token
    from accounts.models import ApiKey

    settings.API_RATE_LIMIT = "3/minute"
    second_key = ApiKey.issue(alice, "second")[1]
    third_key = ApiKey.issue(alice, "third")[1]
    statuses = [
        rmbg(small_car_jpeg, headers={"x-api-key": key}).status_code
        for key in (alice_key, second_key, third_key)
    ]
    assert statuses == [200, 200, 200]
    assert rmbg(small_car_jpeg, headers={"x-api-key": second_key}).status_code == 429
    token = {"Authorization": f"Bearer {issue_user_token(alice)}"}
    assert rmbg(small_car_jpeg, headers=token).status_code == 429


def test_ipv6_addresses_of_one_64_share_the_short_term_limit(rmbg, small_car_jpeg, settings):
    settings.API_RATE_LIMIT = "2/minute"
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:fff0"]
    statuses = [rmbg(small_car_jpeg, remote_addr=ip).status_code for ip in same_64]
    assert statuses == [200, 200, 429]
    assert rmbg(small_car_jpeg, remote_addr="2001:db8:1:3::1").status_code == 200


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


def test_ipv6_addresses_of_one_64_share_the_daily_allowance(rmbg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 2
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:abcd::5"]
    statuses = [rmbg(small_car_jpeg, remote_addr=ip).status_code for ip in same_64]
    assert statuses == [200, 200, 429]
    assert rmbg(small_car_jpeg, remote_addr="2001:db8:1:3::1").status_code == 200


def test_the_ipv6_prefix_length_is_a_setting(rmbg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 1
    settings.IPV6_PREFIX_LENGTH = 128
    statuses = [rmbg(small_car_jpeg, remote_addr=f"2001:db8:1:2::{n}").status_code for n in (1, 2)]
    assert statuses == [200, 200]
    settings.IPV6_PREFIX_LENGTH = 48
    assert rmbg(small_car_jpeg, remote_addr="2001:db8:1:5::1").status_code == 200
    assert rmbg(small_car_jpeg, remote_addr="2001:db8:1:9::1").status_code == 429


def test_an_ipv4_mapped_address_is_its_ipv4_address(rmbg, small_car_jpeg, settings):
    settings.ANONYMOUS_DAILY_LIMIT = 1
    assert rmbg(small_car_jpeg, remote_addr="198.51.100.4").status_code == 200
    assert rmbg(small_car_jpeg, remote_addr="::ffff:198.51.100.4").status_code == 429
    assert AnonymousUsage.objects.get().ip == "198.51.100.4"
