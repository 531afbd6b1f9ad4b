"""OpenAPI description of POST /rmbg (used by drf-spectacular, not for validation)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    inline_serializer,
)
from rest_framework import serializers

from removal.limits import MAX_SIDE, MAX_UPLOAD_MB


class RemovalForm(serializers.Serializer):
    image = serializers.FileField(
        help_text="The photo: PNG, JPEG, WEBP or BMP (checked by content), at most "
        f"{MAX_UPLOAD_MB} MB and {MAX_SIDE} px per side. Animated images use their "
        "first frame; EXIF orientation is applied."
    )
    format = serializers.ChoiceField(
        choices=["PNG", "JPEG", "JPG", "WEBP", "BMP"],
        required=False,
        default="WEBP",
        help_text="Output format, any case. JPEG and BMP have no alpha: the background "
        "is `bg_color`, else white.",
    )
    mask = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        default="false",
        help_text="`true` returns only the alpha matte (single channel).",
    )
    bg_color = serializers.CharField(
        required=False,
        help_text="Fill the background: `#RGB`, `#RGBA`, `#RRGGBB`, `#RRGGBBAA` or a CSS "
        "colour name (`red`, `lightblue`...). Not with `mask=true`.",
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
    exact_resize = serializers.ChoiceField(
        choices=["true", "false"],
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
    expand = serializers.ChoiceField(
        choices=["true", "false"],
        required=False,
        default="true",
        help_text="`true` enlarges the canvas so a rotated image is not cropped "
        "(new corners are transparent, or `bg_color`); `false` keeps the original canvas.",
    )
    return_base64 = serializers.ChoiceField(
        choices=["true", "false"],
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
        "`{image (base64), format, width, height}` instead. "
        "All validation errors are reported together.\n\n"
        "**Who pays**: with `x-api-key`, one credit of that account (`api` usage); signed "
        "in on this site, one of yours (`app` usage); with neither, the anonymous daily "
        "allowance of your IP. Only a successful request costs a credit "
        "(`X-Credits-Charged: 1`); a retry with the same `Idempotency-Key` within 24 h "
        "is not charged again (`X-Credits-Charged: 0`). Every response carries "
        "`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (unix time)."
    ),
    "parameters": [
        OpenApiParameter(
            "Idempotency-Key",
            str,
            OpenApiParameter.HEADER,
            description="A unique string (≤ 255 chars): a retry within 24 h is not charged twice.",
        )
    ],
    "request": {"multipart/form-data": RemovalForm},
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
