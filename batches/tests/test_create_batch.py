"""POST /api/batches on the in-process engine: files processed, each charged as one /rmbg."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from batches.models import Batch
from billing.credits import MONTHLY_LIMIT
from billing.models import Charge, CreditAccount

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def test_it_processes_every_file_and_charges_each_once(
    post_batch, wait_until_ended, client, alice, alice_key, small_car_jpeg
):
    files = [(name, small_car_jpeg) for name in ("car.jpg", "car2.jpg", "car3.jpg")]
    response = post_batch(files, alice_key, format="png")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] in ("queued", "running")
    assert response["Location"] == body["status_url"]
    assert body["status_url"].startswith("http://testserver/api/batches/")

    ended = wait_until_ended(body["status_url"], alice_key)
    assert ended["status"] == "done"
    assert ended["counts"]["done"] == 3 and ended["credits_charged"] == 3
    assert [f["output"] for f in ended["files"]] == ["car.png", "car2.png", "car3.png"]
    assert Charge.objects.filter(user=alice, status=Charge.COMMITTED).count() == 3
    assert not Charge.objects.filter(user=alice, status=Charge.RESERVED).exists()
    account = CreditAccount.objects.get(user=alice)
    assert (account.included_used, account.reserved_included) == (3, 0)

    result = client.get(ended["result_url"], headers={"X-API-Key": alice_key})
    assert result.status_code == 200 and result["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(result.streaming_content)))
    assert archive.namelist() == ["car.png", "car2.png", "car3.png"]
    cut_out = Image.open(io.BytesIO(archive.read("car.png")))
    assert cut_out.format == "PNG" and cut_out.mode == "RGBA" and cut_out.size == (160, 120)


def test_a_batch_the_credits_do_not_cover_is_refused_whole(
    post_batch, alice, alice_key, small_car_jpeg, batch_storage
):
    account = CreditAccount.objects.for_user(alice)
    account.included_used = account.plan.included_credits - 2
    account.save()
    files = [(f"car{i}.jpg", small_car_jpeg) for i in range(3)]

    response = post_batch(files, alice_key)

    assert response.status_code == 429
    assert response.json()["error"] == MONTHLY_LIMIT
    assert (response["X-Credits-Required"], response["X-Credits-Available"]) == ("3", "2")
    assert not Batch.objects.exists()
    assert not Charge.objects.exists()
    assert not [p for p in batch_storage.rglob("*") if p.is_file()]


def test_files_that_fail_the_checks_of_rmbg_fail_alone_and_cost_nothing(
    post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    files = [
        ("car.jpg", small_car_jpeg),
        ("notes.txt", b"hello"),
        ("fake.png", b"this is not a png at all"),
    ]
    response = post_batch(files, alice_key)
    assert response.status_code == 202, response.content

    ended = wait_until_ended(response.json()["status_url"], alice_key)
    by_name = {f["name"]: f for f in ended["files"]}
    assert by_name["car.jpg"]["status"] == "done"
    assert by_name["notes.txt"]["error"] == (
        "File type '.txt' is not supported. Allowed formats: webp, bmp, png, jpg, jpeg"
    )
    assert by_name["fake.png"]["error"] == (
        "File does not appear to be a valid image (invalid file signature)"
    )
    assert ended["credits_charged"] == 1
    assert Charge.objects.filter(user=alice).count() == 1


def test_it_refuses_a_batch_without_files_and_bad_options(post_batch, alice_key, small_car_jpeg):
    empty = post_batch([], alice_key)
    assert empty.status_code == 400 and empty.json()["field"] == "image"
    bad = post_batch([("car.jpg", small_car_jpeg)], alice_key, format="gif")
    assert bad.status_code == 400
    assert bad.json()["error"] == "Invalid format 'gif'. Allowed formats: PNG, JPEG, WEBP, BMP"
    assert not Batch.objects.exists()


def test_it_needs_an_account(post_batch, small_car_jpeg):
    response = post_batch([("car.jpg", small_car_jpeg)])
    assert response.status_code == 401
    assert not Batch.objects.exists()


def test_two_files_of_one_name_are_named_apart_alike_in_the_status_and_the_zip(
    post_batch, wait_until_ended, client, alice_key, small_car_jpeg
):
    files = [("car.jpg", small_car_jpeg), ("car.jpg", small_car_jpeg)]
    body = post_batch(files, alice_key, format="png").json()

    ended = wait_until_ended(body["status_url"], alice_key)

    assert [f["output"] for f in ended["files"]] == ["car.png", "car (2).png"]
    result = client.get(ended["result_url"], headers={"X-API-Key": alice_key})
    names = zipfile.ZipFile(io.BytesIO(b"".join(result.streaming_content))).namelist()
    assert names == ["car.png", "car (2).png"]
