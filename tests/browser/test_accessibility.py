"""axe-core (npm, tests/js) on every page at phone and desktop widths: no serious or
critical violation. It is evaluated through the DevTools protocol, which the page's
CSP does not govern, so nothing about the pages is relaxed for the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_api_keys_page import create_key
from tests.browser.test_editor_bulk import (  # noqa: F401 - fixtures: batch storage (autouse), held engine
    PHOTOS,
    batch_storage,
    held_engine,
)
from tests.browser.test_layout import PRIVATE, PUBLIC, visit
from tests.browser.test_pages import sign_in, upload_and_wait

pytestmark = pytest.mark.django_db(transaction=True)
AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page) -> list[str]:
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + ";0")
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id}: ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)"""
    )
    return found


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_has_a_serious_accessibility_violation(page, live_server, alice, width):
    if not AXE.exists():
        pytest.fail("axe-core missing: npm ci --prefix tests/js")
    page.set_viewport_size({"width": width, "height": 844})
    found = {}
    for name, path in PUBLIC.items():
        visit(page, live_server.url + path)
        if name == "api-reference":
            page.wait_for_selector(".swagger-ui .opblock-summary-path")
        found[name] = violations(page)
    visit(page, f"{live_server.url}/editor/")
    upload_and_wait(page)
    found["editor-result"] = violations(page)
    sign_in(page, live_server, alice.email)
    for name, path in PRIVATE.items():
        visit(page, live_server.url + path)
        found[name] = violations(page)
    create_key(page, live_server, "Laptop")
    found["api-keys-new"] = violations(page)
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"{name}: {v}" for name, v in bad.items())


@pytest.mark.parametrize("width", [390, 1280])
def test_the_editors_bulk_mode_has_no_serious_accessibility_violation(
    page,
    live_server,
    alice,
    held_engine,  # noqa: F811
    width,
):
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, alice.email)
    visit(page, f"{live_server.url}/editor/")
    page.check("#bulk-mode")
    page.set_input_files("#file", [str(p) for p in PHOTOS])
    found = {"bulk-ready": violations(page)}
    page.click("#bulk-start")
    page.wait_for_selector("#bulk[data-stage=running] .bulk-item[data-state=queued]")
    found["bulk-running"] = violations(page)
    held_engine.set()
    page.wait_for_selector("#bulk[data-stage=finished]", timeout=120_000)
    found["bulk-finished"] = violations(page)
    bad = {name: v for name, v in found.items() if v}
    assert not bad, "\n".join(f"{name}: {v}" for name, v in bad.items())


FOCUS_SHOWN = """() => {
    const el = document.activeElement;
    const shown = (e) => { const s = getComputedStyle(e);
        return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; };
    // Two controls are drawn by something else: the hidden file input by its drop zone,
    // the invisible before/after range by its grip.
    if (el.id === 'file') return shown(document.getElementById('dropzone'));
    if (el.id === 'split') return shown(document.querySelector('.split-grip'));
    const box = el.getBoundingClientRect();
    return shown(el) && box.width > 0 && box.height > 0;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_every_editor_control_is_reached_by_tab_with_visible_focus(page, live_server, width):
    page.set_viewport_size({"width": width, "height": 844})
    page.goto(f"{live_server.url}/editor/")
    upload_and_wait(page)
    page.evaluate("document.activeElement.blur()")
    reached, hidden_focus = set(), []
    for _ in range(80):
        page.keyboard.press("Tab")
        name = page.evaluate(
            "(() => { const e = document.activeElement; if (e === document.body) return '';"
            " return e.id || e.name || e.textContent.trim().slice(0, 30) || e.tagName; })()"
        )
        if not name:
            continue  # past the last control, the browser's own UI has the focus
        reached.add(name)
        if not page.evaluate(FOCUS_SHOWN):
            hidden_focus.append(name)
    assert hidden_focus == []
    controls = {"file", "split", "bg-name", "width", "height", "exact", "angle", "expand"}
    assert controls | {"format", "download", "reset", "bg-picker"} <= reached
