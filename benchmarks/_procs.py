"""Inputs, server processes, HTTP clients and memory sampling."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from _common import (
    GUNICORN,
    HOST,
    PROJECT_PYTHON,
    ROOT,
    SIZES,
    median,
)


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


def start_ours(tmp: Path, **settings: str) -> Server:
    """Our gunicorn as `make run` starts it, on a throwaway migrated SQLite file and the
    in-process store (nothing shared with anyone's tests), its limits lifted."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    env["ANONYMOUS_DAILY_LIMIT"] = "100000000"
    env["API_RATE_LIMIT"] = "100000000/minute"
    env.update(settings)
    migrate = [str(PROJECT_PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True)
    port = free_port()
    server = Server(
        name="ours",
        cmd=[str(GUNICORN), "-c", "config/gunicorn.py", "-b", f"{HOST}:{port}", "config.wsgi"],
        env=env,
        port=port,
        log_path=tmp / "gunicorn.log",
        kind="ours",
    )
    server.start(timeout=300)
    return server


class Client:
    """POSTs one image to a server; one requests.Session per thread."""

    # Our model names, and what rembg calls a session of the same file.
    REMBG_MODELS = {"u2netp": "u2netp", "isnet": "isnet-general-use"}

    def __init__(self, server: Server, api_key: str | None, model: str = "u2netp"):
        self.server = server
        self.api_key = api_key
        self.model = model
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
            form = {"format": fmt, "model": self.model}
            headers = {"x-api-key": self.api_key} if self.api_key else {}
        else:
            url = f"{self.server.url}/api/remove"
            files = {"file": ("image.jpg", data, "image/jpeg")}
            form = {"model": self.REMBG_MODELS[self.model]}
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
