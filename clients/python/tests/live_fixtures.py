"""Fixtures for the client's tests: the live test server, with the real model.

The repository's conftest.py (alice, alice_key, small_car_jpeg, settings) applies
here too: pytest's rootdir is the repository. Not a conftest.py of our own: the
project's tests import the root one as ``conftest``, and a second would shadow it.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

CUTOUT = Path(sys.executable).with_name("cutout")  # the installed console script


@pytest.fixture
def server(live_server) -> str:
    return live_server.url


@pytest.fixture
def alice_client(server, alice_key):
    from cutout_client import Client

    with Client(api_key=alice_key, base_url=server) as client:
        yield client


@pytest.fixture
def car(tmp_path, small_car_jpeg) -> Path:
    path = tmp_path / "car.jpg"
    path.write_bytes(small_car_jpeg)
    return path


@pytest.fixture
def noisy_png() -> bytes:
    """A 400x300 PNG of noise: big enough (~360 kB) to upload in several chunks."""
    image = Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@pytest.fixture
def cutout(server, alice_key):
    """Run the `cutout` command line as alice: cutout(*args, input=bytes, key=...)."""

    def run(*args: str, input: bytes | None = None, key: str | None = alice_key):
        env = {**os.environ, "CUTOUT_BASE_URL": server, "CUTOUT_API_KEY": key or ""}
        env["COLUMNS"] = "250"  # no wrapped lines to match across
        return subprocess.run(
            [str(CUTOUT), *args], input=input, capture_output=True, env=env, timeout=120
        )

    return run
