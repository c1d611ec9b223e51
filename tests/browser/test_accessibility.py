"""axe-core (vendored in tests/browser/vendor) on each page and its main states: no serious or
critical WCAG 2.1 A/AA violation.

axe is injected with a <script> tag, which the pages' CSP (rightly) refuses, so these
contexts bypass the CSP; every other test runs with it and fails on a violation.
"""

from __future__ import annotations

from typing import Any

import pytest
from pagehelpers import (
    PEER,
    SUPERVISOR,
    accept_offer,
    axe_violations,
    format_violations,
    login,
    seeker_send,
    start_shift,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


class Audit:
    def __init__(self) -> None:
        self.failures: dict[str, list[dict[str, Any]]] = {}

    def check(self, page: Any, state: str) -> None:
        violations = axe_violations(page)
        if violations:
            self.failures[state] = violations

    def assert_clean(self) -> None:
        assert not self.failures, "axe found serious/critical violations:\n" + "\n".join(
            f"== {state} ==\n{format_violations(v)}" for state, v in self.failures.items())


@pytest.mark.parametrize("locale", ["en-CA", "fr-CA"])
def test_seeker_page_states_pass_axe(new_page: Any, locale: str) -> None:
    audit = Audit()
    seeker = new_page("/", name="seeker", bypass_csp=True, locale=locale)
    expect(seeker.locator("#notice-text p").first).to_be_visible()
    audit.check(seeker, "before the first message")

    seeker_send(seeker, "hello")  # nobody on shift: waiting, escalated
    expect(seeker.locator(".escalation")).to_be_visible()
    audit.check(seeker, "waiting, escalated")

    peer = new_page("/console", name="peer")
    login(peer, PEER)
    start_shift(peer)
    panel = accept_offer(peer)
    panel.locator(".composer-text").fill("hi")
    panel.locator(".composer-text").press("Enter")
    expect(seeker.locator("li.msg-peer")).to_be_visible()
    audit.check(seeker, "with a peer")

    seeker.context.set_offline(True)
    expect(seeker.locator("#offline")).to_be_visible()
    audit.check(seeker, "offline")
    seeker.context.set_offline(False)
    expect(seeker.locator("#offline")).to_be_hidden(timeout=30_000)

    panel.get_by_role("button", name="End conversation").click()
    expect(seeker.locator("#after")).to_be_visible()
    audit.check(seeker, "ended")
    audit.assert_clean()


def test_console_states_pass_axe(new_page: Any) -> None:
    audit = Audit()
    peer = new_page("/console", name="peer", bypass_csp=True)
    audit.check(peer, "sign in")
    peer.fill("#login-username", PEER.username)
    peer.fill("#login-password", "wrong")
    peer.click("#login-form button[type=submit]")
    expect(peer.locator("#login-error")).not_to_be_empty()
    audit.check(peer, "sign in refused")
    login(peer, PEER)
    audit.check(peer, "signed in, off shift")
    start_shift(peer)

    seeker = new_page("/", name="seeker")
    seeker_send(seeker, "hello")
    expect(peer.locator(".offer")).to_be_visible()
    audit.check(peer, "offer")
    panel = accept_offer(peer)
    panel.locator(".notes summary").click()
    panel.locator(".note-text").fill("a note")
    panel.locator(".note-form button[type=submit]").click()
    expect(panel.locator(".note")).to_be_visible()
    audit.check(peer, "conversation with notes")
    panel.get_by_role("button", name="Escalate to crisis line").click()
    panel.get_by_role("button", name="End conversation").click()
    expect(peer.locator("#debrief")).to_be_visible()
    audit.check(peer, "ended, debrief")
    audit.assert_clean()


def test_supervisor_view_passes_axe(new_page: Any) -> None:
    audit = Audit()
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    seeker_send(seeker, "hello")
    panel = accept_offer(pat)

    sam = new_page("/console", name="sam", bypass_csp=True, locale="fr-CA")
    login(sam, SUPERVISOR)
    start_shift(sam)
    panel.get_by_role("button", name="Escalate to crisis line").click()
    expect(sam.locator("#alert-list .alert")).to_be_visible()
    expect(sam.locator("#overview-body")).to_be_visible(timeout=20_000)
    audit.check(sam, "alert and overview")
    sam.locator("#alert-list .alert").get_by_role("button", name="Observer").click()
    expect(sam.locator(".panel[data-kind='monitor']")).to_be_visible()
    audit.check(sam, "monitoring")
    audit.assert_clean()
