"""Every bad input gets a 400 with rembg.com's message, word for word, never a 500."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from removal.tests.helpers import multipart


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height but which carries no pixels at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def assert_single_error(response, field: str, message: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {"error": message, "field": field, "status": 400}


def test_it_requires_an_image_field(rmbg):
    response = rmbg(None, w="0", h="0")
    assert_single_error(
        response,
        "image",
        "No image file provided. Please include an 'image' field in your form data.",
    )


def test_it_rejects_an_empty_filename(client):
    # What a browser sends for a file input left empty.
    body, content_type = multipart({"format": "png"}, {"image": ("", b"")})
    response = client.post("/rmbg", body, content_type=content_type)
    assert_single_error(
        response, "image", "No file selected. Please choose an image file to upload."
    )


def test_it_rejects_an_unsupported_extension(rmbg, small_car_jpeg):
    response = rmbg(small_car_jpeg, name="setup.exe")
    assert_single_error(
        response,
        "image",
        "File type '.exe' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg",
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "virus.exe",
            b"MZ\x90\x00\x03 a Windows program",
            "File type '.exe' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg",
        ),
        (
            "anim.gif",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
            "File type '.gif' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg",
        ),
        (
            "empty.exe",
            b"",
            "File type '.exe' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg",
        ),
        ("empty.png", b"", "Uploaded file is empty (0 bytes)."),
        (
            "huge.txt",
            b"\0" * (51 * 1024 * 1024),
            "File type '.txt' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg",
        ),
        (
            "huge.png",
            b"\0" * (51 * 1024 * 1024),
            "File does not appear to be a valid image (invalid file signature)",
        ),
    ],
)
def test_it_reports_only_the_first_failing_check_of_the_image(rmbg, name, content, message):
    # present -> selected -> extension -> empty -> signature -> size -> dimensions
    assert_single_error(rmbg(content, name=name), "image", message)


def test_one_error_per_field_still_lists_every_field(rmbg):
    response = rmbg(b"MZ\x90\x00", name="virus.exe", w="\u0663", format="gif")
    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "field": "image",
            "message": "File type '.exe' is not supported. "
            "Allowed formats: webp, bmp, png, jpg, jpeg",
        },
        {"field": "w", "message": "'w' must be an integer, got: '\u0663'"},
        {
            "field": "format",
            "message": "Invalid format 'gif'. Allowed formats: PNG, JPEG, WEBP, BMP",
        },
    ]


def test_it_checks_the_content_not_the_name(rmbg):
    response = rmbg(b"MZ\x90\x00 this is a Windows program, not a photo", name="photo.png")
    assert_single_error(
        response, "image", "File does not appear to be a valid image (invalid file signature)"
    )


def test_it_accepts_a_real_image_with_a_misleading_name(rmbg, small_car_jpeg):
    response = rmbg(small_car_jpeg, name="photo.png")
    assert response.status_code == 200


def test_it_rejects_an_empty_file(rmbg):
    assert_single_error(rmbg(b"", name="photo.png"), "image", "Uploaded file is empty (0 bytes).")


def test_it_rejects_files_over_50_mb(rmbg):
    size = int(55.2 * 1024 * 1024)
    oversized = png_header_only(100, 100) + b"\0" * (size - len(png_header_only(100, 100)))
    assert_single_error(
        rmbg(oversized, name="huge.png"),
        "image",
        "File size (55.2 MB) exceeds the maximum allowed size of 50 MB.",
    )


def test_it_rejects_an_image_wider_than_10000_px(rmbg):
    assert_single_error(
        rmbg(png_header_only(12000, 100), name="wide.png"),
        "image",
        "Image width (12000px) exceeds the maximum allowed width of 10000px.",
    )


def test_it_rejects_an_image_taller_than_10000_px(rmbg):
    assert_single_error(
        rmbg(png_header_only(100, 15000), name="tall.png"),
        "image",
        "Image height (15000px) exceeds the maximum allowed height of 10000px.",
    )


def test_it_reads_dimensions_from_the_header_without_decoding(rmbg):
    # 180 megapixels declared in a few dozen bytes: decoding would fail as
    # truncated, so the size error proves only the header was read. Both sides
    # are too large; the field still gets one error, the first.
    assert_single_error(
        rmbg(png_header_only(12000, 15000), name="bomb.png"),
        "image",
        "Image width (12000px) exceeds the maximum allowed width of 10000px.",
    )


def test_it_refuses_a_decompression_bomb(rmbg):
    response = rmbg(png_header_only(60000, 60000), name="bomb.png")
    assert_single_error(
        response, "image", "Image dimensions exceed the maximum allowed size of 10000x10000px."
    )


def test_it_answers_400_for_a_truncated_image(rmbg, car_jpeg):
    response = rmbg(car_jpeg[: len(car_jpeg) // 3], name="cut.jpg")
    assert_single_error(
        response,
        "image",
        "File could not be read as an image (the data is corrupted or truncated)",
    )


def test_it_answers_400_for_a_png_with_a_broken_chunk(rmbg):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    data[40:60] = b"\xff" * 20  # inside IDAT: the CRC no longer matches
    response = rmbg(bytes(data), name="broken.png")
    assert response.status_code == 400
    assert response.json()["field"] == "image"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("w", "abc", "'w' must be an integer, got: 'abc'"),
        ("h", "abc", "'h' must be an integer, got: 'abc'"),
        ("w", "12.5", "'w' must be an integer, got: '12.5'"),
        ("w", "-5", "'w' must be at least 1, got: -5"),
        ("h", "-5", "'h' must be at least 1, got: -5"),
        ("w", "15000", "'w' must be at most 10000, got: 15000"),
        ("h", "15000", "'h' must be at most 10000, got: 15000"),
        # Only ASCII digits: int() and float() would read these as 3, 3, 10 and 45.
        ("w", "\u0663", "'w' must be an integer, got: '\u0663'"),
        ("h", "\uff13", "'h' must be an integer, got: '\uff13'"),
        ("w", "1_0", "'w' must be an integer, got: '1_0'"),
        ("angle", "\u0664\u0665", "'angle' must be a number, got: '\u0664\u0665'"),
        ("angle", "inf", "'angle' must be a number, got: 'inf'"),
        ("angle", "ninety", "'angle' must be a number, got: 'ninety'"),
        ("angle", "nan", "'angle' must be a number, got: 'nan'"),
        ("angle", "500", "'angle' must be between -360 and 360 degrees, got: 500.0"),
        ("angle", "-360.5", "'angle' must be between -360 and 360 degrees, got: -360.5"),
        ("format", "gif", "Invalid format 'gif'. Allowed formats: PNG, JPEG, WEBP, BMP"),
        (
            "bg_color",
            "#12345",
            "Invalid color format '#12345'. Use hex format: #RGB, #RGBA, #RRGGBB, or #RRGGBBAA",
        ),
        (
            "bg_color",
            "notacolour",
            "Invalid color format 'notacolour'. Use hex format: #RGB, #RGBA, #RRGGBB, or #RRGGBBAA",
        ),
        ("mask", "maybe", "'mask' must be true or false, got: 'maybe'"),
        ("expand", "perhaps", "'expand' must be true or false, got: 'perhaps'"),
    ],
)
def test_it_rejects_a_bad_parameter(rmbg, small_car_jpeg, field, value, message):
    assert_single_error(rmbg(small_car_jpeg, **{field: value}), field, message)


def test_it_rejects_mask_together_with_bg_color(rmbg, small_car_jpeg):
    assert_single_error(
        rmbg(small_car_jpeg, mask="true", bg_color="#ffffff"),
        "mask",
        "Cannot use 'mask=true' together with 'bg_color'. Choose one or the other.",
    )


def test_it_reports_every_error_at_once(rmbg):
    response = rmbg(b"not an image", name="x.exe", w="abc", h="-5", angle="500", format="gif")
    assert response.status_code == 400
    assert response.json() == {
        "error": "Multiple validation errors",
        "details": [
            {
                "field": "image",
                "message": "File type '.exe' is not supported. "
                "Allowed formats: webp, bmp, png, jpg, jpeg",
            },
            {"field": "w", "message": "'w' must be an integer, got: 'abc'"},
            {"field": "h", "message": "'h' must be at least 1, got: -5"},
            {
                "field": "angle",
                "message": "'angle' must be between -360 and 360 degrees, got: 500.0",
            },
            {
                "field": "format",
                "message": "Invalid format 'gif'. Allowed formats: PNG, JPEG, WEBP, BMP",
            },
        ],
        "status": 400,
    }


def test_it_answers_json_bodies_with_415_in_the_error_shape(client):
    response = client.post("/rmbg", {"image": "x"}, content_type="application/json")
    assert response.status_code == 415
    assert response.json() == {
        "error": 'Unsupported media type "application/json" in request.',
        "status": 415,
    }


def test_it_answers_get_with_405_in_the_error_shape(client):
    response = client.get("/rmbg")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed.', "status": 405}


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("w", "'w' must be an integer, got: ''"),
        ("mask", "'mask' must be true or false, got: ''"),
        ("format", "Invalid format ''. Allowed formats: PNG, JPEG, WEBP, BMP"),
    ],
)
def test_a_field_sent_empty_is_refused_as_the_spec_says(rmbg, small_car_jpeg, field, message):
    response = rmbg(small_car_jpeg, **{field: ""})
    assert response.json() == {"error": message, "field": field, "status": 400}


def test_an_empty_bg_color_means_none(rmbg, small_car_jpeg):
    assert rmbg(small_car_jpeg, bg_color="").status_code == 200
