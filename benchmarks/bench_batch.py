#!/usr/bin/env python
"""Batch benchmark: one 200-image batch on a Celery worker against 200 sequential POST /rmbg.

Run from the repository root with the project venv, on a machine with PostgreSQL, Redis and
RabbitMQ on loopback (as the test suite needs them):

    .venv/bin/python benchmarks/bench_batch.py                  # ~8 min on 2 cores
    .venv/bin/python benchmarks/bench_batch.py --images 50      # ~2 min
    .venv/bin/python benchmarks/bench_batch.py --worker-env CELERY_DB_REUSE_MAX=0

The production path, as deploy/ runs it: our gunicorn (config/gunicorn.py) and one
`celery -A config worker` (prefork, one pool process per core unless --concurrency),
sharing a throwaway PostgreSQL database made and dropped here, a Redis db flushed before
and after, a RabbitMQ queue of their own (deleted after) and a batch storage directory in a
temporary directory. u2netp only (REMOVAL_MODEL_DIR is an empty directory), PNG out, the
limits lifted, one API key with credits to spare.

The inputs are N photos (seeded crops of ../shared/fixtures/photos, 640 to 1280 px wide,
JPEG q90; bench_client.py makes the same folder). Measured, in this order, each on the
same N photos:

1. The floor: the in-process pipeline, `remove_background()` called directly by as many
   processes as the worker has pool processes, each warmed up as a worker process is
   (config.celery), taking the next photo from a shared list as a worker takes the next
   message. Wall time from the first photo to the last.
2. N sequential POST /rmbg with the API key (one warm-up call first).
3. The same N POST /rmbg from as many client threads as the worker has pool processes.
4. One POST /api/batches of the N photos, then GET of its status every 0.25 s; wall time
   from sending the upload to the batch's finished_at (the server's clock, this machine's).
   The worker's process tree (main process and pool) is sampled for RSS meanwhile; its
   VmHWM is reset before (root may, see proc(5) clear_refs) and read after.

Printed: images/s of each, the throughput ratio batch / sequential /rmbg (and batch /
concurrent /rmbg), the overhead per image of the batch path over the floor (target
<= 20 ms), and the worker's idle and peak RSS. Every figure is from this run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import MIB, PROJECT_PYTHON, ROOT, log  # noqa: E402
from _procs import RssSampler, proc_status, reset_peak, start_ours  # noqa: E402
from bench_client import PHOTOS, make_folder  # noqa: E402

TARGET_OVERHEAD_MS = 20


# --------------------------------------------------------------------------------------
# 1. The in-process floor


def floor_child(processes: int) -> None:
    """A process that warms up as one of ``processes`` worker pool processes does
    (config.celery), then removes the background of each path it is given on stdin,
    answering "next" after each (an empty line ends it)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from removal import malloc
    from removal.inference import share_cores, warm_up
    from removal.pipeline import RemovalOptions, remove_background

    share_cores(processes)
    malloc.limit_arenas(settings.REMOVAL_MALLOC_ARENA_MAX)
    warm_up()
    options = RemovalOptions(format="PNG")
    print("ready", flush=True)
    for line in sys.stdin:
        path = line.strip()
        if not path:
            return
        with open(path, "rb") as handle:
            remove_background(handle, options)
        print("next", flush=True)


