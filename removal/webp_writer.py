"""A lossy WebP writer that keeps a 100 MP cut-out within a bounded memory.

Pillow's WebP encoder copies the image into libwebp as 32-bit ARGB and libwebp
then converts it to YUV: with the image itself that is three full-size
buffers alive at once (measured for a 10000x10000 cut-out: 1.27 GB over the
image, the main part of a 2.7 GB request). Here the pixels are handed to
libwebp (through the ``webp`` package's bindings) to import straight into YUV
plus alpha (2.5 bytes a pixel), and the image and its bytes are dropped
before the encoder runs. Same library, same settings, same output as Pillow's
lossy encoder up to rounding.
"""

from __future__ import annotations

from PIL import Image
from webp import ffi, lib

# Rows copied at a time out of Pillow's image: Image.tobytes() would hold the
# pixels twice (its chunks, then their join).
_BAND_ROWS = 256
_IMPORT = {"RGB": (lib.WebPPictureImportRGB, 3), "RGBA": (lib.WebPPictureImportRGBA, 4)}


class WebPEncodeError(Exception):
    """libwebp refused the picture (for instance an image over 16383 px a side)."""


def encode(owned: list[Image.Image], *, quality: float, method: int) -> bytes:
    """The single image in ``owned`` as lossy WebP; empties ``owned`` to free it early.

    The caller must hold no other reference to the image, or its memory
    stays alive during the encoding.
    """
    image = owned.pop()
    if image.mode not in _IMPORT:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    width, height = image.size
    import_pixels, depth = _IMPORT[image.mode]
    pixels = _packed(image)
    del image
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
        del pixels
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


def _packed(image: Image.Image) -> bytearray:
    """The pixels as one contiguous buffer, filled band by band."""
    row = image.width * len(image.getbands())
    pixels = bytearray(row * image.height)
    for top in range(0, image.height, _BAND_ROWS):
        bottom = min(image.height, top + _BAND_ROWS)
        pixels[top * row : bottom * row] = image.crop((0, top, image.width, bottom)).tobytes()
    return pixels
