"""Validation of a POST /rmbg request: one error per field, every field checked.

The messages are rembg.com's, word for word.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import ImageColor

from config.errors import FieldError, InvalidInput, parse_integer, parse_number
from removal import imaging, registry
from removal.geometry import OutputTooLarge, check_output
from removal.limits import MAX_SIDE, MAX_UPLOAD_BYTES, MAX_UPLOAD_MB
from removal.pipeline import Color, RemovalOptions

ALLOWED_EXTENSIONS = ("webp", "bmp", "png", "jpg", "jpeg")
OUTPUT_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "JPG": "JPEG", "WEBP": "WEBP", "BMP": "BMP"}
_HEX = re.compile(r"#([0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
TRUE_VALUES = ("true", "1", "yes", "on")
FALSE_VALUES = ("false", "0", "no", "off")
FLAG_VALUES = TRUE_VALUES + FALSE_VALUES  # in any case


@dataclass(frozen=True)
class RemovalRequest:
    image: UploadedFile
    options: RemovalOptions
    # What the upload's header said (format, size): the pipeline reads it
    # instead of identifying the upload again.
    header: imaging.Header

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the upload and the parsed options: what an Idempotency-Key is bound to.

        Options are hashed as parsed, so spellings of one request ("PNG", "png";
        w=0 or no w) are the same request.
        """
        digest = hashlib.sha256()
        self.image.seek(0)
        for chunk in self.image.chunks():
            digest.update(chunk)
        self.image.seek(0)
        digest.update(json.dumps(asdict(self.options), sort_keys=True).encode())
        return digest.hexdigest()


def parse_removal_request(data: Any, files: Any) -> RemovalRequest:
    """Read the form into options; raise InvalidInput listing every problem."""
    errors: list[FieldError] = []
    checked = _check_image(data, files, errors)
    options = _options(data, errors)
    if errors:
        raise InvalidInput(errors)
    assert checked is not None
    image, header = checked
    try:
        # From the header alone: no credit is reserved, no pixel decoded, for
        # an answer we would refuse to make.
        check_output(header.size, options.geometry)
    except OutputTooLarge as exc:
        raise InvalidInput([FieldError(exc.field, exc.message)]) from None
    return RemovalRequest(image=image, options=options, header=header)


def parse_options(data: Any) -> RemovalOptions:
    """The options of a request without its image (a batch's); InvalidInput if any is wrong."""
    errors: list[FieldError] = []
    options = _options(data, errors)
    if errors:
        raise InvalidInput(errors)
    return options


def check_file(upload: Any, options: RemovalOptions) -> tuple[imaging.Header | None, str]:
    """One file of a batch, checked as /rmbg checks its image: (header, "") or (None, message).

    ``upload`` is file-like with a ``name`` (the name the user gave it) and a ``size``.
    """
    errors: list[FieldError] = []
    header = _check_upload(upload, errors)
    if header is None:
        return None, errors[0].message
    try:
        check_output(header.size, options.geometry)
    except OutputTooLarge as exc:
        return None, exc.message
    return header, ""


def _options(data: Any, errors: list[FieldError]) -> RemovalOptions:
    width = _dimension(data, "w", errors)
    height = _dimension(data, "h", errors)
    angle = _angle(data, errors)
    fmt = _format(data, errors)
    bg_color = _color(data, errors)
    mask = _flag(data, "mask", False, errors)
    exact_resize = _flag(data, "exact_resize", False, errors)
    expand = _flag(data, "expand", True, errors)
    model = _model(data, errors)
    _flag(data, "return_base64", False, errors)  # accepted; see the view
    if mask and bg_color is not None:
        errors.append(
            FieldError(
                "mask",
                "Cannot use 'mask=true' together with 'bg_color'. Choose one or the other.",
            )
        )
    return RemovalOptions(
        format=fmt,
        mask=mask,
        bg_color=bg_color,
        width=width,
        height=height,
        exact_resize=exact_resize,
        angle=angle,
        expand=expand,
        model=model,
    )


def _check_image(
    data: Any, files: Any, errors: list[FieldError]
) -> tuple[UploadedFile, imaging.Header] | None:
    """The upload and its header, or None with one error: the first check that fails."""
    found: list[FieldError] = []
    upload = files.get("image")
    header = None
    if upload is None:
        found.append(FieldError("image", _missing_message(data)))
    else:
        header = _check_upload(upload, found)
    # One error per field, as rembg.com answers: a later check repeats the first failure.
    errors.extend(found[:1])
    return None if found or header is None else (upload, header)


def _missing_message(data: Any) -> str:
    if "image" in data:
        # A file part with an empty filename arrives as a plain field.
        return "No file selected. Please choose an image file to upload."
    return "No image file provided. Please include an 'image' field in your form data."


def _check_upload(upload: UploadedFile, errors: list[FieldError]) -> imaging.Header | None:
    """extension -> empty -> signature -> size -> dimensions; stops at the first failure."""
    suffix = PurePath(upload.name or "").suffix.lower().lstrip(".")
    if suffix and suffix not in ALLOWED_EXTENSIONS:
        errors.append(
            FieldError(
                "image",
                f"File type '.{suffix}' is not supported. "
                f"Allowed formats: {', '.join(ALLOWED_EXTENSIONS)}",
            )
        )
        return None
    if upload.size == 0:
        errors.append(FieldError("image", "Uploaded file is empty (0 bytes)."))
        return None
    upload.seek(0)
    fmt = imaging.sniff_format(upload.read(16))
    if fmt is None:
        errors.append(
            FieldError("image", "File does not appear to be a valid image (invalid file signature)")
        )
        return None
    if upload.size > MAX_UPLOAD_BYTES:
        errors.append(
            FieldError(
                "image",
                f"File size ({upload.size / (1024 * 1024):.1f} MB) exceeds "
                f"the maximum allowed size of {MAX_UPLOAD_MB} MB.",
            )
        )
        return None
    return _check_dimensions(upload, fmt, errors)


