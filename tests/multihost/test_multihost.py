"""Several machines, one truth: credits, limits, idempotency and batches across hosts.

The hosts (conftest.py) are real processes started from deploy/: two gunicorn app
hosts, a Celery worker host and nginx balancing the app hosts. Every request comes
from a client machine of its own (hosts.CLIENT), through nginx or straight to one
app host. The ledger is read from the database, the counters from Redis, and
membership-usage over HTTP: the three must agree.
"""

from __future__ import annotations

import io
import re
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.utils import timezone
from PIL import Image

from accounts.ratelimit import TOO_FAST
from billing import counters
from billing.credits import MONTHLY_LIMIT
from billing.idempotency import REUSED
from billing.models import AnonymousUsage, Charge
from billing.tests.helpers import account_for, committed, put_on_plan
from conftest import DATA
from tests.multihost.conftest import RATE_LIMIT, Cluster
from tests.multihost.hosts import CLIENT, DEPLOY, Host, client

pytestmark = pytest.mark.django_db(transaction=True)


def small_jpeg(name: str, size: int = 64) -> bytes:
    """A real photo at size x size: quick enough for hundreds of requests on 2 cores."""
    image = Image.open(DATA / name).convert("RGB").resize((size, size))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return small_jpeg("car-1.jpg")


def post(base: str, image: bytes, key: str | None, idempotency_key: str | None = None, **kw):
    headers = {"x-api-key": key} if key else {}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    headers.update(kw.pop("headers", {}))
    session = kw.pop("session", None) or client()
    return session.post(
        f"{base}/rmbg",
        headers=headers,
        files={"image": ("car.jpg", image, "image/jpeg")},
        data={"format": "png"},
        timeout=120,
    )


