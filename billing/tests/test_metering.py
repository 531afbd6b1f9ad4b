"""A successful image costs one credit; nothing else costs anything."""

from __future__ import annotations

import pytest

from accounts.authentication import issue_user_token
from billing import counters
from billing.credits import MONTHLY_LIMIT
from billing.models import Charge
from billing.tests.helpers import account_for, committed, put_on_plan
from removal import inference

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]


def test_a_success_costs_one_credit_and_says_so(rmbg, small_car_jpeg, alice, alice_key):
    response = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert response.status_code == 200
    assert response["X-Credits-Charged"] == "1"
    charge = Charge.objects.get(user=alice)
    assert (charge.status, charge.channel, charge.source) == ("committed", "api", "included")
    assert charge.api_key.prefix == alice_key[:12]
    assert account_for(alice).included_used == 1


def test_the_web_apps_token_counts_as_app_usage(rmbg, small_car_jpeg, alice):
    headers = {"Authorization": f"Bearer {issue_user_token(alice)}"}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert committed(alice, channel="app") == 1
    assert committed(alice, channel="api") == 0


def test_invalid_input_costs_nothing(rmbg, alice, alice_key):
    response = rmbg(b"not an image", name="x.png", headers={"x-api-key": alice_key})
    assert response.status_code == 400
    assert "X-Credits-Charged" not in response
    assert Charge.objects.count() == 0


def test_a_failure_during_inference_costs_nothing(
    rmbg, small_car_jpeg, alice, alice_key, monkeypatch
):
    model = inference.get_model()

    def explode(image):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(model, "predict", explode)
    with pytest.raises(RuntimeError):
        rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert Charge.objects.count() == 0
    assert account_for(alice).included_used == 0


def test_an_image_that_fails_to_decode_after_reserving_costs_nothing(
    rmbg, car_jpeg, alice, alice_key
):
    # The header is fine (validation passes), the pixel data is cut short.
    response = rmbg(car_jpeg[: len(car_jpeg) // 3], headers={"x-api-key": alice_key})
    assert response.status_code == 400
    assert Charge.objects.count() == 0


def test_included_credits_go_first_then_prepaid(rmbg, small_car_jpeg, alice, alice_key):
    put_on_plan(alice, included=2, prepaid=2)
    sources = []
    for _ in range(4):
        response = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
        assert response.status_code == 200
        sources.append(Charge.objects.filter(user=alice).order_by("-pk").first().source)
    assert sources == ["included", "included", "prepaid", "prepaid"]
    account = account_for(alice)
    assert (account.included_used, account.prepaid_balance) == (2, 0)

    refused = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert refused.status_code == 429
    assert refused.json() == {"error": MONTHLY_LIMIT, "status": 429}
    assert committed(alice) == 4


def test_prepaid_credits_are_not_spent_while_included_ones_remain(
    rmbg, small_car_jpeg, alice, alice_key
):
    put_on_plan(alice, included=5, prepaid=3)
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert account_for(alice).prepaid_balance == 3


def test_an_idempotent_retry_is_not_charged_twice(rmbg, small_car_jpeg, alice, alice_key):
    headers = {"x-api-key": alice_key, "Idempotency-Key": "order-42"}
    first = rmbg(small_car_jpeg, headers=headers)
    retry = rmbg(small_car_jpeg, headers=headers)
    assert first.status_code == retry.status_code == 200
    assert (first["X-Credits-Charged"], retry["X-Credits-Charged"]) == ("1", "0")
    assert retry.content == first.content
    assert committed(alice) == 1
    other = rmbg(small_car_jpeg, headers={**headers, "Idempotency-Key": "order-43"})
    assert other["X-Credits-Charged"] == "1"
    assert committed(alice) == 2


def test_a_retry_of_a_failed_request_fails_the_same_way_for_free(rmbg, alice, alice_key):
    headers = {"x-api-key": alice_key, "Idempotency-Key": "bad-1"}
    statuses = [rmbg(b"nope", name="x.png", headers=headers).status_code for _ in range(2)]
    assert statuses == [400, 400]
    assert Charge.objects.count() == 0


def test_an_idempotency_key_can_be_reused_after_24_hours(rmbg, small_car_jpeg, alice, alice_key):
    from datetime import timedelta

    headers = {"x-api-key": alice_key, "Idempotency-Key": "daily-job"}
    rmbg(small_car_jpeg, headers=headers)
    Charge.objects.update(reserved_at=Charge.objects.get().reserved_at - timedelta(hours=25))
    assert rmbg(small_car_jpeg, headers=headers)["X-Credits-Charged"] == "1"
    assert committed(alice) == 2


def test_counters_use_the_documented_redis_keys(
    rmbg, small_car_jpeg, alice, alice_key, django_capture_on_commit_callbacks
):
    from billing.membership import UsageQuery, report

    with django_capture_on_commit_callbacks(execute=True):
        account = account_for(alice)
    now = account.period_start
    # Reading builds the counters; the charge after it increments them.
    report(alice, UsageQuery(now.year, now.month, None, True, False))
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    rmbg(small_car_jpeg, headers={"Authorization": f"Bearer {issue_user_token(alice)}"})
    month = f"{now.year}:{now.month}"
    cycle = int(account.period_start.timestamp())
    redis = counters.client()
    assert redis.get(f"user:{alice.pk}:api_usage:{month}") == b"1"
    assert redis.get(f"user:{alice.pk}:app_usage:{month}") == b"1"
    assert redis.get(f"user:{alice.pk}:api_usage:cycle:{cycle}") == b"1"
    assert redis.get(f"user:{alice.pk}:app_usage:cycle:{cycle}") == b"1"
    assert redis.get(f"user:{alice.pk}:billing_period_start") == str(cycle).encode()
    end = int(account.period_end.timestamp())
    assert redis.get(f"user:{alice.pk}:billing_period_end") == str(end).encode()


def test_a_request_that_costs_two_credits_takes_both_or_none(alice):
    from accounts.authentication import Caller
    from billing.credits import metered
    from config.errors import ApiError

    put_on_plan(alice, included=1, prepaid=2)
    caller = Caller(user=alice, channel="api", api_key=None, ip="127.0.0.1")
    with metered(caller, cost=2) as charged:
        pass
    assert charged.charges == 2
    assert committed(alice) == 2
    assert [c.source for c in Charge.objects.order_by("pk")] == ["included", "prepaid"]

    with pytest.raises(ApiError) as refused, metered(caller, cost=2):
        pass  # one prepaid credit left: not enough
    assert refused.value.status_code == 429
    assert committed(alice) == 2
    assert not Charge.objects.filter(status=Charge.RESERVED).exists()
    assert account_for(alice).prepaid_balance == 1
