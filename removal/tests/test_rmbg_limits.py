"""An answer larger than the largest accepted image is refused up front, for free."""

from __future__ import annotations

import gc
import io
import weakref

import pytest
from PIL import Image

from billing.models import Charge
from removal import geometry, imaging, pipeline
from removal.geometry import Geometry
from removal.tests.helpers import multipart
from removal.tests.test_rmbg_validation import assert_single_error, png_header_only
from removal.views import RemoveBackgroundView

pytestmark = pytest.mark.django_db

LIMIT = "larger than the maximum output size of 10000x10000px"


def refused_for_free(rmbg, alice_key, image: bytes, **fields):
    response = rmbg(image, name="photo.png", headers={"x-api-key": alice_key}, **fields)
    assert "X-Credits-Charged" not in response
    assert Charge.objects.count() == 0
    return response


def test_a_turn_that_outgrows_the_limit_is_a_400_on_angle_before_any_decoding(rmbg, alice_key):
    # The file has a header and no pixels: decoding it would fail ("could not be
    # read"), so this answer can only come from the header.
    response = refused_for_free(rmbg, alice_key, png_header_only(10000, 10000), angle="45")
    assert_single_error(
        response,
        "angle",
        f"Rotating by 45 degrees with expand=true makes the image 14144x14144px, {LIMIT}. "
        "Set 'w' and 'h' to fit it, or expand=false.",
    )


def test_a_resize_that_outgrows_the_limit_is_a_400_on_that_field(rmbg, alice_key):
    response = refused_for_free(rmbg, alice_key, png_header_only(100, 5000), w="1000")
    assert_single_error(
        response,
        "w",
        f"Resizing with 'w'=1000 makes the image 1000x50000px, {LIMIT}. "
        "Set both 'w' and 'h' to fit it.",
    )
    response = refused_for_free(rmbg, alice_key, png_header_only(5000, 100), h="1000")
    assert response.json()["field"] == "h"


def test_a_side_kept_from_the_turned_canvas_blames_the_angle(rmbg, alice_key):
    image = png_header_only(10000, 10000)
    response = refused_for_free(rmbg, alice_key, image, angle="30", w="5000", exact_resize="true")
    assert response.json()["field"] == "angle"


def test_the_largest_answer_within_the_limit_is_not_refused(rmbg, alice_key):
    # Same header-only file turned 45 degrees and fitted into the limit: it passes
    # validation and fails only at decoding (no pixels), so nothing refused it early.
    response = rmbg(
        png_header_only(10000, 10000),
        name="photo.png",
        headers={"x-api-key": alice_key},
        angle="45",
        w="10000",
        h="10000",
    )
    assert response.json()["field"] == "image"
    assert "could not be read" in response.json()["error"]


@pytest.mark.parametrize("angle", [45, 30.5, -17, 90, -90, 180, 270, 359.9])
@pytest.mark.parametrize("expand", [True, False])
def test_the_size_known_in_advance_is_the_size_made(angle, expand):
    image = Image.new("RGBA", (37, 23), (10, 200, 30, 255))
    expected = image.rotate(angle, expand=expand).size
    planned = geometry.output_size(image.size, Geometry(angle=angle, expand=expand))
    made = geometry.reshape([image], Geometry(angle=angle, expand=expand)).size
    assert planned == made == expected


def test_the_header_size_applies_the_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20)).save(buffer, "JPEG", exif=exif)
    with imaging.open_image(buffer, "JPEG") as image:
        header = imaging.read_header(image)
    assert (header.format, header.size) == ("JPEG", (20, 40))


def test_an_answer_is_freed_once_sent_not_when_the_garbage_collector_runs(rf, db, small_car_jpeg):
    # A 10000x10000 BMP answer is 300 MB: it must go as soon as it is sent, not
    # wait in a reference cycle for the next full collection.
    body, content_type = multipart({"format": "bmp"}, {"image": ("car.jpg", small_car_jpeg)})
    request = rf.post("/rmbg", body, content_type=content_type)
    gc.collect()
    gc.disable()
    try:
        response = RemoveBackgroundView.as_view()(request)
        assert response.status_code == 200
        sent = weakref.ref(response)
        response.close()
        del response, request
        assert sent() is None
    finally:
        gc.enable()


def test_small_images_do_not_queue_behind_big_ones(rmbg, small_car_jpeg, settings):
    settings.REMOVAL_QUEUE_TIMEOUT = 1
    settings.REMOVAL_BIG_IMAGE_PIXELS = 100_000  # 160x120 is small; resized to 400x300, big
    lane = pipeline.big_image_slots()
    held = [lane.acquire(blocking=False) for _ in range(settings.REMOVAL_BIG_CONCURRENCY)]
    assert all(held)
    try:
        assert rmbg(small_car_jpeg, format="png").status_code == 200
        assert rmbg(small_car_jpeg, format="png", w="400").status_code == 503
    finally:
        for _ in held:
            lane.release()
    assert rmbg(small_car_jpeg, format="png", w="400").status_code == 200
