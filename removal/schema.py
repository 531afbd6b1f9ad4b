"""OpenAPI description of POST /rmbg (used by drf-spectacular, not for validation)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiRequest,
    OpenApiResponse,
    extend_schema_field,
    inline_serializer,
)
from PIL import ImageColor
from rest_framework import serializers

from removal.limits import MAX_SIDE, MAX_UPLOAD_MB
from removal.validation import FLAG_VALUES

# What the server accepts, so that a request valid by the spec is never refused
# (schemathesis checks both ways). Names are accepted in any case; the spec lists them
# lower-case. An empty value counts as absent, which is what "Try it out" sends.
_COLOR_PATTERN = (
    r"^(|#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|transparent|"
    + "|".join(sorted(ImageColor.colormap))
    + ")$"
)


IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp")


@extend_schema_field({"type": "string", "enum": [*FLAG_VALUES]})
class FlagField(serializers.Field):
    """`true`/`false` as rembg.js sends them, and the other spellings the server reads."""


@extend_schema_field({"type": "string", "pattern": _COLOR_PATTERN})
class ColorField(serializers.Field):
    pass


# The installed models are known when the spec is generated, not when this module
# is imported: installed_models() fills in the enum.
@extend_schema_field({"type": "string", "x-installed-models": True})
class ModelField(serializers.Field):
    pass


def installed_models(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook: the `model` field lists the installed models."""
    from django.conf import settings

    from removal import registry

    names = list(registry.installed())
    for component in result.get("components", {}).get("schemas", {}).values():
        for field in component.get("properties", {}).values():
            if field.pop("x-installed-models", False):
                field["enum"] = names
                field["default"] = settings.REMOVAL_DEFAULT_MODEL
    return result


class RemovalForm(serializers.Serializer):
    image = serializers.FileField(
        help_text="The photo: PNG, JPEG, WEBP or BMP (checked by content), at most "
        f"{MAX_UPLOAD_MB} MB and {MAX_SIDE} px per side. Animated images use their "
        "first frame; EXIF orientation is applied."
    )
    # Upper case only: generated clients make an enum of it, and PNG/png would clash.
    format = serializers.ChoiceField(
        choices=["PNG", "JPEG", "JPG", "WEBP", "BMP"],
        required=False,
        default="WEBP",
        help_text="Output format, any case. JPEG and BMP have no alpha: the background "
        "is `bg_color`, else white.",
    )
    mask = FlagField(
        required=False,
        default="false",
        help_text="`true` returns only the alpha matte (single channel).",
    )
    model = ModelField(
        required=False,
        help_text="The model: `u2netp` (fast, the default unless the operator chose "
        "another) or another installed one, such as `isnet` (best quality, slower); "
        "`GET /api/models` lists them with their credit cost. rembg.js never sends it.",
    )
    bg_color = ColorField(
        required=False,
        default="",
        help_text="Fill the background: `#RGB`, `#RGBA`, `#RRGGBB`, `#RRGGBBAA`, a CSS "
        "colour name (`red`, `lightblue`...) or `transparent`; empty for none. "
        "Not with `mask=true`.",
    )
    w = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_SIDE,
        help_text="Target width in px; `0` keeps the size. With `h`, the image fits inside "
        "w x h keeping its aspect ratio.",
    )
    h = serializers.IntegerField(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_SIDE,
        help_text="Target height in px; `0` keeps the size.",
    )
    exact_resize = FlagField(
        required=False,
        default="false",
        help_text="`true` forces exactly w x h, ignoring the aspect ratio.",
    )
    angle = serializers.FloatField(
        required=False,
        default=0,
        min_value=-360,
        max_value=360,
        help_text="Rotation in degrees; positive turns counter-clockwise, negative "
        "clockwise. Applied before resizing, so `w`/`h` bound the final image. The "
        f"final image may be at most {MAX_SIDE} px a side: a turn that makes it larger "
        "needs `w`/`h` (or `expand=false`), else 400.",
    )
    expand = FlagField(
        required=False,
        default="true",
        help_text="`true` enlarges the canvas so a rotated image is not cropped "
        "(new corners are transparent, or `bg_color`); `false` keeps the original canvas.",
    )
    return_base64 = FlagField(
        required=False,
        default="false",
        help_text="Accepted for rembg.js compatibility (it encodes on its side): a multipart "
        "request always gets raw bytes. Send `Accept: application/json` to get base64 JSON.",
    )


ERROR_BODY = inline_serializer(
    "Error",
    fields={
        "error": serializers.CharField(),
        "field": serializers.CharField(required=False),
        "details": serializers.ListField(
            child=inline_serializer(
                "ErrorDetail",
                fields={"field": serializers.CharField(), "message": serializers.CharField()},
            ),
            required=False,
        ),
        "status": serializers.IntegerField(),
    },
)

IMAGE_JSON = inline_serializer(
    "RemovalJson",
    fields={
        "image": serializers.CharField(help_text="The output image, base64-encoded."),
        "format": serializers.CharField(help_text="png, jpeg, webp or bmp"),
        "width": serializers.IntegerField(),
        "height": serializers.IntegerField(),
    },
)

