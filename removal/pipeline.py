"""Background removal from bytes in to encoded bytes out.

decode (EXIF applied) -> matte from the model -> cut-out or matte -> rotate
-> resize -> background -> encode. The number of images in flight per process
is bounded so memory stays bounded under load.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from PIL import Image, ImageChops

from config.once import PerProcess
from config.operations import IMAGES_IN_FLIGHT, IMAGES_QUEUED
from removal import imaging, malloc, png, webp_writer
from removal.geometry import Geometry, check_output, output_size, reshape
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

    @property
    def geometry(self) -> Geometry:
        return Geometry(self.angle, self.expand, self.width, self.height, self.exact_resize)


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


@PerProcess
def big_image_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.REMOVAL_BIG_CONCURRENCY)


def remove_background(
    data: bytes | BinaryIO, options: RemovalOptions, header: imaging.Header | None = None
) -> RemovalResult:
    """Cut out the subject of ``data``.

    ``header`` is what validation read from the upload (format and size); when
    given, the upload is not identified again. Raises OutputTooLarge (before
    any pixel is decoded), UnreadableImage or Busy.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    if header is None:
        stream.seek(0)
        fmt = imaging.sniff_format(stream.read(16))
        if fmt is None:
            raise imaging.UnreadableImage("not a PNG, JPEG, WEBP or BMP file")
        opened = [imaging.open_image(stream, fmt)]
        header = imaging.read_header(opened[0])
    else:
        opened = [imaging.open_image(stream, header.format)]
    check_output(header.size, options.geometry)
    final = output_size(header.size, options.geometry)
    pixels = max(header.width * header.height, final[0] * final[1])
    # Big images take turns in a lane of their own: their memory stays bounded
    # (one or two at a time, not one per slot) and a small image never waits
    # behind them for a slot.
    big = pixels >= settings.REMOVAL_BIG_IMAGE_PIXELS
    slots = big_image_slots() if big else processing_slots()
    with IMAGES_QUEUED.track_inprogress():
        acquired = slots.acquire(timeout=settings.REMOVAL_QUEUE_TIMEOUT)
    if not acquired:
        raise Busy
    trim_from = settings.REMOVAL_MALLOC_TRIM_MIN_PIXELS
    trim = bool(trim_from) and pixels >= trim_from
    IMAGES_IN_FLIGHT.inc()
    try:
        if big:
            # The answer comes back through ``done``, not as the future's
            # result: the lane's thread keeps its last task (and so that
            # result) until it wakes up again, which may be after we return.
            done: list[RemovalResult] = []
            big_image_lane().submit(_render_big, done, opened, options).result()
            result = done.pop()
        else:
            result = _decode_and_render(opened, options)
        return result
    finally:
        IMAGES_IN_FLIGHT.dec()
        slots.release()
        if trim:
            # A big image (in or out) leaves freed heap that glibc would keep:
            # hand it back.
            malloc.trim()


@PerProcess
def big_image_lane() -> ThreadPoolExecutor:
    """Threads for big images, at a lower CPU priority than the request threads.

    A 10000x10000 request is seconds of CPU; at a lower priority it takes the
    cores small images leave idle instead of doubling their latency. Threads
    the lane starts (the PNG encoder's) inherit the priority.
    """
    return ThreadPoolExecutor(
        max_workers=settings.REMOVAL_BIG_CONCURRENCY,
        thread_name_prefix="big-image",
        initializer=_lower_priority,
    )


def _lower_priority() -> None:
    # Linux: the niceness of this thread only (the thread id, not 0, which
    # would be the whole process on other systems).
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), settings.REMOVAL_BIG_NICE)


def _render_big(
    done: list[RemovalResult], opened: list[Image.Image], options: RemovalOptions
) -> None:
    done.append(_decode_and_render(opened, options, background=True))


