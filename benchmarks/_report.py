"""The printed report: rows, targets, phases; the lossless check and the soak."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from _common import (
    GIB,
    MIB,
    log,
    median,
    mib,
    ms,
    ratio,
)

if TYPE_CHECKING:
    from _procs import Client


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


def print_phases(title: str, phases: dict[str, list[float]]) -> list[str]:
    lines = [title]
    total = sum(median(v) for v in phases.values())
    for name, values in phases.items():
        lines.append(f"    {name:<38} {ms(median(values)):>10}")
    lines.append(f"    {'(sum of medians)':<38} {ms(total):>10}")
    return lines


# --------------------------------------------------------------------------------------
# Main


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


def add_targets(
    report,
    *,
    seq,
    floor,
    ours_load,
    rembg_load,
    rembg_lib,
    lossless,
    lossless_detail,
    huge,
    soak,
    first,
    steady,
    clients,
    soak_total,
):
    """The targets table, each a ratio of two numbers measured in this run."""
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
            f"{clients}-client throughput vs rembg s",
            f"{ours_load['throughput']:.2f} / {rembg_load['throughput']:.2f} req/s = {r:.2f}x",
            ">= 1.5x",
            r >= 1.5,
        )
        r = ratio(ours_load["rss_peak"], rembg_load["rss_peak"])
        report.target(
            f"{clients}-client worker RSS (peak) vs rembg s",
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
            f"worker RSS flat over {soak_total} requests (after 100 -> end)",
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
