"""Several images at once: a queue processed in turn, each with its download, and a zip
of them all; and an image pasted from the clipboard."""

from __future__ import annotations

import base64
import io
import shutil
import zipfile

import pytest
from PIL import Image

from conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)
CAR, ANIME = DATA / "car-1.jpg", DATA / "anime-girl-1.jpg"


def watch_concurrency(page) -> None:
    """Record how many queue items were ever being sent or processed at the same time."""
    page.evaluate(
        """() => {
        window.mostAtOnce = 0;
        new MutationObserver(() => {
          const busy = document.querySelectorAll(
            '.queue-item[data-state=uploading], .queue-item[data-state=processing]').length;
          window.mostAtOnce = Math.max(window.mostAtOnce, busy);
        }).observe(document.getElementById('queue'),
                   {subtree: true, attributes: true, childList: true});
    }"""
    )


def wait_until_done(page, count: int) -> None:
    page.wait_for_function(
        """n => { const items = [...document.querySelectorAll('.queue-item')];
                  return items.length === n && items.every(li => li.dataset.state === 'done'); }""",
        arg=count,
    )


@pytest.mark.parametrize("width", [390, 1280])
def test_several_files_are_queued_processed_in_turn_and_zipped(
    page, live_server, screenshot, tmp_path, width
):
    same_stem = tmp_path / "car-1.jpeg"  # its cut-out would be named like car-1.jpg's
    shutil.copy(CAR, same_stem)
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    watch_concurrency(page)
    remaining = int(page.inner_text("#remaining"))
    page.set_input_files("#file", [str(CAR), str(ANIME), str(same_stem)])
    wait_until_done(page, 3)
    assert page.evaluate("window.mostAtOnce") == 1
    assert page.is_visible("#workspace")
    assert int(page.inner_text("#remaining")) == remaining - 3
    screenshot(f"editor-queue-{width}")

    second = page.locator(".queue-item").nth(1)
    assert second.locator(".queue-name").inner_text() == "anime-girl-1.jpg"
    with page.expect_download() as one:
        second.locator("[data-act=download]").click()
    assert one.value.suggested_filename == "anime-girl-1-cutout.png"
    one.value.save_as(tmp_path / "one.png")
    assert Image.open(tmp_path / "one.png").size == Image.open(ANIME).size

    with page.expect_download() as everything:
        page.click("#download-all")
    assert everything.value.suggested_filename == "cutouts.zip"
    everything.value.save_as(tmp_path / "all.zip")
    with zipfile.ZipFile(tmp_path / "all.zip") as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == ["car-1-cutout.png", "anime-girl-1-cutout.png", "car-1-cutout-2.png"]
        for name in names:
            image = Image.open(io.BytesIO(archive.read(name)))
            assert (image.format, image.mode) == ("PNG", "RGBA")
            assert image.getpixel((1, 1))[3] == 0


def test_an_image_pasted_anywhere_on_the_editor_is_processed(page, live_server, screenshot):
    page.goto(f"{live_server.url}/editor/")
    photo = base64.b64encode(CAR.read_bytes()).decode()
    page.evaluate(
        """async (photo) => {
        const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
        const data = new DataTransfer();
        data.items.add(new File([bytes], 'image.jpeg', {type: 'image/jpeg'}));
        document.querySelector('h1').dispatchEvent(
          new ClipboardEvent('paste', {clipboardData: data, bubbles: true}));
    }""",
        photo,
    )
    wait_until_done(page, 1)
    assert page.is_visible("#workspace")
    assert page.locator(".queue-name").inner_text().startswith("pasted-")
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.startswith("pasted-")
