"""An oversized upload is measured in full but stored only up to the limit."""

from __future__ import annotations

import os

from django.test import RequestFactory

from removal.uploads import CappedUploadHandler
from removal.validation import MAX_UPLOAD_BYTES

MB = 1024 * 1024


def spool(total: int, chunk: int = MB):
    """Feed ``total`` bytes of a PNG-looking file through the handler, as Django does."""
    handler = CappedUploadHandler()
    handler.new_file("image", "huge.png", "image/png", total)
    for start in range(0, total, chunk):
        data = b"\0" * min(chunk, total - start)
        if start == 0:
            data = b"\x89PNG" + data[4:]
        handler.receive_data_chunk(data, start)
    return handler.file_complete(total)


def test_an_oversized_upload_reports_its_full_size_but_stores_only_the_limit():
    upload = spool(120 * MB)
    try:
        assert upload.size == 120 * MB
        assert os.path.getsize(upload.temporary_file_path()) == MAX_UPLOAD_BYTES + 1
        assert upload.read(4) == b"\x89PNG"
    finally:
        upload.close()


def test_an_upload_within_the_limit_is_stored_whole():
    upload = spool(12 * MB)
    try:
        assert upload.size == os.path.getsize(upload.temporary_file_path()) == 12 * MB
    finally:
        upload.close()


def test_requests_spool_large_uploads_through_it():
    request = RequestFactory().post("/rmbg")
    handlers = [type(handler) for handler in request.upload_handlers]
    assert handlers[-1] is CappedUploadHandler