def usage(base: str, key: str) -> dict:
    response = client().get(
        f"{base}/api/membership-usage",
        params={"expand": "billing_cycle"},
        headers={"x-api-key": key},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def served(hosts: list[Host], since: dict[str, int], path: str, total: int) -> dict[str, list]:
    """Each host's access-log lines for ``path`` since ``since``, once ``total`` are written.

    gunicorn logs a request just after answering it: give the last lines a moment.
    """
    deadline = time.monotonic() + 10
    while True:
        lines = {
            h.name: [r for r in h.requests_served(since[h.name]) if r["path"] == path]
            for h in hosts
        }
        if sum(map(len, lines.values())) >= total or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def assert_one_truth(user, key: str, site: str, images: int) -> dict:
    """Ledger = Redis counters = membership-usage = ``images``; nothing left reserved."""
    report = usage(site, key)  # first: a missing counter is rebuilt from the ledger here
    account = account_for(user)
    now = timezone.now()
    keys = [
        counters.month_key(user.pk, Charge.API, now),
        counters.cycle_key(user.pk, Charge.API, account.period_start),
    ]
    assert committed(user) == images
    assert counters.read(keys) == [images, images]
    assert report["api_usage"] == images
    assert report["billingCycle"]["apiUsage"] == images
    assert report["billingCycle"]["usedIncludedCredits"] == images
    return report


def print_throughput(title: str, images: dict[str, int], seconds: dict[str, float]) -> None:
    """A figure, never asserted: on 2 cores two hosts are no faster than one."""
    figures = ", ".join(
        f"{name} {n} images in {seconds[name]:.1f} s = {n / seconds[name]:.2f}/s"
        for name, n in images.items()
    )
    print(f"\n{title}: {figures}")


CREDITS = 30
CONCURRENT = 200


def test_200_concurrent_requests_at_the_credit_edge_get_exactly_the_credits_across_hosts(
    hosts: Cluster, alice, alice_key, photo
):
    put_on_plan(alice, included=CREDITS)
    since = {h.name: h.log_size() for h in hosts.apps}
    sessions = [client() for _ in range(CONCURRENT)]
    start = threading.Barrier(CONCURRENT)

    def one(session):
        start.wait()
        return post(hosts.site, photo, alice_key, session=session)

    began = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        responses = list(pool.map(one, sessions))
    seconds = time.perf_counter() - began

    assert Counter(r.status_code for r in responses) == {200: CREDITS, 429: CONCURRENT - CREDITS}
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json() == {"error": MONTHLY_LIMIT, "status": 429}
    # Both app hosts answered some, each request exactly one host (no retry happened).
    lines = served(hosts.apps, since, "/rmbg", CONCURRENT)
    assert all(lines.values()), {name: len(found) for name, found in lines.items()}
    assert sum(map(len, lines.values())) == CONCURRENT
    images = {name: sum(r["status"] == "200" for r in found) for name, found in lines.items()}
    assert sum(images.values()) == CREDITS
    print_throughput("credit edge, through nginx", images, dict.fromkeys(images, seconds))

    report = assert_one_truth(alice, alice_key, hosts.site, CREDITS)
    assert report["billingCycle"]["remainingIncludedCredits"] == 0
    account = account_for(alice)
    assert (account.reserved_included, account.reserved_prepaid) == (0, 0)


def test_an_idempotency_key_retried_on_the_other_host_is_charged_once(
    hosts: Cluster, alice, alice_key, photo
):
    put_on_plan(alice, included=5)
    first = post(hosts.a.url, photo, alice_key, "order-17")
    retry = post(hosts.b.url, photo, alice_key, "order-17")

    assert (first.status_code, first.headers["X-Credits-Charged"]) == (200, "1")
    assert (retry.status_code, retry.headers["X-Credits-Charged"]) == (200, "0")
    assert retry.headers["X-Width"] == first.headers["X-Width"] == "64"
    # The key stays bound to its request on every host: another photo under it is refused.
    other = post(hosts.b.url, small_jpeg("anime-girl-1.jpg"), alice_key, "order-17")
    assert (other.status_code, other.json()["error"]) == (422, REUSED)
    assert Charge.objects.filter(user=alice, idempotency_key="order-17").count() == 1
    report = assert_one_truth(alice, alice_key, hosts.site, 1)
    assert report["billingCycle"]["remainingIncludedCredits"] == 4


def test_the_short_term_limit_is_shared_by_the_hosts(hosts: Cluster, alice, alice_key):
    def get(host: Host, session):
        return session.get(
            f"{host.url}/api/membership-usage", headers={"x-api-key": alice_key}, timeout=30
        )

    sessions = threading.local()

    def nth(n: int):
        if not hasattr(sessions, "session"):
            sessions.session = client()
        return get(hosts.apps[n % 2], sessions.session)

    with ThreadPoolExecutor(8) as pool:
        allowed = list(pool.map(nth, range(RATE_LIMIT)))
    assert [r.status_code for r in allowed] == [200] * RATE_LIMIT
    assert {r.headers["X-RateLimit-Limit"] for r in allowed} == {str(RATE_LIMIT)}
    # The next one is refused on either host: each counted the other's requests.
    for host in hosts.apps:
        refused = get(host, client())
        assert refused.status_code == 429, f"{host.name} let request {RATE_LIMIT + 1} through"
        assert refused.json()["error"] == TOO_FAST
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        assert int(refused.headers["Retry-After"]) >= 1


def test_nginx_passes_the_client_address_and_keeps_metrics_private(hosts: Cluster, photo):
    # A forged X-Forwarded-For from the client is not believed; nginx's own hop is.
    answer = post(hosts.site, photo, None, headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 200, answer.text
    assert list(AnonymousUsage.objects.values_list("ip", "used")) == [(CLIENT, 1)]

    metrics = client().get(f"{hosts.site}/metrics", timeout=10)
    assert metrics.status_code == 403
    assert "nginx" in metrics.text  # refused by nginx itself, never reaching an app host
    health = client().get(f"{hosts.site}/healthz", timeout=10)
    assert (health.status_code, health.text) == (200, "ok")


def test_a_batch_made_on_one_host_is_processed_by_the_worker_and_fetched_on_the_other(
    hosts: Cluster, alice, alice_key
):
    put_on_plan(alice, included=10)
    inputs = {"car.jpg": small_jpeg("car-1.jpg", 96), "girl.jpg": small_jpeg("anime-girl-1.jpg")}
    since = hosts.worker.log_size()
    made = client().post(
        f"{hosts.a.url}/api/batches",
        headers={"x-api-key": alice_key},
        files=[("image", (name, content, "image/jpeg")) for name, content in inputs.items()],
        data={"format": "png"},
        timeout=60,
    )
    assert made.status_code == 202, made.text
    batch = made.json()
    assert batch["status_url"].startswith(f"{hosts.a.url}/api/batches/")

    status_on_b = f"{hosts.b.url}/api/batches/{batch['id']}"
    deadline = time.monotonic() + 60
    while (body := client().get(status_on_b, headers={"x-api-key": alice_key}).json())[
        "status"
    ] in ("queued", "running"):
        assert time.monotonic() < deadline, body
        time.sleep(0.2)
    assert (body["status"], body["counts"]["done"], body["credits_charged"]) == ("done", 2, 2)
    assert [f["output"] for f in body["files"]] == ["car.png", "girl.png"]

    result = client().get(f"{status_on_b}/result.zip", headers={"x-api-key": alice_key})
    assert result.status_code == 200, result.text
    archive = zipfile.ZipFile(io.BytesIO(result.content))
    assert archive.namelist() == ["car.png", "girl.png"]
    car = Image.open(io.BytesIO(archive.read("car.png")))
    assert (car.format, car.mode, car.size) == ("PNG", "RGBA", (96, 96))
    # The worker host did the work, through the broker: one task per file (Celery
    # logs a task's success just after the task has marked its file done).
    succeeded = re.compile(r"batches\.tasks\.process_file\[[^]]+\] succeeded in ")

    def tasks_done() -> int:
        return len(
            succeeded.findall(hosts.worker.log.read_bytes()[since:].decode(errors="replace"))
        )

    deadline = time.monotonic() + 10
    while tasks_done() < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tasks_done() == 2, hosts.worker.tail()
    assert_one_truth(alice, alice_key, hosts.site, 2)


# -- Failover: last, as it kills a host (the ``hosts`` fixture would start it again) --

KILL_TOTAL = 48
KILL_AFTER = 16
KILL_CLIENTS = 8


def test_killing_an_app_host_mid_load_fails_over_and_loses_no_credit(
    hosts: Cluster, alice, alice_key, photo
):
    put_on_plan(alice, included=1000)
    since = {h.name: h.log_size() for h in hosts.apps}
    outcomes: dict[str, dict] = {}
    lock = threading.Lock()
    answered = threading.Semaphore(0)
    queue = iter(range(KILL_TOTAL))

    def client_machine():
        session = client()
        while True:
            with lock:
                n = next(queue, None)
            if n is None:
                return
            key, sent = f"load-{n}", time.monotonic()
            try:
                status = post(hosts.site, photo, alice_key, key, session=session).status_code
            except requests.RequestException as error:  # no answer at all
                status = repr(error)
            outcomes[key] = {"sent": sent, "status": status}
            answered.release()

    began = time.monotonic()
    with ThreadPoolExecutor(KILL_CLIENTS) as pool:
        futures = [pool.submit(client_machine) for _ in range(KILL_CLIENTS)]
        for _ in range(KILL_AFTER):
            assert answered.acquire(timeout=120), "the load stalled before the kill"
        killed_at = time.monotonic()
        hosts.a.kill()
        # kill() returns once every process of host A is dead. Until then its listening
        # socket is open (a SIGKILLed process frees its memory, hundreds of MB here,
        # before it closes its files), so the kernel still accepts connections for it.
        gone_at = time.monotonic()
        for future in futures:
            future.result()
    seconds = {"app-a": killed_at - began, "app-b": time.monotonic() - began}

    statuses = Counter(o["status"] for o in outcomes.values())
    lost = [key for key, o in outcomes.items() if o["status"] == 502]
    # Every request got an HTTP answer. The only 502s are POSTs nginx had already
    # sent to host A when it died (nginx does not resend a POST: see
    # deploy/nginx/cutout.conf), so at most one per client, all sent before host A
    # was gone: a POST sent later is refused by A and goes to B.
    assert set(statuses) <= {200, 502}, statuses
    assert len(lost) <= KILL_CLIENTS
    late = {key: round(outcomes[key]["sent"] - gone_at, 3) for key in lost}
    assert all(after < 0 for after in late.values()), (
        f"502s sent this many seconds after host A was gone: {late} "
        f"(the kill took {gone_at - killed_at:.3f} s)"
    )
    assert statuses[200] >= KILL_TOTAL - KILL_CLIENTS
    lines = served(hosts.apps, since, "/rmbg", statuses[200])
    images = {name: sum(r["status"] == "200" for r in found) for name, found in lines.items()}
    assert images["app-a"] > 0 and images["app-b"] > 0, images
    print_throughput(f"failover ({len(lost)} x 502 at the kill)", images, seconds)

    # The client retries a 502 with its Idempotency-Key. Charged at most once: if
    # host A had committed it, a free replay; if A died while processing it, its
    # credit is held (409) until the reservation is known dead, then it comes back
    # (billing/tests/test_killed_worker.py); if A never started it, processed now.
    for key in lost:
        retry = post(hosts.site, photo, alice_key, key)
        assert retry.status_code in (200, 409), retry.text
        outcomes[key]["status"] = retry.status_code
    got_image = {key for key, o in outcomes.items() if o["status"] == 200}
    held = {key for key, o in outcomes.items() if o["status"] == 409}
    print(f"retried with their Idempotency-Key: {len(lost) - len(held)} x 200, {len(held)} x 409")

    # No credit lost, none invented: one committed charge per request that got its
    # image, a reservation per request that died mid-way, nothing else.
    charges = Charge.objects.filter(user=alice)
    assert (
        set(charges.filter(status=Charge.COMMITTED).values_list("idempotency_key", flat=True))
        == got_image
    )
    assert (
        set(charges.filter(status=Charge.RESERVED).values_list("idempotency_key", flat=True))
        == held
    )
    assert charges.count() == len(got_image) + len(held)
    report = assert_one_truth(alice, alice_key, hosts.site, len(got_image))
    remaining = report["billingCycle"]["remainingIncludedCredits"]
    assert remaining == 1000 - len(got_image) - len(held)

    # Once nginx tries the dead host again (fail_timeout after its last failure), a
    # POST it cannot connect to goes on to the live host: nothing was sent, so
    # nothing can be charged twice. (A POST without an image: a cheap 400 of the app's.)
    # nginx counts that time in whole seconds and skips the host while
    # now - last failure <= fail_timeout, so the wait is up to a second longer.
    time.sleep(fail_timeout() + 1.5)
    access = hosts.nginx.log.with_name("access.log")
    since_probe = access.stat().st_size
    for _ in range(6):  # round robin comes to the dead host within a few
        probe = client().post(f"{hosts.site}/rmbg", headers={"x-api-key": alice_key}, timeout=30)
        assert probe.status_code == 400, probe.text
    passed_on = f"400 {hosts.a.address}:{hosts.a.port}, {hosts.b.address}:{hosts.b.port} 502, 400"
    assert passed_on in access.read_bytes()[since_probe:].decode()


def fail_timeout() -> int:
    """Seconds nginx skips an app host after it failed (deploy/nginx/cutout.conf)."""
    return int(re.search(r"fail_timeout=(\d+)s", (DEPLOY / "nginx" / "cutout.conf").read_text())[1])
