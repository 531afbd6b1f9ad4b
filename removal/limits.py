"""The size limits of an upload and of an answer, in one place.

Validation, the upload handler, the pipeline and the OpenAPI text read them
from here. The output limit equals the input limit: an answer may be as large
as the largest image we accept, never larger (a 69-byte PNG must not buy a
300 MB BMP).
"""

from __future__ import annotations

MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
# Pixels per side, of an upload (read from its header) and of the answer
# (after rotation and resizing).
MAX_SIDE = 10_000
