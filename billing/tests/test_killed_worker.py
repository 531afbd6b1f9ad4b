"""kill -9 of a gunicorn worker in the middle of a paid request loses no credit.

A real gunicorn serves the test database. The worker is killed while it holds a
reservation; what membership-usage reports and what a request gets must agree
while the reservation may still be alive, and the credit comes back once the
longest a request can live (worker timeout + slot wait + margin) has passed.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from PIL import Image

from billing import counters
from billing.credits import MONTHLY_LIMIT
from billing.models import Charge
from billing.tests.helpers import (
    account_for,
    committed,
    post_over_http,
    put_on_plan,
    usage_over_http,
)
from config.tests.test_smoke import free_port

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The window the server derives: GUNICORN_TIMEOUT + REMOVAL_QUEUE_TIMEOUT + RESERVATION_MARGIN.
SERVER_ENV = {"GUNICORN_TIMEOUT": "6", "REMOVAL_QUEUE_TIMEOUT": "2", "RESERVATION_MARGIN": "2"}
WINDOW = 10


@pytest.fixture
def server(tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        **SERVER_ENV,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "GUNICORN_WORKERS": "1",
        # u2netp only: a worker that also warmed up isnet could outlive the 6 s timeout.
        "REMOVAL_MODEL_DIR": str(tmp_path),
    }
    port = free_port()
    master = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", "-b", f"127.0.0.1:{port}"]
        + ["--access-logfile", "/dev/null", "config.wsgi"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, master)
        yield base, master
    finally:
        master.terminate()
        master.wait(timeout=30)


def wait_until_ready(base: str, master: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{base}/api/openapi", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or master.poll() is not None:
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.2)


def worker_pid(master: subprocess.Popen) -> int:
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    assert len(children) == 1
    return int(children[0])


def big_jpeg() -> bytes:
    """Big enough that the worker is still busy with it when it is killed."""
    buffer = io.BytesIO()
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_a_killed_worker_loses_no_credit(server, alice, alice_key):
    base, master = server
    put_on_plan(alice, included=1)
    photo = big_jpeg()
    outcome: list = []

    def doomed():
        try:
            outcome.append(post_over_http(base, photo, alice_key, "job-1"))
        except requests.RequestException as error:
            outcome.append(error)

    thread = threading.Thread(target=doomed)
    thread.start()
    deadline = time.monotonic() + 30
    while not Charge.objects.filter(user=alice, status=Charge.RESERVED).exists():
        assert time.monotonic() < deadline, "the request never reserved its credit"
        time.sleep(0.01)
    os.kill(worker_pid(master), signal.SIGKILL)
    killed_at = time.monotonic()
    thread.join(timeout=60)
    assert isinstance(outcome[0], requests.RequestException)  # the client saw it die
    assert committed(alice) == 0
    wait_until_ready(base, master)  # gunicorn starts a new worker

    # While the dead request might still be running, its credit is held, and the
    # report says so: what is refused and what is reported agree.
    refused = post_over_http(base, photo, alice_key, "job-2")
    assert (refused.status_code, refused.json()["error"]) == (429, MONTHLY_LIMIT)
    assert usage_over_http(base, alice_key)["billingCycle"]["remainingIncludedCredits"] == 0
    assert post_over_http(base, photo, alice_key, "job-1").status_code == 409

    # Past the window, the credit is back: the report shows it, the retry gets it.
    time.sleep(max(0.0, WINDOW + 0.5 - (time.monotonic() - killed_at)))
    assert usage_over_http(base, alice_key)["billingCycle"]["remainingIncludedCredits"] == 1
    retry = post_over_http(base, photo, alice_key, "job-1")
    assert retry.status_code == 200
    assert retry.headers["X-Credits-Charged"] == "1"

    # Ledger = Redis counters = membership-usage.
    report = usage_over_http(base, alice_key)
    account = account_for(alice)
    month_key = counters.month_key(alice.pk, Charge.API, account.period_start)
    assert committed(alice) == 1
    assert counters.read([month_key]) == [1]
    assert report["api_usage"] == 1
    assert report["billingCycle"]["usedIncludedCredits"] == 1
    assert report["billingCycle"]["remainingIncludedCredits"] == 0
    assert not Charge.objects.filter(status=Charge.RESERVED).exists()
