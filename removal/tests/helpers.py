"""Helpers shared by the test modules."""

from __future__ import annotations

import io

from PIL import Image


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body built by hand, so tests control every byte (e.g. empty filenames)."""
    boundary = "----cutout-test-boundary"
    parts = []
    for name, value in fields.items():
        disposition = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode())
    for name, (filename, content) in files.items():
        head = (
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def decode(response) -> Image.Image:
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image
