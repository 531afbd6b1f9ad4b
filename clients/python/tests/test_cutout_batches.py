"""Batches from the client against the live server: its in-process pool does the work."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
import zipfile

import cutout_client as cc
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures for the live server (not a conftest.py: see live_fixtures.py).
pytest_plugins = ["live_fixtures"]

NOT_AN_IMAGE = b"\xff\xd8\xff\xe0 this is no JPEG" * 10


def png_of(jpeg: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def written(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def api_usage(client: cc.Client) -> int:
    return client.membership_usage().api_usage


@pytest.fixture
def held_pool(server):
    """The server's batch pool kept busy: batches made meanwhile stay queued."""
    from batches import engine

    release = threading.Event()
    busy = engine.pool().submit(release.wait, 60)
    yield release
    release.set()
    busy.result()


def test_a_batch_of_paths_bytes_and_an_archive_is_waited_for_and_downloaded(
    alice_client, car, small_car_jpeg, tmp_path
):
    archive = tmp_path / "more.zip"
    archive.write_bytes(zip_of({"a.jpg": small_car_jpeg, "sub/b.png": png_of(small_car_jpeg)}))
    batch = alice_client.create_batch(
        [car, small_car_jpeg, ("named.png", png_of(small_car_jpeg)), archive], format="png", w=80
    )
    assert batch.status == "queued" and batch.counts.total == 5
    assert batch.idempotency_key
    assert batch.result_url.endswith(f"/api/batches/{batch.id}/result.zip")

    seen: list[tuple[str, int]] = []
    batch.wait(poll=0.1, on_progress=lambda b: seen.append((b.status, b.counts.finished)))
    assert batch.ended and batch.status == "done" and seen[-1] == ("done", 5)
    assert [finished for _, finished in seen] == sorted(finished for _, finished in seen)
    assert (batch.counts.done, batch.credits_charged) == (5, 5)
    names = [file.name for file in batch.files]
    assert names == ["car.jpg", "image-2.png", "named.png", "a.jpg", "sub/b.png"]
    assert {(file.width, file.height) for file in batch.files} == {(80, 60)}

    downloads: list[cc.Progress] = []
    saved = batch.download(tmp_path / "out" / "result.zip", on_progress=downloads.append)
    with zipfile.ZipFile(saved) as result:
        assert sorted(result.namelist()) == sorted(file.output for file in batch.files)
        assert size_of(result.read("sub/b.png")) == (80, 60)
    assert downloads[-1].loaded == saved.stat().st_size
    alone = batch.download_file(4, tmp_path / "alone" / "b.png")
    assert size_of(alone.read_bytes()) == (80, 60)
    assert not list(saved.parent.glob(".*.part"))
    found = alice_client.batch(batch.id)
    assert (found.id, found.status, len(found.files)) == (batch.id, "done", 5)
    assert found.idempotency_key is None  # not made by this call
    assert api_usage(alice_client) == 5


def test_a_lost_answer_to_the_upload_is_retried_and_makes_one_batch(
    dropping_proxy, alice_key, server, car
):
    from batches.models import Batch

    with cc.Client(api_key=alice_key, base_url=dropping_proxy.url, backoff=0.01) as client:
        batch = client.create_batch([car, car])  # the first answer is cut after the server made it
        assert dropping_proxy.connections == 2
        batch.wait(poll=0.1)
    assert Batch.objects.count() == 1 and str(Batch.objects.get().pk) == batch.id
    assert batch.credits_charged == 2
    with cc.Client(api_key=alice_key, base_url=server) as client:
        again = client.create_batch([car, car], idempotency_key=batch.idempotency_key)
        assert again.id == batch.id and api_usage(client) == 2
        with pytest.raises(cc.IdempotencyKeyReused):
            client.create_batch([car], idempotency_key=batch.idempotency_key)


def test_a_queued_batch_cannot_be_downloaded_times_out_waiting_and_is_cancelled(
    held_pool, alice_client, car, tmp_path
):
    batch = alice_client.create_batch([car, car, car])
    with pytest.raises(cc.WaitTimeout):
        batch.wait(poll=0.1, timeout=0.3)
    with pytest.raises(cc.BatchNotEnded) as raised:
        batch.download(tmp_path / "early.zip")
    assert raised.value.status == 409 and not (tmp_path / "early.zip").exists()

    batch.cancel()
    assert (batch.status, batch.counts.cancelled, batch.ended) == ("cancelled", 3, True)
    with zipfile.ZipFile(batch.download(tmp_path / "cancelled.zip")) as result:
        assert result.namelist() == ["errors.csv"]
    with pytest.raises(cc.NotFound):
        batch.download_file(0, tmp_path / "none.webp")
    assert not (tmp_path / "none.webp").exists()
    with pytest.raises(cc.NotFound):
        alice_client.batch("00000000-0000-0000-0000-000000000000")
    assert api_usage(alice_client) == 0


