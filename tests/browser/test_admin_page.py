"""The program admin page (GET /admin, issue 12): roster, service hours, canned responses and
statistics, driven in a real Chromium as an admin, a supervisor and a peer."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pagehelpers import (
    PASSWORD,
    PEER,
    SUPERVISOR,
    TIME_FACTOR,
    XSS,
    Account,
    ChatdServer,
    accept_offer,
    axe_violations,
    format_violations,
    login,
    screenshot,
    seeker_send,
    start_shift,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ADMIN = Account("ada", "Ada Admin", "admin")
PHONE = {"width": 390, "height": 844}


def add_admin(server: ChatdServer) -> None:
    cmd = [sys.executable, "-m", "chatd", "supporters", "add", ADMIN.username, "--display-name", ADMIN.display_name,
           "--trained", "--role", "admin", "--password-stdin"]
    done = subprocess.run(cmd, input=PASSWORD + "\n", env=server.env, cwd=server.data_dir.parent,
                          capture_output=True, text=True, timeout=60 * TIME_FACTOR, check=False)
    assert done.returncode == 0, done.stderr


def open_admin(new_page: Any, server: ChatdServer, *, account: Account = ADMIN, **options: Any) -> Any:
    """Sign in at the console, then follow its link to /admin."""
    if account is ADMIN:
        add_admin(server)
    page = new_page("/console", name=f"admin-{account.username}", **options)
    login(page, account)
    link = page.locator("#admin-link")
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(server.url + "/admin")
    expect(page.locator("#stats-section")).to_be_visible()
    return page


def test_an_admin_adds_a_peer_who_signs_in_and_goes_on_shift(new_page: Any, server: ChatdServer) -> None:
    admin = open_admin(new_page, server)
    expect(admin.locator("#roster-table tbody tr")).to_have_count(4)
    admin.click("#account-new")
    expect(admin.locator("#account-form-title")).to_be_focused()
    admin.fill("#f-username", "noor")
    admin.fill("#f-display", "Noor")
    admin.check("#f-trained")
    admin.uncheck("#f-lang-en")
    admin.fill("#f-password", "short")
    admin.click("#account-form button[type=submit]")
    expect(admin.locator("#account-error")).to_contain_text("12")  # the API's message, nothing added
    expect(admin.locator("#roster-table tbody tr")).to_have_count(4)
    admin.fill("#f-password", "a-long-enough-password")
    admin.click("#account-form button[type=submit]")
    row = admin.locator("#roster-table tbody tr", has_text="noor")
    expect(row).to_contain_text("fr")
    expect(admin.locator("#flash")).to_contain_text("noor")
    expect(admin.locator("#audit-table tbody tr").first).to_contain_text("account.create")
    admin.locator("#roster-section").scroll_into_view_if_needed()
    screenshot(admin, "admin-roster")

    peer = new_page("/console", name="noor")
    login(peer, Account("noor", "Noor"), password="a-long-enough-password")
    start_shift(peer)


def test_disabling_from_the_page_signs_the_peer_out(new_page: Any, server: ChatdServer) -> None:
    peer = new_page("/console", name="peer")
    login(peer, PEER)
    admin = open_admin(new_page, server)
    admin.locator("#roster-table tbody tr", has_text=PEER.username).get_by_role("button").click()
    admin.check("#f-disabled")
    admin.click("#account-form button[type=submit]")
    expect(admin.locator("#roster-table tbody tr", has_text=PEER.username)).to_contain_text("Disabled")
    expect(peer.locator("#login-view")).to_be_visible()
    admin.fill("#audit-account", PEER.username)
    admin.click("#audit-form button[type=submit]")
    expect(admin.locator("#audit-table tbody tr")).to_have_count(1)
    expect(admin.locator("#audit-table tbody tr")).to_contain_text('"disabled": true')


def test_closed_hours_change_the_chat_window(new_page: Any, server: ChatdServer) -> None:
    admin = open_admin(new_page, server)
    seeker_before = new_page("/", name="seeker-open")
    expect(seeker_before.locator("#notice-text p").first).to_be_visible()
    expect(seeker_before.locator("#closed")).to_be_hidden()
    admin.check("#hours-weekly")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        admin.uncheck(f"#h-{day}-open")
    admin.fill("#holiday-date", "2026-12-25")
    admin.fill("#holiday-note", "Christmas")
    admin.click("#holiday-add")
    expect(admin.locator("#holidays li")).to_contain_text("2026-12-25")
    admin.click("#hours-form button[type=submit]")
    expect(admin.locator("#hours-now")).to_contain_text("Closed now")
    admin.locator("#hours-section").scroll_into_view_if_needed()
    screenshot(admin, "admin-hours")

    seeker = new_page("/", name="seeker-closed")
    closed = seeker.locator("#closed")
    expect(closed).to_be_visible()
    expect(closed).to_contain_text("not available right now")
    expect(closed.locator("#closed-tel")).to_have_text("1-844-750-1648")
    # The 24/7 line comes before the notice and the message box.
    order = seeker.evaluate("""() => {
        const c = document.getElementById('closed'), n = document.getElementById('notice');
        return Boolean(c.compareDocumentPosition(n) & Node.DOCUMENT_POSITION_FOLLOWING);
    }""")
    assert order
    seeker.click("#lang-switch")
    expect(closed).to_contain_text("ne sont pas disponibles")
    seeker_send(seeker, "anyone?")  # may still write: escalated at once with the crisis line
    expect(seeker.locator(".escalation")).to_be_visible()


def test_a_canned_response_edited_in_french_reaches_an_open_console(new_page: Any, server: ChatdServer) -> None:
    peer = new_page("/console", name="peer")
    login(peer, PEER)
    start_shift(peer)
    seeker = new_page("/", name="seeker")
    seeker_send(seeker, "bonjour")
    panel = accept_offer(peer)
    canned = panel.locator(".canned")
    expect(canned.locator("option", has_text="Accueil")).to_have_count(1)

    admin = open_admin(new_page, server)
    first_fr = admin.locator("#c-fr-0-label")
    expect(first_fr).to_have_value("Accueil")
    first_fr.fill(XSS)
    admin.fill("#c-fr-0-text", f"Bonjour {XSS}")
    admin.click("#canned-form button[type=submit]")
    expect(admin.locator("#flash")).to_contain_text("saved")
    admin.locator("#canned-section").scroll_into_view_if_needed()
    screenshot(admin, "admin-canned")

    option = canned.locator("optgroup[lang], optgroup").locator("option", has_text=XSS)
    expect(option).to_have_count(1)  # no reload: the console refetched on canned_changed
    expect(canned.locator("option", has_text="Accueil")).to_have_count(0)
    canned.select_option(label=XSS)
    panel.locator(".canned-insert").click()
    expect(panel.locator(".composer-text")).to_have_value(f"Bonjour {XSS}")
    assert peer.locator("img[src=x]").count() == 0 and admin.locator("img[src=x]").count() == 0


def test_statistics_charts_tables_axe_and_a_phone(new_page: Any, server: ChatdServer) -> None:
    seeker = new_page("/", name="seeker")
    seeker_send(seeker, "hello")  # one live conversation, escalated: nobody on shift
    expect(seeker.locator(".escalation")).to_be_visible()
    admin = open_admin(new_page, server, bypass_csp=True)
    charts = admin.locator("#stats-charts svg[role=img]")
    expect(charts).to_have_count(4)
    expect(admin.locator("#stats-summary")).to_contain_text("Conversations")
    reasons = admin.locator("#stats-charts table", has=admin.locator("caption", has_text="by reason"))
    expect(reasons.locator("tbody tr", has_text="No peer on shift")).to_contain_text("1")
    days = admin.locator("#stats-charts table").first
    expect(days.locator("thead th")).to_have_count(6)
    assert admin.locator("#chart-days title").text_content()
    screenshot(admin, "admin-stats")
    violations = axe_violations(admin)
    assert not violations, format_violations(violations)
    admin.click("#lang-switch")
    expect(admin.locator("#stats-title")).to_have_text("Statistiques")
    violations = axe_violations(admin)
    assert not violations, format_violations(violations)

    phone = new_page("/admin", name="phone", viewport=PHONE, bypass_csp=True)
    expect(phone.locator("#gate")).to_be_visible()  # not signed in: sent to the console
    phone.goto("/console")
    login(phone, ADMIN)
    phone.goto("/admin")
    expect(phone.locator("#roster-section")).to_be_visible()
    expect(phone.locator("#stats-charts svg")).to_have_count(4)
    overflow = phone.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px on a phone"
    screenshot(phone, "admin-phone")
    violations = axe_violations(phone)
    assert not violations, format_violations(violations)


def test_supervisors_see_statistics_only_and_peers_are_turned_away(new_page: Any, server: ChatdServer) -> None:
    sup = open_admin(new_page, server, account=SUPERVISOR)
    expect(sup.locator("#stats-charts svg")).to_have_count(4)
    for section in ("roster", "audit", "hours", "canned"):
        expect(sup.locator(f"#{section}-section")).to_be_hidden()
    peer = new_page("/console", name="peer")
    login(peer, PEER)
    expect(peer.locator("#admin-link")).to_be_hidden()
    peer.goto("/admin")
    expect(peer.locator("#gate")).to_contain_text("admins and supervisors")
    expect(peer.locator("#stats-section")).to_be_hidden()
