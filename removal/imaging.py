"""Reading uploads safely: content sniffing, header-only size checks, decoding.

Nothing here trusts a file name or a Content-Type: the format comes from the
first bytes, the size from the header, and pixels are decoded only after both
have been checked.
"""

from __future__ import annotations

import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 10_000
# Our own guard is per side (checked from the header, before decoding); Pillow's
# pixel-count guard stays as a backstop for headers too absurd to even report.
Image.MAX_IMAGE_PIXELS = 4 * MAX_SIDE * MAX_SIDE
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

# Signature -> Pillow format name. WEBP is RIFF....WEBP.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
)
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP")


class UnreadableImage(Exception):
    """The bytes claim to be an image but cannot be decoded."""


class ImageTooLarge(UnreadableImage):
    """The header declares more pixels than we would ever decode."""


def sniff_format(head: bytes) -> str | None:
    """The image format named by the file's first bytes, or None."""
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            return name
    return None


def open_image(stream: BinaryIO, fmt: str) -> Image.Image:
    """Open lazily: only the header is parsed, no pixels are allocated."""
    stream.seek(0)
    try:
        return Image.open(stream, formats=[fmt])
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(str(exc)) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(str(exc)) from exc


def decode(image: Image.Image) -> Image.Image:
    """Decode the first frame, apply EXIF orientation, normalise to RGB or RGBA."""
    try:
        image.seek(0)
        image.load()
        # In place: without it Pillow returns a full copy even when nothing
        # rotates, which doubles the peak for a big upload.
        ImageOps.exif_transpose(image, in_place=True)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(str(exc)) from exc
    return _normalise_mode(image)


def _normalise_mode(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode in ("RGB", "RGBA"):
        return image
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        # 16-bit (and 32-bit) greyscale: scale to 8 bits rather than clip to white.
        values = np.asarray(image)
        if mode != "F" and values.max(initial=0) > 255:
            values = values / 257.0
        grey = np.clip(values, 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if mode in ("LA", "La", "PA", "RGBa"):
        return image.convert("RGBA")
    # L, 1, CMYK, YCbCr, LAB, HSV, RGBX...
    return image.convert("RGB")
