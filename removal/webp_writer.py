"""A lossy WebP writer that keeps a 100 MP cut-out within a bounded memory.

Pillow's WebP encoder copies the image into libwebp as 32-bit ARGB and libwebp
then converts it to YUV; its lossless alpha encoder then holds about 10 bytes
a pixel. For a 10000x10000 cut-out that was 2.7 GB for the request. Here the
pixels go to libwebp (through the ``webp`` package's bindings) to be imported
straight into YUV, the image and its bytes are dropped before the encoder
runs, and for big images the alpha is written by removal.webp_alpha, a few
rows at a time, and only the colours by libwebp. Same library and settings
as Pillow's lossy encoder for the colours; the alpha stays lossless.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
from PIL import Image
from webp import ffi, lib

from removal import webp_alpha

# Rows copied at a time out of Pillow's image: Image.tobytes() would hold the
# pixels twice (its chunks, then their join).
_BAND_ROWS = 256
_IMPORT = {"RGB": (lib.WebPPictureImportRGB, 3), "RGBA": (lib.WebPPictureImportRGBA, 4)}


class WebPEncodeError(Exception):
    """libwebp refused the picture (for instance an image over 16383 px a side)."""


def encode(
    owned: list[Image.Image], *, quality: float, method: int, own_alpha: bool = False
) -> bytes:
    """The single image in ``owned`` as lossy WebP; empties ``owned`` to free it early.

    With ``own_alpha`` an RGBA image's alpha is written by removal.webp_alpha
    (bounded memory) and only its colours by libwebp. The caller must hold no
    other reference to the image, or its memory stays alive while encoding.
    """
    image = owned.pop()
    if image.mode not in _IMPORT:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    width, height = image.size
    if not (own_alpha and image.mode == "RGBA"):
        pixels = _packed(image, image.mode)
        depth = len(image.mode)
        del image
        return _libwebp(pixels, width, height, depth, quality, method)
    alpha = webp_alpha.encode(_alpha_rows(image), width)
    pixels = _packed(image, "RGB")
    del image
    colours = _libwebp(pixels, width, height, 3, quality, method)
    return _with_alpha(colours, alpha, width, height)


def _libwebp(
    pixels: bytearray, width: int, height: int, depth: int, quality: float, method: int
) -> bytes:
    """libwebp's lossy encoding of packed RGB or RGBA rows (``pixels`` is consumed)."""
    import_pixels = _IMPORT["RGB" if depth == 3 else "RGBA"][0]
    picture = ffi.new("WebPPicture*")
    writer = ffi.new("WebPMemoryWriter*")
    config = ffi.new("WebPConfig*")
    if not (
        lib.WebPPictureInit(picture)
        and lib.WebPConfigPreset(config, lib.WEBP_PRESET_DEFAULT, quality)
    ):
        raise WebPEncodeError("libwebp version mismatch")
    lib.WebPMemoryWriterInit(writer)
    try:
        picture.width, picture.height = width, height
        # YUV (what lossy WebP stores), not ARGB: 2.5 bytes a pixel, not 4.
        picture.use_argb = 0
        if not import_pixels(picture, ffi.from_buffer(pixels), width * depth):
            raise WebPEncodeError("out of memory importing the picture")
        pixels.clear()  # the caller's buffer too: libwebp has its own copy now
        config.method = method
        if not lib.WebPValidateConfig(config):
            raise WebPEncodeError("invalid WebP settings")
        picture.writer = lib.WebPMemoryWrite
        picture.custom_ptr = writer
        if not lib.WebPEncode(config, picture):
            raise WebPEncodeError(f"libwebp could not encode a {width}x{height} picture")
        return bytes(ffi.buffer(writer.mem, writer.size))
    finally:
        lib.WebPPictureFree(picture)
        lib.WebPMemoryWriterClear(writer)


def _alpha_rows(image: Image.Image) -> Iterator[np.ndarray]:
    for top in range(0, image.height, _BAND_ROWS):
        box = (0, top, image.width, min(image.height, top + _BAND_ROWS))
        yield from np.asarray(image.crop(box).getchannel("A"))


def _with_alpha(colours: bytes, alpha: bytes, width: int, height: int) -> bytes:
    """An extended WebP file (VP8X, ALPH, VP8) from libwebp's simple one and an alpha."""
    vp8 = _chunk_of(colours, b"VP8 ")
    flags = 0x10  # the alpha flag
    canvas = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = (
        b"WEBP"
        + _chunk(b"VP8X", bytes((flags, 0, 0, 0)) + canvas)
        + _chunk(b"ALPH", alpha)
        + _chunk(b"VP8 ", vp8)
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def _chunk_of(riff: bytes, kind: bytes) -> bytes:
    at = 12
    while at + 8 <= len(riff):
        size = struct.unpack_from("<I", riff, at + 4)[0]
        if riff[at : at + 4] == kind:
            return riff[at + 8 : at + 8 + size]
        at += 8 + size + (size & 1)
    raise WebPEncodeError(f"libwebp wrote no {kind!r} chunk")


def _packed(image: Image.Image, mode: str) -> bytearray:
    """The pixels in ``mode`` as one contiguous buffer, filled band by band."""
    row = image.width * len(mode)
    pixels = bytearray(row * image.height)
    for top in range(0, image.height, _BAND_ROWS):
        bottom = min(image.height, top + _BAND_ROWS)
        band = image.crop((0, top, image.width, bottom))
        pixels[top * row : bottom * row] = (
            band if band.mode == mode else band.convert(mode)
        ).tobytes()
    return pixels
