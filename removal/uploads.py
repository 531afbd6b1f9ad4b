"""Spool uploads without letting an oversized one fill the disk."""

from __future__ import annotations

from django.core.files.uploadhandler import TemporaryFileUploadHandler

from removal.limits import MAX_UPLOAD_BYTES


class CappedUploadHandler(TemporaryFileUploadHandler):
    """Stores at most MAX_UPLOAD_BYTES + 1 bytes of a file; counts the rest unstored.

    Validation still sees the real size (``File size (55.2 MB) exceeds …``) and the
    image header, while a 10 GB body costs 50 MB of temporary disk, not 10 GB.
    Uploads up to FILE_UPLOAD_MAX_MEMORY_SIZE stay in memory (the handler before).
    """

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        room = MAX_UPLOAD_BYTES + 1 - start
        if room > 0:
            self.file.write(raw_data[:room])
