"""A real Celery worker process on RabbitMQ, for the tests of the production path.

The worker is started as an operator starts it (``celery -A config worker``),
on the test's database, Redis, batch storage and a queue of the test's own, in
a process group of its own so that a test can kill it whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from kombu import Connection, pools

from config.celery import app

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"


def database_url() -> str:
    """The database this test runs on (pytest-django's test_<name>), as the worker reads it."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def forget_broker_connections() -> None:
    """The next publish connects to the broker the settings name now.

    config.celery's app reads CELERY_* from Django's settings at each look-up,
    so an overridden queue takes effect at once; but its connection pools are
    made at the first publish, from the broker URL of that moment, and kept.
    """
    pools.reset()  # closes kombu's pools, which it keys by URL
    app._pool = None
    app.amqp._producer_pool = None


def delete_queue(name: str, broker_url: str = BROKER_URL) -> None:
    """The queue and its exchange (Celery names both after the queue) leave the broker."""
    with Connection(broker_url, connect_timeout=5) as broker:
        channel = broker.default_channel
        channel.queue_delete(name)
        channel.exchange_delete(name)


class Worker:
    """One ``celery -A config worker`` process tree, its output in ``log_path``."""

    def __init__(
        self, queue: str, env: dict[str, str], log_path: Path, name: str, concurrency: int = 1
    ) -> None:
        self.log_path = log_path
        self.node = f"{name}@%h"
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(CELERY), "-A", "config", "worker", "-l", "info"]
                + ["--concurrency", str(concurrency), "-Q", queue, "-n", self.node],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches its pool too
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float = 60) -> None:
        self._wait(lambda: re.search(r"@\S+ ready\.", self.log()), timeout, "ready")

    def tasks_succeeded(self, task: str = "batches.tasks.process_file") -> int:
        return len(re.findall(rf"Task {re.escape(task)}\[\S+\] succeeded", self.log()))

    def wait_for_tasks(self, count: int, timeout: float = 60) -> None:
        self._wait(lambda: self.tasks_succeeded() >= count, timeout, f"{count} tasks done")

    def pool_pids(self) -> list[int]:
        """The prefork pool's processes: the ones that run the tasks."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown, no acknowledgement."""
        with contextlib.suppress(ProcessLookupError):  # killed already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def _wait(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the worker exited ({self.process.returncode}):\n{self.log()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not {what} after {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.05)


def worker_env(queue: str, storage_dir: Path, model_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "BATCH_STORAGE_DIR": str(storage_dir),
        # u2netp only: no time spent warming up isnet when it is installed.
        "REMOVAL_MODEL_DIR": str(model_dir),
    }
