"""Who sees a batch, cancelling it, retrying its request, and what a second delivery does."""

from __future__ import annotations

import threading
import time

import pytest

from batches import engine, jobs, work
from batches.models import Batch, BatchFile
from billing.models import Charge, CreditAccount

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held_pool():
    """The in-process pool's thread kept busy: batches made meanwhile stay queued."""
    release = threading.Event()
    busy = engine.pool().submit(release.wait, 30)
    yield release
    release.set()
    busy.result()


def test_only_the_owner_sees_or_touches_a_batch(
    post_batch, wait_until_ended, client, alice_key, bob, small_car_jpeg
):
    from accounts.models import ApiKey

    bob.emailaddress_set.update(verified=True)
    carol_key = ApiKey.issue(bob, "other")[1]
    batch = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    wait_until_ended(batch["status_url"], alice_key)
    urls = [batch["status_url"], batch["result_url"], batch["status_url"] + "/files/0"]

    for url in urls:
        assert client.get(url, headers={"X-API-Key": alice_key}).status_code == 200
        stranger = client.get(url, headers={"X-API-Key": carol_key})
        assert stranger.status_code == 404
        assert stranger.json() == {"error": "Batch not found.", "status": 404}
    assert client.delete(urls[0], headers={"X-API-Key": carol_key}).status_code == 404
    listed = client.get("/api/batches", headers={"X-API-Key": carol_key}).json()
    assert listed == {"batches": [], "next": None, "previous": None}


def test_cancel_releases_the_files_not_started(
    held_pool, post_batch, client, alice, alice_key, small_car_jpeg
):
    body = post_batch([(f"{i}.jpg", small_car_jpeg) for i in range(3)], alice_key).json()
    assert CreditAccount.objects.get(user=alice).reserved_included == 3

    cancelled = client.delete(body["status_url"], headers={"X-API-Key": alice_key}).json()
    held_pool.set()

    assert cancelled["status"] == "cancelled"
    assert cancelled["counts"]["cancelled"] == 3
    assert not Charge.objects.filter(user=alice).exists()
    assert CreditAccount.objects.get(user=alice).reserved_included == 0
    result = client.get(body["result_url"], headers={"X-API-Key": alice_key})
    entries = b"".join(result.streaming_content)
    assert b"errors.csv" in entries
    engine.pool().submit(lambda: None).result()  # the queued tasks have run: they skipped
    assert set(BatchFile.objects.values_list("status", flat=True)) == {"cancelled"}
    assert not Charge.objects.filter(user=alice).exists()


def test_the_result_waits_until_the_batch_has_ended(
    held_pool, post_batch, client, alice_key, small_car_jpeg
):
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    early = client.get(body["result_url"], headers={"X-API-Key": alice_key})
    assert early.status_code == 409


