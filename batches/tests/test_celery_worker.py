"""The production path: batches run by a real ``celery -A config worker`` over RabbitMQ.

The test's Django client is the web side: it publishes to RabbitMQ on a queue of
the test's own. The worker is a separate process tree on the same test database,
Redis and batch storage. Killed with SIGKILL mid-batch, it loses no credit and
charges no file twice: its unacknowledged message goes back to the queue
(task_acks_late; task_reject_on_worker_lost when only its pool process dies),
and a file ends once, in the transaction that settles its credits.

Also what the broker path must not do: keep a batch it could not queue, hold a
delayed callback past RabbitMQ's consumer timeout, leave a file "running" when
its task fails, or keep a cut-out the purge cannot see.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import uuid
import zipfile
from datetime import datetime, timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone
from kombu import Connection
from PIL import Image

from batches import engine, jobs, tasks
from batches.jobs import NOT_QUEUED
from batches.models import Batch, BatchFile
from batches.tests.celery_worker import (
    BROKER_URL,
    Worker,
    delete_queue,
    forget_broker_connections,
    worker_env,
)
from billing import counters
from billing.models import Charge
from billing.tests.helpers import account_for, put_on_plan
from config.tests.test_smoke import free_port
from conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _shared_services(settings):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("a worker process shares only a server database and a real Redis")


@pytest.fixture
def queue(settings):
    """The web side publishes to RabbitMQ, on a queue no other worker on the broker reads."""
    name = f"cutout-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_BROKER_URL = BROKER_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    forget_broker_connections()
    yield name
    forget_broker_connections()
    delete_queue(name)


@pytest.fixture
def start_worker(queue, batch_storage, tmp_path):
    """Start a worker on the test's queue, once it says it is ready; all killed at the end."""
    started: list[Worker] = []

    def start(storage_dir=batch_storage, concurrency: int = 1) -> Worker:
        name = f"{queue}-{len(started)}"
        env = worker_env(queue, storage_dir, model_dir=tmp_path / "models")
        worker = Worker(queue, env, tmp_path / f"{name}.log", name, concurrency)
        started.append(worker)
        worker.wait_until_ready()
        return worker

    yield start
    for worker in started:
        worker.kill()  # nothing it would do now matters: its queue goes too


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A 640x480 photo: long enough to process (about a second) to be caught at it."""
    buffer = io.BytesIO()
    Image.open(DATA / "car-1.jpg").resize((640, 480)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def statuses(batch_id) -> list[str]:
    return list(BatchFile.objects.filter(batch_id=batch_id).values_list("status", flat=True))


def wait_for(condition, timeout: float = 60, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} not met after {timeout} s"
        time.sleep(0.02)
    return found


def one_running_after_one_done(batch_id):
    found = statuses(batch_id)
    return BatchFile.DONE in found and BatchFile.RUNNING in found and found


def usage_report(client, key: str) -> dict:
    """GET /api/membership-usage; the first one makes the Redis counters the worker counts in."""
    response = client.get(
        "/api/membership-usage", {"expand": "billing_cycle"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.content
    return response.json()


def assert_ledger_agrees(client, user, key: str, charged: int) -> None:
    """Charges = account = Redis counters = membership-usage, nothing left reserved."""
    assert Charge.objects.filter(user=user, status=Charge.COMMITTED).count() == charged
    assert not Charge.objects.filter(user=user, status=Charge.RESERVED).exists()
    account = account_for(user)
    assert (account.included_used, account.reserved_included, account.reserved_prepaid) == (
        charged,
        0,
        0,
    )
    keys = [
        counters.month_key(user.pk, Charge.API, account.period_start),
        counters.cycle_key(user.pk, Charge.API, account.period_start),
    ]
    assert not account.counters_stale
    assert counters.read(keys) == [charged, charged]  # counted by the worker, not rebuilt
    report = usage_report(client, key)
    assert report["api_usage"] == charged
    assert report["billingCycle"]["usedIncludedCredits"] == charged
    assert report["billingCycle"]["remainingIncludedCredits"] == account.included_credits - charged


def test_a_worker_processes_a_batch_posted_to_the_api(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, small_car_jpeg
):
    usage_report(client, alice_key)
    worker = start_worker()
    files = [(f"car{i}.jpg", small_car_jpeg) for i in range(3)]

    response = post_batch(files, alice_key, format="png")
    assert response.status_code == 202, response.content
    ended = wait_until_ended(response.json()["status_url"], alice_key)

    assert ended["status"] == "done"
    assert (ended["counts"]["done"], ended["credits_charged"]) == (3, 3)
    assert worker.tasks_succeeded() == 3  # the worker did them, not a pool in this process
    assert_ledger_agrees(client, alice, alice_key, charged=3)
    result = client.get(ended["result_url"], headers={"X-API-Key": alice_key})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(result.streaming_content)))
    assert archive.namelist() == ["car0.png", "car1.png", "car2.png"]
    cut_out = Image.open(io.BytesIO(archive.read("car1.png")))
    assert (cut_out.format, cut_out.mode, cut_out.size) == ("PNG", "RGBA", (160, 120))


def sessions_opened() -> int:
    """Connections PostgreSQL has opened to the test database so far (flushed at their end)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_a_worker_process_keeps_its_database_connection_from_file_to_file(
    start_worker, post_batch, wait_until_ended, alice_key, small_car_jpeg
):
    """Celery's Django fix-up closes it after every task unless CELERY_DB_REUSE_MAX is set:
    each file would open a connection of its own."""
    worker = start_worker()
    time.sleep(1.5)  # PostgreSQL counts a session when its statistics are flushed
    before = sessions_opened()

    response = post_batch([(f"car{i}.jpg", small_car_jpeg) for i in range(4)], alice_key)
    assert wait_until_ended(response.json()["status_url"], alice_key)["counts"]["done"] == 4
    worker.wait_for_tasks(4)
    time.sleep(1.5)

    assert sessions_opened() - before <= 1


