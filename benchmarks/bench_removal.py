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
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
BENCH_DIR = ROOT / ".bench"
REMBG_VENV = BENCH_DIR / "rembg-venv"
REMBG_PYTHON = REMBG_VENV / "bin" / "python"
U2NET_HOME = BENCH_DIR / "u2net"
U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
DEFAULT_PHOTO = Path("/work/shared/fixtures/photos/plants-1.jpg")
HOST = "127.0.0.1"
GIB = 1024**3
MIB = 1024**2

SIZES = {
    "small": (320, 240),
    "1024x768": (1024, 768),
    "4000x3000": (4000, 3000),
    "10000x10000": (10000, 10000),
}

# A proxy that refuses every connection: anything in a rembg child that tries to reach the
# internet fails loudly instead of silently downloading.
NO_NETWORK_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
}

# Replaces pooch.retrieve in every rembg process, so a download attempt is an error.
REMBG_GUARD = """
import pooch, webbrowser
def _no_download(*args, **kwargs):
    raise RuntimeError(f"rembg tried to download a model: {args!r}")
pooch.retrieve = _no_download
webbrowser.open = lambda *a, **k: False
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------------------
# Child mode: in-process pipeline floor (project venv)
# --------------------------------------------------------------------------------------


def child_inproc(spec: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from removal import imaging, pipeline
    from removal.inference import get_model
    from removal.pipeline import RemovalOptions, remove_background

    model = get_model()
    model.predict(imaging.decode(imaging.open_image(io.BytesIO(_tiny_jpeg()), "JPEG")))

    out: dict = {
        "settings": {
            name: getattr(settings, name)
            for name in (
                "REMOVAL_INTRA_OP_THREADS",
                "REMOVAL_MAX_CONCURRENCY",
                "REMOVAL_PNG_COMPRESS_LEVEL",
                "REMOVAL_WEBP_QUALITY",
                "REMOVAL_CPU_MEM_ARENA",
            )
        },
        "timings": {},
        "phases": {},
    }
    for job in spec["jobs"]:
        data = Path(job["path"]).read_bytes()
        options = RemovalOptions(format=job["format"])
        remove_background(data, options)  # warm: first call of a size allocates buffers
        times = []
        for _ in range(job["reps"]):
            start = time.perf_counter()
            remove_background(data, options)
            times.append(time.perf_counter() - start)
        out["timings"][f"{job['size']}/{job['format']}"] = times

    for job in spec["phases"]:
        data = Path(job["path"]).read_bytes()
        phases: dict[str, list[float]] = {}

        def timed(name, fn, *args, _phases=phases):
            start = time.perf_counter()
            value = fn(*args)
            _phases.setdefault(name, []).append(time.perf_counter() - start)
            return value

        for _ in range(job["reps"]):
            image = timed(
                "decode (JPEG->RGB)",
                lambda d: imaging.decode(imaging.open_image(io.BytesIO(d), "JPEG")),
                data,
            )
            tensor = timed("model: resize to 320 + normalise", model.preprocess, image)
            raw = timed(
                "model: onnxruntime run",
                model.session.run,
                None,
                {model.input_name: tensor},
            )

            def matte_from(raw_output, size):
                prediction = raw_output[0][0, 0]
                low, high = prediction.min(), prediction.max()
                span = (high - low) or 1.0
                from PIL import Image

                small = Image.fromarray(((prediction - low) / span * 255).astype("uint8"), mode="L")
                return small.resize(size, Image.Resampling.LANCZOS)

            matte = timed("model: matte upscale (LANCZOS)", matte_from, raw, image.size)
            cut = timed("cut-out (paste + putalpha)", pipeline.cut_out, image, matte)
            cut = pipeline.fill_background(cut, None, opaque=False)
            for fmt in job["formats"]:
                timed(f"encode {fmt}", pipeline.encode, cut, fmt)
        out["phases"][job["size"]] = phases
    return out


def _tiny_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (120, 130, 140)).save(buffer, "JPEG")
    return buffer.getvalue()


# --------------------------------------------------------------------------------------
# Child mode: rembg library (rembg venv)
# --------------------------------------------------------------------------------------


def child_rembg_lib(spec: dict) -> dict:
    exec(REMBG_GUARD, {})  # noqa: S102 - our own constant
    import onnxruntime
    from PIL import Image
    from rembg import new_session, remove
    from rembg.sessions.u2netp import U2netpSession

    model_file = U2netpSession.resolve_existing("u2netp.onnx")
    session = new_session("u2netp")
    out: dict = {
        "model_file": model_file,
        "onnxruntime": onnxruntime.__version__,
        "timings": {},
        "phases": {},
    }
    for job in spec["jobs"]:
        data = Path(job["path"]).read_bytes()
        remove(data, session=session)  # warm
        times = []
        for _ in range(job["reps"]):
            start = time.perf_counter()
            result = remove(data, session=session)
            times.append(time.perf_counter() - start)
        assert result[:8] == b"\x89PNG\r\n\x1a\n"
        out["timings"][job["size"]] = times
        # Where rembg's time goes: decode, everything up to the cut-out, PNG encode.
        phases: dict[str, list[float]] = {}
        for _ in range(max(1, job["reps"] // 2)):
            t0 = time.perf_counter()
            image = Image.open(io.BytesIO(data))
            image.load()
            t1 = time.perf_counter()
            cutout = remove(image, session=session)
            t2 = time.perf_counter()
            cutout.save(io.BytesIO(), "PNG")
            t3 = time.perf_counter()
            phases.setdefault("decode", []).append(t1 - t0)
            phases.setdefault("model + cut-out", []).append(t2 - t1)
            phases.setdefault("encode PNG (Pillow default level 6)", []).append(t3 - t2)
        out["phases"][job["size"]] = phases
    return out


# --------------------------------------------------------------------------------------
# Inputs, processes, memory
# --------------------------------------------------------------------------------------


def make_inputs(photo: Path, directory: Path, sizes: list[str]) -> dict[str, Path]:
    """Real photo content at each size: centre-cropped to the aspect, then resized."""
    from PIL import Image

    source = Image.open(photo)
    source.load()
    if source.mode in ("RGBA", "LA", "P"):
        source = source.convert("RGBA")
        flat = Image.new("RGBA", source.size, (255, 255, 255, 255))
        flat.alpha_composite(source)
        source = flat
    source = source.convert("RGB")
    paths = {}
    for name in sizes:
        width, height = SIZES[name]
        sw, sh = source.size
        scale = min(sw / width, sh / height)
        cw, ch = round(width * scale), round(height * scale)
        left, top = (sw - cw) // 2, (sh - ch) // 2
        image = source.crop((left, top, left + cw, top + ch)).resize(
            (width, height), Image.Resampling.LANCZOS
        )
        path = directory / f"{photo.stem}-{name}.jpg"
        image.save(path, "JPEG", quality=90)
        paths[name] = path
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM in bytes (empty if the process is gone)."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, amount, _unit = line.split()
                    values[key[:-1]] = int(amount) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return values


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def reset_peak(pids: list[int]) -> bool:
    """Reset VmHWM (Linux: write 5 to clear_refs); False if not permitted."""
    ok = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            ok = False
    return ok


class RssSampler:
    """Samples the summed VmRSS of some processes in the background; keeps the peak."""

    def __init__(self, pids: list[int], interval: float = 0.01):
        self.pids = pids
        self.interval = interval
        self.peak = 0
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            total = sum(proc_status(pid).get("VmRSS", 0) for pid in self.pids)
            self.samples.append(total)
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else float("nan")


@dataclass
class Server:
    name: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    kind: str  # "ours" | "rembg"
    proc: subprocess.Popen | None = None
    _log: object = None
    started_at: float = 0.0
    ready_after: float = 0.0

    def start(self, timeout: float = 120.0) -> None:
        import requests

        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends all of it
        )
        probe = "/rmbg" if self.kind == "ours" else "/api"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; log:\n{self.log_tail()}")
            try:
                requests.get(f"{self.url}{probe}", timeout=2)
                self.ready_after = time.perf_counter() - self.started_at
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s; log:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def worker_pids(self) -> list[int]:
        """The processes that do the work: gunicorn's workers, or rembg's one process."""
        if self.proc is None:
            return []
        if self.kind == "ours":
            return children_of(self.proc.pid)
        return [self.proc.pid]

    def rss(self) -> int:
        return sum(proc_status(pid).get("VmRSS", 0) for pid in self.worker_pids())

    def hwm(self) -> int:
        return sum(proc_status(pid).get("VmHWM", 0) for pid in self.worker_pids())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


class Client:
    """POSTs one image to a server; one requests.Session per thread."""

    def __init__(self, server: Server, api_key: str | None):
        self.server = server
        self.api_key = api_key
        self._local = threading.local()

    def _session(self):
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # never a proxy: 127.0.0.1 only
            self._local.session = session
        return session

    def post(self, data: bytes, fmt: str = "png", timeout: float = 600) -> tuple[float, bytes]:
        if self.server.kind == "ours":
            url = f"{self.server.url}/rmbg"
            files = {"image": ("image.jpg", data, "image/jpeg")}
            form = {"format": fmt}
            headers = {"x-api-key": self.api_key} if self.api_key else {}
        else:
            url = f"{self.server.url}/api/remove"
            files = {"file": ("image.jpg", data, "image/jpeg")}
            form = {"model": "u2netp"}
            headers = {}
        start = time.perf_counter()
        response = self._session().post(
            url, files=files, data=form, headers=headers, timeout=timeout
        )
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(
                f"{self.server.name}: HTTP {response.status_code}: {response.text[:300]}"
            )
        return elapsed, response.content

    def sequential(self, data: bytes, reps: int, fmt: str = "png") -> list[float]:
        return [self.post(data, fmt)[0] for _ in range(reps)]

    def load(self, data: bytes, clients: int, total: int, fmt: str = "png") -> dict:
        """``total`` requests from ``clients`` threads; wall-clock throughput and RSS."""
        # Untimed warm-up at the same concurrency (arenas, thread pools).
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda _: self.post(data, fmt), range(clients)))
        pids = self.server.worker_pids()
        reset_peak(pids)
        latencies: list[float] = []
        lock = threading.Lock()
        remaining = [total]

        def worker():
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                elapsed, _ = self.post(data, fmt)
                with lock:
                    latencies.append(elapsed)

        with RssSampler(pids) as sampler:
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                for future in [pool.submit(worker) for _ in range(clients)]:
                    future.result()
            wall = time.perf_counter() - start
        return {
            "throughput": total / wall,
            "latency_median": median(latencies),
            "rss_peak": max(sampler.peak, self.server.hwm()),
            "rss_mean": sampler.mean,
            "requests": total,
            "wall": wall,
        }

    def peak_for_one(self, data: bytes, fmt: str = "png") -> dict:
        pids = self.server.worker_pids()
        before = self.server.rss()
        reset_ok = reset_peak(pids)
        with RssSampler(pids, interval=0.005) as sampler:
            elapsed, body = self.post(data, fmt)
        peak = max(sampler.peak, self.server.hwm() if reset_ok else 0)
        return {"seconds": elapsed, "rss_before": before, "rss_peak": peak, "bytes": len(body)}


# --------------------------------------------------------------------------------------
# rembg venv and model
# --------------------------------------------------------------------------------------


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
            "from removal.inference import bundled_model_path; print(bundled_model_path())",
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
        [str(python), str(Path(__file__).resolve()), "--child", mode, str(spec_file)],
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
# --------------------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []
        self.targets: list[tuple[str, str, str, bool | None]] = []
        self.notes: list[str] = []

    def row(self, section: str, metric: str, value: str, extra: str = "") -> None:
        self.rows.append((section, metric, value, extra))

    def target(self, name: str, measured: str, goal: str, met: bool | None) -> None:
        self.targets.append((name, measured, goal, met))

    def print(self, header: list[str]) -> None:
        print()
        for line in header:
            print(line)
        print()
        widths = [max((len(r[i]) for r in self.rows), default=0) for i in range(3)]
        section = None
        for sec, metric, value, extra in self.rows:
            if sec != section:
                print(f"\n== {sec}")
                section = sec
            print(f"  {metric:<{widths[1]}}  {value:>{widths[2]}}  {extra}")
        print("\n== Targets")
        if self.targets:
            w0 = max(len(t[0]) for t in self.targets)
            w1 = max(len(t[1]) for t in self.targets)
            for name, measured, goal, met in self.targets:
                verdict = "n/a " if met is None else ("MET " if met else "MISS")
                print(f"  [{verdict}] {name:<{w0}}  {measured:<{w1}}  target {goal}")
        for note in self.notes:
            print(f"  note: {note}")
        print()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def mib(nbytes: float) -> str:
    return f"{nbytes / MIB:,.0f} MiB"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_phases(title: str, phases: dict[str, list[float]]) -> list[str]:
    lines = [title]
    total = sum(median(v) for v in phases.values())
    for name, values in phases.items():
        lines.append(f"    {name:<38} {ms(median(values)):>10}")
    lines.append(f"    {'(sum of medians)':<38} {ms(total):>10}")
    return lines


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------


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

        # ---- 3b. rembg s ---------------------------------------------------------------
        rembg_load = rembg_huge = None
        if do_rembg:
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
            log(f"rembg s {args.clients} clients x {load_requests} requests 1024x768 PNG")
            rembg_load = rclient.load(blobs["1024x768"], args.clients, load_requests)
            report.row(
                f"{args.clients} concurrent clients, 1024x768 -> PNG",
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

        # ---- targets -------------------------------------------------------------------
        for fmt in ("PNG", "WEBP"):
            key = f"1024x768/{fmt}"
            r = ratio(seq[key], floor[key])
            report.target(
                f"sequential HTTP vs in-process floor, {key}",
                f"{ms(seq[key])} / {ms(floor[key])} = {r:.3f}x",
                "<= 1.10x",
                r <= 1.10,
            )
        if rembg_load:
            r = ratio(ours_load["throughput"], rembg_load["throughput"])
            report.target(
                f"{args.clients}-client throughput vs rembg s",
                f"{ours_load['throughput']:.2f} / {rembg_load['throughput']:.2f} req/s = {r:.2f}x",
                ">= 1.5x",
                r >= 1.5,
            )
            r = ratio(ours_load["rss_peak"], rembg_load["rss_peak"])
            report.target(
                f"{args.clients}-client worker RSS (peak) vs rembg s",
                f"{mib(ours_load['rss_peak'])} / {mib(rembg_load['rss_peak'])} = {r:.2f}x",
                "<= 0.5x",
                r <= 0.5,
            )
            lib = median(rembg_lib["timings"]["4000x3000"])
            r = ratio(seq["4000x3000/PNG"], lib)
            report.target(
                "4000x3000 -> PNG end-to-end vs rembg library",
                f"{ms(seq['4000x3000/PNG'])} / {ms(lib)} = {r:.2f}x",
                "<= 0.5x",
                r <= 0.5,
            )
        else:
            report.target("throughput / RSS / 4000x3000 vs rembg", "skipped", "-", None)
        report.target(
            "4000x3000 PNG output lossless",
            "PNG, RGB exact" if lossless else lossless_detail,
            "PNG, visible RGB identical to input",
            lossless,
        )
        if huge:
            report.target(
                "peak worker RSS, one 10000x10000 request",
                mib(huge["rss_peak"]),
                "<= 1.5 GiB",
                huge["rss_peak"] <= 1.5 * GIB,
            )
        else:
            report.target("peak worker RSS, one 10000x10000 request", "skipped", "-", None)
        if soak:
            report.target(
                f"worker RSS flat over {args.soak} requests (after 100 -> end)",
                f"{soak['change'] * 100:+.1f} %",
                "within +-5 %",
                abs(soak["change"]) <= 0.05 and not soak["recycled"],
            )
        else:
            report.target("worker RSS flat over 1000 requests", "skipped", "-", None)
        r = ratio(first, steady)
        report.target(
            "first request after start vs steady state (1024x768/PNG)",
            f"{ms(first)} / {ms(steady)} = {r:.2f}x",
            "<= 1.2x",
            r <= 1.2,
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


def check_lossless(png: bytes, source_jpeg: bytes) -> tuple[bool, str]:
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    if image.format != "PNG":
        return False, f"not PNG but {image.format}"
    image.load()
    if image.mode != "RGBA":
        return False, f"PNG but mode {image.mode}"
    source = Image.open(io.BytesIO(source_jpeg)).convert("RGB")
    out = np.asarray(image)
    src = np.asarray(source)
    if out.shape[:2] != src.shape[:2]:
        return False, f"PNG RGBA but size {image.size} != {source.size}"
    visible = out[..., 3] > 0
    same = np.array_equal(out[..., :3][visible], src[visible])
    detail = (
        f"PNG RGBA {image.size[0]}x{image.size[1]}, RGB of {int(visible.sum()):,} visible "
        f"px {'identical to' if same else 'DIFFERS from'} the decoded input"
    )
    return same, detail


def run_soak(client: Client, data: bytes, total: int) -> dict:
    pids = client.server.worker_pids()
    times, trend = [], []
    rss_100 = 0
    for i in range(1, total + 1):
        times.append(client.post(data, "png")[0])
        if i % 100 == 0:
            trend.append(client.server.rss())
            if i == 100:
                rss_100 = trend[-1]
            eta = (total - i) * median(times)
            log(f"  soak {i}/{total}, RSS {trend[-1] / MIB:.0f} MiB, ~{eta:.0f}s left")
    rss_end = client.server.rss()
    return {
        "rss_100": rss_100,
        "rss_end": rss_end,
        "change": ratio(rss_end, rss_100) - 1,
        "median": median(times),
        "trend": trend,
        "recycled": client.server.worker_pids() != pids,
    }


if __name__ == "__main__":
    sys.exit(main())
