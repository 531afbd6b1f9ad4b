#!/usr/bin/env python
"""Resource limits of POST /rmbg: the worst accepted request, per output format.

Run from the repository root with the project venv:

    .venv/bin/python benchmarks/bench_limits.py            # ~5 min on 2 cores
    .venv/bin/python benchmarks/bench_limits.py --formats png,webp --small-reps 3

Against one gunicorn worker as deployed (config/gunicorn.py), it measures

1. for every output format, the worst request we accept: a 10000x10000 JPEG in,
   45 degrees with expand, fit into w=h=10000 (so 10000x10000 out): peak worker
   RSS, time, and the RSS a second after the answer against the idle RSS;
2. a 1x1 PNG with ``w=h=10000&exact_resize=true&format=bmp`` (tiny in, huge out);
3. an output larger than the limits (10000x10000 turned 45 degrees without a
   resize): the status and body;
4. four worst-case requests at once (peak RSS);
5. the latency of a 320x240 request alone, then while two worst-case requests
   run (the second target: within 2x of alone).

Targets printed: peak <= 1.5 GiB, RSS after within 10 % of idle, small image
under load <= 2x alone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_PHOTO, GIB, GUNICORN, HOST, PROJECT_PYTHON, ROOT, log, median, mib, ms  # noqa: E402
from _procs import RssSampler, Server, free_port, make_inputs, reset_peak  # noqa: E402
from _report import Report  # noqa: E402

WORST = {"angle": "45", "expand": "true", "w": "10000", "h": "10000"}
PEAK_LIMIT = 1.5 * GIB


def post(session, server: Server, data: bytes, name: str, form: dict) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    response = session.post(
        f"{server.url}/rmbg", files={"image": (name, data)}, data=form, timeout=900
    )
    return time.perf_counter() - start, response.status_code, response.content


def settle(server: Server) -> int:
    """The worker RSS once the request has finished (a second for the heap trim)."""
    time.sleep(1.0)
    return server.rss()


def measure_one(session, server: Server, data: bytes, name: str, form: dict) -> dict:
    pids = server.worker_pids()
    reset_ok = reset_peak(pids)
    with RssSampler(pids, interval=0.005) as sampler:
        seconds, status, body = post(session, server, data, name, form)
    peak = max(sampler.peak, server.hwm() if reset_ok else 0)
    return {
        "seconds": seconds,
        "status": status,
        "bytes": len(body),
        "peak": peak,
        "after": settle(server),
        "body": body[:200] if status != 200 else b"<image>",
    }


def four_at_once(session_factory, server: Server, big: bytes, fmt: str) -> dict:
    pids = server.worker_pids()
    reset_ok = reset_peak(pids)
    statuses: list[int] = []

    def one():
        statuses.append(
            post(session_factory(), server, big, "big.jpg", {**WORST, "format": fmt})[1]
        )

    start = time.perf_counter()
    with RssSampler(pids, interval=0.005) as sampler:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return {
        "peak": max(sampler.peak, server.hwm() if reset_ok else 0),
        "seconds": time.perf_counter() - start,
        "statuses": sorted(statuses),
    }


def small_under_load(session_factory, server, small: bytes, big: bytes, fmt: str) -> list[float]:
    """Latencies of small requests sent while two worst-case requests run."""
    done = threading.Event()
    finished = []

    def big_one():
        post(session_factory(), server, big, "big.jpg", {**WORST, "format": fmt})
        finished.append(1)
        if len(finished) == 2:
            done.set()

    threads = [threading.Thread(target=big_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)  # both big ones are past the upload and decoding
    session = session_factory()
    latencies = []
    while not done.is_set():
        seconds, status, _ = post(session, server, small, "small.jpg", {"format": "png"})
        if status != 200:
            raise RuntimeError(f"small request answered {status}")
        if not done.is_set():
            latencies.append(seconds)
    for thread in threads:
        thread.join()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--formats", default="png,webp,jpeg,bmp")
    parser.add_argument("--small-reps", type=int, default=5)
    parser.add_argument("--load-format", default="webp", help="format of the two big requests")
    args = parser.parse_args()
    import requests

    def session_factory():
        session = requests.Session()
        session.trust_env = False
        return session

    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as name:
        tmp = Path(name)
        log("making inputs")
        inputs = make_inputs(args.photo, tmp, ["small", "10000x10000"])
        small = inputs["small"].read_bytes()
        huge = inputs["10000x10000"].read_bytes()
        tiny = _tiny_png()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
        env.setdefault("ANONYMOUS_DAILY_LIMIT", "100000000")
        env.setdefault("API_RATE_LIMIT", "100000000/minute")
        env.setdefault("GUNICORN_TIMEOUT", "600")
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
            subprocess.run(
                [str(PROJECT_PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
        port = free_port()
        server = Server(
            name="ours",
            env=env,
            port=port,
            log_path=tmp / "gunicorn.log",
            kind="ours",
            cmd=[str(GUNICORN), "-c", "config/gunicorn.py", "-b", f"{HOST}:{port}", "config.wsgi"],
        )
        try:
            server.start()
            session = session_factory()
            for _ in range(2):  # warm: the first requests allocate thread pools
                post(session, server, small, "small.jpg", {"format": "png"})
            idle = settle(server)
            report.row("Worker", "idle RSS after two small requests", mib(idle))
            report.row("Inputs", "10000x10000 JPEG q90", f"{len(huge) / 1024:,.0f} KiB")

            for fmt in args.formats.split(","):
                log(f"worst case -> {fmt}")
                result = measure_one(session, server, huge, "huge.jpg", {**WORST, "format": fmt})
                _row_and_targets(
                    report, f"10000² JPEG, angle=45, fit 10000² -> {fmt}", result, idle
                )

            log("1x1 PNG -> 10000x10000 BMP")
            result = measure_one(
                session,
                server,
                tiny,
                "tiny.png",
                {"w": "10000", "h": "10000", "exact_resize": "true", "format": "bmp"},
            )
            _row_and_targets(report, "1x1 PNG -> w=h=10000 exact, bmp", result, idle)

            log("oversized output: 10000x10000 turned 45 degrees, no resize")
            result = measure_one(
                session,
                server,
                huge,
                "huge.jpg",
                {"angle": "45", "expand": "true", "format": "png"},
            )
            report.row(
                "Oversized output (angle=45, no resize)",
                "status",
                str(result["status"]),
                result["body"].decode(errors="replace")[:120],
            )
            report.target(
                "oversized output answered 400",
                str(result["status"]),
                "400",
                result["status"] == 400,
            )

            log(f"four worst-case requests at once -> {args.load_format}")
            together = four_at_once(session_factory, server, huge, args.load_format)
            report.row(
                "Four worst-case requests at once",
                "peak worker RSS / wall time",
                f"{mib(together['peak'])} / {ms(together['seconds'])}",
                f"statuses {together['statuses']}",
            )
            report.target(
                "four worst-case requests at once: peak",
                mib(together["peak"]),
                "<= 1536 MiB",
                together["peak"] <= PEAK_LIMIT,
            )

            log("small image alone, then beside two worst-case requests")
            alone = median(
                [
                    post(session, server, small, "s.jpg", {"format": "png"})[0]
                    for _ in range(args.small_reps)
                ]
            )
            loaded = small_under_load(session_factory, server, small, huge, args.load_format)
            worst = max(loaded) if loaded else float("nan")
            report.row("Small 320x240 -> png", "alone (median)", ms(alone))
            report.row(
                "Small 320x240 -> png",
                "beside two worst-case (median / p90 / max)",
                f"{ms(median(loaded))} / {ms(_p90(loaded))} / {ms(worst)}",
                f"{len(loaded)} requests",
            )
            report.target(
                "small image beside two worst-case, median vs alone",
                f"{median(loaded) / alone:.2f}x",
                "<= 2x",
                median(loaded) <= 2 * alone,
            )
            report.target(
                "small image beside two worst-case, max vs alone",
                f"{worst / alone:.2f}x",
                "<= 2x",
                worst <= 2 * alone,
            )
        finally:
            server.stop()
    report.print([f"bench_limits, load average {os.getloadavg()[0]:.2f}"])
    return 0


def _row_and_targets(report: Report, label: str, result: dict, idle: int) -> None:
    report.row(label, "status / bytes", f"{result['status']} / {result['bytes'] / 1e6:,.1f} MB")
    report.row(label, "time", ms(result["seconds"]))
    report.row(label, "peak worker RSS", mib(result["peak"]))
    report.row(label, "RSS 1 s after", mib(result["after"]), f"idle {mib(idle)}")
    report.target(
        f"{label}: peak", mib(result["peak"]), "<= 1536 MiB", result["peak"] <= PEAK_LIMIT
    )
    report.target(
        f"{label}: after vs idle",
        f"{result['after'] / idle:.2f}x",
        "<= 1.10x",
        result["after"] <= 1.1 * idle,
    )


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.9 * (len(ordered) - 1))] if ordered else float("nan")


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


if __name__ == "__main__":
    sys.exit(main())