def test_a_worker_whose_database_connection_was_cut_goes_on(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, small_car_jpeg
):
    """As when PostgreSQL restarts or a proxy drops an idle connection between two files."""
    usage_report(client, alice_key)
    worker = start_worker()
    first = post_batch([("car.jpg", small_car_jpeg)], alice_key)
    wait_until_ended(first.json()["status_url"], alice_key)
    worker.wait_for_tasks(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert cursor.fetchone()[0] >= 1  # the worker's, kept from its first file

    second = post_batch([("car1.jpg", small_car_jpeg), ("car2.jpg", small_car_jpeg)], alice_key)
    ended = wait_until_ended(second.json()["status_url"], alice_key, timeout=30)

    assert ended["status"] == "done" and ended["counts"]["done"] == 2
    assert_ledger_agrees(client, alice, alice_key, charged=3)


def allow_connections(allowed: bool) -> None:
    """Let new connections to the test database in, or not (from the server's own database:
    a database cannot refuse connections from inside itself)."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        name = connection.ops.quote_name(db["NAME"])
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allowed).lower()}")


def test_a_file_whose_database_was_away_is_done_once_it_is_back(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, small_car_jpeg
):
    """As when PostgreSQL restarts under a worker: its task is tried again a little later,
    instead of leaving the file queued until the batch's deadline."""
    usage_report(client, alice_key)
    worker = start_worker()
    allow_connections(False)  # new ones are refused; the web side's, open, stays
    try:
        response = post_batch([("car.jpg", small_car_jpeg)], alice_key)
        assert response.status_code == 202, response.content
        wait_for(lambda: "retry: Retry in" in worker.log(), 30, "the task retried")
    finally:
        allow_connections(True)
    ended = wait_until_ended(response.json()["status_url"], alice_key, timeout=60)

    assert ended["status"] == "done" and ended["counts"]["done"] == 1
    assert_ledger_agrees(client, alice, alice_key, charged=1)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="on one core every share is the core")
def test_each_pool_process_runs_its_image_on_its_share_of_the_cores(start_worker):
    """Two pool processes of every core each would fight over the cores (onnxruntime threads)."""
    worker = start_worker(concurrency=2)
    share = (os.cpu_count() or 1) // 2
    wait_for(lambda: worker.log().count("Loaded background-removal model") == 2, 30, "2 loaded")

    assert worker.log().count(f"a lone image runs on {share} thread(s)") == 2


