"""A Content-Security-Policy on every page, and pages that need nothing inline."""

from __future__ import annotations

import re

import pytest

from config.tests.test_pages import PUBLIC, SIGNED_IN

pytestmark = pytest.mark.django_db

PAGES = [*PUBLIC, *SIGNED_IN, "/api/docs/", "/admin/", "/admin/accounts/user/"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=", re.IGNORECASE)
# The one allauth template that hides a form with a style attribute; the form
# holds only hidden inputs, so the browser shows nothing either way.
ALLAUTH_HIDDEN_FORM = '<form style="display: none"'


def visit(client, url: str):
    """The page as a visitor sees it, or an account page as a staff member does."""
    if url not in PUBLIC:
        from accounts.tests.factories import UserFactory

        client.force_login(UserFactory(verified=True, is_staff=True, is_superuser=True))
    response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("url", PAGES)
def test_each_page_forbids_inline_and_foreign_scripts_and_styles(client, url):
    response = visit(client, url)
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("url", PAGES)
def test_each_page_has_nothing_inline_for_the_policy_to_block(client, url):
    html = visit(client, url).content.decode().replace(ALLAUTH_HIDDEN_FORM, "<form")
    assert not INLINE_SCRIPT.findall(html)
    assert not INLINE_STYLE.findall(html)


def test_the_api_reference_loads_its_start_up_script_from_a_url(client):
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()
