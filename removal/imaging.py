"""Reading uploads safely: content sniffing, header-only size checks, decoding.

Nothing here trusts a file name or a Content-Type: the format comes from the
first bytes, the size from the header, and pixels are decoded only after both
have been checked.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps

from removal.limits import MAX_SIDE

# Our own guard is per side (checked from the header, before decoding); Pillow's
# pixel-count guard stays as a backstop for headers too absurd to even report.
Image.MAX_IMAGE_PIXELS = 4 * MAX_SIDE * MAX_SIDE
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
if "PILLOW_BLOCK_SIZE" not in os.environ:
    # Pillow allocates an image in blocks (16 MiB by default), which glibc
    # serves from its heap; freed, they coalesce into huge free chunks that
    # stay resident, and a later 300 MB answer can land in one and keep the
    # worker big after it was sent. Blocks over glibc's mmap threshold (32 MiB
    # at most) get their own mappings, returned to the system when freed.
    # Images under 32 MiB (8 MP RGBA) still use one block from the heap.
    Image.core.set_block_size(64 * 1024 * 1024)

# Signature -> Pillow format name. WEBP is RIFF....WEBP.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"BM", "BMP"),
)
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP")


@dataclass(frozen=True)
class Header:
    """What an upload's first bytes and header say, before any pixel is decoded."""

    format: str
    width: int
    height: int
    # EXIF orientations 5-8 turn the image a quarter: width and height swap
    # once decoded.
    transposed: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """The size as decoded, with the EXIF orientation applied."""
        return (self.height, self.width) if self.transposed else (self.width, self.height)


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


def read_header(image: Image.Image) -> Header:
    """The header of an opened image; reads no pixels."""
    return Header(image.format or "", image.width, image.height, _orientation(image) >= 5)


def _orientation(image: Image.Image) -> int:
    # A PNG's eXIf chunk after the pixels is only found by decoding them, which
    # the header check must not do: such a file counts as upright here (the
    # pipeline checks the decoded size again).
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except (OSError, SyntaxError, ValueError, TypeError):
        return 1
    return value if isinstance(value, int) else 1


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
