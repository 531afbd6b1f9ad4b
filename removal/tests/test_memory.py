"""Memory of the worst accepted requests, measured in child processes.

Each child is set up like a gunicorn worker (arenas capped, model loaded and
warm), answers one worst-case request and reports its peak resident size
(VmHWM: ru_maxrss would also count the parent's size when it forked, which
for a test run that loaded isnet is over the budget) and its resident size
afterwards. Not timed: only memory is
asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
PEAK_LIMIT = 1536 * 1024 * 1024

CHILD = r"""
import gc, io, json, sys
import django
django.setup()
from django.conf import settings
from PIL import Image
from removal import malloc, pipeline

def status(field):
    with open("/proc/self/status") as lines:
        return next(int(l.split()[1]) * 1024 for l in lines if l.startswith(field))

def rss():
    return status("VmRSS")

malloc.limit_arenas(settings.REMOVAL_MALLOC_ARENA_MAX)
small = io.BytesIO()
Image.open(sys.argv[1]).reduce(16).save(small, "PNG")
for fmt in ("PNG", "WEBP", "JPEG", "BMP"):  # a warm worker: model, pools, arenas
    pipeline.remove_background(small.getvalue(), pipeline.RemovalOptions(format=fmt))
gc.collect()
idle = rss()
options = json.loads(sys.argv[3])
result = pipeline.remove_background(open(sys.argv[2], "rb").read(),
                                    pipeline.RemovalOptions(**options))
size = [result.width, result.height]
del result
gc.collect()
print(json.dumps({"idle": idle, "after": rss(), "size": size,
                  "peak": status("VmHWM")}))
"""

WORST = {"angle": 45, "width": 10000, "height": 10000}
CASES = {
    "png": ("huge", {**WORST, "format": "PNG"}),
    "webp": ("huge", {**WORST, "format": "WEBP"}),
    "jpeg": ("huge", {**WORST, "format": "JPEG"}),
    "bmp": ("huge", {**WORST, "format": "BMP"}),
    # A 69-byte PNG blown up to the limit: little in, the most out.
    "1x1->bmp": ("tiny", {"width": 10000, "height": 10000, "exact_resize": True, "format": "BMP"}),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A real photo stretched to 10000x10000 (the largest upload accepted), and a 1x1 PNG."""
    folder = tmp_path_factory.mktemp("inputs")
    photo = Image.open(DATA / "car-1.jpg").resize((10000, 10000), Image.Resampling.BILINEAR)
    photo.save(folder / "huge.jpg", "JPEG", quality=90)
    del photo
    Image.new("RGB", (1, 1), (200, 30, 30)).save(folder / "tiny.png", "PNG")
    return {"huge": folder / "huge.jpg", "tiny": folder / "tiny.png", "warm": DATA / "car-1.jpg"}


@pytest.fixture(scope="module")
def measured(inputs):
    reports: dict[str, dict] = {}

    def measure(case: str) -> dict:
        if case not in reports:
            source, options = CASES[case]
            reports[case] = run_child(inputs["warm"], inputs[source], options)
        return reports[case]

    return measure


def run_child(warm: Path, source: Path, options: dict) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(warm), str(source), json.dumps(options)],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def mib(report: dict) -> dict:
    return {k: v // 2**20 for k, v in report.items() if k in ("idle", "peak", "after")}


@pytest.mark.parametrize("case", ["png", "webp", "jpeg", "bmp", "1x1->bmp"])
def test_the_worst_accepted_request_stays_under_1_5_gib(measured, case):
    report = measured(case)
    assert report["size"] == [10000, 10000]
    assert report["peak"] <= PEAK_LIMIT, mib(report)


@pytest.mark.parametrize("case", ["png", "webp", "jpeg", "bmp", "1x1->bmp"])
def test_the_worker_shrinks_back_near_idle_after_a_big_answer(measured, case):
    report = measured(case)
    assert report["after"] <= 1.1 * report["idle"], mib(report)
