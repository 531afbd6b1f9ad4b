"""The usage page warns before and when the included credits run out; its chart reads on a
phone; it lists recent batches with their zips."""

from __future__ import annotations

import zipfile
from pathlib import PurePath

import pytest
import requests
from django.utils import timezone

from batches import engine
from batches.models import Batch, BatchFile
from billing.models import Charge
from billing.tests.helpers import put_on_plan

# Autouse there, so here too: batches stored per test, none in flight at its end.
from tests.browser.test_editor_bulk import PHOTOS, batch_storage, engine_drained  # noqa: F401
from tests.browser.test_layout import overflow
from tests.browser.test_pages import post_with_key, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def use(live_server, raw_key: str, n: int) -> None:
    for _ in range(n):
        assert post_with_key(live_server, raw_key).status_code == 200


@pytest.mark.parametrize("width", [390, 1280])
def test_it_warns_at_80_and_100_percent_and_its_labels_are_readable(
    page, live_server, alice, alice_key, settings, screenshot, width
):
    settings.STRIPE_SECRET_KEY = ""
    put_on_plan(alice, included=10)
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, alice.email)
    use(live_server, alice_key, 7)
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#usage-warning").count() == 0

    use(live_server, alice_key, 1)
    page.reload()
    assert "You have used 80 % of the included credits" in page.inner_text("#usage-warning")
    for label in ("#chart-peak", "#chart-axis span >> nth=0", "#chart-axis span >> nth=1"):
        size = page.locator(label).evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        box = page.locator(label).bounding_box()
        assert size >= 12 and box["height"] >= 12, (label, size, box)
    screenshot(f"usage-80-{width}")

    use(live_server, alice_key, 2)
    page.reload()
    warning = page.inner_text("#usage-warning")
    assert "You have used all 10 included credits" in warning
    assert "ask the administrator" in warning and "Buy" not in warning
    screenshot(f"usage-100-{width}")


@pytest.mark.parametrize("width", [390, 1280])
def test_recent_batches_are_listed_with_their_zips(
    page,
    live_server,
    alice,
    alice_key,
    bob,
    screenshot,
    tmp_path,
    width,
):
    """A batch outlives the editor's tab: the usage page is where its zip is found again."""
    key = {"X-API-Key": alice_key}
    put_on_plan(alice, included=20)
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, alice.email)
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#recent-batches").count() == 0  # nothing to show a newcomer

    photos = [("image", (p.name, p.read_bytes(), "image/jpeg")) for p in PHOTOS[:2]]
    made = requests.post(f"{live_server.url}/api/batches", headers=key, files=photos, timeout=60)
    assert made.status_code == 202, made.text
    engine.pool().submit(lambda: None).result()  # its one thread has run both files
    assert Batch.objects.get(pk=made.json()["id"]).status == Batch.DONE
    waiting = Batch.objects.create(
        user=alice, channel=Charge.API, options={}, deadline=timezone.now()
    )
    BatchFile.objects.create(batch=waiting, index=0, name="later.jpg")
    Batch.objects.create(user=bob, channel=Charge.API, options={}, deadline=timezone.now())

    page.reload()
    rows = page.eval_on_selector_all(
        "#recent-batches tbody tr",
        """trs => trs.map(tr => [tr.dataset.batch,
                                 tr.querySelector('.batch-status').textContent,
                                 tr.querySelector('.batch-counts').textContent,
                                 tr.querySelector('.batch-credits').textContent,
                                 tr.querySelectorAll('a[download]').length])""",
    )
    assert rows == [
        [str(waiting.pk), "Queued", "0 of 1 done", "0", 0],
        [made.json()["id"], "Done", "2 of 2 done", "2", 1],
    ]
    with page.expect_download() as zipped:
        page.click(f"#recent-batches tr[data-batch='{made.json()['id']}'] a[download]")
    zipped.value.save_as(tmp_path / "batch.zip")
    with zipfile.ZipFile(tmp_path / "batch.zip") as archive:
        assert sorted(PurePath(n).stem for n in archive.namelist()) == sorted(
            p.stem for p in PHOTOS[:2]
        )

    # Last, so the server's download thread has ended before the test does.
    assert "deleted 24 hours after" in page.inner_text("#recent-batches")
    screenshot(f"usage-batches-{width}")
    assert overflow(page) == 0
