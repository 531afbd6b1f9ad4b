"""The whole journey over HTTP, and sign-up/login/reset without user enumeration."""

from __future__ import annotations

import re

import pytest
import requests
from django.core import mail

from accounts.tests.factories import PASSWORD
from conftest import DATA

pytestmark = pytest.mark.django_db(transaction=True)


class Browser:
    """A requests session that fills in Django's CSRF token like a browser form."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.url(path), timeout=30)

    def submit(self, path: str, data: dict, page: str | None = None) -> requests.Response:
        html = page if page is not None else self.get(path).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        return self.session.post(
            self.url(path),
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": self.url(path)},
            timeout=30,
        )

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path


def test_sign_up_verify_create_key_use_it_revoke_it(live_server, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="removal.views")
    browser = Browser(live_server.url)
    email = "carol@example.com"

    response = browser.submit(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 200
    assert "/accounts/confirm-email/" in response.url
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [email]
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", mail.outbox[0].body).group(0)

    # Before verifying, login does not let Carol in.
    confirm_page = browser.get(link)
    assert confirm_page.status_code == 200
    confirmed = browser.submit(link, {}, page=confirm_page.text)
    assert confirmed.status_code == 200

    created = browser.submit("/api-keys/", {"name": "my script"})
    assert created.status_code == 200
    raw_key = re.search(r'value="(rbg_[A-Za-z0-9_\-]+)"', created.text).group(1)

    with open(DATA / "car-1.jpg", "rb") as photo:
        ok = requests.post(
            f"{live_server.url}/rmbg",
            headers={"x-api-key": raw_key},
            files={"image": ("car-1.jpg", photo)},
            data={"format": "png"},
            timeout=60,
        )
    assert ok.status_code == 200
    assert ok.headers["Content-Type"] == "image/png"
    assert re.search(rf"channel=api user=\d+ key={re.escape(raw_key[:12])}", caplog.text)

    keys_page = browser.get("/api-keys/").text
    key_id = re.search(r"/api-keys/(\d+)/revoke", keys_page).group(1)
    browser.submit(f"/api-keys/{key_id}/revoke", {}, page=keys_page)

    with open(DATA / "car-1.jpg", "rb") as photo:
        refused = requests.post(
            f"{live_server.url}/rmbg",
            headers={"x-api-key": raw_key},
            files={"image": ("car-1.jpg", photo)},
            timeout=60,
        )
    assert refused.status_code == 401
    assert refused.json() == {"error": "invalid api key", "status": 401}


def test_an_unverified_user_cannot_sign_in(live_server, bob):
    browser = Browser(live_server.url)
    response = browser.submit("/accounts/login/", {"login": bob.email, "password": PASSWORD})
    assert "/accounts/confirm-email/" in response.url
    assert browser.get("/api-keys/").url.startswith(f"{live_server.url}/accounts/login/")


CSRF_VALUE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def same_page(text: str, address: str) -> str:
    """The page without the address and the per-session CSRF token (the footer has a form)."""
    return CSRF_VALUE.sub("", text.replace(address, "ADDRESS"))


def test_sign_up_with_a_taken_address_looks_the_same(live_server, alice):
    taken = Browser(live_server.url).submit(
        "/accounts/signup/",
        {"email": alice.email, "password1": PASSWORD, "password2": PASSWORD},
    )
    fresh = Browser(live_server.url).submit(
        "/accounts/signup/",
        {"email": "dave@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert taken.status_code == fresh.status_code == 200
    assert taken.url == fresh.url
    assert same_page(taken.text, alice.email) == same_page(fresh.text, "dave@example.com")
    # The owner of the taken address hears about it by mail instead.
    assert {m.to[0] for m in mail.outbox} == {alice.email, "dave@example.com"}


def test_password_reset_does_not_reveal_whether_an_address_exists(live_server, alice):
    known = Browser(live_server.url).submit("/accounts/password/reset/", {"email": alice.email})
    unknown = Browser(live_server.url).submit(
        "/accounts/password/reset/", {"email": "nobody@example.com"}
    )
    assert known.status_code == unknown.status_code == 200
    assert known.url == unknown.url
    assert same_page(known.text, alice.email) == same_page(unknown.text, "nobody@example.com")


def test_a_wrong_password_does_not_reveal_whether_the_address_exists(live_server, alice):
    wrong = Browser(live_server.url).submit(
        "/accounts/login/", {"login": alice.email, "password": "wrong password"}
    )
    unknown = Browser(live_server.url).submit(
        "/accounts/login/", {"login": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 200
    message = "The e-mail address and/or password you specified are not correct."
    assert message in wrong.text and message in unknown.text


def test_repeated_failed_logins_are_rate_limited(live_server, alice):
    browser = Browser(live_server.url)
    pages = [
        browser.submit("/accounts/login/", {"login": alice.email, "password": "nope"}).text
        for _ in range(6)
    ]
    locked = "Too many failed login attempts. Try again later."
    assert locked not in pages[0]
    assert locked in pages[-1]
    # Even the right password is refused while the lock lasts.
    right = browser.submit("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert locked in right.text
