"""Hostile uploads, generated: each is a name, its bytes and the form fields sent with it."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, PngImagePlugin


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes
    fields: dict[str, str] = field(default_factory=dict)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def photo(mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small picture with a subject (a disc) on a plain background, in any mode."""
    y, x = np.mgrid[: size[1], : size[0]]
    disc = (x - size[0] / 2) ** 2 + (y - size[1] / 2) ** 2 < (min(size) / 3) ** 2
    rgb = np.zeros((size[1], size[0], 3), np.uint8)
    rgb[...] = (230, 230, 240)
    rgb[disc] = (200, 40, 30)
    image = Image.fromarray(rgb, "RGB")
    if mode == "RGBA":
        image.putalpha(Image.fromarray(np.where(disc, 255, 90).astype(np.uint8), "L"))
    elif mode != "RGB":
        image = image.convert(mode)
    return image


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from_rows(width: int, height: int, depth: int, colour: int, rows: bytes) -> bytes:
    """A PNG written by hand (for what Pillow will not write, e.g. 16-bit RGBA)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_16bit_rgba(width: int = 24, height: int = 16) -> bytes:
    pixels = np.zeros((height, width, 4), ">u2")
    pixels[..., 0] = np.linspace(0, 65535, width, dtype=np.uint16)
    pixels[..., 3] = 40000
    rows = b"".join(b"\0" + pixels[y].tobytes() for y in range(height))
    return png_from_rows(width, height, 16, 6, rows)


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    """A valid PNG with one extra ancillary chunk before the pixels."""
    plain = encode(photo(), "PNG")
    ihdr_end = 8 + 25
    return plain[:ihdr_end] + chunk(kind, data) + plain[ihdr_end:]


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real small JPEG whose SOF0 claims another size."""
    data = bytearray(encode(photo(), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_with_app1(payload: bytes) -> bytes:
    data = encode(photo(), "JPEG")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]


def exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return encode(photo(size=(40, 20)), "JPEG", exif=exif.tobytes())


def exif_ifd_loop() -> bytes:
    """EXIF whose first IFD points to its own next IFD: a parser that follows it loops."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, 6) + struct.pack("<I", 8)
    return jpeg_with_app1(b"Exif\0\0" + b"II*\0" + struct.pack("<I", 8) + ifd)


def bmp_with_size(width: int, height: int) -> bytes:
    data = bytearray(encode(photo(), "BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def bmp_top_down() -> bytes:
    data = bytearray(encode(photo(), "BMP"))
    width, height = struct.unpack("<ii", data[18:26])
    data[18:26] = struct.pack("<ii", width, -height)
    return bytes(data)


def webp_canvas(width: int, height: int) -> bytes:
    """An extended WEBP (VP8X) whose canvas is declared width x height."""
    data = encode(photo("RGBA"), "WEBP", lossless=True)
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x10\0\0\0"
    vp8x += (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + vp8x + data[12:]
    return b"RIFF" + struct.pack("<I", len(body)) + body


def animated(fmt: str, frames: int = 6) -> bytes:
    images = [photo("RGBA", (32, 24)).rotate(15 * i) for i in range(frames)]
    return encode(images[0], fmt, save_all=True, append_images=images[1:], duration=40, loop=0)


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.txt", "not an image " * 50)
    return buffer.getvalue()


def text_bomb() -> bytes:
    """A zTXt chunk that inflates to 64 MB: beyond Pillow's text limit."""
    payload = b"comment\0\0" + zlib.compress(b"A" * (64 * 1024 * 1024), 9)
    return png_with_chunk(b"zTXt", payload)


def big_icc_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    return encode(photo(), "PNG", pnginfo=info, icc_profile=b"\0" * (3 * 1024 * 1024))


def cut(data: bytes, keep: float) -> bytes:
    return data[: int(len(data) * keep)]


def _uploads() -> list[Upload]:
    """Each is answered by a 4xx in the error shape or by a correct image."""
    jpeg, png = encode(photo(), "JPEG"), encode(photo(), "PNG")
    webp, bmp = encode(photo(), "WEBP"), encode(photo(), "BMP")
    broken_crc = bytearray(png)
    broken_crc[40:48] = b"\xff" * 8
    return [
        # Truncated, empty, corrupted.
        Upload("cut.png", cut(png, 0.5)),
        Upload("cut.jpg", cut(jpeg, 0.4)),
        Upload("cut.webp", cut(webp, 0.5)),
        Upload("cut.bmp", cut(bmp, 0.5)),
        Upload("header.jpg", jpeg[:20]),
        Upload("empty.png", b""),
        Upload("crc.png", bytes(broken_crc)),
        Upload("noeoi.jpg", jpeg[:-2]),
        # Decompression bombs: a few bytes that declare huge images.
        Upload("bomb.png", png_header_only(60000, 60000)),
        Upload("wide.png", png_header_only(12000, 100)),
        Upload("bomb.jpg", jpeg_with_size(65000, 65000)),
        Upload("wide.jpg", jpeg_with_size(10001, 10)),
        Upload("bomb.bmp", bmp_with_size(30000, 30000)),
        Upload("bomb.webp", webp_canvas(16000, 16000)),
        Upload("text-bomb.png", text_bomb()),
        # Wrong magic and polyglots.
        Upload("random.png", bytes(range(256)) * 4),
        Upload("gif.png", encode(photo(), "GIF")),
        Upload("tiff.jpg", encode(photo(), "TIFF")),
        Upload("doc.png", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF"),
        Upload("zip.png", zip_bytes()),
        Upload("page.jpg", b"<!doctype html><script>alert(1)</script>"),
        Upload("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'),
        Upload("virus.exe", b"MZ\x90\x00\x03" + bytes(100)),
        Upload("png-zip.png", png + zip_bytes()),
        Upload("jpeg-html.jpg", jpeg + b"<html><script>alert(1)</script></html>"),
        Upload("zip-png.png", zip_bytes() + png),
        Upload("trailing.png", png + b"\0" * 5000),
        # Colour modes and depths.
        Upload("cmyk.jpg", encode(photo("CMYK"), "JPEG")),
        Upload("grey.jpg", encode(photo("L"), "JPEG")),
        Upload("progressive.jpg", encode(photo(), "JPEG", progressive=True)),
        Upload("grey16.png", encode(photo("L").convert("I;16"), "PNG")),
        Upload("rgba16.png", png_16bit_rgba()),
        Upload("rgba.bmp", encode(photo("RGBA"), "BMP")),
        Upload("grey.png", encode(photo("L"), "PNG")),
        Upload("grey-alpha.png", encode(photo("RGBA").convert("LA"), "PNG")),
        Upload("bilevel.png", encode(photo("1"), "PNG")),
        Upload("palette.png", encode(photo("P"), "PNG", transparency=0)),
        Upload("palette-alpha.png", encode(photo("RGBA").convert("PA").convert("P"), "PNG")),
        Upload("clear.png", encode(Image.new("RGBA", (20, 20), (0, 0, 0, 0)), "PNG")),
        Upload("icc.png", big_icc_png()),
        Upload("icc.jpg", encode(photo(), "JPEG", icc_profile=b"\0" * (1024 * 1024))),
        # Animation: the first frame is used.
        Upload("animated.webp", animated("WEBP")),
        Upload("animated.png", animated("PNG")),
        # EXIF: every orientation, garbage, a loop.
        *(Upload(f"orientation-{n}.jpg", exif_orientation(n)) for n in range(1, 9)),
        Upload("orientation-99.jpg", exif_orientation(99)),
        Upload("garbage-exif.jpg", jpeg_with_app1(b"Exif\0\0" + bytes(range(256)) * 8)),
        Upload("loop-exif.jpg", exif_ifd_loop()),
        # BMP and WEBP variants.
        Upload("bilevel.bmp", encode(photo("1"), "BMP")),
        Upload("palette.bmp", encode(photo("P"), "BMP")),
        Upload("grey.bmp", encode(photo("L"), "BMP")),
        Upload("top-down.bmp", bmp_top_down()),
        Upload("lossless.webp", encode(photo("RGBA"), "WEBP", lossless=True)),
        Upload("lossy-alpha.webp", encode(photo("RGBA"), "WEBP", quality=30)),
        # Odd shapes and names.
        Upload("line.png", encode(photo(size=(2000, 1)), "PNG")),
        Upload("pixel.png", encode(photo(size=(1, 1)), "PNG")),
        Upload("noname", png),
        Upload("SHOUT.PNG", png),
        Upload("x.png.exe", png),
        Upload("фото.jpg", jpeg),
        # Tiny input, maximal output.
        Upload("pixel.png", encode(photo(size=(1, 1)), "PNG"), {"w": "10000", "h": "10000"}),
        Upload(
            "pixel.png",
            encode(photo(size=(1, 1)), "PNG"),
            {"w": "10000", "h": "10000", "exact_resize": "true", "angle": "45"},
        ),
        Upload("small.png", png, {"angle": "45", "bg_color": "#00ff0080", "format": "bmp"}),
        Upload("small.jpg", jpeg, {"mask": "true", "format": "jpeg"}),
    ]


UPLOADS = _uploads()  # about half a second
