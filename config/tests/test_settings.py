"""Settings come from the environment, and a bad value stops the start with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def start_django(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
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
