"""Settings come from the environment, and a bad value stops the start with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# The key every install without SECRET_KEY signed with before keys were generated.
OLD_EMBEDDED_KEY = "insecure-embedded-default-change-me"  # noqa: S105


# What these tests set themselves: a value exported in the shell (or set by the
# browser tests, DJANGO_ALLOW_ASYNC_UNSAFE) must not leak in.
TESTED = (
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "REQUIRE_SECRET_KEY",
    "REMOVAL_MAX_CONCURRENCY",
    "ALLOWED_HOSTS",
    "HTTPS",
    "SECURE_SSL_REDIRECT",
    "HSTS_SECONDS",
    "HSTS_INCLUDE_SUBDOMAINS",
    "HSTS_PRELOAD",
)


def start_django(code: str = "", **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in TESTED}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup()\n{code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://root@127.0.0.1/cutout"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REMOVAL_MAX_CONCURRENCY", "two"),
        ("REMOVAL_MAX_CONCURRENCY", "0"),
        ("DEBUG", "sometimes"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = start_django(**{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr


def test_production_can_require_a_secret_key():
    result = start_django(REQUIRE_SECRET_KEY="true")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_defaults_start():
    assert start_django().returncode == 0


@pytest.mark.django_db
def test_it_runs_on_the_database_named_by_database_url():
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith("postgres") else "sqlite"
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def test_without_a_secret_key_one_is_generated_once_into_an_owner_only_file(tmp_path):
    key_file = tmp_path / "data" / "secret-key"
    first = start_django(PRINT_KEY, SECRET_KEY_FILE=str(key_file))
    assert first.returncode == 0, first.stderr
    key = key_file.read_text().strip()
    assert first.stdout.strip() == key
    assert len(key) >= 50
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert f"generated a random one, kept in {key_file}" in first.stderr
    assert key not in first.stderr

    second = start_django(PRINT_KEY, SECRET_KEY_FILE=str(key_file))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == key
    assert "generated" not in second.stderr


def test_the_old_embedded_constant_is_no_longer_the_key(tmp_path):
    result = start_django(PRINT_KEY, SECRET_KEY_FILE=str(tmp_path / "key"))
    assert result.stdout.strip() not in ("", OLD_EMBEDDED_KEY)


def test_processes_starting_together_share_one_generated_key(tmp_path):
    key_file = tmp_path / "secret-key"
    code = f"import django; django.setup()\n{PRINT_KEY}"
    env = {k: v for k, v in os.environ.items() if k not in TESTED}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SECRET_KEY_FILE=str(key_file))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert keys == {key_file.read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["secret-key"]  # no temporary left


def test_an_unwritable_key_file_place_fails_at_start_naming_the_variable(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = start_django(SECRET_KEY_FILE=str(blocker / "secret-key"))
    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY_FILE" in result.stderr


def test_a_set_secret_key_writes_no_file(tmp_path):
    key_file = tmp_path / "secret-key"
    result = start_django(PRINT_KEY, SECRET_KEY="s" * 50, SECRET_KEY_FILE=str(key_file))
    assert result.stdout.strip() == "s" * 50
    assert not key_file.exists()


@pytest.mark.django_db
def test_a_user_token_signed_with_the_old_embedded_constant_is_refused(rmbg, small_car_jpeg, alice):
    from django.test import override_settings

    from accounts.authentication import issue_user_token

    with override_settings(SECRET_KEY=OLD_EMBEDDED_KEY):
        forged = issue_user_token(alice)
    response = rmbg(small_car_jpeg, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


PRODUCTION = {
    "HTTPS": "true",
    "SECRET_KEY": "k3y-" + "x7Qp9vL2mZ8rT4wY6nB1cD5fG0hJ3kE" * 2,
    "REQUIRE_SECRET_KEY": "true",
    "ALLOWED_HOSTS": "cutout.example.com",
    "DEBUG": "false",
    "HSTS_PRELOAD": "true",
}
CHECK_DEPLOY = (
    "from django.core.management import call_command\n"
    "call_command('check', deploy=True, fail_level='WARNING')"
)


def test_the_deployment_check_finds_nothing_with_production_settings():
    result = start_django(CHECK_DEPLOY, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_the_preload_opt_in_the_only_warning_is_preload():
    result = start_django(CHECK_DEPLOY, **{**PRODUCTION, "HSTS_PRELOAD": "false"})
    assert result.returncode != 0
    assert "security.W021" in result.stderr
    assert result.stderr.count("security.W") == 1


PRINT_HTTPS = (
    "from django.conf import settings as s\n"
    "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
    " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
)


def test_https_turns_on_hsts_the_redirect_and_secure_cookies():
    assert start_django(PRINT_HTTPS, HTTPS="true").stdout.split() == [
        "True",
        "31536000",
        "True",
        "True",
        "True",
    ]
    tuned = start_django(
        PRINT_HTTPS,
        HTTPS="true",
        SECURE_SSL_REDIRECT="false",
        HSTS_SECONDS="600",
        HSTS_INCLUDE_SUBDOMAINS="false",
    )
    assert tuned.stdout.split() == ["False", "600", "False", "True", "True"]


def test_without_https_none_of_it_is_on():
    result = start_django(PRINT_HTTPS)
    assert result.stdout.split() == ["False", "0", "False", "False", "False"]