def test_a_worker_killed_mid_batch_loses_no_credit_and_charges_no_file_twice(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, photo
):
    put_on_plan(alice, included=8)
    usage_report(client, alice_key)
    worker = start_worker()
    response = post_batch([(f"photo{i}.jpg", photo) for i in range(8)], alice_key)
    assert response.status_code == 202, response.content
    batch_id = response.json()["id"]

    wait_for(lambda: one_running_after_one_done(batch_id), what="one file done, one running")
    worker.kill()

    # Stuck, not lost: the unfinished files still hold their credits.
    batch = Batch.objects.get(pk=batch_id)
    unfinished = BatchFile.objects.filter(batch=batch, status__in=BatchFile.UNFINISHED)
    done = 8 - unfinished.count()
    assert batch.finished_at is None and batch.remaining == unfinished.count() > 0
    assert unfinished.filter(status=BatchFile.RUNNING).exists()
    held = [i for ids in unfinished.values_list("charge_ids", flat=True) for i in ids]
    assert Charge.objects.filter(pk__in=held, status=Charge.RESERVED).count() == len(held)
    account = account_for(alice)
    assert (account.included_used, account.reserved_included) == (done, 8 - done)
    assert usage_report(client, alice_key)["billingCycle"]["remainingIncludedCredits"] == 0

    start_worker()
    ended = wait_until_ended(response.json()["status_url"], alice_key, timeout=60)

    assert ended["status"] == "done"
    assert ended["counts"]["done"] == 8 and ended["credits_charged"] == 8
    files = BatchFile.objects.filter(batch_id=batch_id)
    for item in files:
        assert Charge.objects.filter(pk__in=item.charge_ids, status=Charge.COMMITTED).count() == 1
    # Only the file it was killed at is done twice, and charged once.
    assert sorted(files.values_list("attempts", flat=True)) == [1] * 7 + [2]
    assert_ledger_agrees(client, alice, alice_key, charged=8)


def test_a_pool_process_killed_mid_file_has_its_file_done_again(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, photo
):
    """As when the kernel's OOM killer picks the process holding the model."""
    usage_report(client, alice_key)
    worker = start_worker()
    response = post_batch([(f"photo{i}.jpg", photo) for i in range(3)], alice_key)
    assert response.status_code == 202, response.content
    batch_id = response.json()["id"]

    wait_for(lambda: BatchFile.RUNNING in statuses(batch_id), what="a file running")
    for pid in worker.pool_pids():
        os.kill(pid, signal.SIGKILL)
    ended = wait_until_ended(response.json()["status_url"], alice_key, timeout=60)

    assert ended["status"] == "done" and ended["credits_charged"] == 3
    assert "WorkerLostError" in worker.log()
    assert_ledger_agrees(client, alice, alice_key, charged=3)


def test_a_cancel_while_the_worker_is_busy_releases_what_has_not_started(
    start_worker, post_batch, wait_until_ended, client, alice, alice_key, photo
):
    usage_report(client, alice_key)
    worker = start_worker()
    response = post_batch([(f"photo{i}.jpg", photo) for i in range(5)], alice_key)
    assert response.status_code == 202, response.content
    batch = response.json()

    wait_for(lambda: BatchFile.RUNNING in statuses(batch["id"]), what="a file running")
    cancelled = client.delete(batch["status_url"], headers={"X-API-Key": alice_key}).json()
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is None
    assert cancelled["counts"]["running"] == 1
    waiting = cancelled["counts"]["cancelled"]
    assert waiting >= 1 and cancelled["counts"]["queued"] == 0

    ended = wait_until_ended(batch["status_url"], alice_key)
    worker.wait_for_tasks(5)  # each message delivered; the cancelled ones did nothing

    assert ended["status"] == "cancelled"
    assert ended["counts"]["done"] == 5 - waiting  # the running one finished, and is charged
    assert ended["counts"]["cancelled"] == waiting
    skipped = BatchFile.objects.filter(batch_id=batch["id"], status=BatchFile.CANCELLED)
    assert set(skipped.values_list("attempts", "output")) == {(0, "")}
    held = [i for ids in skipped.values_list("charge_ids", flat=True) for i in ids]
    assert not Charge.objects.filter(pk__in=held).exists()  # released
    assert_ledger_agrees(client, alice, alice_key, charged=5 - waiting)


def test_a_task_delivered_again_for_a_done_file_changes_nothing(
    start_worker,
    post_batch,
    wait_until_ended,
    client,
    alice,
    alice_key,
    small_car_jpeg,
    batch_storage,
):
    """As when a worker dies after the work, before its acknowledgement reaches the broker."""
    usage_report(client, alice_key)
    worker = start_worker()
    response = post_batch([("car.jpg", small_car_jpeg)], alice_key)
    assert response.status_code == 202, response.content
    wait_until_ended(response.json()["status_url"], alice_key)
    item = BatchFile.objects.get(batch_id=response.json()["id"])
    outputs = sorted(batch_storage.rglob("out/*"))

    with tasks.app.producer_or_acquire() as producer:
        tasks.process_file.apply_async((item.pk,), producer=producer)
    worker.wait_for_tasks(2)

    again = BatchFile.objects.get(pk=item.pk)
    assert (again.status, again.attempts, again.output) == (BatchFile.DONE, 1, item.output)
    assert sorted(batch_storage.rglob("out/*")) == outputs
    assert_ledger_agrees(client, alice, alice_key, charged=1)