def test_a_retry_with_its_idempotency_key_gets_the_same_batch(
    post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    files = [("car.jpg", small_car_jpeg)]
    first = post_batch(files, alice_key, headers={"Idempotency-Key": "upload-1"})
    again = post_batch(files, alice_key, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert Batch.objects.count() == 1
    wait_until_ended(first.json()["status_url"], alice_key)
    assert Charge.objects.filter(user=alice).count() == 1

    other = post_batch(
        [("car.jpg", small_car_jpeg + b"\0")], alice_key, headers={"Idempotency-Key": "upload-1"}
    )
    assert other.status_code == 422
    assert other.json()["error"] == "Idempotency-Key has already been used for a different request"


def test_a_file_delivered_twice_is_processed_and_charged_once(
    post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    wait_until_ended(body["status_url"], alice_key)
    item = BatchFile.objects.get()

    work.process_file(item.pk)  # what a broker's redelivery would do

    item.refresh_from_db()
    assert (item.status, item.attempts) == ("done", 1)
    assert Charge.objects.filter(user=alice).count() == 1
    assert CreditAccount.objects.get(user=alice).included_used == 1


def test_a_file_whose_worker_died_is_processed_again_and_charged_once(
    held_pool, post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    item = BatchFile.objects.get()
    # A worker took it, then died before finishing: the file stays running.
    BatchFile.objects.filter(pk=item.pk).update(status=BatchFile.RUNNING, attempts=1)

    held_pool.set()
    wait_until_ended(body["status_url"], alice_key)

    item.refresh_from_db()
    assert (item.status, item.attempts) == ("done", 2)
    assert Charge.objects.filter(user=alice, status=Charge.COMMITTED).count() == 1


def test_a_file_that_keeps_killing_its_worker_is_given_up_and_costs_nothing(
    held_pool, settings, post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
    BatchFile.objects.update(status=BatchFile.RUNNING, attempts=settings.BATCH_MAX_ATTEMPTS)

    held_pool.set()
    ended = wait_until_ended(body["status_url"], alice_key)

    assert ended["files"][0]["status"] == "failed"
    assert ended["files"][0]["error"] == "Processing failed repeatedly; the file was given up."
    assert not Charge.objects.filter(user=alice).exists()
    assert CreditAccount.objects.get(user=alice).reserved_included == 0


def test_a_file_the_server_was_too_busy_to_start_is_not_given_up_for_it(
    settings, post_batch, wait_until_ended, alice, alice_key, small_car_jpeg
):
    from removal import pipeline

    settings.BATCH_MAX_ATTEMPTS = 1
    settings.REMOVAL_QUEUE_TIMEOUT = 1
    slots = pipeline.processing_slots()
    held = [slots.acquire(timeout=5) for _ in range(settings.REMOVAL_MAX_CONCURRENCY)]
    try:
        body = post_batch([("car.jpg", small_car_jpeg)], alice_key).json()
        time.sleep(4.5)  # two rounds of waiting for a slot in vain
    finally:
        for _ in held:
            slots.release()
    ended = wait_until_ended(body["status_url"], alice_key)
    assert ended["files"][0]["status"] == "done"
    assert Charge.objects.filter(user=alice, status=Charge.COMMITTED).count() == 1


def test_the_list_of_batches_is_paged_newest_first(client, alice, alice_key, bob):
    from datetime import timedelta

    from django.utils import timezone

    start = timezone.now() - timedelta(days=1)

    def made(user, minutes: int) -> str:
        at = start + timedelta(minutes=minutes)
        return str(
            Batch.objects.create(
                user=user, channel=Charge.API, options={}, created_at=at, deadline=at
            ).pk
        )

    ids = [made(alice, minute) for minute in range(103)][::-1]  # newest first
    made(bob, 200)  # the newest of all, and not hers
    headers = {"X-API-Key": alice_key}

    first = client.get("/api/batches", headers=headers).json()
    assert [b["id"] for b in first["batches"]] == ids[:50]
    assert first["previous"] is None
    second = client.get(first["next"], headers=headers).json()
    assert [b["id"] for b in second["batches"]] == ids[50:100]
    last = client.get(second["next"], headers=headers).json()
    assert [b["id"] for b in last["batches"]] == ids[100:]
    assert last["next"] is None
    back = client.get(last["previous"], headers=headers).json()
    assert [b["id"] for b in back["batches"]] == ids[50:100]

    two = client.get("/api/batches", {"limit": 2}, headers=headers).json()
    assert [b["id"] for b in two["batches"]] == ids[:2]
    most = client.get("/api/batches", {"limit": 100}, headers=headers).json()
    assert [b["id"] for b in most["batches"]] == ids[:100]
    for limit in ("0", "101", "-1", "2.5", "null", "٣"):
        refused = client.get("/api/batches", {"limit": limit}, headers=headers)
        assert refused.status_code == 400, limit
        assert refused.json()["error"] == "limit must be a whole number from 1 to 100."

    wrong = client.get("/api/batches", {"cursor": "not-one"}, headers=headers)
    assert wrong.status_code == 404
    assert wrong.json()["error"].startswith("Invalid cursor")


def test_a_page_of_batches_costs_the_same_queries_however_many_are_on_it(
    client, alice, alice_key, monkeypatch
):
    """Each summary's counts and credits, read for the whole page at once."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    start = timezone.now() - timedelta(hours=1)
    expected = {}
    for n in range(20):
        at = start + timedelta(minutes=n)
        batch = Batch.objects.create(
            user=alice, channel=Charge.API, options={}, created_at=at, deadline=at
        )

        def charges(status: str, how_many: int) -> list[int]:
            return [
                Charge.objects.create(
                    user=alice,
                    status=status,
                    source=Charge.INCLUDED,
                    channel=Charge.API,
                    period_start=start,
                ).pk
                for _ in range(how_many)
            ]

        # n files done at 2 credits each (a costlier model), one failed, one queued.
        for index in range(n):
            BatchFile.objects.create(
                batch=batch,
                index=index,
                name=f"{index}.jpg",
                status=BatchFile.DONE,
                charge_ids=charges(Charge.COMMITTED, 2),
            )
        BatchFile.objects.create(batch=batch, index=n, name="bad.jpg", status=BatchFile.FAILED)
        BatchFile.objects.create(
            batch=batch, index=n + 1, name="next.jpg", charge_ids=charges(Charge.RESERVED, 2)
        )
        expected[str(batch.pk)] = (
            {"total": n + 2, "queued": 1, "running": 0, "done": n, "failed": 1, "cancelled": 0},
            2 * n,
        )

    def listed(limit: int) -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(
                "/api/batches", {"limit": limit}, headers={"X-API-Key": alice_key}
            )
        assert response.status_code == 200
        return len(queries), response.json()["batches"]

    listed(1)  # the first request of a key also notes when it was last used
    few, two = listed(2)
    many, twenty = listed(20)
    assert len(two) == 2 and len(twenty) == 20
    assert many == few
    assert {b["id"]: (b["counts"], b["credits_charged"]) for b in twenty} == expected

    # The ledger is read a slice of charges at a time (SQLite's parameter limit).
    monkeypatch.setattr(jobs, "LEDGER_CHUNK", 7)
    assert listed(20)[1] == twenty
