"""For load balancers and monitoring: /healthz, /readyz and /metrics.

- ``/healthz``: the process is up and answers (no dependency is asked).
- ``/readyz``: the database, Redis, the broker (when one is configured) and the
  default model answer; a 503 names what does not, so a balancer stops sending.
- ``/metrics``: Prometheus text (django-prometheus: requests and latency per view,
  plus ours below). Not public: only with ``Authorization: Bearer $METRICS_TOKEN``,
  or straight from an address in METRICS_ALLOWED_NETWORKS (loopback by default)
  with no proxy in between (a request carrying X-Forwarded-For came through one).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import Counter, Gauge, Histogram

logger = logging.getLogger(__name__)

INFERENCE_SECONDS = Histogram(
    "cutout_inference_seconds",
    "Time the model takes for one image, by model.",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
)
IMAGES_IN_FLIGHT = Gauge("cutout_images_in_flight", "Images being processed now.")
IMAGES_QUEUED = Gauge("cutout_images_queued", "Images waiting for a processing slot.")
CREDITS_CHARGED = Counter(
    "cutout_credits_charged_total", "Credits committed, by channel.", ["channel"]
)


@never_cache
def healthz(request) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readyz(request) -> JsonResponse:
    checks = {
        "database": _database,
        "redis": _redis,
        "broker": _broker,
        "models": _models,
    }
    results = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            logger.warning("readyz: %s is not ready: %s", name, error)
            results[name] = "failing"
    ready = all(value in ("ok", "not configured") for value in results.values())
    return JsonResponse(results, status=200 if ready else 503)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _redis() -> str:
    from billing import counters

    counters.client().ping()
    return "ok"


def _broker() -> str:
    url = getattr(settings, "CELERY_BROKER_URL", "")
    if not url:
        return "not configured"
    from kombu import Connection

    with Connection(url, connect_timeout=2) as broker:
        broker.ensure_connection(max_retries=1)
    return "ok"


def _models() -> str:
    from removal import inference

    inference.get_model()  # loaded at worker start; raises if its file is gone
    return "ok"


@never_cache
def metrics(request) -> HttpResponse:
    if not _may_read_metrics(request):
        return HttpResponseForbidden("metrics are not public", content_type="text/plain")
    from django_prometheus.exports import ExportToDjangoView

    return ExportToDjangoView(request)


def _may_read_metrics(request) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return True
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False  # through a proxy: the peer address is the proxy's
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in settings.METRICS_ALLOWED_NETWORKS)
