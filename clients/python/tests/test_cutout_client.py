"""cutout_client.Client and AsyncClient against the live server: no mock of our server."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket

import cutout_client as cc
import pytest

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures for the live server (not a conftest.py: see live_fixtures.py).
pytest_plugins = ["live_fixtures"]


def api_usage(client: cc.Client) -> int:
    return client.membership_usage().api_usage


def test_it_removes_the_background_of_a_path_and_charges_one_credit(alice_client, car, tmp_path):
    result = alice_client.remove(car, format="png")
    assert (result.format, result.width, result.height) == ("png", 160, 120)
    assert result.credits_charged == 1
    saved = result.save(tmp_path / "out.png")
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert api_usage(alice_client) == 1


def test_it_takes_bytes_a_binary_file_and_base64(alice_client, car, small_car_jpeg):
    encoded = base64.b64encode(small_car_jpeg).decode()
    with car.open("rb") as file:
        inputs = [small_car_jpeg, file, {"base64": encoded}]
        inputs.append({"base64": f"data:image/jpeg;base64,{encoded}"})
        results = [alice_client.remove(image, w=80) for image in inputs]
    assert [(r.format, r.width, r.height) for r in results] == [("webp", 80, 60)] * 4
    assert api_usage(alice_client) == 4


def test_it_reports_upload_and_download_progress_like_rembgjs(alice_client, noisy_png):
    uploads: list[cc.Progress] = []
    downloads: list[cc.Progress] = []
    result = alice_client.remove(
        noisy_png, on_upload_progress=uploads.append, on_download_progress=downloads.append
    )
    assert len(uploads) > 1  # chunked: the upload is seen as it goes
    assert all(e.upload and not e.download for e in uploads)
    assert [e.loaded for e in uploads] == sorted({e.loaded for e in uploads})
    assert uploads[-1].loaded == uploads[-1].total > len(noisy_png)  # the multipart body
    assert uploads[-1].progress == 1.0
    assert sum(e.bytes for e in uploads) == uploads[-1].total
    assert downloads and all(e.download and not e.upload for e in downloads)
    assert downloads[-1].loaded == downloads[-1].total == len(result.content)
    assert downloads[-1].progress == 1.0


def test_a_wrong_key_is_an_invalid_api_key_error(server):
    with (
        cc.Client(api_key="rbg_not-a-key", base_url=server) as client,
        pytest.raises(cc.InvalidApiKey) as raised,
    ):
        client.remove(b"whatever")
    assert (raised.value.status, raised.value.message) == (401, "invalid api key")


def test_an_unverified_account_is_an_email_not_verified_error(server, bob_key, car):
    with (
        cc.Client(api_key=bob_key, base_url=server) as client,
        pytest.raises(cc.EmailNotVerified) as raised,
    ):
        client.remove(car)
    assert raised.value.status == 403


def test_validation_errors_name_their_fields(alice_client, car):
    with pytest.raises(cc.ValidationError) as raised:
        alice_client.remove(b"not an image at all")
    assert raised.value.field == "image"
    with pytest.raises(cc.ValidationError) as raised:
        alice_client.remove(car, format="gif", bg_color="no-such-colour")
    assert raised.value.message == "Multiple validation errors"
    assert {d.field for d in raised.value.details} == {"format", "bg_color"}
    assert api_usage(alice_client) == 0


def test_a_real_short_term_429_is_retried_and_charged_once(alice_client, car, settings, caplog):
    # Wide enough that the second call lands inside it on a loaded machine, where
    # the first can take over a second (a 1/second window flaked there).
    settings.API_RATE_LIMIT = "1 per 5 seconds"
    caplog.set_level(logging.INFO, logger="cutout_client")
    first = alice_client.remove(car)
    second = alice_client.remove(car)  # inside the window: refused with Retry-After, retried
    retries = [r.getMessage() for r in caplog.records if "retrying POST /rmbg" in r.getMessage()]
    assert retries and all("after 429" in line for line in retries)
    # Every attempt of the call carried the same Idempotency-Key.
    assert all(second.idempotency_key in line for line in retries)
    assert first.idempotency_key != second.idempotency_key
    assert (first.credits_charged, second.credits_charged) == (1, 1)
    assert api_usage(alice_client) == 2


def test_a_lost_answer_is_retried_under_the_same_key_and_not_charged_again(
    dropping_proxy, alice_key, car
):
    with cc.Client(api_key=alice_key, base_url=dropping_proxy.url, backoff=0.01) as client:
        result = client.remove(car)  # the first answer is cut after the server charged
    assert dropping_proxy.connections == 2
    assert (result.width, result.credits_charged) == (160, 0)  # the server's replay
    with cc.Client(api_key=alice_key, base_url=dropping_proxy.url) as client:
        assert api_usage(client) == 1


def test_without_retries_a_429_says_when_to_come_back(server, alice_key, car, settings):
    settings.API_RATE_LIMIT = "1/minute"
    with cc.Client(api_key=alice_key, base_url=server, max_retries=0) as client:
        client.remove(car)
        with pytest.raises(cc.TooManyRequests) as raised:
            client.remove(car)
    assert 0 < raised.value.retry_after <= 60


def test_a_retry_after_longer_than_a_minute_is_not_waited_for(alice_client, car, settings, caplog):
    settings.API_RATE_LIMIT = "1/hour"
    caplog.set_level(logging.INFO, logger="cutout_client")
    alice_client.remove(car)
    with pytest.raises(cc.TooManyRequests) as raised:
        alice_client.remove(car)
    assert raised.value.retry_after > 60
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_the_same_idempotency_key_is_not_charged_twice_nor_reused(alice_client, car, noisy_png):
    first = alice_client.remove(car, idempotency_key="order-1")
    again = alice_client.remove(car, idempotency_key="order-1")
    assert (first.credits_charged, again.credits_charged) == (1, 0)
    with pytest.raises(cc.IdempotencyKeyReused) as raised:
        alice_client.remove(noisy_png, idempotency_key="order-1")
    assert raised.value.status == 422
    assert api_usage(alice_client) == 1


def test_limits_that_waiting_does_not_lift_are_not_retried(server, alice, car, settings, caplog):
    from billing.tests.helpers import put_on_plan

    caplog.set_level(logging.INFO, logger="cutout_client")
    settings.ANONYMOUS_DAILY_LIMIT = 0
    with cc.Client(api_key="", base_url=server) as anonymous, pytest.raises(cc.DailyLimitReached):
        anonymous.remove(car)
    put_on_plan(alice, included=0)
    from accounts.models import ApiKey

    key = ApiKey.issue(alice, "broke")[1]
    with cc.Client(api_key=key, base_url=server) as client, pytest.raises(cc.MonthlyLimitReached):
        client.remove(car)
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]


def test_a_busy_server_is_a_server_busy_error(server, alice_key, car, settings):
    from removal.pipeline import processing_slots

    settings.REMOVAL_QUEUE_TIMEOUT = 0
    slots, held = processing_slots(), 0
    while slots.acquire(blocking=False):
        held += 1
    try:
        client = cc.Client(api_key=alice_key, base_url=server, max_retries=0)
        with client, pytest.raises(cc.ServerBusy) as raised:
            client.remove(car)
    finally:
        for _ in range(held):
            slots.release()
    assert (raised.value.status, raised.value.retry_after) == (503, 5)


def test_connection_errors_are_retried_with_backoff_then_raised(car, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens on it once closed
    caplog.set_level(logging.INFO, logger="cutout_client")
    client = cc.Client(
        api_key="k", base_url=f"http://127.0.0.1:{port}", max_retries=2, backoff=0.01
    )
    with client, pytest.raises(cc.ConnectionFailed):
        client.remove(car)
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all("ConnectError" in line for line in retries)


def test_usage_cycles_and_models(alice_client, car):
    alice_client.remove(car)
    usage = alice_client.membership_usage(billing_cycle=True)
    assert (usage.api_usage, usage.app_usage) == (1, 0)
    assert usage.billingCycle is not None and usage.billingCycle.apiUsage == 1
    cycles = alice_client.billing_cycles()
    assert cycles and cycles[0].apiUsage == 1
    models = alice_client.models()
    assert models.default in {m.name for m in models.models}
    assert any(m.default and m.name == "u2netp" for m in models.models)
    with pytest.raises(cc.ValidationError) as raised:
        alice_client.membership_usage(year=2025, period_start=1_700_000_000)
    assert raised.value.field == "periodStartUnix"


def test_the_async_client_does_the_same(server, alice_key, car, caplog):
    async def main():
        async with cc.AsyncClient(api_key=alice_key, base_url=server) as client:
            results = await asyncio.gather(
                client.remove(car, format="png", on_upload_progress=uploads.append),
                client.remove(car, format="png"),
            )
            usage = await client.membership_usage()
            models = await client.models()
        async with cc.AsyncClient(api_key="rbg_wrong", base_url=server) as wrong:
            with pytest.raises(cc.InvalidApiKey):
                await wrong.membership_usage()
        closed = cc.AsyncClient(api_key="k", base_url=f"http://127.0.0.1:{port}", backoff=0.01)
        async with closed:
            with pytest.raises(cc.ConnectionFailed):
                await closed.models()
        return results, usage, models

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.INFO, logger="cutout_client")
    uploads: list[cc.Progress] = []
    results, usage, models = asyncio.run(main())
    assert uploads and uploads[-1].progress == 1.0 and uploads[-1].upload
    retries = [
        r.getMessage() for r in caplog.records if "retrying GET /api/models" in r.getMessage()
    ]
    assert len(retries) == 3
    assert [(r.format, r.width, r.credits_charged) for r in results] == [("png", 160, 1)] * 2
    assert usage.api_usage == 2
    assert models.default == "u2netp"
