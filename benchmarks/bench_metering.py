"""What metering (rate limit + reserve + commit) adds to one /rmbg request.

Runs against the database and Redis named by DATABASE_URL / REDIS_URL (defaults:
PostgreSQL and Redis on loopback, as in the test suite), in a throwaway test
database and a spare Redis db that are removed afterwards. Prints p50/p99 per
step and the ratio to the in-process pipeline for a 1024x768 photo, measured in
the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python benchmarks/bench_metering.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("API_RATE_LIMIT", "1000000/minute")
os.environ.setdefault("ANONYMOUS_DAILY_LIMIT", "1000000")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(step, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        step()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from PIL import Image

    from accounts import ratelimit
    from accounts.authentication import Caller
    from accounts.models import ApiKey, User
    from billing import counters, credits
    from billing.tests.helpers import put_on_plan
    from removal.pipeline import RemovalOptions, remove_background

    # A database of its own, never the test suite's test_<name>.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = "cutout_bench_metering"
    test_db = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    counters.client().flushdb()
    try:
        user = User.objects.create_user("bench", "bench@example.invalid", "x")
        put_on_plan(user, included=10**9)
        key, _ = ApiKey.issue(user, "bench")
        api = Caller(user=user, channel="api", api_key=key, ip="127.0.0.1")
        # Included credits used up: every request falls through to prepaid ones.
        payg = User.objects.create_user("payg", "payg@example.invalid", "x")
        put_on_plan(payg, included=0, prepaid=10**9)
        payg_key, _ = ApiKey.issue(payg, "bench")
        prepaid = Caller(user=payg, channel="api", api_key=payg_key, ip="127.0.0.1")
        anonymous = Caller(user=None, channel="app", api_key=None, ip="127.0.0.1")

        def metered_api():
            ratelimit.hit(ratelimit.identity_of(api))
            with credits.metered(api):
                pass

        def metered_prepaid():
            ratelimit.hit(ratelimit.identity_of(prepaid))
            with credits.metered(prepaid):
                pass

        def metered_anonymous():
            ratelimit.hit(ratelimit.identity_of(anonymous))
            with credits.metered(anonymous):
                pass

        n = args.requests
        timed(metered_api, 50)  # warm connections and caches
        steps = {
            "rate limit only (Redis moving window)": timed(
                lambda: ratelimit.hit(ratelimit.identity_of(api)), n
            ),
            "metering, API key (limit+reserve+commit)": timed(metered_api, n),
            "metering, API key, prepaid credits": timed(metered_prepaid, n),
            "metering, anonymous (limit+daily counter)": timed(metered_anonymous, n),
        }
        photo = Image.open(ROOT / "removal/tests/data/car-1.jpg").resize((1024, 768))
        buffer = io.BytesIO()
        photo.save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()
        remove_background(data, RemovalOptions(format="PNG"))
        pipeline = timed(lambda: remove_background(data, RemovalOptions(format="PNG")), 10)
    finally:
        counters.client().flushdb()
        connection.creation.destroy_test_db(test_db, verbosity=0)

    floor = statistics.median(pipeline)
    redis_url = os.environ["REDIS_URL"]
    print(f"Metering cost per request ({n} requests; {connection.vendor}, Redis {redis_url})")
    print(f"  {'step':45} {'p50 ms':>8} {'p99 ms':>8} {'p50 / pipeline':>15}")
    for name, samples in steps.items():
        p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
        print(f"  {name:45} {p50:8.2f} {p99:8.2f} {p50 / floor:14.2%}")
    print(f"  {'baseline: in-process pipeline 1024x768 PNG':45} {floor:8.1f}")
    p50 = percentile(steps["metering, API key (limit+reserve+commit)"], 0.5)
    print(f"  target p50 <= 2 ms: {'MET' if p50 <= 2 else 'MISSED'} ({p50:.2f} ms)")


if __name__ == "__main__":
    main()
