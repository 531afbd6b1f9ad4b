"""A multipart body streamed from its files: a batch of 1 GB never sits in memory.

httpx would encode a body of many files too, but holds every file open from the
start; here each part is opened when its turn comes and closed after, so 500 files
cost one descriptor, and every attempt of a retried call reads them again.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 64 * 1024
# HTML5's form encoding of names, as httpx and browsers send them.
_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
_ESCAPE = re.compile("|".join(re.escape(c) for c in _ESCAPES))


@dataclass(frozen=True)
class Part:
    """One file of the body: its name, its exact size, and how to read it when it is sent."""

    filename: str
    size: int
    open: Callable[[], IO[bytes]]

    @classmethod
    def of_bytes(cls, filename: str, data: bytes) -> Part:
        return cls(filename, len(data), lambda: io.BytesIO(data))


class Body:
    """``fields`` then ``parts`` (each as an ``image`` field); ``len()`` is its Content-Length."""

    def __init__(self, fields: dict[str, str], parts: list[Part], field: str = "image") -> None:
        self.boundary = uuid.uuid4().hex
        self.parts = parts
        self._fields = b"".join(
            self._head(name) + value.encode() + b"\r\n" for name, value in fields.items()
        )
        self._heads = [self._head(field, part.filename) for part in parts]
        self._tail = f"--{self.boundary}--\r\n".encode()
        sizes = sum(
            len(head) + part.size + 2 for head, part in zip(self._heads, parts, strict=True)
        )
        self._length = len(self._fields) + sizes + len(self._tail)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        yield self._fields
        for head, part in zip(self._heads, self.parts, strict=True):
            yield head
            yield from _read_exactly(part)
            yield b"\r\n"
        yield self._tail

    def _head(self, name: str, filename: str | None = None) -> bytes:
        disposition = f'form-data; name="{_escape(name)}"'
        if filename is None:
            return f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        disposition += f'; filename="{_escape(filename)}"'
        return (
            f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()


def _escape(value: str) -> str:
    return _ESCAPE.sub(lambda match: _ESCAPES[match.group(0)], value)


def _read_exactly(part: Part) -> Iterator[bytes]:
    """The part's bytes; an error if the file is no longer the size announced."""
    left = part.size
    with part.open() as source:
        while left > 0:
            chunk = source.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
        if left or source.read(1):
            raise OSError(f"{part.filename}: the file changed size while it was being sent")
