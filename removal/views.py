from __future__ import annotations

import base64
import logging
from pathlib import PurePath

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.ratelimit import RateLimitedMixin
from billing import credits
from config.errors import ApiError
from removal import registry, schema
from removal.geometry import OutputTooLarge
from removal.imaging import UnreadableImage
from removal.pipeline import Busy, RemovalResult, remove_background
from removal.validation import parse_removal_request

logger = logging.getLogger(__name__)
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "BMP": "bmp"}


class RemoveBackgroundView(RateLimitedMixin, APIView):
    """POST /rmbg: authenticate -> gate -> validate -> reserve -> infer -> commit."""

    parser_classes = [MultiPartParser, FormParser]

    def dispatch(self, request, *args, **kwargs):
        response = super().dispatch(request, *args, **kwargs)
        # DRF keeps the response on the view, and the view and its request point
        # at each other: the answer (300 MB for a 10000x10000 BMP) would live
        # until the cyclic garbage collector ran, not just until it was sent.
        del self.response
        return response

    @extend_schema(**schema.RMBG)
    def post(self, request: Request) -> HttpResponse:
        # DRF has authenticated the caller (and refused bad keys) before this runs.
        caller = self.caller
        removal = parse_removal_request(request.data, request.FILES)
        idempotency_key = request.headers.get("Idempotency-Key")
        cost = registry.all_models()[removal.options.model].credits
        with credits.metered(
            caller,
            idempotency_key=idempotency_key,
            fingerprint=lambda: removal.fingerprint,
            cost=cost,
        ) as charged:
            result = self.remove(removal)
        logger.info(
            "rmbg ok %s %s %dx%d", caller.describe(), result.format, result.width, result.height
        )
        response = self.render_result(request, result, removal.image.name)
        response["X-Credits-Charged"] = str(charged.charges)
        return response

    @staticmethod
    def remove(removal) -> RemovalResult:
        try:
            return remove_background(removal.image, removal.options, removal.header)
        except OutputTooLarge as exc:
            # Only when the decoded size differs from the header's (validation
            # refuses the rest before a credit is reserved).
            raise ApiError(exc.message, field=exc.field) from None
        except UnreadableImage:
            raise ApiError(
                "File could not be read as an image (the data is corrupted or truncated)",
                field="image",
            ) from None
        except Busy:
            raise ApiError(
                "The server is busy. Please retry in a few seconds.",
                status_code=503,
                headers={"Retry-After": "5"},
            ) from None

    @staticmethod
    def render_result(request: Request, result: RemovalResult, upload_name: str) -> HttpResponse:
        headers = {"X-Width": str(result.width), "X-Height": str(result.height)}
        if wants_json(request.headers.get("Accept", "")):
            body = {
                "image": base64.b64encode(result.content).decode("ascii"),
                "format": result.format.lower(),
                "width": result.width,
                "height": result.height,
            }
            return Response(body, headers=headers)
        stem = PurePath(upload_name or "image").stem or "image"
        filename = f"{stem}-cutout.{EXTENSIONS[result.format]}"
        response = HttpResponse(result.content, content_type=result.media_type, headers=headers)
        response["Content-Disposition"] = f'inline; filename="{_ascii(filename)}"'
        return response


def wants_json(accept: str) -> bool:
    """JSON only for a client that asks for JSON and not for images or anything.

    rembg.js (axios) sends "application/json, text/plain, */*" and expects raw bytes.
    """
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return (
        "application/json" in types
        and "*/*" not in types
        and not any(t.startswith("image/") for t in types)
    )


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


class ModelsView(RateLimitedMixin, APIView):
    """GET /api/models: the models this server can run, default first."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(**schema.MODELS)
    def get(self, request: Request) -> Response:
        default = settings.REMOVAL_DEFAULT_MODEL
        models = [
            {
                "name": spec.name,
                "default": spec.name == default,
                "family": spec.family.name,
                "licence": spec.licence,
                "credits": spec.credits,
                "source": spec.source,
            }
            for spec in registry.installed().values()
        ]
        return Response({"default": default, "models": models})
