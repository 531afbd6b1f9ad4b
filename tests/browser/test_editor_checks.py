"""The editor refuses a file the API would refuse before uploading a byte of it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def sent_to_api(page) -> list:
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/rmbg") else None)
    return requests


@pytest.mark.parametrize("width", [390, 1280])
def test_a_file_over_the_size_limit_is_refused_without_uploading(
    page, live_server, screenshot, tmp_path, width
):
    big = tmp_path / "huge.png"
    with open(big, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.truncate(51 * 1024 * 1024)  # sparse: 51 MB on paper, nothing on disk
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    assert "up to 50 MB · up to 10000 px a side" in page.inner_text("#dropzone")
    sent = sent_to_api(page)
    page.set_input_files("#file", str(big))
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == (
        "File size (51.0 MB) exceeds the maximum allowed size of 50 MB."
    )
    assert page.is_hidden("#status")
    assert sent == []
    screenshot(f"editor-too-big-{width}")


def test_a_file_of_the_wrong_type_is_refused_without_uploading(page, live_server, tmp_path):
    tiff = tmp_path / "scan.tiff"
    tiff.write_bytes(b"II*\x00" + bytes(64))
    page.goto(f"{live_server.url}/editor/")
    sent = sent_to_api(page)
    page.set_input_files("#file", str(tiff))
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error").startswith("File type '.tiff' is not supported.")
    assert sent == []