def _decode_and_render(
    opened: list[Image.Image], options: RemovalOptions, background: bool = False
) -> RemovalResult:
    # No local name for the decoded image: _render owns it and drops it as
    # soon as the cut-out exists, which lowers the peak for big uploads.
    decoded = [imaging.decode(opened.pop())]
    # The header may not tell the EXIF orientation (a PNG's eXIf chunk after
    # its pixels): check the decoded size too.
    check_output(decoded[0].size, options.geometry)
    return _render(decoded, options, background)


def _render(
    owned: list[Image.Image], options: RemovalOptions, background: bool = False
) -> RemovalResult:
    """Render the single image in ``owned``, emptying the list to free it early.

    Every full-size image lives only in ``owned`` (no local names), so each
    step frees the previous one as soon as it has its own.
    """
    model = get_model(options.model or None)
    matte = model.predict(owned[0], background=True) if background else model.predict(owned[0])
    if options.mask:
        owned[0] = matte
    else:
        owned.append(cut_out(owned.pop(), matte))
    del matte
    owned.append(reshape(owned, options.geometry))
    if not options.mask:
        opaque = options.format in OPAQUE_FORMATS
        owned.append(fill_background(owned.pop(), options.bg_color, opaque=opaque))
    return encode(owned, options.format)


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


def fill_background(image: Image.Image, color: Color | None, *, opaque: bool) -> Image.Image:
    """Lay ``image`` on ``color``; for JPEG and BMP (no alpha) the rest on white.

    Band by band in place, so the temporaries stay a few MB for any size.
    """
    white = opaque and (color is None or color[3] < 255)
    if color is not None or white:
        width, height = image.size
        for top in range(0, height, _BAND_ROWS):
            box = (0, top, width, min(height, top + _BAND_ROWS))
            band = image.crop(box)
            for backdrop in (color, WHITE if white else None):
                if backdrop is not None:
                    canvas = Image.new("RGBA", band.size, backdrop)
                    canvas.alpha_composite(band)
                    band = canvas
            image.paste(band, box)
    return image.convert("RGB") if opaque else image


def encode(owned: list[Image.Image], fmt: str) -> RemovalResult:
    """Encode the single image in ``owned`` (emptied: WebP frees it early)."""
    width, height = owned[0].size
    if fmt == "WEBP":
        content = webp_writer.encode(
            owned,
            quality=settings.REMOVAL_WEBP_QUALITY,
            method=settings.REMOVAL_WEBP_METHOD,
            # libwebp's own alpha encoder needs ~10 bytes a pixel.
            own_alpha=width * height >= settings.REMOVAL_BIG_IMAGE_PIXELS,
        )
        return _result(content, fmt, width, height)
    image = owned.pop()
    if fmt == "PNG" and _parallel_png(image):
        content = png.encode(
            image, level=settings.REMOVAL_PNG_COMPRESS_LEVEL, threads=_png_threads()
        )
        return _result(content, fmt, width, height)
    buffer = io.BytesIO()
    if fmt == "PNG":
        image.save(buffer, "PNG", compress_level=settings.REMOVAL_PNG_COMPRESS_LEVEL)
    elif fmt == "JPEG":
        image.save(buffer, "JPEG", quality=settings.REMOVAL_JPEG_QUALITY)
    elif fmt == "BMP":
        image.save(buffer, "BMP")
    else:
        raise ValueError(f"unsupported output format {fmt!r}")
    del image
    return _result(buffer.getvalue(), fmt, width, height)


def _parallel_png(image: Image.Image) -> bool:
    minimum = settings.REMOVAL_PNG_PARALLEL_MIN_PIXELS
    return bool(minimum) and image.width * image.height >= minimum and png.supports(image)


def _png_threads() -> int:
    return settings.REMOVAL_PNG_THREADS or os.cpu_count() or 1


def _result(content: bytes, fmt: str, width: int, height: int) -> RemovalResult:
    return RemovalResult(
        content=content, media_type=MEDIA_TYPES[fmt], format=fmt, width=width, height=height
    )
