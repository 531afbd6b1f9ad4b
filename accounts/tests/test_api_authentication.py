"""Who is calling /rmbg: API key (api), user token or session (app), or nobody (app, by IP)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from accounts.authentication import USER_TOKEN_SALT, issue_user_token
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="removal.views")
    return caplog


def test_a_valid_key_calls_as_its_user_on_the_api_channel(
    rmbg, small_car_jpeg, alice, alice_key, log
):
    response = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert response.status_code == 200
    assert f"channel=api user={alice.pk} key={alice_key[:12]}" in log.text


def test_an_unknown_key_is_401_with_www_authenticate(rmbg, small_car_jpeg, alice_key):
    forged = alice_key[:-4] + ("AAAA" if not alice_key.endswith("AAAA") else "BBBB")
    response = rmbg(small_car_jpeg, headers={"x-api-key": forged})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid api key", "status": 401}
    assert response["WWW-Authenticate"] == 'ApiKey header="x-api-key"'


@pytest.mark.parametrize("value", ["", "nonsense", "rbg_short", "Bearer rbg_x"])
def test_a_malformed_key_is_401(rmbg, small_car_jpeg, value):
    response = rmbg(small_car_jpeg, headers={"x-api-key": value})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid api key", "status": 401}


def test_a_revoked_key_fails_at_once(rmbg, small_car_jpeg, alice_key):
    assert rmbg(small_car_jpeg, headers={"x-api-key": alice_key}).status_code == 200
    ApiKey.objects.get().revoke()
    response = rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid api key"


def test_a_deactivated_users_key_is_refused(rmbg, small_car_jpeg, alice, alice_key):
    alice.is_active = False
    alice.save()
    assert rmbg(small_car_jpeg, headers={"x-api-key": alice_key}).status_code == 401


def test_an_unverified_users_key_is_403(rmbg, small_car_jpeg, bob_key):
    response = rmbg(small_car_jpeg, headers={"x-api-key": bob_key})
    assert response.status_code == 403
    assert response.json() == {
        "error": "Email address not verified – please check your inbox",
        "status": 403,
    }


def test_key_and_user_token_together_are_a_400(rmbg, small_car_jpeg, alice, alice_key):
    headers = {"x-api-key": alice_key, "Authorization": f"Bearer {issue_user_token(alice)}"}
    response = rmbg(small_car_jpeg, headers=headers)
    assert response.status_code == 400
    assert response.json() == {
        "error": "This is a mistake: Cannot use both API key and user token",
        "status": 400,
    }


def test_the_user_token_calls_on_the_app_channel(rmbg, small_car_jpeg, alice, log):
    headers = {"Authorization": f"Bearer {issue_user_token(alice)}"}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert f"channel=app user={alice.pk}" in log.text
    assert "key=" not in log.text


def test_an_expired_user_token_is_401(rmbg, small_car_jpeg, alice, settings):
    token = issue_user_token(alice)
    settings.USER_TOKEN_MAX_AGE = -1
    response = rmbg(small_car_jpeg, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"error": "invalid or expired user token", "status": 401}
    assert "WWW-Authenticate" in response


def test_a_forged_user_token_is_401(rmbg, small_car_jpeg, alice):
    token = signing.dumps({"uid": alice.pk}, key="not-our-secret", salt=USER_TOKEN_SALT)
    response = rmbg(small_car_jpeg, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_signed_in_session_is_the_app_channel_and_needs_csrf(client, small_car_jpeg, alice, log):
    from django.test import Client

    from removal.tests.helpers import multipart

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    body, content_type = multipart({}, {"image": ("car.jpg", small_car_jpeg)})
    refused = strict.post("/rmbg", body, content_type=content_type)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]

    strict.get("/api-keys/")  # sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    accepted = strict.post("/rmbg", body, content_type=content_type, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    assert f"channel=app user={alice.pk}" in log.text


def test_a_signed_in_user_may_paste_an_api_key(client, rmbg, small_car_jpeg, alice, alice_key, log):
    # The interactive API reference: session cookie and x-api-key together.
    client.force_login(alice)
    assert rmbg(small_car_jpeg, headers={"x-api-key": alice_key}).status_code == 200
    assert "channel=api" in log.text


def test_nobody_is_anonymous_on_the_app_channel_by_ip(rmbg, small_car_jpeg, log):
    assert rmbg(small_car_jpeg).status_code == 200
    assert "channel=app anonymous ip=127.0.0.1" in log.text


def test_forwarded_for_is_ignored_from_an_untrusted_peer(rmbg, small_car_jpeg, log):
    rmbg(small_car_jpeg, headers={"X-Forwarded-For": "203.0.113.9"})
    assert "ip=127.0.0.1" in log.text


def test_forwarded_for_is_believed_from_a_trusted_proxy(rmbg, small_car_jpeg, log, settings):
    import ipaddress

    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    rmbg(small_car_jpeg, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"})
    assert "ip=203.0.113.9" in log.text


@pytest.mark.parametrize("forwarded", ["garbage", "01.2.3.4", "198.51.100.7, garbage", ",,"])
def test_a_hop_that_is_no_address_is_ignored(
    client, rmbg, small_car_jpeg, log, settings, forwarded
):
    import ipaddress

    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    headers = {"X-Forwarded-For": forwarded}
    assert rmbg(small_car_jpeg, headers=headers).status_code == 200
    assert "ip=127.0.0.1" in log.text
    assert client.get("/editor/", headers=headers, REMOTE_ADDR="127.0.0.1").status_code == 200


def test_the_client_is_the_nearest_hop_that_is_not_a_trusted_proxy(
    rmbg, small_car_jpeg, log, settings
):
    import ipaddress

    settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("127.0.0.0/8")]
    rmbg(small_car_jpeg, headers={"X-Forwarded-For": "garbage, 203.0.113.9, 127.0.0.5"})
    assert "ip=203.0.113.9" in log.text


def test_the_key_lookup_costs_one_query(alice_key, django_assert_num_queries):
    with django_assert_num_queries(1):
        key = ApiKey.objects.for_key(alice_key)
        assert key.user.username == "alice"
        assert key.user_email_verified is True


def test_authenticating_a_recently_used_key_costs_one_query(
    rf, alice_key, django_assert_num_queries
):
    from rest_framework.request import Request

    from accounts.authentication import ApiKeyAuthentication

    ApiKey.objects.update(last_used_at=timezone.now())
    request = Request(rf.post("/rmbg", headers={"x-api-key": alice_key}))
    with django_assert_num_queries(1):
        user, channel = ApiKeyAuthentication().authenticate(request)
    assert channel.name == "api"


def test_last_used_is_written_at_most_every_five_minutes(rmbg, small_car_jpeg, alice_key):
    assert ApiKey.objects.get().last_used_at is None
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    first = ApiKey.objects.get().last_used_at
    assert first is not None
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert ApiKey.objects.get().last_used_at == first
    ApiKey.objects.update(last_used_at=first - timedelta(minutes=6))
    rmbg(small_car_jpeg, headers={"x-api-key": alice_key})
    assert ApiKey.objects.get().last_used_at > first