def floor(files: list[Path], env: dict[str, str], processes: int) -> float:
    """Wall time of ``processes`` warmed-up pipeline processes sharing out ``files``."""
    children = [
        subprocess.Popen(
            [str(PROJECT_PYTHON), __file__, "--floor-child", str(processes)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        if child.stdout.readline().strip() != "ready":
            sys.exit("a floor process did not start")
    pending = list(files)
    lock = threading.Lock()

    def feed(child: subprocess.Popen) -> None:
        while True:
            with lock:
                path = pending.pop(0) if pending else None
            child.stdin.write(f"{path or ''}\n")
            child.stdin.flush()
            if path is None:
                return
            if child.stdout.readline().strip() != "next":
                raise RuntimeError("a floor process failed")

    start = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        for future in [pool.submit(feed, child) for child in children]:
            future.result()
    wall = time.perf_counter() - start
    for child in children:
        child.wait(timeout=30)
    return wall


# --------------------------------------------------------------------------------------
# 2-3. POST /rmbg


def post_rmbg(session, url: str, key: str, name: str, data: bytes) -> None:
    response = session.post(
        f"{url}/rmbg",
        files={"image": (name, data, "image/jpeg")},
        data={"format": "png"},
        headers={"x-api-key": key},
        timeout=600,
    )
    if response.status_code != 200:
        sys.exit(f"POST /rmbg: HTTP {response.status_code}: {response.text[:300]}")


def rmbg_calls(url: str, key: str, photos: list[tuple[str, bytes]], clients: int) -> float:
    """Wall time of POST /rmbg for every photo from ``clients`` threads (one session each)."""
    import requests

    local = threading.local()

    def session():
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.trust_env = False  # loopback only, never a proxy
        return local.session

    with ThreadPoolExecutor(clients) as pool:  # warm-up, untimed: one call per client
        list(pool.map(lambda p: post_rmbg(session(), url, key, *p), photos[:clients]))
        start = time.perf_counter()
        list(pool.map(lambda p: post_rmbg(session(), url, key, *p), photos))
        return time.perf_counter() - start


# --------------------------------------------------------------------------------------
# 4. The batch


def run_batch(url: str, key: str, photos: list[tuple[str, bytes]], worker) -> dict:
    import requests

    session = requests.Session()
    session.trust_env = False
    headers = {"x-api-key": key}
    pids = [worker.process.pid, *worker.pool_pids()]
    idle = {pid: proc_status(pid).get("VmRSS", 0) for pid in pids}
    reset_ok = reset_peak(pids)
    with RssSampler(pids, interval=0.05) as sampler:
        sent = time.time()
        response = session.post(
            f"{url}/api/batches",
            files=[("image", (name, data, "image/jpeg")) for name, data in photos],
            data={"format": "png"},
            headers=headers,
            timeout=600,
        )
        accepted = time.time()
        if response.status_code != 202:
            sys.exit(f"POST /api/batches: HTTP {response.status_code}: {response.text[:300]}")
        status_url = response.json()["status_url"]
        while True:
            time.sleep(2)
            try:
                status = session.get(status_url, headers=headers, timeout=60).json()
            except requests.ConnectionError:  # a kept-alive connection the server just closed
                continue
            if status["status"] in ("done", "cancelled"):
                break
    hwm = {pid: proc_status(pid).get("VmHWM", 0) for pid in pids}
    counts = status["counts"]
    if status["status"] != "done" or counts.get("done") != len(photos):
        sys.exit(f"the batch ended {status['status']} with {counts}")
    finished = datetime.fromisoformat(status["finished_at"]).timestamp()
    started = datetime.fromisoformat(status["started_at"]).timestamp()
    return {
        "wall": finished - sent,
        "intake": accepted - sent,
        "first_start": started - sent,
        "credits": status["credits_charged"],
        "idle": idle,
        "peak_sampled": sampler.peak,
        "hwm": hwm if reset_ok else None,
    }


# --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200, help="photos in the batch (200)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 1,
        help="worker pool processes, floor processes and concurrent /rmbg clients (cores)",
    )
    parser.add_argument("--source", type=Path, default=PHOTOS, help="folder of source photos")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server; the benchmark makes and drops a database of its own there",
    )
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="flushed before and after"
    )
    parser.add_argument("--broker-url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the worker only (repeatable), to compare configurations",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="floor and batch, alternated; medians (2)"
    )
    parser.add_argument("--skip-concurrent", action="store_true", help="no concurrent /rmbg")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.db import connection

    from accounts.models import ApiKey, User
    from batches.tests.celery_worker import Worker, database_url, delete_queue
    from billing import counters
    from billing.tests.helpers import put_on_plan

    if connection.vendor != "postgresql":
        sys.exit("--database-url must name a PostgreSQL server: a worker shares the database")
    log(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    queue = f"cutout-bench-batch-{os.getpid()}"
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"cutout_bench_batch_{os.getpid()}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    counters.client().flushdb()
    worker = server = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        user = User.objects.create_user("bench", "bench@example.invalid", "x")
        EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
        put_on_plan(user, included=10 * args.images + 100)
        _, key = ApiKey.issue(user, "bench")
        (tmp / "models").mkdir()
        files = make_folder(tmp / "photos", args.images, args.source)
        photos = [(path.name, path.read_bytes()) for path in files]
        shared = {
            "DATABASE_URL": database_url(),
            "REDIS_URL": args.redis_url,
            "CELERY_BROKER_URL": args.broker_url,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "BATCH_STORAGE_DIR": str(tmp / "batches"),
            "REMOVAL_MODEL_DIR": str(tmp / "models"),  # u2netp only
            "API_RATE_LIMIT": "100000000/minute",
            "PYTHONUNBUFFERED": "1",
        }
        env = dict(os.environ, **shared)
        worker_env = dict(env)
        for item in args.worker_env:
            setting, _, value = item.partition("=")
            worker_env[setting] = value

        floors, batches = [], []
        log(f"floor: remove_background() in {args.concurrency} processes, {len(files)} photos")
        floors.append(floor(files, env, args.concurrency))
        server = start_ours(tmp, **shared)
        log(f"{len(photos)} sequential POST /rmbg")
        sequential = rmbg_calls(server.url, key, photos, 1)
        concurrent = None
        if not args.skip_concurrent:
            log(f"{len(photos)} POST /rmbg from {args.concurrency} clients")
            concurrent = rmbg_calls(server.url, key, photos, args.concurrency)
        log(f"celery -A config worker --concurrency {args.concurrency}")
        worker = Worker(queue, worker_env, tmp / "worker.log", queue, args.concurrency)
        worker.wait_until_ready(timeout=120)
        time.sleep(3)  # the pool processes warm up (worker_process_init)
        for round_ in range(args.rounds):
            if round_:
                log("floor again")
                floors.append(floor(files, env, args.concurrency))
            log(f"one batch of {len(photos)} photos")
            batches.append(run_batch(server.url, key, photos, worker))
        tasks = worker.tasks_succeeded()
    finally:
        if worker is not None:
            worker.kill()  # idle by now, and its queue goes too
        if server is not None:
            server.stop()
        delete_queue(queue, args.broker_url)
        counters.client().flushdb()
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, len(photos), floors, sequential, concurrent, batches, tasks)


