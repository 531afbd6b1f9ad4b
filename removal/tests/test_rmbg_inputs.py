"""Inputs beyond plain RGB JPEG: other formats and pixel modes all work."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from removal.tests.helpers import decode

CORNER = (2, 2)


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def car(small_car_jpeg) -> Image.Image:
    return Image.open(io.BytesIO(small_car_jpeg)).convert("RGB")


def assert_car_cut_out(response) -> Image.Image:
    assert response.status_code == 200, response.content
    image = decode(response)
    assert image.size == (160, 120)
    assert image.getpixel(CORNER)[3] == 0
    assert image.getpixel((80, 66))[3] > 200
    return image


@pytest.mark.parametrize(
    ("fmt", "name", "params"),
    [
        ("PNG", "car.png", {}),
        ("WEBP", "car.webp", {"quality": 95}),
        ("BMP", "car.bmp", {}),
        ("JPEG", "car.jpeg", {"quality": 95}),
    ],
)
def test_it_accepts_each_input_format(rmbg, car, fmt, name, params):
    assert_car_cut_out(rmbg(encoded(car, fmt, **params), name=name, format="png"))


def test_it_accepts_a_file_without_extension(rmbg, car):
    # Browsers name a Blob upload "blob".
    assert_car_cut_out(rmbg(encoded(car, "PNG"), name="blob", format="png"))


def test_it_accepts_a_palette_image(rmbg, car):
    palette = car.quantize(colors=256)
    assert palette.mode == "P"
    assert_car_cut_out(rmbg(encoded(palette, "PNG"), name="car.png", format="png"))


def test_it_accepts_a_greyscale_image_with_alpha(rmbg, car):
    grey = car.convert("LA")
    image = assert_car_cut_out(rmbg(encoded(grey, "PNG"), name="car.png", format="png"))
    r, g, b, _ = image.getpixel((80, 66))
    assert r == g == b


def test_it_accepts_a_cmyk_jpeg(rmbg, car):
    cmyk = car.convert("CMYK")
    assert_car_cut_out(rmbg(encoded(cmyk, "JPEG", quality=95), name="car.jpg", format="png"))


def test_it_scales_16_bit_greyscale_instead_of_clipping(rmbg, car):
    values = np.asarray(car.convert("L")).astype(np.uint16) * 257
    deep = Image.fromarray(values)
    data = encoded(deep, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    image = assert_car_cut_out(rmbg(data, name="car.png", format="png"))
    visible = np.asarray(image)[..., :3][np.asarray(image)[..., 3] > 200]
    # Clipping 16-bit values to 8 bits would turn every visible pixel white.
    assert visible.mean() < 200


def test_it_uses_the_first_frame_of_an_animation(rmbg, car):
    black = Image.new("RGB", car.size, "black")
    data = encoded(car, "WEBP", save_all=True, append_images=[black], duration=100, lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert_car_cut_out(rmbg(data, name="car.webp", format="png"))


def test_it_uses_the_first_frame_of_an_animated_png(rmbg, car):
    black = Image.new("RGB", car.size, "black")
    data = encoded(car, "PNG", save_all=True, append_images=[black], duration=100)
    assert_car_cut_out(rmbg(data, name="car.png", format="png"))


def test_transparent_input_stays_transparent(rmbg, car):
    rgba = car.convert("RGBA")
    rgba.putalpha(Image.new("L", car.size, 255))
    hidden = Image.new("L", (40, car.height), 0)
    alpha = rgba.getchannel("A")
    alpha.paste(hidden, (60, 0))  # a transparent stripe across the car
    rgba.putalpha(alpha)
    image = decode(rmbg(encoded(rgba, "PNG"), name="car.png", format="png"))
    assert image.getpixel((80, 66))[3] == 0
    assert image.getpixel((40, 66))[3] > 200