def _check_dimensions(
    upload: UploadedFile, fmt: str, errors: list[FieldError]
) -> imaging.Header | None:
    """The upload's header, or None with the error added."""
    found = len(errors)
    try:
        with imaging.open_image(upload, fmt) as image:
            header = imaging.read_header(image)
    except imaging.ImageTooLarge:
        side = MAX_SIDE
        errors.append(
            FieldError(
                "image",
                f"Image dimensions exceed the maximum allowed size of {side}x{side}px.",
            )
        )
        return None
    except imaging.UnreadableImage:
        errors.append(
            FieldError(
                "image",
                "File could not be read as an image (the data is corrupted or truncated)",
            )
        )
        return None
    width, height = header.width, header.height
    if width > MAX_SIDE:
        errors.append(
            FieldError(
                "image",
                f"Image width ({width}px) exceeds the maximum allowed width of {MAX_SIDE}px.",
            )
        )
    if height > MAX_SIDE:
        errors.append(
            FieldError(
                "image",
                f"Image height ({height}px) exceeds the maximum allowed height of {MAX_SIDE}px.",
            )
        )
    return header if len(errors) == found else None


def _value(data: Any, name: str, *, empty_is_absent: bool = False) -> str | None:
    """The field's text, None when it was not sent.

    A field sent empty is refused by its own check ("got: ''"), as the spec says,
    except where the spec lets empty mean "none" (bg_color).
    """
    raw = data.get(name)
    if raw is None:
        return None
    raw = str(raw).strip()
    return None if empty_is_absent and not raw else raw


def _dimension(data: Any, name: str, errors: list[FieldError]) -> int | None:
    raw = _value(data, name)
    if raw is None or raw == "0":
        return None
    value = parse_integer(name, raw, errors)
    if value is None:
        return None
    if value < 1:
        errors.append(FieldError(name, f"'{name}' must be at least 1, got: {value}"))
    elif value > MAX_SIDE:
        errors.append(FieldError(name, f"'{name}' must be at most {MAX_SIDE}, got: {value}"))
    else:
        return value
    return None


def _angle(data: Any, errors: list[FieldError]) -> float:
    raw = _value(data, "angle")
    if raw is None:
        return 0.0
    value = parse_number("angle", raw, errors)
    if value is None:
        return 0.0
    if not -360 <= value <= 360:
        errors.append(
            FieldError("angle", f"'angle' must be between -360 and 360 degrees, got: {value}")
        )
        return 0.0
    return value


def _format(data: Any, errors: list[FieldError]) -> str:
    raw = _value(data, "format")
    if raw is None:
        return "WEBP"
    fmt = OUTPUT_FORMATS.get(raw.upper())
    if fmt is None:
        errors.append(
            FieldError("format", f"Invalid format '{raw}'. Allowed formats: PNG, JPEG, WEBP, BMP")
        )
        return "WEBP"
    return fmt


def _color(data: Any, errors: list[FieldError]) -> Color | None:
    raw = _value(data, "bg_color", empty_is_absent=True)
    if raw is None:
        return None
    color = parse_color(raw)
    if color is None:
        errors.append(
            FieldError(
                "bg_color",
                f"Invalid color format '{raw}'. Use hex format: #RGB, #RGBA, #RRGGBB, or #RRGGBBAA",
            )
        )
    return color


def parse_color(raw: str) -> Color | None:
    """#RGB, #RGBA, #RRGGBB, #RRGGBBAA, a CSS colour name, or transparent."""
    if raw.lower() == "transparent":
        return (0, 0, 0, 0)
    match = _HEX.fullmatch(raw)
    if match:
        digits = match.group(1)
        if len(digits) <= 4:
            digits = "".join(c * 2 for c in digits)
        if len(digits) == 6:
            digits += "ff"
        r, g, b, a = (int(digits[i : i + 2], 16) for i in range(0, 8, 2))
        return (r, g, b, a)
    if raw.lower() in ImageColor.colormap:
        r, g, b = ImageColor.getrgb(raw.lower())[:3]
        return (r, g, b, 255)
    return None


def _model(data: Any, errors: list[FieldError]) -> str:
    """The model's name; a request that names none gets the server's default."""
    installed = registry.installed()
    raw = _value(data, "model")
    if raw is None:
        return settings.REMOVAL_DEFAULT_MODEL
    name = raw.lower()
    if name not in installed:
        errors.append(
            FieldError("model", f"Invalid model '{raw}'. Available models: {', '.join(installed)}")
        )
        return settings.REMOVAL_DEFAULT_MODEL
    return name


def _flag(data: Any, name: str, default: bool, errors: list[FieldError]) -> bool:
    raw = _value(data, name)
    if raw is None:
        return default
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    errors.append(FieldError(name, f"'{name}' must be true or false, got: '{raw}'"))
    return default
