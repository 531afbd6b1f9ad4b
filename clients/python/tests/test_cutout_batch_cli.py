"""`cutout batch`, `batch-status` and `batch-cancel`, run as processes against the live server."""

from __future__ import annotations

import csv
import re

import cutout_client as cc
import pytest

pytestmark = pytest.mark.django_db(transaction=True)
# Fixtures for the live server (not a conftest.py: see live_fixtures.py).
pytest_plugins = ["live_fixtures"]


@pytest.fixture
def folder(tmp_path, small_car_jpeg):
    """in/car.jpg, in/sub/car.jpg, in/sub/deep/car.jpg, in/broken.jpg (no image), in/notes.txt."""
    root = tmp_path / "in"
    (root / "sub" / "deep").mkdir(parents=True)
    for name in ("car.jpg", "sub/car.jpg", "sub/deep/car.jpg"):
        (root / name).write_bytes(small_car_jpeg)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no JPEG" * 10)
    (root / "notes.txt").write_text("not sent")
    return root


def usage_of(server: str, key: str) -> int:
    with cc.Client(api_key=key, base_url=server) as client:
        return client.membership_usage().api_usage


def written(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_folder_goes_in_batches_with_a_progress_bar_and_its_failure_listed(
    cutout, folder, tmp_path, server, alice_key
):
    out = tmp_path / "out"
    done = cutout("batch", str(folder), "--out", str(out), "--format", "png", "--max-files", "2")
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert "done 3, skipped 0, failed 1; 3 credits charged; 2 batches" in stderr
    assert re.search(r"failed\s+\S*broken\.jpg: File could not be read as an image", stderr)
    assert re.search(r"done\s.*\s4/4", stderr)  # the bar, over every file, at its end
    assert len(re.findall(r"batch [0-9a-f-]{36}", stderr)) == 2
    assert written(out) == ["car.png", "errors.csv", "sub/car.png", "sub/deep/car.png"]
    with (out / "errors.csv").open(newline="") as table:
        rows = list(csv.reader(table))
    assert rows[0] == ["input", "error", "batch"] and rows[1][0].endswith("broken.jpg")
    assert usage_of(server, alice_key) == 3

    (folder / "broken.jpg").unlink()
    again = cutout("batch", str(folder), "-o", str(out), "--format", "png")
    assert again.returncode == 0, again.stderr.decode()
    assert "done 0, skipped 3, failed 0; 0 credits charged; 0 batches" in again.stderr.decode()
    assert written(out) == ["car.png", "sub/car.png", "sub/deep/car.png"]  # errors.csv: old news
    assert usage_of(server, alice_key) == 3

    one = str(folder / "car.jpg")
    redo = cutout("batch", one, "-o", str(out), "--format", "png", "--overwrite")
    assert redo.returncode == 0 and "done 1, skipped 0" in redo.stderr.decode()


def test_batch_status_and_cancel_show_a_batch(cutout, car, alice_client):
    batch = alice_client.create_batch([car, car]).wait(poll=0.1)
    status = cutout("batch-status", batch.id, "--files")
    text = status.stdout.decode()
    assert status.returncode == 0, status.stderr.decode()
    assert f"Batch {batch.id}" in text and re.search(r"Status\W+done", text)
    assert re.search(r"done\W+2", text)
    # Two inputs of one name: the second output is named as result.zip names it.
    assert re.search(r"1\W+car\.jpg\W+done\W+car \(2\)\.webp", text)
    cancel = cutout("batch-cancel", batch.id)  # ended already: nothing to cancel
    assert cancel.returncode == 0 and re.search(r"Status\W+done", cancel.stdout.decode())
    missing = cutout("batch-status", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 1 and "Batch not found." in missing.stderr.decode()


def test_a_wrong_key_exits_3_and_a_missing_input_2(cutout, folder, tmp_path, server, alice_key):
    out = tmp_path / "out"
    refused = cutout("batch", str(folder), "-o", str(out), key="rbg_wrong")
    assert refused.returncode == 3 and "invalid api key" in refused.stderr.decode()
    assert cutout("batch-status", "x", key="rbg_wrong").returncode == 3
    missing = cutout("batch", str(tmp_path / "nope" / "*.jpg"), "-o", str(out))
    assert missing.returncode == 2 and "no such file" in missing.stderr.decode()
    assert cutout("batch", str(folder)).returncode == 2  # no --out
    assert usage_of(server, alice_key) == 0
