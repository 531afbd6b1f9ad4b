"""/healthz, /readyz and /metrics: what a load balancer and a monitor read."""

from __future__ import annotations

import pytest

from billing import counters

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_asking_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.content) == (200, b"ok")


def test_readyz_says_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "redis": "ok",
        "broker": "not configured",
        "models": "ok",
    }


def test_readyz_is_503_naming_what_does_not_answer(client, settings, monkeypatch):
    if not settings.REDIS_URL:
        pytest.skip("the in-process store cannot be down")
    from django.test import override_settings

    with override_settings(REDIS_URL="redis://127.0.0.1:9/0"):  # nothing listens there
        monkeypatch.setattr(counters.client, "value", None)
        response = client.get("/readyz")
    counters.client.value = None  # the next use connects to the real Redis again
    assert response.status_code == 503
    assert response.json()["redis"] == "failing"
    assert response.json()["database"] == "ok"


def test_readyz_is_503_when_the_default_models_file_is_gone(
    client, settings, tmp_path, monkeypatch
):
    from removal import inference

    monkeypatch.setattr(inference.loaded, "value", None)
    settings.REMOVAL_MODEL_PATH = str(tmp_path / "gone.onnx")
    assert client.get("/readyz").json()["models"] == "failing"


def test_metrics_count_requests_inference_and_credits(client, rmbg, small_car_jpeg, alice_key):
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'cutout_inference_seconds_count{model="u2netp"}' in text
    assert 'cutout_credits_charged_total{channel="api"}' in text
    assert "django_http_requests_latency_seconds_by_view_method" in text


@pytest.mark.parametrize(
    ("remote", "headers"),
    [("203.0.113.5", {}), ("127.0.0.1", {"X-Forwarded-For": "203.0.113.5"})],
)
def test_metrics_are_not_public(client, remote, headers):
    response = client.get("/metrics", REMOTE_ADDR=remote, headers=headers)
    assert response.status_code == 403


def test_metrics_open_to_the_token(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5").status_code == 403
    headers = {"Authorization": "Bearer s3cret-token"}
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.5", headers=headers).status_code == 200


def test_metrics_count_images_queued_and_in_flight(small_car_jpeg, settings):
    import threading
    import time

    from config.operations import IMAGES_IN_FLIGHT, IMAGES_QUEUED
    from removal import pipeline

    slots = pipeline.processing_slots()
    held = [slots.acquire(timeout=5) for _ in range(settings.REMOVAL_MAX_CONCURRENCY)]
    assert all(held)
    worker = threading.Thread(
        target=pipeline.remove_background, args=(small_car_jpeg, pipeline.RemovalOptions())
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while IMAGES_QUEUED._value.get() < 1:  # the request waits for a slot
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert IMAGES_IN_FLIGHT._value.get() == 0
    finally:
        for _ in held:
            slots.release()
        worker.join(timeout=60)
    assert (IMAGES_QUEUED._value.get(), IMAGES_IN_FLIGHT._value.get()) == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_metrics_report_the_batch_queue_depth(client, alice, settings, tmp_path):
    from django.utils import timezone

    from batches.models import Batch, BatchFile

    now = timezone.now()
    batch = Batch.objects.create(
        user=alice, channel="api", options={}, created_at=now, deadline=now, remaining=3
    )
    for index, status in enumerate(["queued", "queued", "running", "done"]):
        BatchFile.objects.create(batch=batch, index=index, name=f"{index}.jpg", status=status)

    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()

    assert 'cutout_batch_files{status="queued"} 2.0' in text
    assert 'cutout_batch_files{status="running"} 1.0' in text
