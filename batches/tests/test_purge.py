"""The periodic purge: batches past their deadline give their credits back; old ones are deleted."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from batches import engine, work
from batches.models import Batch, BatchFile
from billing.models import AnonymousAttempt, AnonymousUsage, Charge, CreditAccount

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_past_its_deadline_fails_what_is_left_and_releases_its_credits(
    post_batch, client, alice, alice_key, small_car_jpeg
):
    release = threading.Event()
    engine.pool().submit(release.wait, 30)
    body = post_batch([(f"{i}.jpg", small_car_jpeg) for i in range(2)], alice_key).json()
    Batch.objects.update(deadline=timezone.now() - timedelta(seconds=1))

    work.purge()
    release.set()
    engine.pool().submit(lambda: None).result()

    ended = client.get(body["status_url"], headers={"X-API-Key": alice_key}).json()
    assert ended["status"] == "done" and ended["counts"]["failed"] == 2
    assert ended["files"][0]["error"] == "The batch timed out before this file could be processed."
    assert not Charge.objects.filter(user=alice).exists()
    assert CreditAccount.objects.get(user=alice).reserved_included == 0


def test_credits_of_a_long_batch_stay_reserved_past_a_requests_life(
    post_batch, settings, alice, alice_key, small_car_jpeg
):
    """A batch waiting in a long queue keeps its credits: a single request cannot take them."""
    from billing import credits

    release = threading.Event()
    engine.pool().submit(release.wait, 30)
    try:
        account = CreditAccount.objects.for_user(alice)
        account.included_used = account.plan.included_credits - 1
        account.save()
        assert post_batch([("car.jpg", small_car_jpeg)], alice_key).status_code == 202
        # Older than any request can live: a plain reservation would count as dead.
        Charge.objects.update(reserved_at=timezone.now() - timedelta(hours=1))
        account = CreditAccount.objects.get(user=alice)
        assert credits.available(account, timezone.now()) == (0, 0)
        with pytest.raises(credits.ApiError):
            credits.reserve(alice, Charge.API, ip="127.0.0.1")
    finally:
        release.set()


def test_batches_past_retention_are_deleted_with_their_files(
    post_batch, wait_until_ended, client, alice_key, small_car_jpeg, batch_storage
):
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    wait_until_ended(body["status_url"], alice_key)
    assert len([p for p in batch_storage.rglob("*") if p.is_file()]) == 2  # input, output
    Batch.objects.update(created_at=timezone.now() - timedelta(hours=23))
    work.purge()
    assert Batch.objects.exists()

    Batch.objects.update(created_at=timezone.now() - timedelta(hours=25))
    work.purge()

    assert not Batch.objects.exists() and not BatchFile.objects.exists()
    assert not list((batch_storage / "batches").iterdir())  # no file, no empty directory
    assert client.get(body["status_url"], headers={"X-API-Key": alice_key}).status_code == 404


def test_uploads_no_batch_names_are_deleted_once_past_retention(
    post_batch, wait_until_ended, alice_key, small_car_jpeg, batch_storage
):
    """As when a web process is killed between storing an upload and committing its batch."""
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    wait_until_ended(body["status_url"], alice_key)
    day_ago = (timezone.now() - timedelta(hours=25)).timestamp()

    def stored(folder: str, age: float | None = None) -> None:
        path = batch_storage / "batches" / folder / "in" / "0000.jpg"
        path.parent.mkdir(parents=True)
        path.write_bytes(small_car_jpeg)
        if age is not None:
            os.utime(path, (age, age))

    orphan, uploading = str(uuid.uuid4()), str(uuid.uuid4())
    stored(orphan, day_ago)
    stored(uploading)  # being stored right now: its rows are still to come
    stored("not-a-batch", day_ago)
    for path in (batch_storage / "batches" / body["id"]).rglob("*"):
        os.utime(path, (day_ago, day_ago))  # old files, but their batch is there

    work.purge()

    left = sorted(p.name for p in (batch_storage / "batches").iterdir())
    assert left == sorted([body["id"], uploading, "not-a-batch"])


def test_old_anonymous_records_are_forgotten(db):
    now = timezone.now()
    AnonymousUsage.objects.create(ip="192.0.2.1", day=(now - timedelta(days=3)).date(), used=5)
    AnonymousUsage.objects.create(ip="192.0.2.1", day=now.date(), used=1)
    AnonymousAttempt.objects.create(
        address="192.0.2.1", key="old", fingerprint="x", started_at=now - timedelta(days=2)
    )
    AnonymousAttempt.objects.create(address="192.0.2.1", key="new", fingerprint="x", started_at=now)

    work.purge()

    assert list(AnonymousUsage.objects.values_list("day", flat=True)) == [now.date()]
    assert list(AnonymousAttempt.objects.values_list("key", flat=True)) == ["new"]
