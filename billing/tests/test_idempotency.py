"""An Idempotency-Key is bound to the request it was first used with."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from billing.models import Charge
from billing.tests.helpers import committed, put_on_plan

pytestmark = [pytest.mark.django_db, pytest.mark.embedded]

REUSED = {
    "error": "Idempotency-Key has already been used for a different request",
    "status": 422,
}


@pytest.fixture(scope="module")
def other_jpeg(small_car_jpeg: bytes) -> bytes:
    """Another photo: the car, mirrored."""
    image = Image.open(io.BytesIO(small_car_jpeg)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def test_a_key_reused_for_another_image_is_refused_and_nothing_is_processed(
    rmbg, small_car_jpeg, other_jpeg, alice, alice_key
):
    headers = {"x-api-key": alice_key, "Idempotency-Key": "order-1"}
    assert rmbg(small_car_jpeg, headers=headers)["X-Credits-Charged"] == "1"

    reused = rmbg(other_jpeg, headers=headers)
    assert reused.status_code == 422
    assert reused.json() == REUSED
    assert "X-Credits-Charged" not in reused
    assert committed(alice) == 1


def test_a_key_reused_at_a_zero_balance_gets_nothing_for_free(
    rmbg, small_car_jpeg, other_jpeg, alice, alice_key
):
    put_on_plan(alice, included=1)
    headers = {"x-api-key": alice_key, "Idempotency-Key": "order-2"}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200

    big = rmbg(other_jpeg, headers=headers, w=2000, h=1500)
    assert big.status_code == 422
    assert big["Content-Type"] == "application/json"
    assert Charge.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    "changed",
    [{"format": "png"}, {"mask": "true"}, {"bg_color": "#ff0000"}, {"w": "80"}, {"angle": "90"}],
)
def test_the_same_image_with_other_options_is_another_request(
    rmbg, small_car_jpeg, alice, alice_key, changed
):
    headers = {"x-api-key": alice_key, "Idempotency-Key": "order-3"}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert rmbg(small_car_jpeg, headers=headers, **changed).status_code == 422
    assert committed(alice) == 1


def test_the_same_options_written_differently_are_the_same_request(
    rmbg, small_car_jpeg, alice, alice_key
):
    headers = {"x-api-key": alice_key, "Idempotency-Key": "order-4"}
    first = rmbg(small_car_jpeg, headers=headers, format="png", mask="false")
    # What rembg.js sends for the defaults, spelled its way.
    retry = rmbg(small_car_jpeg, name="image.jpg", headers=headers, format="PNG", w="0", h="0")
    assert retry.status_code == 200
    assert (first["X-Credits-Charged"], retry["X-Credits-Charged"]) == ("1", "0")
    assert retry.content == first.content
    assert committed(alice) == 1


def test_a_retry_of_a_running_request_is_409_and_another_request_is_422(
    rmbg, small_car_jpeg, other_jpeg, alice, alice_key
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from billing.credits import reserve
    from removal.validation import parse_removal_request

    running = parse_removal_request({}, {"image": SimpleUploadedFile("a.jpg", small_car_jpeg)})
    reserve(alice, "api", ip="127.0.0.1", idempotency_key="slow-2", fingerprint=running.fingerprint)
    headers = {"x-api-key": alice_key, "Idempotency-Key": "slow-2"}

    assert rmbg(small_car_jpeg, headers=headers).status_code == 409
    assert rmbg(other_jpeg, headers=headers).json() == REUSED


def test_keys_are_scoped_per_user(rmbg, small_car_jpeg, other_jpeg, alice, alice_key, bob):
    from accounts.models import ApiKey
    from accounts.tests.factories import UserFactory

    carol = UserFactory(username="carol", verified=True)
    carol_key = ApiKey.issue(carol, "Carol's")[1]
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key, "Idempotency-Key": "shared"})

    response = rmbg(other_jpeg, headers={"x-api-key": carol_key, "Idempotency-Key": "shared"})
    assert response.status_code == 200
    assert response["X-Credits-Charged"] == "1"
    assert committed(carol) == 1


def test_an_anonymous_retry_uses_the_allowance_once(rmbg, small_car_jpeg, settings):
    from billing.models import AnonymousUsage

    settings.ANONYMOUS_DAILY_LIMIT = 1
    headers = {"Idempotency-Key": "visitor-1"}
    first = rmbg(small_car_jpeg, headers=headers)
    retry = rmbg(small_car_jpeg, headers=headers)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert (first["X-Credits-Charged"], retry["X-Credits-Charged"]) == ("1", "0")
    assert AnonymousUsage.objects.get().used == 1


def test_an_anonymous_key_is_bound_to_its_request_and_scoped_per_address(
    rmbg, small_car_jpeg, other_jpeg
):
    headers = {"Idempotency-Key": "visitor-2"}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert rmbg(other_jpeg, headers=headers).json() == REUSED
    # Another address (outside this /64) is another caller.
    elsewhere = rmbg(other_jpeg, headers=headers, remote_addr="198.51.100.8")
    assert elsewhere["X-Credits-Charged"] == "1"


def test_a_failed_anonymous_request_frees_its_key(rmbg, car_jpeg, small_car_jpeg):
    from billing.models import AnonymousUsage

    headers = {"Idempotency-Key": "visitor-3"}
    truncated = car_jpeg[: len(car_jpeg) // 3]
    assert rmbg(truncated, headers=headers).status_code == 400  # fails after reserving
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert AnonymousUsage.objects.get().used == 1
