"""Three test hosts and a balancer on this machine's loopback, for the whole module.

Two app hosts (gunicorn) on 127.0.0.2 and 127.0.0.3, a worker host (Celery) and
nginx on 127.0.0.4 balancing the app hosts. All share this machine's PostgreSQL
(the test database, migrated once by pytest-django), Redis (the tests' db) and
RabbitMQ (a queue of this run's own, so no other worker takes its tasks).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.conf import settings

from tests.multihost.hosts import BIN, Host, app_host, nginx_host, worker_host

APP_A, APP_B, BALANCER = "127.0.0.2", "127.0.0.3", "127.0.0.4"
BROKER = os.environ.get("MULTIHOST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
# Per user, shared by every host. High enough for the 200 requests at the credit
# edge from one user; the rate-limit test spends all of it.
RATE_LIMIT = 250


@dataclass
class Cluster:
    a: Host
    b: Host
    worker: Host
    nginx: Host

    @property
    def site(self) -> str:
        """The public address: nginx."""
        return self.nginx.url

    @property
    def apps(self) -> list[Host]:
        return [self.a, self.b]


def database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def host_env(models: str, batches: str, queue: str) -> dict[str, str]:
    """What /etc/cutout/cutout.env would hold: the same on every host."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GUNICORN_", "REMOVAL_", "BATCH_", "CELERY_", "PROMETHEUS_"))
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # the venv, as if activated
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        # The same secrets everywhere; the test process issues API keys with its own.
        SECRET_KEY=settings.SECRET_KEY,
        REQUIRE_SECRET_KEY="true",
        API_KEY_HMAC_SECRET=settings.API_KEY_HMAC_SECRET,
        ALLOWED_HOSTS=f"{APP_A},{APP_B},{BALANCER}",
        TRUSTED_PROXIES=BALANCER,
        API_RATE_LIMIT=f"{RATE_LIMIT}/minute",
        ANONYMOUS_DAILY_LIMIT="10",
        # u2netp only (the bundled model): no optional model installed on this machine.
        REMOVAL_MODEL_DIR=models,
        CELERY_BROKER_URL=BROKER,
        CELERY_TASK_DEFAULT_QUEUE=queue,
        BATCH_STORAGE_DIR=batches,
        GUNICORN_WORKERS="1",
    )
    return env


@pytest.fixture(scope="module")
def cluster(django_db_setup, tmp_path_factory):
    if not settings.REDIS_URL or settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        pytest.fail("the multi-host test needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    _check_broker()
    root = tmp_path_factory.mktemp("multihost")
    (root / "models").mkdir()
    (root / "batches").mkdir()  # the storage every host mounts
    queue = f"cutout-multihost-{secrets.token_hex(4)}"
    env = host_env(str(root / "models"), str(root / "batches"), queue)
    a = app_host("app-a", APP_A, env, root)
    b = app_host("app-b", APP_B, env, root)
    worker = worker_host("worker", env, root)
    nginx = nginx_host("nginx", BALANCER, [a, b], root / "nginx")
    hosts = [a, b, worker, nginx]
    try:
        for host in hosts:
            host.start()
        for host in (a, b):
            host.wait_until_ready()
        worker.wait_for(lambda: " ready." in worker.tail(), "Celery's ready line")
        nginx.wait_until_ready("/healthz")
        yield Cluster(a, b, worker, nginx)
    finally:
        for host in reversed(hosts):
            host.stop()
        _delete_queue(queue)


def _check_broker() -> None:
    from kombu import Connection

    try:
        with Connection(BROKER, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - whatever it is, say what is missing
        pytest.fail(f"the worker host needs RabbitMQ at {BROKER} (.ci/run starts it): {error}")


def _delete_queue(queue: str) -> None:
    from kombu import Connection

    # The queue may never have been declared (a host failed to start): then nothing to do.
    with contextlib.suppress(Exception), Connection(BROKER, connect_timeout=5) as connection:
        connection.default_channel.queue_delete(queue)


@pytest.fixture
def hosts(cluster: Cluster) -> Cluster:
    """The cluster with both app hosts up: a test that killed one gets it back here."""
    for host in cluster.apps:
        if not host.alive():
            host.start()
            host.wait_until_ready()
    return cluster
