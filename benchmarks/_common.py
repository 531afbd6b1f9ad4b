"""Constants and small helpers shared by the benchmark modules."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
BENCH_DIR = ROOT / ".bench"
REMBG_VENV = BENCH_DIR / "rembg-venv"
REMBG_PYTHON = REMBG_VENV / "bin" / "python"
U2NET_HOME = BENCH_DIR / "u2net"
U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
DEFAULT_PHOTO = ROOT.parent / "shared" / "fixtures" / "photos" / "plants-1.jpg"
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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def mib(nbytes: float) -> str:
    return f"{nbytes / MIB:,.0f} MiB"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")
