#!/usr/bin/env python
"""Client benchmark: `cutout remove --jobs 4` against a sequential loop of single requests.

Run from the repository root with the project venv (the client installed, as `make test` does):

    .venv/bin/python benchmarks/bench_client.py                 # ~3 min on 2 cores
    .venv/bin/python benchmarks/bench_client.py --skip-rembg    # our side only

A folder of 40 photos (crops of ../shared/fixtures/photos, 640 to 1280 px wide, JPEG q90)
goes to a gunicorn started here (config/gunicorn.py, embedded defaults on a throwaway SQLite
file, anonymous calls with the limits lifted), once as a sequential loop of single
`Client.remove()` calls and once as `cutout remove DIR -o OUT --jobs 4`. The anchor is
`rembg p` on the same folder, processing locally with u2netp (its venv under .bench/,
downloads blocked). PNG out everywhere. Every number is from this run.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import PROJECT_PYTHON, REMBG_GUARD, REMBG_PYTHON, ROOT, log  # noqa: E402
from _procs import start_ours  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "fixtures" / "photos"
WIDTHS = (640, 800, 1024, 1280)
CUTOUT = PROJECT_PYTHON.with_name("cutout")


def make_folder(folder: Path, count: int, source: Path) -> list[Path]:
    """``count`` photos: seeded crops (60-100 % of a side) of the fixtures, resized to 4:3."""
    from PIL import Image

    rng = random.Random(13)
    photos = sorted(source.glob("*.jpg"))
    if not photos:
        sys.exit(f"no photos in {source}")
    folder.mkdir(parents=True)
    made = []
    for index in range(count):
        image = Image.open(photos[index % len(photos)]).convert("RGB")
        sw, sh = image.size
        scale = rng.uniform(0.6, 1.0)
        cw = min(sw, round(min(sw, sh * 4 / 3) * scale))
        ch = round(cw * 3 / 4)
        left, top = rng.randint(0, sw - cw), rng.randint(0, sh - ch)
        width = WIDTHS[index % len(WIDTHS)]
        crop = image.crop((left, top, left + cw, top + ch)).resize(
            (width, width * 3 // 4), Image.Resampling.LANCZOS
        )
        path = folder / f"photo-{index:02d}.jpg"
        crop.save(path, "JPEG", quality=90)
        made.append(path)
    return made


def sequential(url: str, files: list[Path], out: Path) -> float:
    from cutout_client import Client

    out.mkdir()
    with Client(api_key="", base_url=url) as client:
        client.remove(files[0], format="png")  # warm-up: the model loads on first use
        start = time.perf_counter()
        for path in files:
            client.remove(path, format="png").save(out / f"{path.stem}.png")
        return time.perf_counter() - start


def command_line(url: str, folder: Path, out: Path, jobs: int) -> float:
    env = dict(os.environ, CUTOUT_BASE_URL=url, CUTOUT_API_KEY="")
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(CUTOUT),
            "remove",
            str(folder),
            "-o",
            str(out),
            "--format",
            "png",
            "--jobs",
            str(jobs),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"cutout remove failed ({done.returncode}):\n{done.stderr[-2000:]}")
    log(done.stderr.strip().splitlines()[-1])  # its summary line
    return elapsed


def rembg_p(folder: Path, out: Path) -> float:
    from _rembg import ensure_rembg_model, ensure_rembg_venv, rembg_env

    ensure_rembg_venv()
    ensure_rembg_model()
    code = (
        REMBG_GUARD
        + "import sys\nfrom rembg.cli import main\n"
        + f"sys.argv = ['rembg', 'p', '-m', 'u2netp', {str(folder)!r}, {str(out)!r}]\nmain()\n"
    )
    out.mkdir()
    start = time.perf_counter()
    done = subprocess.run([str(REMBG_PYTHON), "-c", code], env=rembg_env(), capture_output=True)
    if done.returncode != 0:
        sys.exit(f"rembg p failed:\n{done.stderr.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=40, help="images in the folder (40)")
    parser.add_argument("--jobs", type=int, default=4, help="cutout remove --jobs (4)")
    parser.add_argument("--skip-rembg", action="store_true", help="no rembg p anchor")
    parser.add_argument("--source", type=Path, default=PHOTOS, help="folder of source photos")
    args = parser.parse_args()
    if not CUTOUT.exists():
        sys.exit(f"{CUTOUT} is missing: .venv/bin/pip install -e ./clients/python")
    log(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="bench-client-") as name:
        tmp = Path(name)
        files = make_folder(tmp / "photos", args.photos, args.source)
        server = start_ours(tmp)
        try:
            log(f"sequential loop: {len(files)} single Client.remove() calls")
            seq = sequential(server.url, files, tmp / "out-seq")
            log(f"cutout remove --jobs {args.jobs}")
            cli = command_line(server.url, tmp / "photos", tmp / "out-cli", args.jobs)
        finally:
            server.stop()
        made = len(list((tmp / "out-cli").glob("*.png")))
        assert made == len(files), f"cutout wrote {made} of {len(files)} files"
        rembg = None
        if not args.skip_rembg:
            log("rembg p -m u2netp (local, one process)")
            rembg = rembg_p(tmp / "photos", tmp / "out-rembg")
    report(len(files), args.jobs, seq, cli, rembg)


def report(count: int, jobs: int, seq: float, cli: float, rembg: float | None) -> None:
    print(f"\n{count} photos (640-1280 px wide, JPEG) -> PNG, u2netp; wall time, images/s")
    rows = [
        ("sequential Client.remove() loop", seq),
        (f"cutout remove --jobs {jobs}", cli),
    ]
    if rembg is not None:
        rows.append(("rembg p -m u2netp (local)", rembg))
    for label, seconds in rows:
        print(
            f"{label:<34} {seconds:7.1f} s {count / seconds:6.2f}/s  "
            f"{seq / seconds:5.2f}x the sequential loop"
        )
    print(f"throughput ratio, cutout --jobs {jobs} / sequential: {seq / cli:.2f}")
    if rembg is not None:
        print(f"throughput ratio, cutout --jobs {jobs} / rembg p: {rembg / cli:.2f}")
    print("(cutout's time includes starting its process; the loop's excludes a warm-up call)")


if __name__ == "__main__":
    main()
