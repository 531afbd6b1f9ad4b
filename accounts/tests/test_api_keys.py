"""Named API keys: shown once, stored hashed, at most ten, managed from one page."""

from __future__ import annotations

import io
import logging
import re

import pytest
from django.core.management import call_command

from accounts.models import MAX_KEYS_PER_USER, ApiKey, digest

pytestmark = pytest.mark.django_db


def create_key(client, name: str):
    return client.post("/api-keys/", {"name": name}, follow=True)


def shown_key(response) -> str:
    match = re.search(r'value="(rbg_[A-Za-z0-9_\-]+)"', response.content.decode())
    assert match, "the new key is not on the page"
    return match.group(1)


def test_the_keys_page_needs_a_signed_in_user(client):
    response = client.get("/api-keys/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_new_key_is_shown_once(client, alice):
    client.force_login(alice)
    response = create_key(client, "Production")
    raw_key = shown_key(response)
    assert raw_key.startswith("rbg_")
    assert "no-store" in response["Cache-Control"]
    assert f'-H "x-api-key: {raw_key}"' in response.content.decode()  # the curl example

    page = client.get("/api-keys/").content.decode()
    assert raw_key not in page
    assert "Production" in page
    assert raw_key[:12] in page


def test_only_a_digest_of_the_key_is_stored(client, alice):
    client.force_login(alice)
    raw_key = shown_key(create_key(client, "Production"))
    key = ApiKey.objects.get()
    assert key.prefix == raw_key[:12]
    assert key.digest == digest(raw_key)
    assert raw_key not in key.digest
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    assert raw_key not in dump.getvalue()
    assert raw_key[12:] not in dump.getvalue()


def test_the_raw_key_never_reaches_the_logs(client, rmbg, small_car_jpeg, alice, caplog, settings):
    caplog.set_level(logging.DEBUG)
    settings.DEBUG = True  # Django logs every SQL statement in debug mode
    client.force_login(alice)
    raw_key = shown_key(create_key(client, "Production"))
    client.logout()
    assert rmbg(small_car_jpeg, headers={"x-api-key": raw_key}).status_code == 200
    assert rmbg(small_car_jpeg, headers={"x-api-key": raw_key + "x"}).status_code == 401
    assert caplog.records, "nothing was logged: the check below would prove nothing"
    secret_part = raw_key[12:]
    for record in caplog.records:
        assert secret_part not in record.getMessage()
        assert secret_part not in repr(record.args)


def test_a_key_needs_a_name(client, alice):
    client.force_login(alice)
    response = create_key(client, "   ")
    assert response.status_code == 400
    assert ApiKey.objects.count() == 0


def test_a_user_has_at_most_ten_keys(client, alice):
    client.force_login(alice)
    for n in range(MAX_KEYS_PER_USER):
        assert create_key(client, f"key {n}").status_code == 200
    response = create_key(client, "one too many")
    assert response.status_code == 400
    assert "at most 10 API keys" in response.content.decode()
    assert ApiKey.objects.filter(user=alice).count() == MAX_KEYS_PER_USER


def test_revoking_frees_a_slot(client, alice):
    for n in range(MAX_KEYS_PER_USER):
        ApiKey.issue(alice, f"key {n}")
    client.force_login(alice)
    client.post(f"/api-keys/{ApiKey.objects.first().pk}/revoke")
    assert create_key(client, "replacement").status_code == 200


def test_rename_changes_only_the_name(client, alice, alice_key):
    client.force_login(alice)
    key = ApiKey.objects.get()
    response = client.post(f"/api-keys/{key.pk}/rename", {"name": "CI runner"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "CI runner"
    assert ApiKey.objects.for_key(alice_key) == key


def test_revoke_stops_the_key_and_hides_it(client, alice, alice_key):
    client.force_login(alice)
    key = ApiKey.objects.get()
    client.post(f"/api-keys/{key.pk}/revoke")
    assert ApiKey.objects.for_key(alice_key) is None
    assert key.prefix not in client.get("/api-keys/").content.decode()


def test_nobody_can_touch_someone_elses_key(client, alice, alice_key, bob):
    client.force_login(bob)
    key = ApiKey.objects.get()
    assert client.post(f"/api-keys/{key.pk}/revoke").status_code == 404
    assert client.post(f"/api-keys/{key.pk}/rename", {"name": "mine"}).status_code == 404
    assert ApiKey.objects.for_key(alice_key) == key


def test_revoke_and_rename_need_post(client, alice, alice_key):
    client.force_login(alice)
    key = ApiKey.objects.get()
    assert client.get(f"/api-keys/{key.pk}/revoke").status_code == 405
    assert ApiKey.objects.for_key(alice_key) is not None


def test_the_command_prints_a_working_key_once(alice):
    out = io.StringIO()
    call_command("create_api_key", "--email", "alice@example.com", "--name", "cron", stdout=out)
    raw_key = out.getvalue().strip()
    assert ApiKey.objects.for_key(raw_key).user == alice


def test_the_command_can_create_a_verified_user(db):
    out = io.StringIO()
    call_command(
        "create_api_key",
        "--email",
        "ops@example.com",
        "--name",
        "ops",
        "--create-verified-user",
        stdout=out,
    )
    key = ApiKey.objects.for_key(out.getvalue().strip())
    assert key.user.email == "ops@example.com"
    assert key.user_email_verified is True
    assert not key.user.has_usable_password()


def test_the_command_refuses_an_unknown_user_without_the_flag(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--create-verified-user"):
        call_command("create_api_key", "--email", "nobody@example.com", "--name", "x")


def test_the_command_keeps_the_ten_key_limit(alice):
    from django.core.management.base import CommandError

    for n in range(MAX_KEYS_PER_USER):
        ApiKey.issue(alice, f"key {n}")
    with pytest.raises(CommandError, match="at most 10"):
        call_command("create_api_key", "--email", "alice@example.com", "--name", "x")


def test_the_admin_lists_keys_without_secrets(admin_client, alice, alice_key):
    page = admin_client.get("/admin/accounts/apikey/").content.decode()
    assert alice_key[:12] in page
    assert alice_key[12:] not in page
    assert admin_client.get("/admin/accounts/apikey/add/").status_code == 403
