from __future__ import annotations

import io
import time
import zipfile

import pytest

BOUNDARY = "----cutout-batch-boundary"


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]], field: str = "image"):
    """A multipart body with the field ``image`` repeated, one part a file."""
    parts = []
    for name, value in fields.items():
        disposition = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{BOUNDARY}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
    for filename, content in files:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={BOUNDARY}"


def zip_of(entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def batch_storage(settings, tmp_path):
    """Each test's batches in a directory of its own."""
    location = tmp_path / "batches"
    settings.STORAGES = {
        **settings.STORAGES,
        "batches": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    return location


@pytest.fixture(autouse=True)
def engine_drained(batch_storage):
    """No batch work of this test still runs when its database is emptied, or after
    its storage setting is restored (the pool's one thread runs tasks in turn)."""
    from batches import engine

    yield
    engine.pool().submit(lambda: None).result(timeout=120)


@pytest.fixture
def post_batch(client):
    def post(files, key: str | None = None, headers=None, **fields):
        body, content_type = multipart({k: str(v) for k, v in fields.items()}, files)
        all_headers = dict(headers or {})
        if key:
            all_headers["X-API-Key"] = key
        return client.post("/api/batches", body, content_type=content_type, headers=all_headers)

    return post


@pytest.fixture
def wait_until_ended(client):
    """Poll a batch's status URL until it has ended; its last status body."""

    def wait(status_url: str, key: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            body = client.get(status_url, headers={"X-API-Key": key}).json()
            if body["finished_at"] is not None:
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"batch not ended after {timeout} s: {body}")
            time.sleep(0.1)

    return wait
