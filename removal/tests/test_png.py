"""removal.png writes PNGs that Pillow decodes to exactly the pixels given."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image

from removal import png


def noisy(mode: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    """Smooth gradients plus noise, with a transparent hole, like a cut-out."""
    rng = np.random.default_rng(seed)
    width, height = size
    bands = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    ys, xs = np.mgrid[0:height, 0:width]
    base = (xs * 3 + ys * 5)[..., None] + np.arange(bands) * 40
    pixels = (base + rng.integers(0, 12, (height, width, bands))) % 256
    if mode == "RGBA":
        pixels[height // 3 : height // 2, :, :] = 0
    pixels = pixels.astype(np.uint8)
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


def roundtrip(image: Image.Image, **kwargs) -> Image.Image:
    decoded = Image.open(io.BytesIO(png.encode(image, **kwargs)))
    decoded.load()
    return decoded


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L"])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (333, 517), (1601, 1203)])
@pytest.mark.parametrize("threads", [1, 2])
def test_it_decodes_to_the_same_pixels(mode, size, threads, monkeypatch):
    # Small bands so even the small images are cut into several of them.
    monkeypatch.setattr(png, "BAND_BYTES", 4096)
    image = noisy(mode, size)
    decoded = roundtrip(image, threads=threads)
    assert decoded.format == "PNG"
    assert (decoded.mode, decoded.size) == (mode, size)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_its_zlib_stream_is_valid_with_the_right_checksum():
    image = noisy("RGBA", (640, 480))
    data = png.encode(image)
    stream = b""
    position = 8
    while position < len(data):
        (length,) = np.frombuffer(data[position : position + 4], ">u4")
        kind = data[position + 4 : position + 8]
        payload = data[position + 8 : position + 8 + length]
        crc = int.from_bytes(data[position + 8 + length : position + 12 + length], "big")
        assert crc == zlib.crc32(kind + payload)
        if kind == b"IDAT":
            stream += payload
        position += 12 + length
    # zlib.decompress checks the header and the Adler-32 of the whole stream.
    raw = zlib.decompress(stream)
    assert len(raw) == 480 * (640 * 4 + 1)


def test_it_is_no_larger_than_pillow_level_1_by_much():
    image = noisy("RGBA", (1200, 900), seed=3)
    ours = len(png.encode(image, level=1))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    assert ours <= 1.3 * len(buffer.getvalue())


def test_the_adler32_of_two_parts_combines_like_zlibs():
    first, second = b"background " * 1000, b"removal" * 777
    combined = png._adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second))
    assert combined == zlib.adler32(first + second)


def test_big_png_responses_use_it_and_stay_lossless(rmbg, settings, small_car_jpeg, monkeypatch):
    settings.REMOVAL_PNG_PARALLEL_MIN_PIXELS = 1
    calls = []
    encode = png.encode
    monkeypatch.setattr(png, "encode", lambda *a, **k: calls.append(1) or encode(*a, **k))
    response = rmbg(small_car_jpeg, format="png")
    assert response.status_code == 200
    assert calls == [1]
    image = Image.open(io.BytesIO(response.content))
    assert (image.format, image.mode) == ("PNG", "RGBA")
    original = np.asarray(Image.open(io.BytesIO(small_car_jpeg)).convert("RGB"))
    pixels = np.asarray(image)
    visible = pixels[..., 3] > 0
    assert visible.any()
    assert np.array_equal(pixels[..., :3][visible], original[visible])
