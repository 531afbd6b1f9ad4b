from __future__ import annotations

import io
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

    from billing import counters, ratelimit

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
