"""OpenAPI description of the batch endpoints (drf-spectacular)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from removal.schema import ERROR_BODY, IMAGE_MEDIA_TYPES, RemovalForm

TAGS = ["Batches"]


class BatchForm(RemovalForm):
    # One file in the spec: clients and fuzzers send an array's items without file
    # names, which multipart then reads as text. Repeat the field for more files.
    image = serializers.FileField(
        help_text="A photo or a ZIP archive of photos; **repeat the field** for more. "
        "Each file is checked as on `POST /rmbg`; at most 500 files after archives are "
        "expanded, 50 MB each and 1 GB in all. Archives with absolute or `..` paths, "
        "encrypted entries or archives inside are refused.",
    )
    callback_url = serializers.URLField(
        required=False,
        help_text="Receives a POST when the batch ends, signed with your callback secret "
        '(`Cutout-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`), retried '
        "with backoff until it answers 2xx. Must be a public http(s) address.",
    )
    return_base64 = None


COUNTS = inline_serializer(
    "BatchCounts",
    {
        name: serializers.IntegerField()
        for name in ("total", "queued", "running", "done", "failed", "cancelled")
    },
)
SUMMARY_FIELDS = {
    "id": serializers.UUIDField(),
    "status": serializers.ChoiceField(choices=["queued", "running", "done", "cancelled"]),
    "model": serializers.CharField(),
    "format": serializers.CharField(),
    "created_at": serializers.DateTimeField(),
    "started_at": serializers.DateTimeField(allow_null=True),
    "finished_at": serializers.DateTimeField(allow_null=True),
    "expires_at": serializers.DateTimeField(help_text="When the batch and its files are deleted."),
    "counts": COUNTS,
    "credits_charged": serializers.IntegerField(),
    "callback_url": serializers.CharField(allow_null=True),
    "status_url": serializers.URLField(),
    "result_url": serializers.URLField(),
}
SUMMARY = inline_serializer("BatchSummary", SUMMARY_FIELDS)
FILE_ENTRY = inline_serializer(
    "BatchFile",
    {
        "index": serializers.IntegerField(),
        "name": serializers.CharField(),
        "status": serializers.ChoiceField(
            choices=["queued", "running", "done", "failed", "cancelled"]
        ),
        "error": serializers.CharField(allow_null=True, help_text="As `POST /rmbg` words it."),
        "output": serializers.CharField(allow_null=True, help_text="Its name in result.zip."),
        "width": serializers.IntegerField(allow_null=True),
        "height": serializers.IntegerField(allow_null=True),
        "url": serializers.URLField(allow_null=True, help_text="The output image alone."),
    },
)
DETAIL_BODY = inline_serializer(
    "Batch", {**SUMMARY_FIELDS, "files": serializers.ListField(child=FILE_ENTRY)}
)
BATCH_ID = OpenApiParameter("batch_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
INDEX = OpenApiParameter(
    "index", OpenApiTypes.INT, OpenApiParameter.PATH, description="The file's place, from 0."
)
NOT_FOUND = OpenApiResponse(ERROR_BODY, description="No such batch of yours.")
UNAUTHENTICATED = OpenApiResponse(ERROR_BODY, description="No valid API key, token or session.")

CREATE = {
    "operation_id": "createBatch",
    "summary": "Remove the background of many images",
    "description": (
        "Upload many images (or ZIP archives of them) with the options of `POST /rmbg`; "
        "they are processed in the background. Poll `status_url`, then download "
        "`result_url`, or pass `callback_url`.\n\n"
        "**Credits**: every valid file reserves what one `POST /rmbg` with the same model "
        "costs, at once. If your credits do not cover them all, nothing is accepted: 429 "
        "with the monthly-limit message and `X-Credits-Required`/`X-Credits-Available`. A "
        "file is charged when its cut-out is made; a file that fails or is cancelled costs "
        "nothing. Files that fail the checks of `POST /rmbg` are listed as failed at once "
        "and reserve nothing. The same `Idempotency-Key` with the same files returns the "
        "same batch; with other files, 422."
    ),
    "parameters": [
        OpenApiParameter(
            "Idempotency-Key",
            {"type": "string", "minLength": 1, "maxLength": 255},
            OpenApiParameter.HEADER,
            description="A retry with the same key and files returns the first batch.",
        )
    ],
    "request": {
        "multipart/form-data": OpenApiRequest(
            BatchForm,
            encoding={"image": {"contentType": ", ".join((*IMAGE_MEDIA_TYPES, "application/zip"))}},
        )
    },
    "responses": {
        202: OpenApiResponse(SUMMARY, description="Accepted; `Location` is the status URL."),
        400: OpenApiResponse(ERROR_BODY, description="Invalid options, files or archive."),
        401: UNAUTHENTICATED,
        422: OpenApiResponse(ERROR_BODY, description="Idempotency-Key used for other files."),
        429: OpenApiResponse(ERROR_BODY, description="Not enough credits, or too fast."),
    },
    "tags": TAGS,
}
PAGE_LINK = serializers.URLField(allow_null=True)
LIST = {
    "operation_id": "listBatches",
    "summary": "Your batches, newest first, a page at a time",
    "parameters": [
        OpenApiParameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": 100},
            description="Batches a page: 50 unless given.",
        ),
        OpenApiParameter(
            "cursor",
            OpenApiTypes.STR,
            description="Where a page starts: leave it out for the newest, then follow "
            "`next` (and `previous`) as given.",
        ),
    ],
    "responses": {
        200: inline_serializer(
            "Batches",
            {
                "batches": serializers.ListField(child=SUMMARY),
                "next": PAGE_LINK,
                "previous": PAGE_LINK,
            },
        ),
        400: OpenApiResponse(ERROR_BODY, description="A limit out of range."),
        401: UNAUTHENTICATED,
        404: OpenApiResponse(ERROR_BODY, description="A cursor this API did not give."),
    },
    "tags": TAGS,
}
DETAIL = {
    "parameters": [BATCH_ID],
    "operation_id": "getBatch",
    "summary": "A batch's status, counts and files",
    "responses": {200: DETAIL_BODY, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    "tags": TAGS,
}
CANCEL = {
    "parameters": [BATCH_ID],
    "operation_id": "cancelBatch",
    "summary": "Cancel the files of a batch not started yet",
    "description": "Files being processed finish and are charged; the rest cost nothing.",
    "responses": {200: DETAIL_BODY, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    "tags": TAGS,
}
FILE = {
    "parameters": [BATCH_ID, INDEX],
    "operation_id": "getBatchFile",
    "summary": "The cut-out of one file of a batch",
    "responses": {
        (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY),
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
    },
    "tags": TAGS,
}
RESULT = {
    "parameters": [BATCH_ID],
    "operation_id": "getBatchResult",
    "summary": "Every cut-out of an ended batch, as a ZIP",
    "description": "One output per file that succeeded, under its input's name; "
    "`errors.csv` lists the files that failed or were cancelled.",
    "responses": {
        (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY),
        401: UNAUTHENTICATED,
        404: NOT_FOUND,
        409: OpenApiResponse(ERROR_BODY, description="The batch has not ended yet."),
    },
    "tags": TAGS,
}
SECRET_BODY = inline_serializer("CallbackSecret", {"secret": serializers.CharField()})
SECRET = {
    "operation_id": "getCallbackSecret",
    "summary": "The secret your batch callbacks are signed with",
    "responses": {200: SECRET_BODY, 401: UNAUTHENTICATED},
    "tags": TAGS,
}
SECRET_ROTATE = {
    "operation_id": "rotateCallbackSecret",
    "summary": "Replace the callback secret",
    "request": None,
    "responses": {200: SECRET_BODY, 401: UNAUTHENTICATED},
    "tags": TAGS,
}
