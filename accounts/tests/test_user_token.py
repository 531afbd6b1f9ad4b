"""The user token of our own pages ends with the sign-in it came from."""

from __future__ import annotations

import re

import pytest

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another horse battery staple"  # noqa: S105 - test fixture


@pytest.fixture
def signed_in(client, alice):
    response = client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert response.status_code == 302
    return client


def editor_token(client) -> str:
    page = client.get("/editor/").content.decode()
    token = re.search(r'data-token="([^"]*)"', page).group(1)
    assert token
    return token


def calls_with(rmbg, image: bytes, token: str) -> int:
    return rmbg(image, headers={"Authorization": f"Bearer {token}"}).status_code


def test_the_editors_token_works_while_signed_in(signed_in, rmbg, small_car_jpeg):
    assert calls_with(rmbg, small_car_jpeg, editor_token(signed_in)) == 200


def test_the_token_is_refused_after_logout(signed_in, rmbg, small_car_jpeg):
    token = editor_token(signed_in)
    assert signed_in.post("/accounts/logout/").status_code == 302
    response = rmbg(small_car_jpeg, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or expired user token", "status": 401}


def test_the_token_is_refused_after_a_password_change(signed_in, rmbg, small_car_jpeg):
    token = editor_token(signed_in)
    changed = signed_in.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert calls_with(rmbg, small_car_jpeg, token) == 401
    # Still signed in: the page hands out a fresh token that works.
    assert calls_with(rmbg, small_car_jpeg, editor_token(signed_in)) == 200


def test_a_password_set_elsewhere_ends_the_token_too(signed_in, rmbg, small_car_jpeg, alice):
    token = editor_token(signed_in)
    alice.set_password(NEW_PASSWORD)  # e.g. by a reset link, or in the admin
    alice.save()
    assert calls_with(rmbg, small_car_jpeg, token) == 401


def test_the_page_embedding_the_token_is_never_cached(signed_in):
    response = signed_in.get("/editor/")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
