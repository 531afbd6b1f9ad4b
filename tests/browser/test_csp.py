"""Pages work in Chromium under the Content-Security-Policy, and it blocks nothing of ours."""

from __future__ import annotations

import pytest

from accounts.tests.factories import PASSWORD
from tests.browser.test_pages import CAR, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

# Seen by the page itself, whatever Chromium prints to the console.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) =>
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`));
"""


@pytest.fixture
def watched(page):
    """The tab, recording every CSP violation (event or console message)."""
    page.console_violations = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text
            and page.console_violations.append(message.text)
        ),
    )
    return page


def violations(page) -> list[str]:
    return page.console_violations + page.evaluate("window.cspViolations")


def test_the_csp_is_what_chromium_receives(watched, live_server):
    response = watched.goto(f"{live_server.url}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_the_api_reference_renders_and_runs_under_the_csp(watched, live_server, alice_key):
    watched.goto(f"{live_server.url}/api/docs/")
    watched.wait_for_selector(".swagger-ui .opblock-summary-path")
    # Its own stylesheet applied (it used to be an inline <style>).
    assert watched.evaluate("getComputedStyle(document.body).margin") == "0px"
    watched.click("button.authorize")
    watched.fill(".modal-ux input[type=text]", alice_key)
    watched.click(".modal-ux button.authorize")
    watched.click(".modal-ux button.close-modal")
    watched.click("#operations-Account-membershipUsage .opblock-summary")
    watched.click("button.try-out__btn")
    watched.click("button.execute")
    watched.wait_for_selector(".responses-table .response-col_status >> text=200")
    assert violations(watched) == []


def test_the_editor_works_under_the_csp(watched, live_server, alice):
    sign_in(watched, live_server, alice.email)
    watched.goto(f"{live_server.url}/editor/")
    watched.set_input_files("#file", str(CAR))
    watched.wait_for_selector("#workspace:not([hidden])")
    watched.wait_for_function("document.getElementById('before').complete")
    watched.fill("#split", "50")
    watched.dispatch_event("#split", "input")
    assert "inset" in watched.eval_on_selector("#before-wrap", "e => e.style.clipPath")
    assert violations(watched) == []


def test_the_dashboard_meter_is_drawn_under_the_csp(watched, live_server, alice):
    sign_in(watched, live_server, alice.email)
    watched.goto(f"{live_server.url}/dashboard/")
    assert watched.eval_on_selector(".meter span", "e => e.style.width") == "0%"
    for url in ("/", "/api-keys/", "/billing/", "/accounts/email/"):
        watched.goto(f"{live_server.url}{url}")
    assert violations(watched) == []


def test_the_admin_signs_in_through_the_sites_login_and_works_under_the_csp(watched, live_server):
    from accounts.tests.factories import UserFactory

    staff = UserFactory(verified=True, is_staff=True, is_superuser=True)
    watched.goto(f"{live_server.url}/admin/")
    assert "/accounts/login/" in watched.url
    watched.fill("input[name=login]", staff.email)
    watched.fill("input[name=password]", PASSWORD)
    watched.click("form button[type=submit]")
    watched.wait_for_url(f"{live_server.url}/admin/")
    watched.goto(f"{live_server.url}/admin/accounts/user/{staff.pk}/change/")
    watched.wait_for_selector("#user_form")
    assert violations(watched) == []