def next_message(queue: str):
    """Take the next message off the queue, as a worker would receive it (no worker runs)."""
    with Connection(BROKER_URL, connect_timeout=5) as broker:
        return wait_for(lambda: broker.default_channel.basic_get(queue, no_ack=True), 10)


def test_a_callback_retried_hours_later_waits_on_the_broker_in_hops_under_its_timeout(
    queue, settings, alice
):
    """A worker holds a delayed task unacknowledged until it is due, and RabbitMQ closes
    the channel of a consumer holding a message past its consumer_timeout (30 min by
    default): the worker's running tasks would be handed out again and the retry never
    sent. A retry hours later waits in hops well under that timeout instead."""
    settings.BATCH_CALLBACK_ALLOW_PRIVATE = True
    now = timezone.now()
    batch = Batch.objects.create(
        user=alice,
        channel=Charge.API,
        options={},
        status=Batch.DONE,
        created_at=now,
        finished_at=now,
        deadline=now,
        callback_url=f"http://127.0.0.1:{free_port()}/hook",  # nothing listens: it would fail
        callback_attempts=4,
    )

    engine.send_callback(batch.pk, 4, delay=2 * 3600)
    for _hop in range(2):
        message = next_message(queue)
        eta = datetime.fromisoformat(message.headers["eta"])
        assert eta - timezone.now() < timedelta(minutes=15)
        args, kwargs, _ = json.loads(message.body)
        tasks.send_callback(*args, **kwargs)  # what the worker runs when the hop is due
        assert Batch.objects.get(pk=batch.pk).callback_attempts == 4  # not sent early

    tasks.send_callback(*args[:2], time.time())  # the last hop, due now
    assert Batch.objects.get(pk=batch.pk).callback_attempts == 5  # sent (and refused)


def test_a_batch_posted_while_the_broker_is_down_is_refused_whole(
    settings, post_batch, alice, alice_key, small_car_jpeg, batch_storage
):
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"  # nothing there
    forget_broker_connections()
    try:
        response = post_batch([("a.jpg", small_car_jpeg), ("b.jpg", small_car_jpeg)], alice_key)
    finally:
        forget_broker_connections()

    assert response.status_code == 503, response.content
    assert response.json()["error"] == NOT_QUEUED and response["Retry-After"]
    assert not Batch.objects.exists()
    assert not Charge.objects.exists()
    assert account_for(alice).reserved_included == 0
    assert not [p for p in batch_storage.rglob("*") if p.is_file()]


def test_a_cut_out_saved_by_a_worker_killed_before_recording_it_is_purged_too(
    start_worker, post_batch, wait_until_ended, alice_key, photo, batch_storage
):
    worker = start_worker()
    response = post_batch([("photo.jpg", photo)], alice_key, format="png")
    batch_id = response.json()["id"]
    wait_for(lambda: statuses(batch_id) == [BatchFile.RUNNING], what="the file running")
    with transaction.atomic():
        # The worker ends a file with the batch row locked: held here, it stops between
        # saving the cut-out and recording it, where it is killed.
        Batch.objects.select_for_update().get(pk=batch_id)
        wait_for(lambda: list(batch_storage.rglob("out/*")), what="a cut-out saved")
        worker.kill()
    start_worker()
    wait_until_ended(response.json()["status_url"], alice_key)
    assert len(list(batch_storage.rglob("out/*"))) == 2  # the one recorded, and the other

    Batch.objects.update(created_at=timezone.now() - timedelta(hours=25))
    jobs.purge_expired()

    assert not Batch.objects.exists()
    assert not [p for p in batch_storage.rglob("*") if p.is_file()]


def test_a_file_whose_task_fails_is_tried_again_then_given_up_and_its_credit_released(
    start_worker,
    settings,
    post_batch,
    wait_until_ended,
    client,
    alice,
    alice_key,
    small_car_jpeg,
    tmp_path,
):
    """Here a worker host that does not share the batch storage: each try fails."""
    start_worker(storage_dir=tmp_path / "not-shared")
    usage_report(client, alice_key)
    response = post_batch([("car.jpg", small_car_jpeg)], alice_key)
    ended = wait_until_ended(response.json()["status_url"], alice_key)

    assert ended["status"] == "done" and ended["files"][0]["status"] == "failed"
    assert ended["files"][0]["error"] == jobs.GAVE_UP
    assert BatchFile.objects.get().attempts == settings.BATCH_MAX_ATTEMPTS
    assert_ledger_agrees(client, alice, alice_key, charged=0)
