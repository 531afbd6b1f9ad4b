from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from removal.tests.helpers import multipart

DATA = Path(__file__).resolve().parent / "removal" / "tests" / "data"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    """Tests serve assets from the app folders; production runs collectstatic first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_stores():
    """Cache, counters and rate limits start empty: no test inherits another's."""
    from django.core.cache import cache

    from accounts import ratelimit
    from billing import counters

    def clear():
        cache.clear()
        counters.client().flushdb()
        ratelimit.limiter().storage.reset()

    clear()
    yield
    clear()


@pytest.fixture(autouse=True)
def _generous_limits(settings):
    """Tests post many images from 127.0.0.1; the limit tests set their own numbers."""
    settings.ANONYMOUS_DAILY_LIMIT = 10_000
    settings.API_RATE_LIMIT = "10000/minute"


@pytest.fixture
def alice(db):
    """A verified user."""
    from accounts.tests.factories import UserFactory

    return UserFactory(username="alice", verified=True)


@pytest.fixture
def alice_key(alice) -> str:
    """Alice's raw API key."""
    from accounts.models import ApiKey

    return ApiKey.issue(alice, "Alice's laptop")[1]


@pytest.fixture
def bob(db):
    """A user who never verified his e-mail address."""
    from accounts.tests.factories import UserFactory

    return UserFactory(username="bob", verified=False)


@pytest.fixture
def bob_key(bob) -> str:
    from accounts.models import ApiKey

    return ApiKey.issue(bob, "Bob's script")[1]


@pytest.fixture(scope="session")
def car_jpeg() -> bytes:
    """A real 480x360 photo of a car on a plain background."""
    return (DATA / "car-1.jpg").read_bytes()


@pytest.fixture(scope="session")
def small_car_jpeg(car_jpeg: bytes) -> bytes:
    """The same car at 160x120: enough for the model, quick to process."""
    image = Image.open(io.BytesIO(car_jpeg)).resize((160, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.fixture
def rmbg(client, db):
    """POST /rmbg with an image and string fields, the way rembg.js does."""

    def post(
        image: bytes | None = None,
        name: str = "photo.jpg",
        headers=None,
        remote_addr: str = "127.0.0.1",
        **fields,
    ):
        files = {} if image is None else {"image": (name, image)}
        body, content_type = multipart({k: str(v) for k, v in fields.items()}, files)
        return client.post(
            "/rmbg",
            body,
            content_type=content_type,
            headers=headers or {},
            REMOTE_ADDR=remote_addr,
        )

    return post


# --- Stripe -----------------------------------------------------------------------

# Test-only values, known to localstripe and to the signed events of the tests.
WEBHOOK_SECRET = "whsec_cutout_tests"  # noqa: S105
STRIPE_TEST_KEY = "sk_test_cutout"

# localstripe on loopback only, keeping its store in memory (it would pickle it to /tmp).
_LOCALSTRIPE = """
import sys
from aiohttp import web
from localstripe.resources import Store
from localstripe.server import app
Store.dump_to_disk = lambda self: None
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stripe_keys(settings) -> str:
    """Billing configured, with the webhook secret the tests sign with."""
    settings.STRIPE_SECRET_KEY = STRIPE_TEST_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = ""
    return WEBHOOK_SECRET


@pytest.fixture(scope="session")
def localstripe_url():
    """A localstripe server (a fake Stripe) for the whole session, on a free loopback port."""
    import subprocess
    import sys
    import time

    import requests

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _LOCALSTRIPE, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                requests.get(f"{url}/v1/customers", auth=("sk_test_x", ""), timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def stripe_recorder(settings):
    """A loopback stand-in for Stripe's API that records what we send.

    Stripe's hosted Checkout and Portal live outside the machine; this answers
    session creation with a URL, and keeps each request's path and form fields.
    """
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qsl

    requests_seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            requests_seen.append(
                {
                    "path": self.path,
                    "form": dict(parse_qsl(body)),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            kind = "billing_portal" if "billing_portal" in self.path else "checkout"
            answer = json.dumps(
                {
                    "id": f"{kind}_session_1",
                    "object": f"{kind}.session",
                    "url": f"https://{kind}.stripe.test/session_1",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.STRIPE_SECRET_KEY = STRIPE_TEST_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield requests_seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def together():
    """Call ``func(arg)`` for every arg at the same moment, each on a thread of its own.

    Each thread closes its own database connection, so none outlives the test.
    """
    from django.db import connection

    def run(func, args: list) -> list:
        start = threading.Barrier(len(args))

        def call(arg):
            try:
                start.wait()
                return func(arg)
            finally:
                connection.close()

        with ThreadPoolExecutor(len(args)) as pool:
            return list(pool.map(call, args))

    return run
