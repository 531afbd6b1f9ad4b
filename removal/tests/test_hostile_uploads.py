"""Hostile uploads: each gets a 4xx in the error shape, or a correct image; never a 5xx.

The files are generated (removal/tests/hostile.py): truncated, bombs, wrong magic,
polyglots, odd colour modes, huge ICC profiles, animations, EXIF tricks, tiny input
with maximal output. A 4xx costs no credit; a 200 costs one.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from billing.credits import grant_prepaid
from billing.models import Charge
from removal.tests.hostile import UPLOADS, Upload
from removal.validation import OUTPUT_FORMATS

pytestmark = pytest.mark.django_db

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "BMP": "image/bmp"}


def committed(user) -> int:
    return Charge.objects.filter(user=user, status=Charge.COMMITTED).count()


def assert_error_shape(response) -> None:
    body = response.json()
    assert body["status"] == response.status_code
    if "details" in body:
        assert body["error"] == "Multiple validation errors"
        assert all(set(d) == {"field", "message"} for d in body["details"])
        assert len({d["field"] for d in body["details"]}) == len(body["details"])
    else:
        assert set(body) <= {"error", "field", "status"}
        assert body["error"]


def assert_correct_image(response, upload: Upload) -> None:
    fmt = OUTPUT_FORMATS[upload.fields.get("format", "png").upper()]
    assert response["Content-Type"] == MEDIA_TYPES[fmt]
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == fmt
    assert image.size == (int(response["X-Width"]), int(response["X-Height"]))
    if "w" not in upload.fields and "angle" not in upload.fields:
        # No resize and no rotation: the input's size, after EXIF orientation.
        with Image.open(io.BytesIO(upload.content)) as source:
            width, height = source.size
            if source.getexif().get(0x0112) in (5, 6, 7, 8):
                width, height = height, width
        assert image.size == (width, height)


@pytest.mark.parametrize(
    "upload", UPLOADS, ids=[f"{i:02d}-{u.name}" for i, u in enumerate(UPLOADS)]
)
def test_a_hostile_upload_gets_a_4xx_or_a_correct_image(rmbg, alice, alice_key, upload):
    grant_prepaid(alice, 1, "test")
    before = committed(alice)
    fields = {"format": "png", **upload.fields}
    response = rmbg(upload.content, name=upload.name, headers={"x-api-key": alice_key}, **fields)

    assert response.status_code < 500, response.content[:300]
    if response.status_code == 200:
        assert_correct_image(response, upload)
        assert (response["X-Credits-Charged"], committed(alice)) == ("1", before + 1)
    else:
        assert 400 <= response.status_code < 500
        assert_error_shape(response)
        assert committed(alice) == before


def test_there_are_at_least_50_hostile_files():
    assert len({(u.name, u.content) for u in UPLOADS}) >= 50
