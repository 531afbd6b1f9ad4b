"""The admin signs in through allauth's login, under the same limits on failed attempts."""

from __future__ import annotations

import pytest

from accounts.tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts"


@pytest.fixture
def staff(db):
    return UserFactory(username="root", verified=True, is_staff=True, is_superuser=True)


def test_the_admin_login_page_sends_to_the_sites_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_a_staff_member_signs_in_to_the_admin_through_the_sites_login(client, staff):
    response = client.post(
        "/accounts/login/?next=/admin/", {"login": staff.email, "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_after_too_many_failures_the_admin_login_does_not_let_the_right_password_in(client, staff):
    for _ in range(10):
        page = client.post("/accounts/login/", {"login": staff.email, "password": "wrong"})
    assert LOCKED in page.content.decode()

    client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_a_signed_in_user_who_is_not_staff_is_refused(client, alice):
    client.force_login(alice)
    assert client.get("/admin/login/").status_code == 403
