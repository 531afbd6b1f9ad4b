"""Each parameter of POST /rmbg, checked on the pixels it returns."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from removal.tests.helpers import decode

# In the car photos the car covers the middle and the corners are background.
CORNER = (2, 2)


def subject(image: Image.Image) -> tuple[int, int]:
    return (image.width // 2, int(image.height * 0.55))


def test_it_returns_a_transparent_webp_by_default(rmbg, small_car_jpeg):
    response = rmbg(small_car_jpeg)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    image = decode(response)
    assert image.format == "WEBP"
    assert image.mode == "RGBA"
    assert (response["X-Width"], response["X-Height"]) == ("160", "120")
    assert image.size == (160, 120)
    assert image.getpixel(CORNER)[3] == 0
    assert image.getpixel(subject(image))[3] > 200


@pytest.mark.parametrize(
    ("requested", "pillow_format", "content_type", "mode"),
    [
        ("png", "PNG", "image/png", "RGBA"),
        ("PNG", "PNG", "image/png", "RGBA"),
        ("webp", "WEBP", "image/webp", "RGBA"),
        ("jpeg", "JPEG", "image/jpeg", "RGB"),
        ("jpg", "JPEG", "image/jpeg", "RGB"),
        ("Jpg", "JPEG", "image/jpeg", "RGB"),
        ("bmp", "BMP", "image/bmp", "RGB"),
    ],
)
def test_it_encodes_each_output_format(
    rmbg, small_car_jpeg, requested, pillow_format, content_type, mode
):
    response = rmbg(small_car_jpeg, format=requested)
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    image = decode(response)
    assert (image.format, image.mode, image.size) == (pillow_format, mode, (160, 120))


def test_png_output_keeps_the_subject_colours(rmbg, small_car_jpeg):
    original = Image.open(io.BytesIO(small_car_jpeg)).convert("RGB")
    image = decode(rmbg(small_car_jpeg, format="png"))
    alpha = np.asarray(image)[..., 3]
    colours = np.asarray(image)[..., :3].astype(int)
    visible = alpha > 0
    assert visible.sum() > 1000
    # Straight alpha: visible pixels carry the photo's own colour, not a darkened one.
    assert np.array_equal(colours[visible], np.asarray(original).astype(int)[visible])
    assert colours[alpha == 0].max() == 0


@pytest.mark.parametrize("fmt", ["jpeg", "bmp"])
def test_opaque_formats_get_a_white_background(rmbg, small_car_jpeg, fmt):
    image = decode(rmbg(small_car_jpeg, format=fmt))
    assert all(c >= 250 for c in image.getpixel(CORNER))


@pytest.mark.parametrize(
    ("bg_color", "expected"),
    [
        ("#ff0000", (255, 0, 0, 255)),
        ("#F00", (255, 0, 0, 255)),
        ("#0000ff80", (0, 0, 255, 128)),
        ("#0f08", (0, 255, 0, 136)),
        ("lightblue", (173, 216, 230, 255)),
        ("Red", (255, 0, 0, 255)),
    ],
)
def test_it_fills_the_background_with_bg_color(rmbg, small_car_jpeg, bg_color, expected):
    image = decode(rmbg(small_car_jpeg, format="png", bg_color=bg_color))
    assert image.getpixel(CORNER) == expected
    assert image.getpixel(subject(image))[3] == 255


def test_bg_color_fills_a_jpeg(rmbg, small_car_jpeg):
    image = decode(rmbg(small_car_jpeg, format="jpeg", bg_color="#00ff00"))
    r, g, b = image.getpixel(CORNER)
    assert r < 10 and g > 245 and b < 10


def test_mask_returns_the_single_channel_matte(rmbg, small_car_jpeg):
    response = rmbg(small_car_jpeg, mask="true", format="png")
    image = decode(response)
    assert image.mode == "L"
    assert image.size == (160, 120)
    assert image.getpixel(CORNER) == 0
    assert image.getpixel(subject(image)) > 200
    cutout = decode(rmbg(small_car_jpeg, format="png"))
    assert np.array_equal(np.asarray(image), np.asarray(cutout)[..., 3])


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"w": "80"}, (80, 60)),
        ({"h": "60"}, (80, 60)),
        ({"w": "100", "h": "100"}, (100, 75)),
        ({"w": "320", "h": "0"}, (320, 240)),
        ({"w": "0", "h": "0"}, (160, 120)),
        ({"w": "100", "h": "100", "exact_resize": "true"}, (100, 100)),
        ({"w": "50", "exact_resize": "true"}, (50, 120)),
    ],
)
def test_it_resizes(rmbg, small_car_jpeg, fields, size):
    response = rmbg(small_car_jpeg, format="png", **fields)
    image = decode(response)
    assert image.size == size
    assert (int(response["X-Width"]), int(response["X-Height"])) == size


def test_it_rotates_counter_clockwise_and_expands(rmbg, small_car_jpeg):
    upright = np.asarray(decode(rmbg(small_car_jpeg, mask="true", format="png")))
    turned = decode(rmbg(small_car_jpeg, mask="true", format="png", angle="90"))
    assert turned.size == (120, 160)
    # np.rot90 turns counter-clockwise.
    assert np.abs(np.asarray(turned).astype(int) - np.rot90(upright).astype(int)).max() <= 1


def test_a_negative_angle_rotates_clockwise(rmbg, small_car_jpeg):
    upright = np.asarray(decode(rmbg(small_car_jpeg, mask="true", format="png")))
    turned = np.asarray(decode(rmbg(small_car_jpeg, mask="true", format="png", angle="-90")))
    assert np.abs(turned.astype(int) - np.rot90(upright, k=-1).astype(int)).max() <= 1


def test_expand_false_keeps_the_canvas(rmbg, small_car_jpeg):
    expanded = decode(rmbg(small_car_jpeg, format="png", angle="45"))
    kept = decode(rmbg(small_car_jpeg, format="png", angle="45", expand="false"))
    assert kept.size == (160, 120)
    assert expanded.size == (198, 198)
    assert expanded.getpixel((0, 0))[3] == 0


def test_rotation_padding_takes_the_background_colour(rmbg, small_car_jpeg):
    image = decode(rmbg(small_car_jpeg, format="png", angle="30.5", bg_color="#ff0000"))
    assert image.size != (160, 120)
    assert image.getpixel((0, 0)) == (255, 0, 0, 255)


def test_rotation_happens_before_resizing(rmbg, small_car_jpeg):
    image = decode(rmbg(small_car_jpeg, format="png", angle="90", w="60"))
    assert image.size == (60, 80)


def test_accept_json_returns_base64(rmbg, small_car_jpeg):
    response = rmbg(small_car_jpeg, format="png", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert (body["format"], body["width"], body["height"]) == ("png", 160, 120)
    image = Image.open(io.BytesIO(base64.b64decode(body["image"])))
    assert (image.format, image.size) == ("PNG", (160, 120))


def test_rembgjs_accept_header_gets_raw_bytes(rmbg, small_car_jpeg):
    # axios' default Accept header, sent by rembg.js, which wants the bytes.
    response = rmbg(
        small_car_jpeg,
        return_base64="true",
        headers={"Accept": "application/json, text/plain, */*"},
    )
    assert response["Content-Type"] == "image/webp"
    assert decode(response).format == "WEBP"


def test_it_applies_exif_orientation_first(rmbg, small_car_jpeg):
    upright = Image.open(io.BytesIO(small_car_jpeg))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a sideways camera stores
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", quality=95, exif=exif)
    image = decode(rmbg(buffer.getvalue(), format="png"))
    assert image.size == (160, 120)
    assert image.getpixel(CORNER)[3] == 0
    assert image.getpixel(subject(image))[3] > 200