RMBG = {
    "operation_id": "removeBackground",
    "summary": "Remove the background of an image",
    "description": (
        "Send an image as multipart form data; get the cut-out back as raw image bytes "
        "(`Content-Type` image/webp by default) with `X-Width` and `X-Height` headers. "
        "A client whose `Accept` header asks for `application/json` only gets "
        "`{image (base64), format, width, height}` instead (what generated clients "
        "read). Validation reports one error per field (its first failing check) and every "
        "field with an error at once.\n\n"
        "**Who pays**: with `x-api-key`, one credit of that account (`api` usage); signed "
        "in on this site, one of yours (`app` usage); with neither, the anonymous daily "
        "allowance of your IP. Only a successful request costs a credit "
        "(`X-Credits-Charged: 1`); a retry of the same request (same image and options) "
        "with the same `Idempotency-Key` within 24 h is not charged again "
        "(`X-Credits-Charged: 0`). A key is bound to the request it was first used with: "
        "another request under it is refused with 422 and nothing is processed. "
        "Every response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and "
        "`X-RateLimit-Reset` (unix time)."
    ),
    "parameters": [
        OpenApiParameter(
            "Idempotency-Key",
            {"type": "string", "minLength": 1, "maxLength": 255},
            OpenApiParameter.HEADER,
            description=(
                "A unique string (1 to 255 chars) per request: a retry of the same request "
                "within 24 h is not charged twice; another request under it is a 422."
            ),
        )
    ],
    # The image part's content types, so that clients and fuzzers send a real image.
    "request": {
        "multipart/form-data": OpenApiRequest(
            RemovalForm,
            encoding={"image": {"contentType": ", ".join(IMAGE_MEDIA_TYPES)}},
        )
    },
    "responses": {
        (200, "image/webp"): OpenApiResponse(OpenApiTypes.BINARY, description="The cut-out."),
        (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY),
        (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY),
        (200, "image/bmp"): OpenApiResponse(OpenApiTypes.BINARY),
        (200, "application/json"): OpenApiResponse(IMAGE_JSON),
        400: OpenApiResponse(
            ERROR_BODY,
            description="Invalid input.",
            examples=[
                OpenApiExample(
                    "One error",
                    value={
                        "error": "Invalid format 'gif'. Allowed formats: PNG, JPEG, WEBP, BMP",
                        "field": "format",
                        "status": 400,
                    },
                ),
                OpenApiExample(
                    "Several errors",
                    value={
                        "error": "Multiple validation errors",
                        "details": [
                            {"field": "w", "message": "'w' must be an integer, got: 'abc'"},
                            {
                                "field": "angle",
                                "message": "'angle' must be between -360 and 360 degrees, "
                                "got: 500.0",
                            },
                        ],
                        "status": 400,
                    },
                ),
                OpenApiExample(
                    "No image",
                    value={
                        "error": "No image file provided. Please include an 'image' field "
                        "in your form data.",
                        "field": "image",
                        "status": 400,
                    },
                ),
            ],
        ),
        401: OpenApiResponse(
            ERROR_BODY,
            description="Invalid, unknown or revoked API key.",
            examples=[OpenApiExample("Bad key", value={"error": "invalid api key", "status": 401})],
        ),
        403: OpenApiResponse(
            ERROR_BODY,
            description="The key's owner has not verified their e-mail address.",
            examples=[
                OpenApiExample(
                    "Unverified",
                    value={
                        "error": "Email address not verified – please check your inbox",
                        "status": 403,
                    },
                )
            ],
        ),
        409: OpenApiResponse(
            ERROR_BODY, description="A request with this Idempotency-Key is still running."
        ),
        422: OpenApiResponse(
            ERROR_BODY,
            description="The Idempotency-Key was already used for a different request.",
            examples=[
                OpenApiExample(
                    "Key reused",
                    value={
                        "error": "Idempotency-Key has already been used for a different request",
                        "status": 422,
                    },
                )
            ],
        ),
        429: OpenApiResponse(
            ERROR_BODY,
            description="A limit was reached; short-term limits add `Retry-After`.",
            examples=[
                OpenApiExample(
                    "Too fast",
                    value={
                        "error": "You're making requests too quickly, Please Upgrade or slow down.",
                        "status": 429,
                    },
                ),
                OpenApiExample(
                    "Anonymous daily limit",
                    value={
                        "error": "You've reached your daily limit. Please sign up for more access.",
                        "status": 429,
                    },
                ),
                OpenApiExample(
                    "Credits used up",
                    value={
                        "error": "You've reached your monthly limit. "
                        "Consider purchasing more credits.",
                        "status": 429,
                    },
                ),
            ],
        ),
        503: OpenApiResponse(
            ERROR_BODY,
            description="Every processing slot stayed busy; retry after `Retry-After` seconds.",
        ),
    },
    "tags": ["Background removal"],
}


MODEL_ENTRY = inline_serializer(
    "Model",
    {
        "name": serializers.CharField(help_text="What `model` takes on `POST /rmbg`."),
        "default": serializers.BooleanField(help_text="Used when a request names no model."),
        "family": serializers.CharField(help_text="`u2net` (320² input) or `isnet` (1024²)."),
        "licence": serializers.CharField(help_text="The licence of the model's weights."),
        "credits": serializers.IntegerField(help_text="Credits one image costs with it."),
        "source": serializers.CharField(),
    },
)
MODELS = {
    "operation_id": "listModels",
    "summary": "The models this server can run",
    "description": "Installed models, the default first, with their licence and credit cost.",
    "auth": [],
    "responses": {
        200: inline_serializer(
            "Models",
            {
                "default": serializers.CharField(),
                "models": serializers.ListField(child=MODEL_ENTRY),
            },
        )
    },
}
