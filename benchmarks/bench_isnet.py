"""isnet against rembg running the same fp32 file, and our HTTP against our pipeline.

    .venv/bin/python benchmarks/bench_isnet.py            # ~4 min on 2 cores
    .venv/bin/python benchmarks/bench_isnet.py --reps 3 --big-reps 2 --skip-rembg

Needs isnet installed (make install-isnet). rembg (its own venv under .bench/, as
bench_removal.py makes it) gets our converted file as its `isnet-general-use`
model, so both run the very same weights; its download function is disabled.
Measured, all PNG out, on the plants-1 photo:

- in-process: removal.pipeline.remove_background(model="isnet"), median of N,
  and the child's peak RSS per size (a child per size: VmHWM only grows);
- rembg: rembg.remove() with an isnet-general-use session, the same way;
- HTTP: POST /rmbg model=isnet to gunicorn, sequential, median;
- the first isnet request of a fresh server against the steady state.

Targets (issue 11): 4000x3000 ours <= 0.8x rembg; 1024x768 <= 1.0x; HTTP <=
1.05x in-process; first request <= 1.2x steady; 4000x3000 peak RSS <= 1.5 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DEFAULT_PHOTO,
    PROJECT_PYTHON,
    REMBG_GUARD,
    REMBG_PYTHON,
    ROOT,
    U2NET_HOME,
    log,
    median,
    ratio,
)
from _procs import Client, make_inputs, start_ours  # noqa: E402

SIZES = ["1024x768", "4000x3000"]


def child_ours(spec: dict) -> dict:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from removal.pipeline import RemovalOptions, remove_background

    data = Path(spec["path"]).read_bytes()
    options = RemovalOptions(format="PNG", model="isnet")
    remove_background(data, options)  # loads the model, warms the buffers
    times = []
    for _ in range(spec["reps"]):
        start = time.perf_counter()
        remove_background(data, options)
        times.append(time.perf_counter() - start)
    return {"times": times, "peak": _hwm()}


def child_rembg(spec: dict) -> dict:
    exec(REMBG_GUARD, {})  # noqa: S102 - our own constant: no download may happen
    from rembg import new_session, remove

    data = Path(spec["path"]).read_bytes()
    session = new_session("isnet-general-use")
    remove(data, session=session)
    times = []
    for _ in range(spec["reps"]):
        start = time.perf_counter()
        remove(data, session=session)
        times.append(time.perf_counter() - start)
    return {"times": times, "peak": _hwm()}


def _hwm() -> int:
    """Peak resident size of this process (VmHWM: unlike ru_maxrss, not the parent's)."""
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith("VmHWM"))


def run_child(python: Path, mode: str, spec: dict, env: dict) -> dict:
    result = subprocess.run(
        [str(python), __file__, "--child", mode, json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0:
        raise RuntimeError(f"child {mode} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def isnet_path() -> Path:
    found = subprocess.run(
        [
            str(PROJECT_PYTHON),
            "-c",
            "import django; django.setup(); from removal import registry; "
            "print(registry.all_models()['isnet'].path)",
        ],
        cwd=ROOT,
        env=dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        check=True,
    )
    path = Path(found.stdout.strip().splitlines()[-1])
    if not path.is_file():
        sys.exit(f"isnet is not installed ({path}): make install-isnet")
    return path


def give_rembg(model: Path) -> None:
    """Our fp32 file where rembg looks for isnet-general-use, so it never downloads one."""
    target = U2NET_HOME / "models" / "isnet-general-use" / "isnet-general-use.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(model)


def http_times(tmp: Path, data: bytes, reps: int) -> tuple[float, list[float]]:
    """A fresh gunicorn: its first isnet request, then ``reps`` more."""
    server = start_ours(tmp)
    try:
        client = Client(server, os.environ.get("BENCH_API_KEY"), model="isnet")
        first = client.post(data)[0]
        return first, client.sequential(data, reps)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="1024x768 runs (default 5)")
    parser.add_argument("--big-reps", type=int, default=3, help="4000x3000 runs (default 3)")
    parser.add_argument("--skip-rembg", action="store_true")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, spec = args.child
        print(json.dumps({"ours": child_ours, "rembg": child_rembg}[mode](json.loads(spec))))
        return

    env = dict(
        os.environ, DJANGO_SETTINGS_MODULE="config.settings", ANONYMOUS_DAILY_LIMIT="1000000"
    )
    model = isnet_path()
    reps = {"1024x768": args.reps, "4000x3000": args.big_reps}
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        inputs = make_inputs(args.photo, tmp, SIZES)
        if not args.skip_rembg:
            from _rembg import ensure_rembg_venv, rembg_env

            ensure_rembg_venv()
            give_rembg(model)
        for size in SIZES:
            spec = {"path": str(inputs[size]), "reps": reps[size]}
            log(f"in-process isnet {size}")
            ours = run_child(PROJECT_PYTHON, "ours", spec, env)
            row = {"size": size, "ours": median(ours["times"]), "ours_peak": ours["peak"]}
            if not args.skip_rembg:
                log(f"rembg isnet-general-use {size}")
                theirs = run_child(REMBG_PYTHON, "rembg", spec, rembg_env())
                row |= {"rembg": median(theirs["times"]), "rembg_peak": theirs["peak"]}
            rows.append(row)
        log("HTTP isnet 1024x768 on a fresh gunicorn")
        first, steady = http_times(tmp, inputs["1024x768"].read_bytes(), args.reps)
    report(rows, first, median(steady))


def report(rows: list[dict], first: float, http: float) -> None:
    gib = 1024**3
    print("\nisnet, PNG out (medians)")
    print(f"{'size':<10} {'ours':>9} {'rembg':>9} {'ratio':>7} {'target':>7} {'ours peak':>10}")
    targets = {"1024x768": 1.0, "4000x3000": 0.8}
    for row in rows:
        theirs = row.get("rembg", float("nan"))
        r = ratio(row["ours"], theirs)
        verdict = "n/a" if r != r else "met" if r <= targets[row["size"]] else "MISSED"  # nan
        print(
            f"{row['size']:<10} {row['ours']:>8.2f}s {theirs:>8.2f}s {r:>7.2f} "
            f"{'<=' + str(targets[row['size']]):>7} {row['ours_peak'] / gib:>8.2f} GiB  {verdict}"
        )
    big = next(row for row in rows if row["size"] == "4000x3000")
    small = next(row for row in rows if row["size"] == "1024x768")
    print(f"4000x3000 peak RSS {big['ours_peak'] / gib:.2f} GiB (target <= 1.5)")
    if "rembg_peak" in big:
        print(f"rembg 4000x3000 peak RSS {big['rembg_peak'] / gib:.2f} GiB")
    print(
        f"HTTP / in-process, 1024x768: {http:.2f} / {small['ours']:.2f} s = "
        f"{ratio(http, small['ours']):.3f} (target <= 1.05)"
    )
    print(
        f"first isnet request / steady, HTTP: {first:.2f} / {http:.2f} s = "
        f"{ratio(first, http):.2f} (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
