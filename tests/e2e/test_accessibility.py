"""The app for everyone: an axe-core scan of every page and the review journey by keyboard only.

axe-core (the copy shipped in the ``axe-playwright-python`` package, run in Debian chromium
through Playwright) checks each page against WCAG 2.1 A/AA. A serious or critical violation in
the project's own content fails the test. Streamlit's own components that the project cannot
change are excluded by element, each with its reason, in :data:`STREAMLIT_EXCLUSIONS`; the
printed report lists what those exclusions hid so the closing note can name it.

The keyboard test signs in, opens the review, answers a questionnaire question and signs off
using only key presses (Tab, Shift+Tab, Enter, Space, arrows, typing): no click.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.test_browser import ARGS, CHROMIUM, PAGES, _idle, _open, _sign_in, server  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")

#: Streamlit's own elements whose markup the project cannot change, with the reason. Each entry
#: is a CSS selector passed to axe's ``exclude``; nothing of the project's content matches them.
STREAMLIT_EXCLUSIONS: dict[str, str] = {
    '[data-testid="stSidebarNavItems"]':
        "st.navigation with sections renders each section header as a <div> directly inside the <ul> of page "
        "links (axe: list, listitem). The markup is Streamlit's; every link in it is still a named <a> that "
        "the keyboard test reaches with Tab and opens with Enter.",
}


def _scan(page, name: str) -> tuple[list[dict], list[dict]]:
    """axe over the page: (violations in our content, violations only in excluded Streamlit elements)."""
    from axe_playwright_python.sync_playwright import Axe

    options = {"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    axe = Axe()
    ours = axe.run(page, context={"exclude": [[s] for s in STREAMLIT_EXCLUSIONS]} if STREAMLIT_EXCLUSIONS else None,
                   options=options).response["violations"]
    everything = axe.run(page, options=options).response["violations"]
    ours_ids = {(v["id"], n["target"][0] if n["target"] else "") for v in ours for n in v["nodes"]}
    hidden = [{**v, "nodes": [n for n in v["nodes"] if (v["id"], n["target"][0] if n["target"] else "") not in ours_ids]}
              for v in everything]
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(everything, indent=1))
    return ours, [v for v in hidden if v["nodes"]]


def _summary(violations: list[dict]) -> list[str]:
    return [f"{v['impact']} {v['id']}: {v['help']} — {n['target']} {n.get('failureSummary', '')[:160]!r}"
            for v in violations for n in v["nodes"][:4]]


def test_every_page_passes_axe_without_serious_or_critical_violations(server) -> None:
    from playwright.sync_api import expect, sync_playwright

    failures: dict[str, list[str]] = {}
    hidden_by_exclusions: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server["url"])
        expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=60_000)
        _idle(page)
        scanned = {"sign-in": _scan(page, "sign-in")}
        _sign_in(page, server["url"], "alice", goto=False)
        page.get_by_role("button", name="Open the demo review").click()
        expect(page.get_by_text("Artefacts and lineage")).to_be_visible(timeout=600_000)
        _idle(page)
        scanned["load"] = _scan(page, "load")
        for title in PAGES:
            _open(page, title)
            scanned[title] = _scan(page, title.split()[0].lower())
        browser.close()
    for name, (ours, hidden) in scanned.items():
        blocking = [v for v in ours if v["impact"] in BLOCKING]
        if blocking:
            failures[name] = _summary(blocking)
        if hidden:
            hidden_by_exclusions[name] = _summary(hidden)
    print("\naxe: violations inside excluded Streamlit elements:\n" + json.dumps(hidden_by_exclusions, indent=1))
    print("axe: minor/moderate violations in our content:\n" + json.dumps(
        {n: _summary([v for v in ours if v["impact"] not in BLOCKING]) for n, (ours, _) in scanned.items()}, indent=1))
    assert not failures, json.dumps(failures, indent=1)


_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const label = el.getAttribute('aria-label') || (el.labels && el.labels[0] && el.labels[0].innerText)
      || (el.closest('label') && el.closest('label').innerText) || el.innerText || el.value || '';
  return {tag: el.tagName.toLowerCase(), type: el.type || '', label: label.trim().replace(/\\s+/g, ' ')};
}"""


def _tab_to(page, tag: str, label: str, *, limit: int = 400, backwards: bool = False) -> int:
    """Press Tab (or Shift+Tab) until the focused element is ``tag`` whose accessible name contains
    ``label`` (a nav link's text also holds its icon's name); return the number of presses.
    Fails if it is not reachable by keyboard."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        focused = page.evaluate(_FOCUSED)
        if focused and focused["tag"] == tag and label in focused["label"]:
            return presses
    pytest.fail(f"{tag} {label!r} not reached with {limit} presses of {'Shift+Tab' if backwards else 'Tab'}")


def _keyboard_open(page, title: str) -> None:
    from playwright.sync_api import expect

    page.locator("body").focus()
    _tab_to(page, "a", title)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=title, exact=False).first).to_be_visible(timeout=120_000)
    _idle(page)


def test_review_journey_by_keyboard_only(server) -> None:
    """Sign in, open the review, answer a questionnaire question and sign off without a click."""
    from playwright.sync_api import expect, sync_playwright

    presses: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server["url"])
        expect(page.get_by_label("User name", exact=True)).to_be_visible(timeout=60_000)
        _idle(page)
        presses["user name"] = _tab_to(page, "input", "User name")
        page.keyboard.type("alice")
        page.keyboard.press("Tab")
        page.keyboard.type("demo-alice-pass")
        page.keyboard.press("Enter")  # submits the sign-in form
        expect(page.get_by_role("button", name="Sign out")).to_be_visible(timeout=60_000)
        _idle(page)

        page.locator("body").focus()
        presses["open review"] = _tab_to(page, "button", "Open the demo review")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Artefacts and lineage")).to_be_visible(timeout=600_000)
        _idle(page)

        _keyboard_open(page, "Questionnaires")
        page.locator("body").focus()
        for presses["first answer"] in range(1, 400):
            page.keyboard.press("Tab")
            focused = page.evaluate(_FOCUSED)
            if focused and focused["type"] == "radio":
                break
        else:
            pytest.fail("no questionnaire answer reachable by keyboard")
        page.keyboard.press("Space")  # choose the focused answer
        _idle(page)
        expect(page.get_by_text("your response: draft")).to_be_visible(timeout=60_000)

        _keyboard_open(page, "Decision & sign-off")
        presses["approve"] = _tab_to(page, "button", "Approve")
        page.keyboard.press("Enter")
        _idle(page)
        expect(page.get_by_text("approve by alice")).to_be_visible(timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "keyboard-signed.png"), full_page=True)
        browser.close()
    print(f"\nKeyboard journey: Tab presses to reach each control {presses}")


def test_packet_html_passes_axe() -> None:
    """The HTML packet (the same markup the tagged PDF is made from) has no axe violation at all."""
    from playwright.sync_api import sync_playwright

    from tests.report.conftest import build_realistic_input
    from workbench.report import render_packet_html

    realistic_input = build_realistic_input()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_content(render_packet_html(realistic_input))
        violations, _ = _scan(page, "packet-html")
        browser.close()
    assert violations == [], json.dumps(_summary(violations), indent=1)
