"""A lossless PNG writer that deflates horizontal bands on several threads.

Pillow's encoder filters and deflates on one thread; for a 12 MP cut-out that
is the slowest step of a request. Here rows are filtered with numpy ("Up": each
row minus the row above, the same bytes Pillow would decode back) and the
filtered stream is cut into bands, each deflated by its own raw zlib stream on
a worker thread (zlib releases the GIL). A band ends with a sync flush so the
streams concatenate into one valid deflate stream, as pigz does, and each band
is primed with the last 32 KiB of the band before so compression barely
suffers from the cut. The zlib header and the Adler-32 of the whole filtered
stream wrap it.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Pillow mode -> (PNG colour type, bytes per pixel).
_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3), "RGBA": (6, 4)}
_FILTER_UP = 2
_WINDOW = 32 * 1024
_ADLER_BASE = 65521
# Raw bytes per band: big enough that the per-band flush costs nothing,
# small enough that a few bands in flight stay a few MB.
BAND_BYTES = 2 * 1024 * 1024

_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pool_lock = threading.Lock()


def supports(image: Image.Image) -> bool:
    return image.mode in _COLOUR_TYPES


def encode(image: Image.Image, *, level: int = 1, threads: int = 2) -> bytes:
    """The image as PNG bytes; mode L, RGB or RGBA, 8 bits per channel."""
    colour_type, depth = _COLOUR_TYPES[image.mode]
    width, height = image.size
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    # Written as they come: joining a list of chunks would hold the answer twice.
    out = io.BytesIO()
    out.write(_SIGNATURE)
    out.write(_chunk(b"IHDR", header))
    for chunk in _idat_chunks(image, width * depth, level, threads):
        out.write(chunk)
    out.write(_chunk(b"IEND", b""))
    return out.getvalue()


def _idat_chunks(image: Image.Image, row_bytes: int, level: int, threads: int) -> Iterator[bytes]:
    rows = max(1, BAND_BYTES // (row_bytes + 1))
    bands = [(top, min(image.height, top + rows)) for top in range(0, image.height, rows)]
    # zlib header: deflate, 32K window, no preset dictionary, check bits.
    cmf, flg = 0x78, 0x01
    adler = 1
    pending: deque[Future[tuple[bytes, int, int]]] = deque()
    yield _chunk(b"IDAT", bytes((cmf, flg)))
    pool = _executor(threads)
    for index, (top, bottom) in enumerate(bands):
        last = index == len(bands) - 1
        pending.append(pool.submit(_deflate_band, image, top, bottom, level, last))
        # Bound the bands in flight so memory stays a few bands, not the image.
        while len(pending) > 2 * threads or (last and pending):
            compressed, band_adler, band_length = pending.popleft().result()
            adler = _adler32_combine(adler, band_adler, band_length)
            if compressed:
                yield _chunk(b"IDAT", compressed)
    yield _chunk(b"IDAT", struct.pack(">I", adler))


def _deflate_band(
    image: Image.Image, top: int, bottom: int, level: int, last: bool
) -> tuple[bytes, int, int]:
    """Filter and deflate rows top..bottom; returns (bytes, adler32, raw length)."""
    row_bytes = len(image.getbands()) * image.width + 1
    # Refilter the rows just above the band too: their bytes prime the window.
    start = max(0, top - -(-_WINDOW // row_bytes))
    filtered = _filter_up(image, start, bottom)
    data = filtered[(top - start) * row_bytes :]
    primer = filtered[: (top - start) * row_bytes][-_WINDOW:]
    compressor = (
        zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
        if primer
        else (zlib.compressobj(level, zlib.DEFLATED, -15))
    )
    compressed = compressor.compress(data)
    compressed += compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return compressed, zlib.adler32(data), len(data)


def _filter_up(image: Image.Image, top: int, bottom: int) -> memoryview:
    """Rows top..bottom with filter byte 2 (Up), as they appear in the stream."""
    # The row above the first is all zeros, so Up leaves the first row as is.
    above = max(0, top - 1)
    block = _pixels(image, above, bottom)
    filtered = np.empty((bottom - top, block.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = _FILTER_UP
    if top == 0:
        filtered[0, 1:] = block[0]
        np.subtract(block[1:], block[:-1], out=filtered[1:, 1:])
    else:
        np.subtract(block[1:], block[:-1], out=filtered[:, 1:])
    return memoryview(filtered).cast("B")


def _pixels(image: Image.Image, top: int, bottom: int) -> np.ndarray:
    band = image.crop((0, top, image.width, bottom))
    return np.frombuffer(band.tobytes(), dtype=np.uint8).reshape(bottom - top, -1)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(kind))
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _adler32_combine(adler1: int, adler2: int, length2: int) -> int:
    """Adler-32 of A + B from those of A and B (zlib's adler32_combine)."""
    rem = length2 % _ADLER_BASE
    sum1 = adler1 & 0xFFFF
    sum2 = (rem * sum1) % _ADLER_BASE
    sum1 += (adler2 & 0xFFFF) + _ADLER_BASE - 1
    sum2 += ((adler1 >> 16) & 0xFFFF) + ((adler2 >> 16) & 0xFFFF) + _ADLER_BASE - rem
    sum1 %= _ADLER_BASE
    sum2 %= _ADLER_BASE
    return sum1 | (sum2 << 16)


def _executor(threads: int) -> ThreadPoolExecutor:
    # Created on first use, so in the gunicorn worker (after the fork). One
    # pool per CPU priority of the caller: its threads inherit it, so a big
    # image's lane (removal.pipeline.big_image_lane) deflates at its own.
    key = (threads, _niceness())
    with _pool_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="png")
        return _pools[key]


def _niceness() -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except (AttributeError, OSError):
        return 0
