"""Fixtures for the client's tests: the live test server, with the real model.

The repository's conftest.py (alice, alice_key, small_car_jpeg, settings) applies
here too: pytest's rootdir is the repository. Not a conftest.py of our own: the
project's tests import the root one as ``conftest``, and a second would shadow it.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

CUTOUT = Path(sys.executable).with_name("cutout")  # the installed console script


@pytest.fixture
def batch_storage(settings, tmp_path) -> Path:
    """The live server's batch files (uploads, outputs) in this test's temporary folder."""
    location = tmp_path / "batch-storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "batches": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@pytest.fixture
def server(live_server, batch_storage):
    """The live server, in this process: batches run on its in-process pool (no broker)."""
    yield live_server.url
    # Batch work left queued (a callback being recorded, a cancelled file's task)
    # finishes before the database is emptied: run meanwhile, it would deadlock
    # the flush. The pool has one thread, so a task sent last runs last.
    from batches import engine

    engine.pool().submit(lambda: None).result(timeout=120)


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


class DroppingProxy:
    """A loopback TCP proxy to the live server that cuts its first ``drop`` answers.

    The server has done the work (and charged for it) when its answer starts; the
    client sees the connection close without one, as after a network fault.
    """

    def __init__(self, upstream: tuple[str, int], drop: int = 1) -> None:
        self.upstream = upstream
        self.drops_left = drop
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.connections += 1
                drop, self.drops_left = self.drops_left > 0, max(0, self.drops_left - 1)
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=_pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=_pump, args=(upstream, client, drop), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket, drop: bool) -> None:
    try:
        while data := source.recv(65536):
            if drop:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


@pytest.fixture
def dropping_proxy(live_server):
    address = urlsplit(live_server.url)
    proxy = DroppingProxy((address.hostname, address.port))
    yield proxy
    proxy.close()


@pytest.fixture
def receiver(settings):
    """An HTTP server on loopback that records the posts it gets (batch callbacks) and says 204.

    The live server may call loopback for this test only (BATCH_CALLBACK_ALLOW_PRIVATE).
    """
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = True

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.server.received.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.received = []
    http.url = f"http://127.0.0.1:{http.server_port}/hooks/cutout"
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield http
    http.shutdown()
    http.server_close()