def report(args, count, floors, sequential, concurrent, batches, tasks) -> None:
    c = args.concurrency
    floor_wall = statistics.median(floors)
    batch = dict(batches[0], wall=statistics.median(b["wall"] for b in batches))
    pairs = (f"{f:.1f} s / {b['wall']:.1f} s" for f, b in zip(floors, batches, strict=True))
    print(f"\nrounds, floor / batch: {', '.join(pairs)} (medians below)")
    rows = [
        (f"floor: remove_background(), {c} processes", floor_wall),
        ("POST /rmbg, sequential", sequential),
    ]
    if concurrent is not None:
        rows.append((f"POST /rmbg, {c} clients", concurrent))
    rows.append((f"batch on a worker, {c} pool processes", batch["wall"]))
    print(f"{count} photos (640-1280 px wide, JPEG) -> PNG, u2netp; wall time, images/s")
    for label, seconds in rows:
        print(
            f"  {label:<42} {seconds:7.1f} s {count / seconds:6.2f}/s "
            f"{sequential / seconds:6.2f}x sequential /rmbg"
        )
    print(
        f"  batch: upload + intake {batch['intake']:.2f} s, first file started after "
        f"{batch['first_start']:.2f} s; {batch['credits']} credits charged; "
        f"{tasks} process_file tasks succeeded in {len(batches)} batches"
    )
    print(f"throughput ratio, batch / sequential /rmbg: {sequential / batch['wall']:.2f}")
    if concurrent is not None:
        print(f"throughput ratio, batch / {c} concurrent /rmbg: {concurrent / batch['wall']:.2f}")
    overhead = (batch["wall"] - floor_wall) / count * 1000
    verdict = "MET" if overhead <= TARGET_OVERHEAD_MS else "MISSED"
    print(
        f"batch overhead over the in-process floor at {c} processes: {overhead:.1f} ms per image "
        f"(target <= {TARGET_OVERHEAD_MS} ms: {verdict})"
    )
    idle = batch["idle"]
    print(
        f"worker RSS idle: {sum(idle.values()) / MIB:,.0f} MiB "
        f"({', '.join(f'{v / MIB:,.0f}' for v in idle.values())} MiB: main, pool)"
    )
    if batch["hwm"] is not None:
        hwm = max((b["hwm"] for b in batches), key=lambda peaks: sum(peaks.values()))
        print(
            f"worker peak RSS during a batch (VmHWM): {sum(hwm.values()) / MIB:,.0f} MiB summed "
            f"({', '.join(f'{v / MIB:,.0f}' for v in hwm.values())} MiB: main, pool)"
        )
    sampled = max(b["peak_sampled"] for b in batches)
    print(f"worker peak RSS sampled every 50 ms: {sampled / MIB:,.0f} MiB summed")
    if args.worker_env:
        print(f"worker settings: {' '.join(args.worker_env)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--floor-child"]:
        floor_child(int(sys.argv[2]))
    else:
        main()
