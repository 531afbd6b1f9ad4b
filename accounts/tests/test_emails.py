"""E-mails greet people by what they know (their address or a name they set) and
name the site, not the host it was reached on."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_sign_up_e_mail_greets_the_address_and_names_the_site(client):
    client.post(
        "/accounts/signup/",
        {"email": "newbie.walker@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    message = mail.outbox[-1]
    assert message.body.startswith("Hello newbie.walker@example.com,")
    assert "create an account on Cutout." in message.body
    assert "user newbie" not in message.body and "testserver" not in message.body.split("http")[0]
    assert message.subject.startswith("[Cutout] ")


def test_the_reset_e_mail_greets_a_name_the_person_set(client, alice):
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()
    client.post("/accounts/password/reset/", {"email": alice.email})
    body = mail.outbox[-1].body
    assert body.startswith("Hello Alice Liddell,")
    assert "Thank you for using Cutout." in body
    assert "testserver" not in body.replace("http://testserver/", "")
