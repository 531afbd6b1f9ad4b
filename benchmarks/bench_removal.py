#!/usr/bin/env python
"""Background-removal benchmark: our pipeline and server against rembg, same run, same machine.

Run from the repository root with the project venv:

    .venv/bin/python benchmarks/bench_removal.py            # full run (~10 min on 2 cores)
    .venv/bin/python benchmarks/bench_removal.py --quick    # ~2-3 min, no 10000x10000, no soak

Every number is measured in this run; every ratio compares numbers of this run. Server and
in-process settings come from the environment (REMOVAL_*, GUNICORN_*), so the same command
can compare configurations, e.g. ``REMOVAL_PNG_COMPRESS_LEVEL=6 .venv/bin/python ...``.

The script also runs itself as a child process (``--child ...``): once in the project venv
for the in-process floor, once in the rembg venv (``.bench/rembg-venv``) for rembg's
library. Child modes import only what that venv has.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _children import child_inproc, child_rembg_lib  # noqa: E402
from _common import (  # noqa: E402
    DEFAULT_PHOTO,
    GUNICORN,
    HOST,
    MIB,
    PROJECT_PYTHON,
    REMBG_PYTHON,
    ROOT,
    U2NET_HOME,
    U2NETP_MD5,
    log,
    median,
    mib,
    ms,
    ratio,
)
from _procs import Client, Server, free_port, make_inputs  # noqa: E402
from _rembg import ensure_rembg_model, ensure_rembg_venv, measure_rembg_server, rembg_env, run_child  # noqa: E402
from _report import Report, add_targets, check_lossless, print_phases, run_soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer reps; no 10000x10000, no soak")
    parser.add_argument("--skip-rembg", action="store_true", help="do not measure rembg")
    parser.add_argument("--skip-huge", action="store_true", help="skip the 10000x10000 input")
    parser.add_argument("--skip-soak", action="store_true", help="skip the 1000-request soak")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="source photo")
    parser.add_argument("--reps", type=int, help="reps for 1024x768 (default 10, quick 5)")
    parser.add_argument("--big-reps", type=int, help="reps for 4000x3000 (default 5, quick 2)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--load-requests", type=int, help="requests per load test (40/16)")
    parser.add_argument("--soak", type=int, default=1000, help="sequential small requests")
    parser.add_argument(
        "--api-key", default=os.environ.get("BENCH_API_KEY"), help="x-api-key (BENCH_API_KEY)"
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for the 1-min load average to drop below 0.5",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        mode, spec_path = args.child
        spec = json.loads(Path(spec_path).read_text())
        result = child_inproc(spec) if mode == "inproc" else child_rembg_lib(spec)
        print(json.dumps(result))
        return 0

    reps = args.reps or (5 if args.quick else 10)
    big_reps = args.big_reps or (2 if args.quick else 5)
    load_requests = args.load_requests or (16 if args.quick else 40)
    do_huge = not (args.quick or args.skip_huge)
    do_soak = not (args.quick or args.skip_soak)
    do_rembg = not args.skip_rembg

    report = Report()
    deadline = time.monotonic() + args.wait_quiet
    while os.getloadavg()[0] >= 0.5 and time.monotonic() < deadline:
        log(f"waiting for a quiet machine (load average {os.getloadavg()[0]:.2f})")
        time.sleep(15)
    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        log(f"warning: load average {load_start:.2f} before start; numbers will be noisy")
    servers: list[Server] = []
    t_start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-removal-"))
    try:
        sizes = ["small", "1024x768", "4000x3000"] + (["10000x10000"] if do_huge else [])
        log(f"making inputs from {args.photo} in {tmp}")
        inputs = make_inputs(args.photo, tmp, sizes)
        blobs = {name: path.read_bytes() for name, path in inputs.items()}
        for name, blob in blobs.items():
            report.row("Inputs (JPEG q90)", name, f"{len(blob) / 1024:,.0f} KiB", str(inputs[name]))

        server_env = dict(
            os.environ, DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1"
        )
        # Anonymous callers are metered per IP in the database and rate limited: lift the
        # limits (unless set) and keep the rows in a throwaway SQLite file, never in the
        # developer's db.sqlite3.
        server_env.setdefault("ANONYMOUS_DAILY_LIMIT", "100000000")
        server_env.setdefault("API_RATE_LIMIT", "100000000/minute")
        if not server_env.get("DATABASE_URL"):
            server_env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
            subprocess.run(
                [str(PROJECT_PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=server_env,
                check=True,
            )

        # ---- 1. in-process floor -------------------------------------------------------
        log("in-process pipeline floor (project venv, same settings as the server)")
        spec = {
            "tmp": str(tmp),
            "jobs": [
                {"path": str(inputs[s]), "size": s, "format": f, "reps": r}
                for s, r in (("1024x768", reps), ("4000x3000", big_reps))
                for f in ("PNG", "WEBP")
            ],
            "phases": [
                {"path": str(inputs[s]), "size": s, "formats": ["PNG", "WEBP"], "reps": r}
                for s, r in (("1024x768", min(reps, 5)), ("4000x3000", min(big_reps, 3)))
            ],
        }
        inproc = run_child(PROJECT_PYTHON, "inproc", spec, server_env, timeout=900)
        floor = {k: median(v) for k, v in inproc["timings"].items()}
        for key, value in floor.items():
            report.row("In-process floor: remove_background() median", key, ms(value))
        report.notes.append(f"server/in-process settings: {inproc['settings']}")

        # ---- 3a. rembg library ---------------------------------------------------------
        rembg_lib: dict = {}
        if do_rembg:
            ensure_rembg_venv()
            model_file = ensure_rembg_model()
            log(f"rembg library (rembg venv, U2NET_HOME={U2NET_HOME}, downloads blocked)")
            spec = {
                "tmp": str(tmp),
                "jobs": [
                    {"path": str(inputs["1024x768"]), "size": "1024x768", "reps": reps},
                    {"path": str(inputs["4000x3000"]), "size": "4000x3000", "reps": big_reps},
                ],
            }
            rembg_lib = run_child(REMBG_PYTHON, "rembg-lib", spec, rembg_env(), timeout=900)
            if Path(rembg_lib["model_file"]).resolve() != model_file.resolve():
                raise RuntimeError(f"rembg used {rembg_lib['model_file']}, not {model_file}")
            for size, values in rembg_lib["timings"].items():
                report.row(
                    "rembg library: remove(bytes, session=u2netp) median",
                    f"{size}/PNG",
                    ms(median(values)),
                    f"ours in-process: {ratio(floor[f'{size}/PNG'], median(values)):.2f}x",
                )
            report.notes.append(
                f"rembg model {model_file} (md5 {U2NETP_MD5} verified; pooch.retrieve "
                f"disabled, proxy blackholed); rembg onnxruntime {rembg_lib['onnxruntime']}"
            )

        # ---- 2. our server -------------------------------------------------------------
        port = free_port()
        ours = Server(
            name="ours (gunicorn)",
            cmd=[
                str(GUNICORN),
                "-c",
                "config/gunicorn.py",
                "-b",
                f"{HOST}:{port}",
                "config.wsgi",
            ],
            env=server_env,
            port=port,
            log_path=tmp / "gunicorn.log",
            kind="ours",
        )
        servers.append(ours)
        log(f"starting gunicorn on {ours.url}")
        ours.start()
        client = Client(ours, args.api_key)
        workers = ours.worker_pids()
        report.row(
            "Our server: POST /rmbg",
            "workers / ready after",
            f"{len(workers)}",
            f"ready {ours.ready_after:.1f}s after start; RSS idle {mib(ours.rss())}",
        )

        first, _ = client.post(blobs["1024x768"], "png")
        seq = {}
        for size, r in (("1024x768", reps), ("4000x3000", big_reps)):
            for fmt in ("PNG", "WEBP"):
                log(f"ours sequential {size} {fmt} x{r}")
                client.post(blobs[size], fmt.lower())  # warm this size/format
                seq[f"{size}/{fmt}"] = median(client.sequential(blobs[size], r, fmt.lower()))
        for key, value in seq.items():
            report.row(
                "Our server: POST /rmbg",
                f"sequential median {key}",
                ms(value),
                f"{ratio(value, floor[key]):.3f}x in-process floor",
            )
        steady = seq["1024x768/PNG"]
        report.row(
            "Our server: POST /rmbg",
            "first request after start 1024x768/PNG",
            ms(first),
            f"{ratio(first, steady):.2f}x steady median",
        )

        # lossless: our PNG decodes as PNG, RGBA, and visible pixels equal the input's.
        _, body = client.post(blobs["4000x3000"], "png")
        lossless, lossless_detail = check_lossless(body, blobs["4000x3000"])
        report.row(
            "Our server: POST /rmbg",
            "4000x3000 PNG output lossless",
            "yes" if lossless else "NO",
            lossless_detail,
        )

        log(f"ours {args.clients} clients x {load_requests} requests 1024x768 PNG")
        ours_load = client.load(blobs["1024x768"], args.clients, load_requests, "png")
        report.row(
            f"{args.clients} concurrent clients, 1024x768 -> PNG",
            "ours: throughput",
            f"{ours_load['throughput']:.2f} req/s",
            f"median latency {ms(ours_load['latency_median'])}; "
            f"worker RSS peak {mib(ours_load['rss_peak'])}, mean {mib(ours_load['rss_mean'])}",
        )
        ours_load_webp = client.load(blobs["1024x768"], args.clients, load_requests, "webp")
        report.row(
            f"{args.clients} concurrent clients, 1024x768 -> PNG",
            "ours (WEBP out): throughput",
            f"{ours_load_webp['throughput']:.2f} req/s",
            f"median latency {ms(ours_load_webp['latency_median'])}; "
            f"worker RSS peak {mib(ours_load_webp['rss_peak'])}",
        )

        soak = None
        if do_soak:
            log(f"ours soak: {args.soak} sequential 320x240 PNG")
            soak = run_soak(client, blobs["small"], args.soak)
            report.row(
                f"Our server: soak, {args.soak} sequential 320x240 -> PNG",
                "worker RSS after 100 / after all",
                f"{mib(soak['rss_100'])} / {mib(soak['rss_end'])}",
                f"{soak['change'] * 100:+.1f} %; median {ms(soak['median'])}; "
                f"every 100: {', '.join(f'{v / MIB:.0f}' for v in soak['trend'])} MiB"
                + ("; WORKER PID CHANGED (recycled)" if soak["recycled"] else ""),
            )

        huge = None
        if do_huge:
            log("ours 10000x10000 JPEG -> PNG, one request")
            huge = client.peak_for_one(blobs["10000x10000"], "png")
            report.row(
                "Our server: one 10000x10000 JPEG -> PNG",
                "worker RSS peak",
                mib(huge["rss_peak"]),
                f"before {mib(huge['rss_before'])}; {huge['seconds']:.1f}s; "
                f"out {huge['bytes'] / MIB:.0f} MiB",
            )
        ours.stop()

        rembg_load = None
        if do_rembg:
            rembg_load, _ = measure_rembg_server(
                report,
                servers,
                tmp,
                blobs,
                reps=reps,
                big_reps=big_reps,
                clients=args.clients,
                load_requests=load_requests,
                steady=steady,
                seq=seq,
                do_huge=do_huge,
            )

        add_targets(
            report,
            seq=seq,
            floor=floor,
            ours_load=ours_load,
            rembg_load=rembg_load,
            rembg_lib=rembg_lib,
            lossless=lossless,
            lossless_detail=lossless_detail,
            huge=huge,
            soak=soak,
            first=first,
            steady=steady,
            clients=args.clients,
            soak_total=args.soak,
        )

        load_end = os.getloadavg()[0]
        header = [
            "Background-removal benchmark "
            f"({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
            f"photo {args.photo.name}, {'quick' if args.quick else 'full'} run, "
            f"reps {reps}/{big_reps}, {args.clients} clients x {load_requests} requests)",
            f"1-min load average at start {load_start:.2f}, at end {load_end:.2f} "
            "(the benchmark itself loads the machine; a high value at start means other "
            "work competed for the CPUs)",
        ]
        header += print_phases(
            "Where the time goes in-process, 4000x3000 (median per phase):",
            inproc["phases"]["4000x3000"],
        )
        header += print_phases(
            "Where the time goes in-process, 1024x768 (median per phase):",
            inproc["phases"]["1024x768"],
        )
        if rembg_lib:
            header += print_phases(
                "rembg library, 4000x3000 (median per phase):", rembg_lib["phases"]["4000x3000"]
            )
        report.notes.append(f"total benchmark time {time.perf_counter() - t_start:.0f}s")
        report.print(header)
        return 0
    finally:
        for server in servers:
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                log(f"stopping {server.name}: {exc}")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
