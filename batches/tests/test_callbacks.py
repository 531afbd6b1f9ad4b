"""Batch callbacks: signed with the user's secret, retried, never sent to private hosts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from batches.models import Batch, CallbackSecret

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver():
    """An HTTP server on loopback that answers 500 to its first N posts, then 204."""

    class Receiver(ThreadingHTTPServer):
        failures_left = 1
        received: list[tuple[dict, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.server.received.append((dict(self.headers), body))
            failing = self.server.failures_left > 0
            self.server.failures_left -= 1
            self.send_response(500 if failing else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = Receiver(("127.0.0.1", 0), Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def wait_for(condition, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_callback_is_signed_and_retried_until_it_is_taken(
    receiver, settings, client, post_batch, alice, alice_key, small_car_jpeg
):
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = True
    settings.BATCH_CALLBACK_BACKOFF = [0.2]
    secret = client.get("/api/batches/callback-secret", headers={"X-API-Key": alice_key}).json()
    url = f"http://127.0.0.1:{receiver.server_port}/hooks/cutout?source=test"

    made = post_batch([("car.jpg", small_car_jpeg)], alice_key, callback_url=url).json()
    wait_for(lambda: Batch.objects.filter(callback_delivered_at__isnull=False).exists())

    assert len(receiver.received) == 2  # a 500, then a 204
    headers, body = receiver.received[-1]
    timestamp, signature = (
        part.split("=", 1)[1] for part in headers["Cutout-Signature"].split(",")
    )
    expected = hmac.new(
        secret["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert abs(int(timestamp) - time.time()) < 60
    event = json.loads(body)
    assert event["type"] == "batch.ended"
    assert event["batch"]["id"] == made["id"]
    assert event["batch"]["status"] == "done" and event["batch"]["counts"]["done"] == 1
    batch = Batch.objects.get()
    assert (batch.callback_attempts, batch.callback_status) == (2, "HTTP 204")


def test_a_rotated_secret_signs_the_next_callbacks(client, alice, alice_key):
    first = client.get("/api/batches/callback-secret", headers={"X-API-Key": alice_key}).json()
    rotated = client.post("/api/batches/callback-secret", headers={"X-API-Key": alice_key}).json()
    assert first["secret"].startswith("whsec_") and rotated["secret"] != first["secret"]
    assert CallbackSecret.objects.get(user=alice).secret == rotated["secret"]


def test_the_tries_stop_at_the_limit(receiver, settings, post_batch, alice_key, small_car_jpeg):
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = True
    settings.BATCH_CALLBACK_BACKOFF = [0.1]
    settings.BATCH_CALLBACK_TRIES = 3
    receiver.failures_left = 100
    url = f"http://127.0.0.1:{receiver.server_port}/"
    post_batch([("car.jpg", small_car_jpeg)], alice_key, callback_url=url)

    wait_for(lambda: Batch.objects.filter(callback_attempts=3).exists())
    time.sleep(0.5)
    assert len(receiver.received) == 3
    assert Batch.objects.get().callback_delivered_at is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(
    url, post_batch, alice_key, small_car_jpeg
):
    response = post_batch([("car.jpg", small_car_jpeg)], alice_key, callback_url=url)
    assert response.status_code == 400
    assert response.json()["field"] == "callback_url"
    assert "is not a public address" in response.json()["error"]
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "http://user:pw@example.com/", "hook"]
)
def test_only_plain_http_urls_are_taken(url, post_batch, alice_key, small_car_jpeg):
    response = post_batch([("car.jpg", small_car_jpeg)], alice_key, callback_url=url)
    assert response.status_code == 400
    assert response.json()["field"] == "callback_url"


def test_the_target_is_checked_again_when_the_callback_is_sent(
    receiver, settings, post_batch, alice_key, small_car_jpeg
):
    from batches import engine

    release = threading.Event()
    engine.pool().submit(release.wait, 30)
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = True
    url = f"http://127.0.0.1:{receiver.server_port}/"
    assert post_batch([("car.jpg", small_car_jpeg)], alice_key, callback_url=url).status_code == 202
    # As if the name now resolved to a private address: refused at delivery too.
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = False
    settings.BATCH_CALLBACK_TRIES = 1
    release.set()

    wait_for(lambda: Batch.objects.filter(callback_attempts=1).exists())
    assert Batch.objects.get().callback_status.startswith("refused: ")
    assert receiver.received == []
