"""The limits of a batch and the checks of its archives: each a clear 400, nothing kept."""

from __future__ import annotations

import io
import zipfile

import pytest

from batches.models import Batch
from billing.models import Charge

from .conftest import zip_of

pytestmark = pytest.mark.django_db(transaction=True)


def stored(batch_storage) -> list:
    return [p for p in batch_storage.rglob("*") if p.is_file()]


def refused(response, batch_storage, message: str) -> None:
    assert response.status_code == 400, response.content
    assert response.json() == {"error": message, "field": "image", "status": 400}
    assert not Batch.objects.exists()
    assert not Charge.objects.exists()
    assert not stored(batch_storage)


def test_a_zip_is_expanded_under_its_paths(
    post_batch, wait_until_ended, client, alice_key, small_car_jpeg
):
    archive = zip_of(
        {
            "shop/red/car.jpg": small_car_jpeg,
            "shop/blue/car.jpg": small_car_jpeg,
            "__MACOSX/shop/._car.jpg": b"resource fork",
            ".DS_Store": b"finder",
        }
    )
    response = post_batch([("photos.zip", archive)], alice_key, format="png")
    assert response.status_code == 202, response.content

    ended = wait_until_ended(response.json()["status_url"], alice_key)
    assert [f["name"] for f in ended["files"]] == ["shop/red/car.jpg", "shop/blue/car.jpg"]
    result = client.get(ended["result_url"], headers={"X-API-Key": alice_key})
    names = zipfile.ZipFile(io.BytesIO(b"".join(result.streaming_content))).namelist()
    assert names == ["shop/red/car.png", "shop/blue/car.png"]


def test_it_refuses_more_files_than_the_limit(
    post_batch, settings, alice_key, small_car_jpeg, batch_storage
):
    settings.BATCH_MAX_FILES = 3
    loose = post_batch([(f"{i}.jpg", small_car_jpeg) for i in range(4)], alice_key)
    refused(loose, batch_storage, "Too many files: a batch takes at most 3 images.")
    zipped = zip_of({f"{i}.jpg": small_car_jpeg for i in range(4)})
    refused(
        post_batch([("a.zip", zipped)], alice_key),
        batch_storage,
        "Too many files: a batch takes at most 3 images.",
    )


def test_it_refuses_a_batch_over_the_total_size(
    post_batch, settings, alice_key, small_car_jpeg, batch_storage
):
    settings.BATCH_MAX_MB = 1
    big = small_car_jpeg + b"\0" * (600 * 1024)  # a JPEG with trailing bytes: still an image
    response = post_batch([("a.jpg", big), ("b.jpg", big)], alice_key)
    refused(response, batch_storage, "The batch exceeds the maximum total size of 1 MB.")


def test_it_refuses_a_zip_bomb_from_its_directory_before_extracting(
    post_batch, alice_key, batch_storage
):
    # 60 MB of zeros deflate to about 60 KB: declared over the 50 MB limit of a file.
    bomb = zip_of({"huge.bmp": b"\0" * (60 * 1024 * 1024)})
    assert len(bomb) < 100_000
    refused(
        post_batch([("bomb.zip", bomb)], alice_key),
        batch_storage,
        "File 'huge.bmp' (60.0 MB) exceeds the maximum allowed size of 50 MB.",
    )


def test_it_refuses_an_archive_whose_entries_add_up_past_the_total(
    post_batch, settings, alice_key, batch_storage
):
    settings.BATCH_MAX_MB = 5
    bomb = zip_of({f"{i}.bmp": b"\0" * (2 * 1024 * 1024) for i in range(3)})
    refused(
        post_batch([("many.zip", bomb)], alice_key),
        batch_storage,
        "The batch exceeds the maximum total size of 5 MB.",
    )


@pytest.mark.parametrize(
    "entry", ["../escape.jpg", "/etc/cron.d/x.jpg", "a/../../b.jpg", "C:/Windows/x.jpg"]
)
def test_it_refuses_an_archive_with_an_unsafe_path(
    entry, post_batch, alice_key, small_car_jpeg, batch_storage
):
    archive = zip_of({"fine.jpg": small_car_jpeg, entry: small_car_jpeg})
    refused(
        post_batch([("evil.zip", archive)], alice_key),
        batch_storage,
        f"Archive 'evil.zip' has an unsafe path: '{entry}'.",
    )


def test_it_refuses_an_archive_inside_an_archive(
    post_batch, alice_key, small_car_jpeg, batch_storage
):
    inner = zip_of({"car.jpg": small_car_jpeg})
    by_name = zip_of({"inner.zip": inner})
    refused(
        post_batch([("outer.zip", by_name)], alice_key),
        batch_storage,
        "Archive 'outer.zip' contains another archive: 'inner.zip'.",
    )
    # Renamed, it is still found by its content.
    disguised = zip_of({"car.jpg": small_car_jpeg, "photo.jpg": inner})
    refused(
        post_batch([("outer.zip", disguised)], alice_key),
        batch_storage,
        "Archive 'outer.zip' contains another archive: 'photo.jpg'.",
    )


def test_it_refuses_a_damaged_archive(post_batch, alice_key, small_car_jpeg, batch_storage):
    archive = zip_of({"car.jpg": small_car_jpeg})
    refused(
        post_batch([("broken.zip", archive[: len(archive) // 2])], alice_key),
        batch_storage,
        "Archive 'broken.zip' could not be read as a ZIP file.",
    )


def test_it_takes_as_many_files_as_the_limit_allows(post_batch, settings, alice_key):
    # Django's own default would refuse a request of more than 100 files.
    settings.BATCH_MAX_FILES = 150
    files = [(f"{i}.txt", b"not an image") for i in range(150)]
    response = post_batch(files, alice_key)
    assert response.status_code == 202, response.content
    assert response.json()["counts"]["failed"] == 150
    refused_too = post_batch([*files, ("one-more.txt", b"x")], alice_key)
    assert refused_too.status_code == 400
    assert refused_too.json()["error"] == "Too many files: a batch takes at most 150 images."


def test_far_too_many_files_get_the_same_clear_message(post_batch, settings, alice_key):
    settings.BATCH_MAX_FILES = 3
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 4
    response = post_batch([(f"{i}.txt", b"x") for i in range(10)], alice_key)
    assert response.status_code == 400
    assert response.json()["error"] == "Too many files: a batch takes at most 3 images."
