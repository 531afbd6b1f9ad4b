from __future__ import annotations

import uuid

from django.core.exceptions import TooManyFilesSent
from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimit import RateLimitedMixin
from batches import archive, callbacks, jobs, presentation, schema
from batches.intake import BatchUploadHandler, storage, too_many
from batches.models import Batch, CallbackSecret
from config.errors import ApiError
from removal.validation import parse_options

BAD_CURSOR = "Invalid cursor: use the next or previous URL of a page as given."
BAD_LIMIT = "limit must be a whole number from 1 to 100."
STILL_RUNNING = "The batch is still running: its result is ready when its status is done."
NOT_FOUND = "Batch not found."


class NewestFirst(CursorPagination):
    """Pages of GET /api/batches: newest first, ``limit`` a page (50 unless asked, at most
    100), stable while batches are added (a cursor, not a page number)."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        given = request.query_params.get(self.page_size_query_param)
        if given is None:
            return self.page_size
        if not (given.isascii() and given.isdigit() and 1 <= int(given) <= self.max_page_size):
            raise ApiError(BAD_LIMIT, status_code=400)  # DRF would quietly ignore it
        return int(given)


class BatchApiView(RateLimitedMixin, APIView):
    permission_classes = [IsAuthenticated]

    def batch(self, batch_id: str) -> Batch:
        try:
            batch_id = uuid.UUID(batch_id)
        except ValueError:
            raise ApiError(NOT_FOUND, status_code=404) from None
        # Another user's batch is not found either: ids are not confirmed to strangers.
        found = Batch.objects.filter(pk=batch_id, user=self.caller.user).first()
        if found is None:
            raise ApiError(NOT_FOUND, status_code=404)
        return found


class BatchesView(BatchApiView):
    """POST /api/batches makes a batch; GET lists the caller's recent ones."""

    parser_classes = [MultiPartParser]

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            # Every file of a batch is spooled to disk, its total capped: none in memory.
            request.upload_handlers = [BatchUploadHandler(request)]
        return super().dispatch(request, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, TooManyFilesSent):  # Django's count, past BATCH_MAX_FILES + 1
            exc = too_many()
        return super().handle_exception(exc)

    @extend_schema(**schema.CREATE)
    def post(self, request: Request) -> Response:
        options = parse_options(request.data)
        callback_url = request.data.get("callback_url", "").strip()
        batch = jobs.create(
            self.caller,
            options,
            request.FILES.getlist("image"),
            getattr(request._request, "batch_bytes", 0),
            callback_url=callbacks.check(callback_url) if callback_url else "",
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        body = presentation.summary(batch, request)
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )

    @extend_schema(**schema.LIST)
    def get(self, request: Request) -> Response:
        pages = NewestFirst()
        try:
            page = pages.paginate_queryset(
                Batch.objects.filter(user=self.caller.user), request, view=self
            )
        except NotFound:
            raise ApiError(BAD_CURSOR, status_code=404) from None  # no such page
        return Response(
            {
                "batches": presentation.summaries(page, request),
                "next": pages.get_next_link(),
                "previous": pages.get_previous_link(),
            }
        )


class BatchView(BatchApiView):
    @extend_schema(**schema.DETAIL)
    def get(self, request: Request, batch_id) -> Response:
        return Response(presentation.detail(self.batch(batch_id), request))

    @extend_schema(**schema.CANCEL)
    def delete(self, request: Request, batch_id) -> Response:
        batch = jobs.cancel(self.batch(batch_id))
        return Response(presentation.detail(batch, request))


class BatchFileView(BatchApiView):
    @extend_schema(**schema.FILE)
    def get(self, request: Request, batch_id, index: str):
        batch = self.batch(batch_id)
        number = int(index) if index.isascii() and index.isdigit() and len(index) < 10 else -1
        item = batch.files.filter(index=number).exclude(output="").first()
        if item is None:
            raise ApiError(
                "No output for this file (not done, failed or unknown).", status_code=404
            )
        return FileResponse(storage().open(item.output), filename=item.output_name.rsplit("/")[-1])


class BatchResultView(BatchApiView):
    @extend_schema(**schema.RESULT)
    def get(self, request: Request, batch_id):
        batch = self.batch(batch_id)
        if batch.finished_at is None:
            raise ApiError(STILL_RUNNING, status_code=409)
        response = StreamingHttpResponse(archive.stream(batch), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.id}.zip"'
        return response


class CallbackSecretView(BatchApiView):
    """The key batch callbacks are signed with; POST makes a new one."""

    @extend_schema(**schema.SECRET)
    def get(self, request: Request) -> Response:
        return Response({"secret": CallbackSecret.objects.for_user(self.caller.user).secret})

    @extend_schema(**schema.SECRET_ROTATE)
    def post(self, request: Request) -> Response:
        secret = CallbackSecret.objects.for_user(self.caller.user)
        secret.rotate()
        return Response({"secret": secret.secret})
