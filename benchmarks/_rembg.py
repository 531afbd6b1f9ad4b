"""rembg side: its venv, the bundled model for it, its child runs and `rembg s`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import (
    BENCH_DIR,
    HOST,
    NO_NETWORK_ENV,
    PROJECT_PYTHON,
    REMBG_GUARD,
    REMBG_PYTHON,
    REMBG_VENV,
    ROOT,
    U2NET_HOME,
    U2NETP_MD5,
    log,
    median,
    mib,
    ms,
    ratio,
)
from _procs import Client, Server, free_port

ENTRY_POINT = Path(__file__).resolve().with_name("bench_removal.py")


def md5sum(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def ensure_rembg_venv() -> None:
    if REMBG_PYTHON.exists():
        check = subprocess.run(
            [str(REMBG_PYTHON), "-c", "import rembg.commands.s_command, onnxruntime"],
            capture_output=True,
        )
        if check.returncode == 0:
            return
    log(f"creating {REMBG_VENV} and installing rembg[cpu,cli] from PyPI")
    BENCH_DIR.mkdir(exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(REMBG_VENV)], check=True)
    env = dict(os.environ, PIP_CONSTRAINT="")  # the global torch cap does not apply here
    subprocess.run(
        [str(REMBG_PYTHON), "-m", "pip", "install", "-q", "rembg[cpu,cli]"], check=True, env=env
    )


def ensure_rembg_model() -> Path:
    """Our bundled u2netp.onnx where rembg looks first, so rembg never downloads it."""
    found = subprocess.run(
        [
            str(PROJECT_PYTHON),
            "-c",
            "from removal.registry import bundled_u2netp; print(bundled_u2netp())",
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        check=True,
    )
    source = Path(found.stdout.strip())
    target = U2NET_HOME / "models" / "u2netp" / "u2netp.onnx"
    if not target.exists() or md5sum(target) != U2NETP_MD5:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    digest = md5sum(target)
    if digest != U2NETP_MD5:
        raise RuntimeError(f"{target}: md5 {digest}, expected {U2NETP_MD5}")
    return target


def rembg_env() -> dict[str, str]:
    env = dict(os.environ, U2NET_HOME=str(U2NET_HOME), **NO_NETWORK_ENV)
    env.pop("REMBG_HOME", None)
    env.pop("MODEL_CHECKSUM_DISABLED", None)
    return env


def run_child(python: Path, mode: str, spec: dict, env: dict[str, str], timeout: float) -> dict:
    spec_file = Path(spec["tmp"]) / f"spec-{mode}.json"
    spec_file.write_text(json.dumps(spec))
    result = subprocess.run(
        [
            str(python),
            str(Path(__file__).resolve().with_name("bench_removal.py")),
            "--child",
            mode,
            str(spec_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Report


def measure_rembg_server(
    report, servers, tmp, blobs, *, reps, big_reps, clients, load_requests, steady, seq, do_huge
):
    """`rembg s`: sequential, 4-client load and (full run) one 10000x10000 request."""
    rembg_huge = None
    port = free_port()
    rembg = Server(
        name="rembg s",
        cmd=[
            str(REMBG_PYTHON),
            "-c",
            REMBG_GUARD
            + "import sys\nfrom rembg.cli import main\n"
            + f"sys.argv = ['rembg', 's', '--host', '{HOST}', '--port', '{port}', "
            + "'--no-ui', '--log_level', 'warning']\nmain()\n",
        ],
        env=rembg_env(),
        port=port,
        log_path=tmp / "rembg-s.log",
        kind="rembg",
    )
    servers.append(rembg)
    log(f"starting rembg s on {rembg.url}")
    rembg.start()
    rclient = Client(rembg, None)
    rfirst, body = rclient.post(blobs["1024x768"])
    assert body[:8] == b"\x89PNG\r\n\x1a\n", "rembg s did not answer a PNG"
    rclient.post(blobs["1024x768"])
    rseq = median(rclient.sequential(blobs["1024x768"], reps))
    report.row(
        "rembg s: POST /api/remove (model=u2netp, --no-ui)",
        "sequential median 1024x768/PNG",
        ms(rseq),
        f"first request {ms(rfirst)} (loads the model lazily); "
        f"ours/rembg {ratio(steady, rseq):.2f}x",
    )
    rclient.post(blobs["4000x3000"])
    rseq_big = median(rclient.sequential(blobs["4000x3000"], big_reps))
    report.row(
        "rembg s: POST /api/remove (model=u2netp, --no-ui)",
        "sequential median 4000x3000/PNG",
        ms(rseq_big),
        f"ours/rembg {ratio(seq['4000x3000/PNG'], rseq_big):.2f}x",
    )
    log(f"rembg s {clients} clients x {load_requests} requests 1024x768 PNG")
    rembg_load = rclient.load(blobs["1024x768"], clients, load_requests)
    report.row(
        f"{clients} concurrent clients, 1024x768 -> PNG",
        "rembg s: throughput",
        f"{rembg_load['throughput']:.2f} req/s",
        f"median latency {ms(rembg_load['latency_median'])}; "
        f"RSS peak {mib(rembg_load['rss_peak'])}, mean {mib(rembg_load['rss_mean'])}",
    )
    if do_huge:
        log("rembg s 10000x10000 JPEG -> PNG, one request")
        rembg_huge = rclient.peak_for_one(blobs["10000x10000"])
        report.row(
            "rembg s: one 10000x10000 JPEG -> PNG",
            "RSS peak",
            mib(rembg_huge["rss_peak"]),
            f"before {mib(rembg_huge['rss_before'])}; {rembg_huge['seconds']:.1f}s",
        )
    rembg.stop()
    return rembg_load, rembg_huge
