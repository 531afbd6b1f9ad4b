"""The editor's bulk mode: many photos, or a .zip of them, sent as one batch to the real
/api/batches and processed by the in-process batch engine of the live server; progress per
file, cancel, a reload in the middle, limits and refusals, and the zip at the end."""

from __future__ import annotations

import io
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from batches import engine
from billing.tests.helpers import put_on_plan
from conftest import DATA
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_csp import RECORD_VIOLATIONS
from tests.browser.test_languages import thai_page  # noqa: F401 - a fixture
from tests.browser.test_layout import overflow
from tests.browser.test_pages import sign_in

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "photos"
PHOTOS = [DATA / "car-1.jpg", DATA / "anime-girl-1.jpg", FIXTURES / "cloth-1.jpg"]
MONTHLY_LIMIT = "You've reached your monthly limit. Consider purchasing more credits."


@pytest.fixture(autouse=True)
def batch_storage(settings, tmp_path):
    """Each test's batches in a directory of its own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "batches": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "batches")},
        },
    }


@pytest.fixture(autouse=True)
def engine_drained():
    """No batch work still in flight when the test's database is emptied (its one thread
    runs tasks in turn: a task queued now runs after every earlier one)."""
    yield
    engine.pool().submit(lambda: None).result()


@pytest.fixture
def held_engine():
    """The in-process engine's one thread kept busy: a batch made meanwhile stays queued
    until the test lets it go."""
    release = threading.Event()
    busy = engine.pool().submit(release.wait, 60)
    yield release
    release.set()
    busy.result()
    engine.pool().submit(lambda: None).result()  # whatever was queued behind it has run


@pytest.fixture
def bulk_page(page, live_server, alice):
    """The editor, signed in as alice with 20 credits, bulk mode on; CSP violations recorded."""
    put_on_plan(alice, included=20)
    page.add_init_script(RECORD_VIOLATIONS)
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/editor/")
    page.check("#bulk-mode")
    page.evaluate(
        """() => {
        window.bulkStates = new Set();
        new MutationObserver(() => document.querySelectorAll('.bulk-item')
            .forEach((li) => window.bulkStates.add(li.dataset.state)))
          .observe(document.getElementById('bulk-list'),
                   {subtree: true, attributes: true, childList: true});
    }"""
    )
    return page


def rows(page) -> list[tuple[str, str, str]]:
    """(name, state, words shown) of every file of the batch."""
    return page.eval_on_selector_all(
        ".bulk-item",
        """items => items.map(li => [li.querySelector('.queue-name').textContent,
                                     li.dataset.state,
                                     li.querySelector('.queue-state').textContent])""",
    )


def wait_for_states(page, state: str, count: int) -> None:
    page.wait_for_function(
        "([state, n]) => document.querySelectorAll(`.bulk-item[data-state=${state}]`).length === n",
        arg=[state, count],
    )


def wait_for_thumbnails(page) -> None:
    """Every thumbnail shown (they load lazily, as they come into view)."""
    for image in page.locator(".bulk-item img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.bulk-item img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def remaining(page) -> int:
    return int(page.inner_text("#remaining"))


def wait_until_ended(page) -> None:
    page.wait_for_selector("#bulk[data-stage=finished]", timeout=120_000)


@pytest.mark.parametrize("width", [390, 1280])
def test_photos_go_as_one_batch_show_each_files_progress_and_come_back_as_one_zip(
    bulk_page, held_engine, screenshot, tmp_path, width
):
    page = bulk_page
    page.set_viewport_size({"width": width, "height": 844})
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    summary = page.inner_text("#bulk-summary")
    assert summary == "3 images · 3 credits of the 20 you have"
    assert [name for name, _, _ in rows(page)] == [p.name for p in PHOTOS]
    assert page.is_enabled("#bulk-start")
    screenshot(f"editor-bulk-ready-{width}")
    assert overflow(page) == 0

    with page.expect_request("**/api/batches") as sent:
        page.click("#bulk-start")
    assert sent.value.method == "POST"
    status_url = sent.value.response().json()["status_url"]
    assert sent.value.post_data_buffer.count(b'name="image"') == 3
    wait_for_states(page, "queued", 3)
    assert remaining(page) == 17  # reserved at once, as the server counts them
    assert page.is_visible("#bulk-cancel") and page.is_hidden("#bulk-zip")
    screenshot(f"editor-bulk-queued-{width}")
    assert overflow(page) == 0

    held_engine.set()
    wait_until_ended(page)
    assert [(name, state) for name, state, _ in rows(page)] == [(p.name, "done") for p in PHOTOS]
    assert {"queued", "done"} <= set(page.evaluate("[...window.bulkStates]"))
    assert page.inner_text("#bulk-counts") == "3 of 3 done"
    assert "3 images are ready" in page.inner_text("#bulk-summary")
    assert remaining(page) == 17
    # Each thumbnail is the file's own output, from the API.
    thumbs = page.eval_on_selector_all(".bulk-item img", "imgs => imgs.map(i => i.src)")
    assert thumbs == [f"{status_url}/files/{i}" for i in range(3)]
    wait_for_thumbnails(page)
    screenshot(f"editor-bulk-done-{width}")
    assert overflow(page) == 0

    with page.expect_download() as zipped:
        page.click("#bulk-zip")
    zipped.value.save_as(tmp_path / "batch.zip")
    with zipfile.ZipFile(tmp_path / "batch.zip") as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == 3
        for name in names:
            image = Image.open(io.BytesIO(archive.read(name)))
            assert (image.format, image.mode) == ("PNG", "RGBA")
            assert image.getpixel((1, 1))[3] == 0
    assert page.evaluate("window.cspViolations") == []


def test_a_reload_in_the_middle_picks_the_batch_up_again(bulk_page, held_engine):
    page = bulk_page
    page.set_input_files("#file", [str(p) for p in PHOTOS[:2]])
    page.click("#bulk-start")
    wait_for_states(page, "queued", 2)

    page.reload()
    wait_for_states(page, "queued", 2)
    assert page.is_visible("#bulk-cancel")
    assert remaining(page) == 18  # the server holds the two credits: the page says so too
    held_engine.set()
    wait_until_ended(page)
    assert [state for _, state, _ in rows(page)] == ["done", "done"]
    assert page.is_visible("#bulk-zip")
    assert remaining(page) == 18
    page.reload()  # an ended batch stays on the page until it is put away
    wait_until_ended(page)
    page.click("#bulk-new")
    assert page.is_hidden("#bulk")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.is_hidden("#bulk")


def test_cancel_stops_the_files_not_started_and_gives_their_credits_back(
    bulk_page, held_engine, screenshot
):
    page = bulk_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    assert focused(page) == "bulk-start"
    page.keyboard.press("Enter")  # all by keyboard: the focus follows the buttons
    wait_for_states(page, "queued", 3)
    assert remaining(page) == 17
    assert focused(page) == "bulk-cancel"

    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        page.keyboard.press("Enter")
    assert answer.value.status == 200
    wait_until_ended(page)
    assert focused(page) == "bulk-new"
    assert [(state, words) for _, state, words in rows(page)] == [("cancelled", "Cancelled")] * 3
    assert page.inner_text("#bulk-counts") == "0 of 3 done · 3 cancelled"
    # The bar counts the files processed, not the ones cancelled: it stays empty.
    assert page.eval_on_selector("#bulk-progress", "bar => bar.value") == 0
    assert "cost nothing" in page.inner_text("#bulk-summary")
    assert remaining(page) == 20
    assert page.is_hidden("#bulk-zip") and page.is_hidden("#bulk-cancel")
    assert page.is_visible("#bulk-new")
    screenshot("editor-bulk-cancelled-390")
    assert page.evaluate("window.cspViolations") == []


def test_a_batch_beyond_the_credits_left_cannot_start(bulk_page, alice):
    page = bulk_page
    put_on_plan(alice, included=2)
    page.reload()
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    assert page.inner_text("#bulk-short") == (
        "Not enough credits: this batch needs 3 and you have 2."
    )
    assert page.is_disabled("#bulk-start")


def test_a_429_from_the_server_is_shown_in_the_pages_error_box(bulk_page, alice, screenshot):
    page = bulk_page
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    put_on_plan(alice, included=2)  # spent elsewhere since the page was made
    with page.expect_response("**/api/batches") as answer:
        page.click("#bulk-start")
    assert answer.value.status == 429
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == MONTHLY_LIMIT
    # The page now shows the balance the server gave (X-Credits-Available).
    assert remaining(page) == 2
    assert page.inner_text("#bulk-short") == (
        "Not enough credits: this batch needs 3 and you have 2."
    )
    assert "20 you have" not in page.inner_text("#bulk")
    assert page.get_attribute("#error", "role") == "alert"
    # Nothing was sent to work on: the files wait; one fewer can go.
    assert page.get_attribute("#bulk", "data-stage") == "ready"
    assert [state for _, state, _ in rows(page)] == ["ready"] * 3
    assert page.is_disabled("#bulk-start")
    screenshot("editor-bulk-429-1280")


def test_a_zip_is_counted_sent_whole_and_its_images_come_back_with_the_options(
    bulk_page, tmp_path, screenshot
):
    page = bulk_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.uncheck("#bulk-mode")  # a .zip needs no switch
    archive = tmp_path / "shoot.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(PHOTOS[0], "shoot/car-1.jpg")
        out.write(PHOTOS[1], "shoot/anime-girl-1.jpg")
        out.writestr("__MACOSX/shoot/._car-1.jpg", b"\0\5\26\7")
        out.writestr("shoot/notes.txt", b"taken on Tuesday")
    page.set_input_files("#file", str(archive))
    page.wait_for_selector(".bulk-item >> text=2 images inside")
    assert page.is_checked("#bulk-mode")
    assert page.inner_text("#bulk-summary") == "2 images · 2 credits of the 20 you have"
    screenshot("editor-bulk-zip-ready-390")

    page.select_option("#bulk-format", "jpeg")
    page.fill("#bulk-bg-name", "red")
    page.fill("#bulk-width", "200")
    with page.expect_request("**/api/batches") as sent:
        page.click("#bulk-start")
    body = sent.value.post_data_buffer
    for field, value in [("format", b"jpeg"), ("bg_color", b"red"), ("w", b"200")]:
        assert f'name="{field}"\r\n\r\n'.encode() + value in body
    wait_until_ended(page)
    assert [(name, state) for name, state, _ in rows(page)] == [
        ("shoot/car-1.jpg", "done"),
        ("shoot/anime-girl-1.jpg", "done"),
        ("shoot/notes.txt", "failed"),
    ]
    assert "not supported" in rows(page)[2][2]
    assert page.inner_text("#bulk-counts") == "2 of 3 done · 1 failed"
    assert remaining(page) == 18
    screenshot("editor-bulk-zip-done-390")

    with page.expect_download() as zipped:
        page.click("#bulk-zip")
    zipped.value.save_as(tmp_path / "result.zip")
    with zipfile.ZipFile(tmp_path / "result.zip") as result:
        images = [n for n in result.namelist() if n != "errors.csv"]
        assert len(images) == 2 and "errors.csv" in result.namelist()
        for name in images:
            image = Image.open(io.BytesIO(result.read(name)))
            assert image.format == "JPEG" and image.width == 200
            red, green, blue = image.convert("RGB").getpixel((1, 1))
            assert red > 200 and green < 60 and blue < 60


def test_a_refused_zip_says_why_in_the_pages_error_box(bulk_page, tmp_path):
    page = bulk_page
    archive = tmp_path / "escape.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.write(PHOTOS[0], "../car-1.jpg")
    page.set_input_files("#file", str(archive))
    with page.expect_response("**/api/batches") as answer:
        page.click("#bulk-start")
    assert answer.value.status == 400
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error") == "Archive 'escape.zip' has an unsafe path: '../car-1.jpg'."
    assert remaining(page) == 20


def test_more_than_ten_photos_are_offered_as_a_batch(bulk_page, tmp_path):
    page = bulk_page
    page.uncheck("#bulk-mode")
    copies = []
    for n in range(11):
        copies.append(tmp_path / f"car-{n}.jpg")
        shutil.copy(PHOTOS[0], copies[-1])
    sent = []
    page.on("request", lambda request: sent.append(request.url))
    page.set_input_files("#file", [str(c) for c in copies])
    assert page.is_checked("#bulk-mode")
    assert len(rows(page)) == 11 and "11 images" in page.inner_text("#bulk-summary")
    page.wait_for_timeout(500)
    assert not [url for url in sent if "/rmbg" in url or "/api/batches" in url]
    assert page.is_hidden("#queue-box")


@pytest.mark.parametrize("width", [390, 1280])
def test_the_bulk_mode_speaks_thai(thai_page, live_server, alice, width):  # noqa: F811
    page = thai_page
    page.set_viewport_size({"width": width, "height": 844})
    put_on_plan(alice, included=20)
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/editor/")
    assert "ประมวลผลเป็นชุด" in page.inner_text(".bulk-toggle")
    page.check("#bulk-mode")
    page.set_input_files("#file", [str(p) for p in PHOTOS[:2]])
    assert page.inner_text("#bulk-summary") == "2 ภาพ · ใช้ 2 เครดิต จาก 20 ที่คุณมี"
    assert page.inner_text("#bulk-start") == "เริ่มชุดงาน"
    page.screenshot(path=str(ARTIFACTS / f"editor-bulk-th-ready-{width}.png"), full_page=True)
    page.click("#bulk-start")
    wait_until_ended(page)
    assert page.inner_text("#bulk-counts") == "เสร็จ 2 จาก 2"
    assert page.inner_text("#bulk-summary") == "เสร็จแล้ว: พร้อม 2 ภาพ"
    assert [words for _, _, words in rows(page)] == ["เสร็จแล้ว"] * 2
    page.screenshot(path=str(ARTIFACTS / f"editor-bulk-th-done-{width}.png"), full_page=True)
    assert overflow(page) == 0


def test_a_batch_over_the_apis_limits_is_refused_before_it_is_uploaded(bulk_page, settings):
    page = bulk_page
    settings.BATCH_MAX_FILES = 2
    page.reload()
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    assert page.inner_text("#bulk-short") == "Too many files: a batch takes at most 2 images."
    assert page.is_disabled("#bulk-start")

    settings.BATCH_MAX_FILES = 500
    settings.BATCH_MAX_MB = 0.25  # the three photos weigh more than 256 KB together
    assert sum(p.stat().st_size for p in PHOTOS) > 256 * 1024
    page.reload()
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    assert page.inner_text("#bulk-short") == "The batch exceeds the maximum total size of 0.25 MB."
    assert page.is_disabled("#bulk-start")
