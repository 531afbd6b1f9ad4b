"""`make run` on the embedded defaults: migrate, collect assets, serve with gunicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.smoke


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["STATIC_ROOT"] = str(tmp_path_factory.mktemp("static"))
    # db.sqlite3 outlives the run: earlier runs today must not use up the allowance.
    env["ANONYMOUS_DAILY_LIMIT"] = "100000"
    port = free_port()
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=ROOT, env=env, check=True, timeout=120)
    subprocess.run(
        [*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=120
    )
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "-b",
            f"127.0.0.1:{port}",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/api/openapi", timeout=5)
                break
            except requests.RequestException:  # refused, or queued while the model warms up
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_embedded_defaults_use_sqlite_and_the_in_process_store(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings.REDIS_URL == ""


def test_it_removes_a_background_over_http(server):
    with open(DATA / "car-1.jpg", "rb") as photo:
        response = requests.post(
            f"{server}/rmbg", files={"image": photo}, data={"format": "png"}, timeout=60
        )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    from io import BytesIO

    image = Image.open(BytesIO(response.content))
    assert (image.mode, image.size) == ("RGBA", (480, 360))
    assert image.getpixel((0, 0))[3] == 0


def test_the_api_reference_and_its_assets_are_served(server):
    page = requests.get(f"{server}/api/docs/", timeout=10)
    assert page.status_code == 200
    css = next(
        part.split('"')[0] for part in page.text.split('href="')[1:] if ".css" in part.split('"')[0]
    )
    assert requests.get(f"{server}{css}", timeout=10).status_code == 200
