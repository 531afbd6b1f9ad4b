"""result.zip, written while it is sent: one output at a time, never the whole archive in memory.

The standard library's zipfile writes to a stream it cannot seek (sizes go in
data descriptors after each entry). Outputs are already compressed images, so
they are stored, not deflated again; errors.csv lists the files that failed.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

from batches.intake import storage
from batches.models import Batch, BatchFile

CHUNK = 256 * 1024


class _Sink(io.RawIOBase):
    """What zipfile writes to: collects bytes for the generator to hand out."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def unique_names(items: list[BatchFile]) -> dict[int, str]:
    """Each output under its input's name (new extension); a clash gets ' (2)', ' (3)'..."""
    taken: set[str] = set()
    names = {}
    for item in items:
        name = item.output_name
        stem, dot, extension = name.rpartition(".")
        number = 2
        while name.lower() in taken or name.lower() == "errors.csv":
            name = f"{stem} ({number}){dot}{extension}"
            number += 1
        taken.add(name.lower())
        names[item.pk] = name
    return names


def stream(batch: Batch) -> Iterator[bytes]:
    files = list(batch.files.all())
    done = [item for item in files if item.status == BatchFile.DONE and item.output]
    failed = [item for item in files if item.status in (BatchFile.FAILED, BatchFile.CANCELLED)]
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for item, name in zip(done, unique_names(done).values(), strict=True):
            with storage().open(item.output) as source, archive.open(name, "w") as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    yield sink.take()
            yield sink.take()
        if failed:
            table = io.StringIO()
            writer = csv.writer(table)
            writer.writerow(["index", "name", "status", "error"])
            for item in failed:
                writer.writerow([item.index, item.name, item.status, item.error])
            archive.writestr("errors.csv", table.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    yield sink.take()
