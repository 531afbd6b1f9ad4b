"""The bounded-memory WebP alpha writer: lossless, and read back by libwebp."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from removal import webp_writer
from removal.tests.helpers import decode

pytestmark = pytest.mark.django_db


def alphas() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ramp = np.tile(np.linspace(0, 255, 300).astype(np.uint8), (40, 1))
    runs = np.zeros((30, 9000), np.uint8)  # copies longer than 4096 pixels
    runs[10:20, 100:8800] = 255
    return {
        "noise": rng.integers(0, 256, (37, 53), dtype=np.uint8),
        "ramp": ramp,
        "long runs": runs,
        "one pixel": np.full((1, 1), 128, np.uint8),
        "opaque": np.full((20, 30), 255, np.uint8),
    }


@pytest.mark.parametrize("name", list(alphas()))
def test_its_alpha_reads_back_exactly(name):
    alpha = alphas()[name]
    colours = np.random.default_rng(3).integers(0, 256, (*alpha.shape, 3), dtype=np.uint8)
    image = Image.fromarray(np.dstack((colours, alpha)), "RGBA")
    data = webp_writer.encode([image], quality=90, method=2, own_alpha=True)
    back = Image.open(io.BytesIO(data))
    assert (back.format, back.mode, back.size) == ("WEBP", "RGBA", image.size)
    assert np.array_equal(np.asarray(back.getchannel("A")), alpha)


def test_a_big_webp_answer_keeps_the_png_answers_alpha(rmbg, small_car_jpeg, settings):
    settings.REMOVAL_BIG_IMAGE_PIXELS = 1  # every image takes the big-image path
    webp = decode(rmbg(small_car_jpeg, format="webp"))
    png = decode(rmbg(small_car_jpeg, format="png"))
    assert webp.format == "WEBP"
    assert np.array_equal(np.asarray(webp.getchannel("A")), np.asarray(png.getchannel("A")))
    visible = np.asarray(png.getchannel("A")) == 255
    error = np.abs(
        np.asarray(webp.convert("RGB"), np.int16) - np.asarray(png.convert("RGB"), np.int16)
    )
    assert error[visible].mean() < 4  # lossy colours, as libwebp makes them
