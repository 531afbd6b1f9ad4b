"""The `cutout` command line, run as a process against the live server."""

from __future__ import annotations

import io

import cutout_client as cc
import pytest
from PIL import Image

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures for the live server (not a conftest.py: see live_fixtures.py).
pytest_plugins = ["live_fixtures"]


@pytest.fixture
def folder(tmp_path, small_car_jpeg):
    """in/car.jpg, in/sub/car.png, in/broken.jpg (not an image), in/notes.txt (ignored)."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "car.jpg").write_bytes(small_car_jpeg)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(small_car_jpeg)).save(buffer, "PNG")
    (root / "sub" / "car.png").write_bytes(buffer.getvalue())
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG" * 10)
    (root / "notes.txt").write_text("not sent")
    return root


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


def usage_of(server: str, key: str) -> int:
    with cc.Client(api_key=key, base_url=server) as client:
        return client.membership_usage().api_usage


def test_a_folder_with_one_broken_file(cutout, folder, tmp_path, server, alice_key):
    out = tmp_path / "out"
    done = cutout("remove", str(folder), "-o", str(out), "--format", "png", "--jobs", "2")
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "done 2, skipped 0, failed 1; 2 credits charged" in stderr
    assert "broken.jpg" in stderr and "could not be read as an image" in stderr.lower()
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["car.png", "sub/car.png"]
    assert image_size((out / "sub" / "car.png").read_bytes()) == (160, 120)
    assert usage_of(server, alice_key) == 2


def test_skip_existing_leaves_what_is_done_and_charges_nothing(
    cutout, folder, tmp_path, server, alice_key
):
    (folder / "broken.jpg").unlink()
    out = tmp_path / "out"
    pattern = str(folder / "**" / "*.*g")  # a glob, recursive: car.jpg and sub/car.png
    first = cutout("remove", pattern, "-o", str(out))
    assert first.returncode == 0, first.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == ["car-png.webp", "car.webp"]
    again = cutout("remove", pattern, "-o", str(out), "--skip-existing")
    assert again.returncode == 0
    assert "done 0, skipped 2, failed 0; 0 credits charged" in again.stderr.decode()
    assert usage_of(server, alice_key) == 2


def test_stdin_to_stdout(cutout, small_car_jpeg):
    done = cutout("remove", "-", "--format", "png", "--size", "80x", input=small_car_jpeg)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    assert image_size(done.stdout) == (80, 60)


def test_a_wrong_key_exits_3(cutout, folder, tmp_path, small_car_jpeg):
    out = tmp_path / "out"
    refused = cutout("remove", str(folder), "-o", str(out), "--jobs", "2", key="rbg_wrong")
    assert refused.returncode == 3
    assert "invalid api key" in refused.stderr.decode()
    assert not out.exists() or not any(out.rglob("*.webp"))
    assert cutout("remove", "-", input=small_car_jpeg, key="rbg_wrong").returncode == 3
    assert cutout("usage", key="rbg_wrong").returncode == 3


@pytest.mark.parametrize(
    "args",
    [
        ["remove", "{car}"],  # no -o
        ["remove", "{car}", "-o", "{out}", "--size", "big"],
        ["remove", "{missing}", "-o", "{out}"],
        ["remove", "-", "{car}"],
        ["remove", "{car}", "-o", "{out}", "--jobs", "0"],
        ["usage", "--month", "13"],
    ],
)
def test_usage_errors_exit_2_and_send_nothing(cutout, car, tmp_path, server, alice_key, args):
    names = {"car": car, "out": tmp_path / "out", "missing": tmp_path / "nope" / "*.jpg"}
    done = cutout(*(arg.format(**names) for arg in args))
    assert done.returncode == 2, done.stderr.decode()
    assert usage_of(server, alice_key) == 0


def test_usage_prints_tables(cutout, car, tmp_path):
    assert cutout("remove", str(car), "-o", str(tmp_path / "out")).returncode == 0
    report = cutout("usage")
    assert report.returncode == 0, report.stderr.decode()
    text = report.stdout.decode()
    assert "Membership usage" in text
    assert [line for line in text.splitlines() if "API usage" in line and " 1 " in line]
    cycles = cutout("usage", "--cycles")
    assert cycles.returncode == 0 and "Billing cycles" in cycles.stdout.decode()
