"""Background removal from bytes in to encoded bytes out.

decode (EXIF applied) -> matte from the model -> cut-out or matte -> rotate
-> resize -> background -> encode. The number of images in flight per process
is bounded so memory stays bounded under load.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from PIL import Image, ImageChops

from config.once import PerProcess
from removal import imaging, malloc, png
from removal.inference import get_model

MEDIA_TYPES = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
}
OPAQUE_FORMATS = {"JPEG", "BMP"}
WHITE = (255, 255, 255, 255)
Color = tuple[int, int, int, int]


@dataclass(frozen=True)
class RemovalOptions:
    format: str = "WEBP"
    mask: bool = False
    bg_color: Color | None = None
    width: int | None = None
    height: int | None = None
    exact_resize: bool = False
    angle: float = 0.0
    expand: bool = True
    model: str = ""  # a name from removal.registry; empty: the server's default


@dataclass(frozen=True)
class RemovalResult:
    content: bytes
    media_type: str
    format: str
    width: int
    height: int


class Busy(Exception):
    """No processing slot became free in time."""


@PerProcess
def processing_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.REMOVAL_MAX_CONCURRENCY)


def remove_background(data: bytes | BinaryIO, options: RemovalOptions) -> RemovalResult:
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    stream.seek(0)
    fmt = imaging.sniff_format(stream.read(16))
    if fmt is None:
        raise imaging.UnreadableImage("not a PNG, JPEG, WEBP or BMP file")
    slots = processing_slots()
    if not slots.acquire(timeout=settings.REMOVAL_QUEUE_TIMEOUT):
        raise Busy
    pixels = 0
    try:
        opened = [imaging.open_image(stream, fmt)]
        pixels = opened[0].width * opened[0].height
        # No local name for the decoded image: _render owns it and drops it as
        # soon as the cut-out exists, which lowers the peak for big uploads.
        return _render([imaging.decode(opened.pop())], options)
    finally:
        slots.release()
        trim_from = settings.REMOVAL_MALLOC_TRIM_MIN_PIXELS
        if trim_from and pixels >= trim_from:
            # A big image leaves freed heap that glibc would keep: hand it back.
            malloc.trim()


def _render(owned: list[Image.Image], options: RemovalOptions) -> RemovalResult:
    """Render the single image in ``owned``, emptying the list to free it early."""
    matte = get_model(options.model or None).predict(owned[0])
    out = matte if options.mask else cut_out(owned.pop(), matte)
    owned.clear()
    if options.angle % 360:
        out = rotate(out, options.angle, options.expand)
    size = target_size(out.size, options.width, options.height, options.exact_resize)
    if size and size != out.size:
        out = out.resize(size, Image.Resampling.LANCZOS)
    if not options.mask:
        out = fill_background(out, options.bg_color, opaque=options.format in OPAQUE_FORMATS)
    return encode(out, options.format)


# Rows per band when blacking out hidden pixels: the temporary mask stays small.
_BAND_ROWS = 256
_HIDDEN = [255] + [0] * 255


def cut_out(image: Image.Image, matte: Image.Image) -> Image.Image:
    """The subject with the matte as alpha; fully transparent pixels are black.

    Consumes ``image``: an RGB image becomes RGBA in place (Pillow stores RGB
    with four bytes a pixel, so no copy is made), which keeps a 100 MP upload
    to one full-size colour buffer. Straight (not premultiplied) colour keeps
    edges free of dark fringes, and zeroed hidden pixels keep PNG encoding fast
    and small.
    """
    alpha = matte
    if image.mode == "RGBA":
        alpha = ImageChops.multiply(image.getchannel("A"), matte)
    image.putalpha(alpha)
    del alpha, matte
    width, height = image.size
    for top in range(0, height, _BAND_ROWS):
        box = (0, top, width, min(height, top + _BAND_ROWS))
        hidden = image.crop(box).getchannel("A").point(_HIDDEN)
        if hidden.getbbox():
            image.paste((0, 0, 0, 0), box, hidden)
    return image


def rotate(image: Image.Image, angle: float, expand: bool) -> Image.Image:
    """Rotate counter-clockwise by ``angle`` degrees; new corners are transparent."""
    if image.mode == "L":
        return image.rotate(angle, Image.Resampling.BICUBIC, expand=expand, fillcolor=0)
    # Interpolate premultiplied so transparent neighbours do not darken edges.
    turned = image.convert("RGBa").rotate(
        angle, Image.Resampling.BICUBIC, expand=expand, fillcolor=(0, 0, 0, 0)
    )
    return turned.convert("RGBA")


def target_size(
    size: tuple[int, int], width: int | None, height: int | None, exact: bool
) -> tuple[int, int] | None:
    """The output size: exactly w x h, or fit inside it keeping the aspect ratio."""
    if not width and not height:
        return None
    w0, h0 = size
    if exact:
        return (width or w0, height or h0)
    if width and height:
        scale = min(width / w0, height / h0)
    elif width:
        scale = width / w0
    else:
        scale = height / h0
    return (max(1, round(w0 * scale)), max(1, round(h0 * scale)))


def fill_background(image: Image.Image, color: Color | None, *, opaque: bool) -> Image.Image:
    if color is not None:
        canvas = Image.new("RGBA", image.size, color)
        canvas.alpha_composite(image)
        image = canvas
    if opaque:
        # JPEG and BMP have no alpha: whatever is still see-through sits on white.
        if color is None or color[3] < 255:
            canvas = Image.new("RGBA", image.size, WHITE)
            canvas.alpha_composite(image)
            image = canvas
        image = image.convert("RGB")
    return image


def encode(image: Image.Image, fmt: str) -> RemovalResult:
    buffer = io.BytesIO()
    if fmt == "PNG" and _parallel_png(image):
        content = png.encode(
            image, level=settings.REMOVAL_PNG_COMPRESS_LEVEL, threads=_png_threads()
        )
        return _result(content, fmt, image)
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=settings.REMOVAL_PNG_COMPRESS_LEVEL)
    elif fmt == "WEBP":
        image.save(
            buffer,
            "WEBP",
            quality=settings.REMOVAL_WEBP_QUALITY,
            method=settings.REMOVAL_WEBP_METHOD,
        )
    elif fmt == "JPEG":
        image.save(buffer, "JPEG", quality=settings.REMOVAL_JPEG_QUALITY)
    elif fmt == "BMP":
        image.save(buffer, "BMP")
    else:
        raise ValueError(f"unsupported output format {fmt!r}")
    return _result(buffer.getvalue(), fmt, image)


def _parallel_png(image: Image.Image) -> bool:
    minimum = settings.REMOVAL_PNG_PARALLEL_MIN_PIXELS
    return bool(minimum) and image.width * image.height >= minimum and png.supports(image)


def _png_threads() -> int:
    return settings.REMOVAL_PNG_THREADS or os.cpu_count() or 1


def _result(content: bytes, fmt: str, image: Image.Image) -> RemovalResult:
    return RemovalResult(
        content=content,
        media_type=MEDIA_TYPES[fmt],
        format=fmt,
        width=image.width,
        height=image.height,
    )
