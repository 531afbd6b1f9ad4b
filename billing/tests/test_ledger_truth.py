"""The database ledger is the truth: concurrency, FLUSHALL and a Redis outage lose nothing."""

from __future__ import annotations

import io
import shutil
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from PIL import Image

from billing import counters
from billing.credits import MONTHLY_LIMIT
from billing.tests.helpers import (
    account_for,
    committed,
    post_over_http,
    put_on_plan,
    usage_over_http,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


@pytest.fixture(scope="module")
def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_50_concurrent_requests_against_10_credits(live_server, alice, alice_key, tiny_png):
    put_on_plan(alice, included=4, prepaid=6)
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(
            pool.map(lambda _: post_over_http(live_server.url, tiny_png, alice_key), range(50))
        )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 10 + [429] * 40
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json() == {"error": MONTHLY_LIMIT, "status": 429}
    assert committed(alice) == 10
    assert committed(alice, source="included") == 4
    assert committed(alice, source="prepaid") == 6
    account = account_for(alice)
    assert (account.included_used, account.prepaid_balance) == (4, 0)
    assert (account.reserved_included, account.reserved_prepaid) == (0, 0)
    report = usage_over_http(live_server.url, alice_key)
    assert report["api_usage"] == 10
    assert report["billingCycle"]["apiUsage"] == 10
    assert report["prepaidCredits"] == 0


def test_flushall_mid_run_loses_and_invents_nothing(live_server, alice, alice_key, tiny_png):
    done = threading.Event()
    flushes = 0

    def vandal():
        nonlocal flushes
        while not done.is_set():
            counters.client().flushall()
            flushes += 1
            usage_over_http(live_server.url, alice_key)  # rebuilds the counters from the ledger
            time.sleep(0.05)

    thread = threading.Thread(target=vandal)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(
                pool.map(lambda _: post_over_http(live_server.url, tiny_png, alice_key), range(15))
            )
    finally:
        done.set()
        thread.join()
    assert [r.status_code for r in results] == [200] * 15
    assert flushes > 3

    report = usage_over_http(live_server.url, alice_key)
    assert report["api_usage"] == committed(alice) == 15
    assert report["billingCycle"]["apiUsage"] == 15
    assert report["billingCycle"]["usedIncludedCredits"] == 15
    # And the counters in Redis, once rebuilt, are exact too.
    counters.client().flushall()
    assert usage_over_http(live_server.url, alice_key)["api_usage"] == 15


@pytest.fixture
def own_redis(settings, monkeypatch):
    """A Redis server of this test's own, so the test can stop and resume it."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed for the outage test")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            probe.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    settings.REDIS_URL = url
    monkeypatch.setattr(counters.client, "value", None)
    yield process
    process.send_signal(signal.SIGCONT)
    process.terminate()
    process.wait(timeout=10)
    monkeypatch.setattr(counters.client, "value", None)


def test_a_redis_outage_still_meters_every_request(
    live_server, alice, alice_key, tiny_png, own_redis
):
    assert post_over_http(live_server.url, tiny_png, alice_key).status_code == 200
    assert (
        usage_over_http(live_server.url, alice_key)["api_usage"] == 1
    )  # counters now exist in Redis

    own_redis.send_signal(signal.SIGSTOP)  # Redis stops answering, its data intact
    try:
        during = [post_over_http(live_server.url, tiny_png, alice_key) for _ in range(3)]
        assert [r.status_code for r in during] == [200] * 3
        assert [r.headers["X-Credits-Charged"] for r in during] == ["1"] * 3
        assert committed(alice) == 4
        assert account_for(alice).counters_stale
        # Reads fall back to the ledger while Redis is away.
        assert usage_over_http(live_server.url, alice_key)["api_usage"] == 4
    finally:
        own_redis.send_signal(signal.SIGCONT)

    # Redis is back with counters that missed three charges: they are rebuilt.
    assert usage_over_http(live_server.url, alice_key)["api_usage"] == 4
    assert not account_for(alice).counters_stale
    assert post_over_http(live_server.url, tiny_png, alice_key).status_code == 200
    assert usage_over_http(live_server.url, alice_key)["api_usage"] == 5
