"""Every page renders, for a visitor and for a signed-in user, with one navigation."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

PUBLIC = ["/", "/editor/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"]
SIGNED_IN = [
    "/api-keys/",
    "/dashboard/",
    "/billing/",
    "/accounts/email/",
    "/accounts/password/change/",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_a_visitor_sees_each_public_page(client, url):
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/accounts/signup/"' in html  # the visitor's navigation
    assert 'href="/dashboard/"' not in html


@pytest.mark.parametrize("url", SIGNED_IN)
def test_a_signed_in_user_sees_each_account_page(client, alice, url):
    client.force_login(alice)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/dashboard/"' in html and 'href="/billing/"' in html
    assert "Sign out" in html


@pytest.mark.parametrize("url", SIGNED_IN)
def test_account_pages_need_a_signed_in_user(client, url):
    page = client.get(url)
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/")


def test_the_usage_pages_batches_speak_thai(client, alice):
    from django.utils import timezone

    from batches.models import Batch, BatchFile

    now = timezone.now()
    batch = Batch.objects.create(
        user=alice, channel="api", options={}, deadline=now, finished_at=now, status=Batch.DONE
    )
    BatchFile.objects.create(batch=batch, index=0, name="a.jpg", status=BatchFile.FAILED)
    client.force_login(alice)
    html = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    for thai in ("ชุดงานล่าสุด", "เสร็จแล้ว", "เสร็จ 0 จาก 1", "ไม่สำเร็จ 1", "ดาวน์โหลด .zip"):
        assert thai in html, thai
    assert "ถูกลบ 24 ชั่วโมงหลังจากสร้าง" in html