@pytest.fixture
def photos(tmp_path, small_car_jpeg):
    """7 images (two car.jpg in two folders, car.jpg beside car.png), one file no image."""
    root = tmp_path / "photos"
    png = png_of(small_car_jpeg)
    for name, content in {
        "car.jpg": small_car_jpeg,
        "car.png": png,
        "a/car.jpg": small_car_jpeg,
        "b/car.jpg": small_car_jpeg,
        "b/deep/1.jpg": small_car_jpeg,
        "b/deep/2.png": png,
        "b/deep/3.jpg": small_car_jpeg,
        "broken.jpg": NOT_AN_IMAGE,
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def test_many_images_are_split_under_the_servers_limit_and_unpacked_in_place(
    alice_client, photos, tmp_path, settings
):
    settings.BATCH_MAX_FILES = 3  # the client asks for 500; the server's 400 says 3
    out = tmp_path / "out"
    events: list[cc.ManyProgress] = []
    report = alice_client.remove_many(
        [photos], out, format="png", poll=0.1, on_progress=events.append
    )

    assert written(out) == [
        "a/car.png",
        "b/car.png",
        "b/deep/1.png",
        "b/deep/2.png",
        "b/deep/3.png",
        "car-png.png",  # car.png beside car.jpg: both kept, as `cutout remove` names them
        "car.png",
        "errors.csv",
    ]
    assert size_of((out / "b" / "deep" / "2.png").read_bytes()) == (160, 120)
    assert len(report.batch_ids) == 3 == len(set(report.batch_ids))  # 8 files, 3 a batch
    assert (len(report.done), report.credits_charged, report.skipped) == (7, 7, [])
    [failure] = report.failed
    assert failure.source == str(photos / "broken.jpg") and failure.batch_id in report.batch_ids
    assert "could not be read as an image" in failure.error
    with (out / "errors.csv").open(newline="") as table:
        assert list(csv.reader(table))[1] == [failure.source, failure.error, failure.batch_id]
    assert (events[-1].total, events[-1].finished, events[-1].failed) == (8, 8, 1)
    assert [e.finished for e in events] == sorted(e.finished for e in events)
    assert api_usage(alice_client) == 7

    again = alice_client.remove_many([photos], out, format="png", poll=0.1)
    assert (len(again.skipped), len(again.done), len(again.batch_ids)) == (7, 0, 1)
    assert [f.source for f in again.failed] == [failure.source]  # sent again, failed again
    assert api_usage(alice_client) == 7


def test_an_interrupted_run_is_resumed_without_paying_twice(alice_client, photos, tmp_path):
    (photos / "broken.jpg").unlink()
    out = tmp_path / "out"

    first: list[str] = []

    def interrupt(progress: cc.ManyProgress) -> None:
        if len(progress.batch_ids) == 2:  # two batches sent, nothing downloaded yet
            first.extend(progress.batch_ids)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        alice_client.remove_many([photos], out, max_files=3, on_progress=interrupt)
    assert written(out) == []
    report = alice_client.remove_many([photos], out, max_files=3, poll=0.1)
    assert report.batch_ids[:2] == first and len(report.batch_ids) == 3
    assert len(report.done) == 7 and not report.failed and written(out)[0] == "a/car.webp"
    assert report.credits_charged == 7  # the two batches of the first run, and a third
    assert api_usage(alice_client) == 7


def test_an_archive_becomes_a_folder_and_its_unsafe_entries_are_refused(
    alice_client, tmp_path, small_car_jpeg
):
    archive = tmp_path / "shoot.zip"
    archive.write_bytes(
        zip_of(
            {
                "front.jpg": small_car_jpeg,
                "side/left.jpg": small_car_jpeg,
                "__MACOSX/._front.jpg": b"resource fork",
                "../escape.jpg": small_car_jpeg,
                "inner.zip": zip_of({"x.jpg": small_car_jpeg}),
            }
        )
    )
    out = tmp_path / "out"
    report = alice_client.remove_many([archive], out, poll=0.1)
    assert written(out) == ["errors.csv", "shoot/front.webp", "shoot/side/left.webp"]
    assert sorted((f.source.rsplit(":", 1)[1], f.error) for f in report.failed) == [
        ("../escape.jpg", "unsafe path in the archive: not unpacked"),
        ("inner.zip", "an archive inside an archive: not unpacked"),
    ]
    assert report.credits_charged == 2 and len(report.batch_ids) == 1


def test_a_file_over_50_mb_is_refused_before_sending_and_the_rest_goes(alice_client, tmp_path, car):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as file:
        file.truncate(50 * 1024 * 1024 + 1)
    report = alice_client.remove_many([car, huge], tmp_path / "out", poll=0.1)
    assert [(f.source, f.batch_id) for f in report.failed] == [(str(huge), None)]
    assert "exceeds the maximum allowed size of 50 MB" in report.failed[0].error
    assert len(report.done) == 1


def test_out_of_credits_the_rest_is_not_sent_and_a_bad_option_stops_at_once(
    alice, alice_client, photos, tmp_path
):
    from batches.models import Batch
    from billing.tests.helpers import put_on_plan

    (photos / "broken.jpg").unlink()
    put_on_plan(alice, included=4)  # the third batch (one file) would fit: it is not sent
    report = alice_client.remove_many([photos], tmp_path / "out", max_files=3, poll=0.1)
    assert (len(report.done), len(report.batch_ids), Batch.objects.count()) == (3, 1, 1)
    assert len(report.failed) == 4  # the second batch refused, the third not sent
    assert all("monthly limit" in failure.error for failure in report.failed)
    with pytest.raises(cc.ValidationError) as raised:
        alice_client.remove_many([photos], tmp_path / "other", bg_color="no-such-colour")
    assert raised.value.field == "bg_color" and Batch.objects.count() == 1


def test_the_async_client_makes_waits_for_and_downloads_batches(server, alice_key, car, tmp_path):
    async def main():
        async with cc.AsyncClient(api_key=alice_key, base_url=server) as client:
            batch = await client.create_batch([car, car], format="png")
            await batch.wait(poll=0.1)
            saved = await batch.download(tmp_path / "result.zip")
            found = await client.batch(batch.id)
            report = await client.remove_many([car], tmp_path / "many", max_files=1, poll=0.1)
        return batch, saved, found, report

    batch, saved, found, report = asyncio.run(main())
    assert (batch.status, batch.counts.done, found.status) == ("done", 2, "done")
    with zipfile.ZipFile(saved) as result:
        assert sorted(result.namelist()) == ["car (2).png", "car.png"]
    assert written(tmp_path / "many") == ["car.webp"] and report.credits_charged == 1


def test_your_batches_are_listed_newest_first_page_after_page(server, alice_client, alice_key, car):
    made = [alice_client.create_batch([car]).id for _ in range(5)]

    listed = [batch.id for batch in alice_client.batches(page_size=2)]  # three pages
    assert listed == made[::-1]

    async def main():
        async with cc.AsyncClient(api_key=alice_key, base_url=server) as client:
            return [batch.id async for batch in client.batches(page_size=3)]

    assert asyncio.run(main()) == made[::-1]
    with pytest.raises(cc.ApiError) as refused:
        next(alice_client.batches(page_size=101))
    assert refused.value.status == 400


def test_a_callback_verifies_and_a_tampered_or_old_one_does_not(alice_client, receiver, car):
    secret = alice_client.callback_secret()
    batch = alice_client.create_batch([car], callback_url=receiver.url).wait(poll=0.1)
    from batches.models import Batch

    for _ in range(100):
        if Batch.objects.filter(callback_delivered_at__isnull=False).exists():
            break
        time.sleep(0.1)
    [(headers, body)] = receiver.received
    header = headers["Cutout-Signature"]

    payload = cc.verify_callback(secret, header, body)
    assert payload["type"] == "batch.ended" and payload["batch"]["id"] == batch.id
    assert payload["batch"]["counts"]["done"] == 1
    with pytest.raises(cc.InvalidSignature, match="does not match"):
        cc.verify_callback(secret, header, body.replace(b'"done": 1', b'"done": 9'))
    with pytest.raises(cc.InvalidSignature, match="does not match"):
        cc.verify_callback(alice_client.rotate_callback_secret(), header, body)
    signed_at = int(header.split(",")[0].removeprefix("t="))
    with pytest.raises(cc.InvalidSignature, match="old"):
        cc.verify_callback(secret, header, body, now=signed_at + 301)
    assert cc.verify_callback(secret, header, body, now=signed_at + 299) == payload
    for broken in (None, "", "v1=abc", f"t={signed_at}", "t=soon,v1=abc"):
        with pytest.raises(cc.InvalidSignature):
            cc.verify_callback(secret, broken, body)
