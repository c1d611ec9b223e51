"""The peer console: sign-in, offers, tabs, canned responses, transfer, supervision."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pagehelpers import (
    PEER,
    SUPERVISOR,
    XSS_PEER,
    accept_offer,
    login,
    screenshot,
    seeker_send,
    start_shift,
)
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


def test_wrong_password_is_refused_with_a_message(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    peer.fill("#login-username", PEER.username)
    peer.fill("#login-password", "not the password")
    peer.click("#login-form button[type=submit]")
    expect(peer.locator("#login-error")).to_have_text("The username or password is not right.")
    expect(peer.locator("#app-view")).to_be_hidden()
    expect(peer.locator("#login-password")).to_be_focused()


def test_sign_out_returns_to_the_sign_in_form_for_good(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    login(peer, PEER)
    expect(peer.locator("#whoami")).to_have_text("Pat (peer)")
    peer.click("#logout")
    expect(peer.locator("#login-view")).to_be_visible()
    peer.reload()
    expect(peer.locator("#login-view")).to_be_visible()
    expect(peer.locator("#app-view")).to_be_hidden()


def test_a_dead_session_sends_the_console_back_to_sign_in(new_page: Any) -> None:
    """The profile is in sessionStorage but the cookie is gone: the socket is refused (403)."""
    peer = new_page("/console", name="peer")
    login(peer, PEER)
    peer.context.clear_cookies()
    peer.reload()
    expect(peer.locator("#login-view")).to_be_visible()
    expect(peer.locator("#login-error")).to_have_text("Your session ended. Please sign in again.")


def test_decline_removes_the_offer_and_counters_follow_the_queue(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer, capacity=1)
    seeker_send(seeker, "hello")
    offer = peer.locator(".offer").first
    expect(offer).to_be_visible()
    expect(peer.locator("#q-waiting")).to_have_text("1")
    declined = offer.get_attribute("data-offer")
    offer.get_by_role("button", name="Decline").click()
    expect(peer.locator(f".offer[data-offer='{declined}']")).to_have_count(0)
    # Nobody else can take it, so it comes back to this peer as a new offer (CONTRACT section 3).
    expect(peer.locator(".offer")).to_have_count(1, timeout=40_000)
    assert peer.locator(".offer").get_attribute("data-offer") != declined


def test_canned_responses_in_both_languages_go_into_the_composer(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "hello")
    panel = accept_offer(peer)
    canned = panel.locator(".canned")
    expect(canned.locator("optgroup")).to_have_count(2)
    canned.select_option(label="Welcome")
    panel.get_by_role("button", name="Insert").click()
    expect(panel.locator(".composer-text")).to_have_value(re.compile("thank you for reaching out"))
    expect(panel.locator(".composer-text")).to_be_focused()
    panel.locator(".composer-text").press("Enter")
    expect(seeker.locator("li.msg-peer")).to_contain_text("thank you for reaching out")
    canned.select_option(label="Accueil")
    panel.get_by_role("button", name="Insert").click()
    expect(panel.locator(".composer-text")).to_have_value(re.compile("merci d'avoir pris contact"))


def test_transfer_to_a_named_peer_and_back_to_the_queue(new_page: Any) -> None:
    """Pat hands the conversation to Xavier (Pat's tab closes on released); Xavier puts it
    back in the queue, and it is offered again."""
    pat = new_page("/console", name="pat")
    xavier = new_page("/console", name="xavier")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    seeker_send(seeker, "hello")
    panel = accept_offer(pat)
    login(xavier, XSS_PEER)
    start_shift(xavier)

    panel.locator(".notes summary").click()
    panel.locator(".note-text").fill("Prefers French resources.")
    panel.locator(".note-form button[type=submit]").click()
    expect(panel.locator(".note")).to_have_count(1)

    panel.locator(".transfer-to").fill(XSS_PEER.username)
    panel.get_by_role("button", name="Transfer", exact=True).click()
    expect(xavier.locator(".offer")).to_contain_text("Transferred to you by")
    xpanel = accept_offer(xavier)
    expect(xpanel.locator("li.msg-seeker")).to_contain_text("hello")
    # The note goes with the conversation, once.
    expect(xpanel.locator(".note")).to_have_count(1)
    expect(xpanel.locator(".note")).to_contain_text("Prefers French resources.")
    expect(pat.locator(".tab")).to_have_count(0)
    expect(seeker.locator("#status")).to_have_text(f"You are chatting with {XSS_PEER.display_name}.")

    xpanel.get_by_role("button", name="Back to the queue").click()
    expect(xavier.locator(".tab")).to_have_count(0)
    expect(pat.locator(".offer")).to_have_count(1)


def test_transfer_to_a_peer_not_on_shift_is_refused(new_page: Any) -> None:
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    seeker_send(seeker, "hello")
    panel = accept_offer(pat)
    panel.locator(".transfer-to").fill(XSS_PEER.username)
    panel.get_by_role("button", name="Transfer", exact=True).click()
    expect(pat.locator("#shift-error")).to_contain_text("not available")
    expect(pat.locator(".tab")).to_have_count(1)


def test_tabs_count_unread_messages_per_conversation(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    one = new_page("/", name="seeker-1")
    two = new_page("/", name="seeker-2")
    login(peer, PEER)
    start_shift(peer, capacity=2)
    seeker_send(one, "first seeker")
    accept_offer(peer)
    seeker_send(two, "second seeker")
    expect(peer.locator(".offer")).to_have_count(1)
    peer.locator(".offer").get_by_role("button", name="Accept").click()
    expect(peer.locator(".tab")).to_have_count(2)
    tabs = peer.locator(".tab")
    tabs.nth(0).click()
    seeker_send(two, "are you there?")
    expect(tabs.nth(1).locator(".tab-badge")).to_have_text("1 unread")
    seeker_send(two, "hello?")
    expect(tabs.nth(1).locator(".tab-badge")).to_have_text("2 unread")
    screenshot(peer, "console-two-tabs")
    # Arrow keys move between tabs (ARIA tabs pattern); opening one clears its count.
    tabs.nth(0).focus()
    peer.keyboard.press("ArrowRight")
    expect(tabs.nth(1)).to_be_focused()
    expect(tabs.nth(1)).to_have_attribute("aria-selected", "true")
    expect(tabs.nth(1).locator(".tab-badge")).to_be_hidden()


def test_supervisor_gets_alerts_monitors_and_whispers(new_page: Any) -> None:
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    seeker_send(seeker, "hello")
    panel = accept_offer(pat)

    sam = new_page("/console", name="sam")
    login(sam, SUPERVISOR)
    expect(sam.locator("#supervisor")).to_be_visible()
    start_shift(sam)  # alerts go to supervisors on shift

    panel.get_by_role("button", name="Escalate to crisis line").click()
    alert = sam.locator("#alert-list .alert").first
    expect(alert).to_be_visible()
    expect(alert.locator("[role=alert]")).to_contain_text("Escalation")
    expect(alert).to_contain_text("escalated by a peer")
    sam.wait_for_function("() => document.title.includes('Escalation')")
    screenshot(sam, "console-supervisor-alert")

    alert.get_by_role("button", name="Monitor").click()
    monitor = sam.locator(".panel[data-kind='monitor']")
    expect(monitor).to_be_visible()
    expect(monitor.locator("li.msg-seeker")).to_contain_text("hello")
    expect(monitor.locator(".end-form")).to_have_count(0)
    seeker_send(seeker, "live to the supervisor")
    expect(monitor.locator("li.msg-seeker").filter(has_text="live to the supervisor")).to_have_count(1)

    monitor.locator(".composer-text").fill("Suggest the crisis line again.")
    monitor.get_by_role("button", name="Whisper").click()
    expect(panel.locator(".notes-list")).to_contain_text("Suggest the crisis line again.")
    expect(panel.locator(".notes-list")).to_contain_text(SUPERVISOR.display_name)
    expect(panel.locator(".notes")).to_have_attribute("open", "")
    # The supervisor's own copy comes on two channels (monitor and own): shown once.
    expect(monitor.locator(".note")).to_have_count(1)
    expect(panel.locator(".note")).to_have_count(1)
    screenshot(sam, "console-supervisor-monitor")
    expect(seeker.locator("body")).not_to_contain_text("Suggest the crisis line")

    # The live overview (sent every few seconds to supervisors).
    expect(sam.locator("#overview-body")).to_be_visible(timeout=20_000)
    expect(sam.locator("#ov-peers")).to_contain_text(PEER.display_name)
    expect(sam.locator("#ov-convs tbody tr")).to_have_count(1)
    # Channel and state in words of the console's language, not the protocol's tags.
    expect(sam.locator("#ov-convs tbody tr td").nth(0)).to_have_text("web chat")
    expect(sam.locator("#ov-convs tbody tr td").nth(1)).to_have_text("with a peer")
    screenshot(sam, "console-supervisor-overview", full_page=True)

    # The alert stays until it is dismissed.
    sam.wait_for_timeout(1000)
    expect(alert).to_be_visible()
    alert.get_by_role("button", name="Dismiss").click()
    expect(sam.locator("#alert-list .alert")).to_have_count(0)


def test_console_in_french(new_page: Any) -> None:
    peer = new_page("/console", name="peer", locale="fr-CA")
    expect(peer.locator("html")).to_have_attribute("lang", "fr")
    expect(peer.locator("#login-title")).to_have_text("Connexion")
    login(peer, PEER)
    expect(peer.locator("#shift-start")).to_have_text("Commencer le quart")
    peer.click("#lang-switch")
    expect(peer.locator("#shift-start")).to_have_text("Start shift")


def test_a_texter_s_delivery_state_shows_and_survives_a_reload(new_page: Any) -> None:
    """The phone simulator texts in; the peer's reply shows queued → delivered, reaches the phone,
    and after the console reloads the reply still shows delivered (replayed after the history)."""
    peer = new_page("/console", name="peer")
    phone = new_page("/dev/phone", name="phone")
    login(peer, PEER)
    start_shift(peer, capacity=1)
    phone.fill("#body", "hello from my phone")
    phone.click("#composer button[type=submit]")
    panel = accept_offer(peer)
    expect(panel.locator(".msg-text", has_text="hello from my phone")).to_be_visible()
    reply = "I'm here. Take your time."
    panel.locator(".composer-text").fill(reply)
    panel.locator(".composer-text").press("Enter")
    own = peer.locator(".msg-own", has_text=reply)
    expect(own).to_have_attribute("data-state", "sms-delivered", timeout=15_000)
    expect(own.locator(".msg-state")).to_have_text("SMS delivered")
    expect(phone.locator("#thread")).to_contain_text(reply, timeout=15_000)
    peer.reload()
    expect(peer.locator("#app-view")).to_be_visible()
    own = peer.locator(".msg-own", has_text=reply)
    expect(own).to_have_attribute("data-state", "sms-delivered", timeout=15_000)
    assert "+1613" not in peer.content()  # the texter's number is never shown to the peer


def _shown_seqs(panel: Any) -> list[int]:
    """The seq numbers of the messages a panel's transcript shows, in the order shown."""
    seqs = panel.locator("li.msg").evaluate_all("els => els.map(e => e.dataset.seq || '')")
    return [int(s) for s in seqs if s]


def _seeker_send_stored(seeker: Any, text: str) -> None:
    """Send as the seeker and wait for the server's ack (the message is stored)."""
    seeker_send(seeker, text)
    own = seeker.locator("li.msg-own").filter(has_text=text)
    expect(own.locator(".msg-state")).to_have_text("Delivered")


def _monitor_by_id(sam: Any, conversation: str) -> Any:
    """Monitor a conversation from the supervisor's id field; returns its panel."""
    sam.fill("#monitor-id", conversation)
    sam.locator("#monitor-form button[type=submit]").click()
    panel = sam.locator(f".panel[data-kind='monitor'][data-conversation='{conversation}']")
    expect(panel).to_be_visible()
    return panel


def test_monitoring_resumes_after_the_console_reconnects(new_page: Any) -> None:
    """Monitoring is per socket: after a drop the console asks again for each monitored tab,
    shows what was said while it was away and what comes after, each message once, and leaves
    the supervisor's selected tab, focus and draft alone."""
    pat = new_page("/console", name="pat")
    one = new_page("/", name="seeker-1")
    two = new_page("/", name="seeker-2")
    login(pat, PEER)
    start_shift(pat, capacity=2)
    _seeker_send_stored(one, "first seeker")
    accept_offer(pat)
    _seeker_send_stored(two, "second seeker")
    pat.locator(".offer").get_by_role("button", name="Accept").click()
    expect(pat.locator(".tab")).to_have_count(2)
    first, second = (pat.locator(".panel").nth(i).get_attribute("data-conversation") for i in range(2))
    assert first and second

    sam = new_page("/console", name="sam")
    login(sam, SUPERVISOR)
    watch_one = _monitor_by_id(sam, first)
    watch_one.locator(".composer-text").fill("Check in about safety.")
    watch_one.get_by_role("button", name="Whisper").click()
    expect(watch_one.locator(".note")).to_have_count(1)
    watch_two = _monitor_by_id(sam, second)
    expect(watch_two.locator("li.msg-seeker")).to_have_text(re.compile("second seeker"))

    # The supervisor is back on the first tab, half-way through another whisper.
    sam.locator(".tab").nth(0).click()
    draft = watch_one.locator(".composer-text")
    draft.fill("draft not sent yet")
    draft.focus()

    sam.context.set_offline(True)
    expect(sam.locator("#conn")).to_be_visible()
    _seeker_send_stored(two, "said while the supervisor was away")
    sam.context.set_offline(False)
    expect(sam.locator("#conn")).to_be_hidden(timeout=30_000)

    away = watch_two.locator("li.msg-seeker").filter(has_text="said while the supervisor was away")
    expect(away).to_have_count(1)
    _seeker_send_stored(two, "said after the reconnect")
    expect(watch_two.locator("li.msg-seeker").filter(has_text="said after the reconnect")).to_have_count(1)
    seqs = _shown_seqs(watch_two)
    assert seqs == list(range(1, len(seqs) + 1)), f"a message is missing, doubled or out of order: {seqs}"
    expect(watch_two.locator("li.msg-seeker")).to_have_count(3)
    expect(sam.locator(".tab").nth(1).locator(".tab-badge")).to_have_text("2 unread")

    # Nothing moved under the supervisor's hands.
    expect(sam.locator(".tab").nth(0)).to_have_attribute("aria-selected", "true")
    expect(draft).to_be_focused()
    expect(draft).to_have_value("draft not sent yet")
    # The first conversation is watched again too, and its whisper is shown once.
    _seeker_send_stored(one, "first seeker again")
    expect(watch_one.locator("li.msg-seeker").filter(has_text="first seeker again")).to_have_count(1)
    expect(watch_one.locator(".note")).to_have_count(1)
    expect(watch_one.locator("li.event")).to_have_count(0)


def test_monitoring_that_ended_while_the_console_was_away_says_so(new_page: Any) -> None:
    """The conversation ended while the supervisor's console was disconnected: the server
    refuses to monitor it again, and the tab says plainly that monitoring stopped."""
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    _seeker_send_stored(seeker, "hello")
    panel = accept_offer(pat)
    conversation = panel.get_attribute("data-conversation")
    assert conversation

    sam = new_page("/console", name="sam")
    login(sam, SUPERVISOR)
    watch = _monitor_by_id(sam, conversation)
    expect(watch.locator("li.msg-seeker")).to_have_text(re.compile("hello"))

    sam.context.set_offline(True)
    expect(sam.locator("#conn")).to_be_visible()
    _seeker_send_stored(seeker, "goodbye")
    panel.get_by_role("button", name="End conversation").click()
    expect(pat.locator(".tab").first).to_contain_text("(ended)")
    sam.context.set_offline(False)
    expect(sam.locator("#conn")).to_be_hidden(timeout=30_000)

    expect(sam.locator(".tab").first).to_contain_text("(ended)")
    expect(watch.locator("li.event")).to_have_text(re.compile("Monitoring stopped: this conversation has ended"))
    expect(watch.locator(".composer")).to_be_hidden()
    # The refusal belongs to the tab, not to the shift controls.
    expect(sam.locator("#shift-error")).to_have_text("")


def test_a_peer_s_notes_and_whispers_show_once_after_a_reconnect(new_page: Any) -> None:
    """The assigned frame after a reconnect carries every note and whisper: the ones shown
    before stay once, and a whisper sent while the peer's console was away appears."""
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    _seeker_send_stored(seeker, "hello")
    panel = accept_offer(pat)
    conversation = panel.get_attribute("data-conversation")
    assert conversation
    panel.locator(".notes summary").click()
    panel.locator(".note-text").fill("Own note.")
    panel.locator(".note-form button[type=submit]").click()

    sam = new_page("/console", name="sam")
    login(sam, SUPERVISOR)
    watch = _monitor_by_id(sam, conversation)
    watch.locator(".composer-text").fill("First whisper.")
    watch.get_by_role("button", name="Whisper").click()
    expect(panel.locator(".note")).to_have_count(2)

    pat.context.set_offline(True)
    expect(pat.locator("#conn")).to_be_visible()
    watch.locator(".composer-text").fill("Whisper while away.")
    watch.get_by_role("button", name="Whisper").click()
    expect(watch.locator(".note")).to_have_count(3)
    _seeker_send_stored(seeker, "are you there?")
    pat.context.set_offline(False)
    expect(pat.locator("#conn")).to_be_hidden(timeout=30_000)

    expect(panel.locator("li.msg-seeker").filter(has_text="are you there?")).to_have_count(1)
    expect(panel.locator(".note")).to_have_count(3)
    for text in ("Own note.", "First whisper.", "Whisper while away."):
        expect(panel.locator(".note").filter(has_text=text)).to_have_count(1)


def test_a_conversation_that_ended_while_the_console_was_away_stops_looking_live(new_page: Any) -> None:
    """The seeker leaves while the peer's console is offline: its `ended` went to a socket that
    was gone. After the reconnect the server names the conversations still the peer's, and the
    tab says this one ended instead of letting the peer write into it."""
    pat = new_page("/console", name="pat")
    seeker = new_page("/", name="seeker")
    login(pat, PEER)
    start_shift(pat)
    _seeker_send_stored(seeker, "hello")
    panel = accept_offer(pat)
    pat.context.set_offline(True)
    expect(pat.locator("#conn")).to_be_visible()
    seeker.click("#leave")
    seeker.click("#leave-confirm")
    expect(seeker.locator("#status")).to_contain_text("ended")
    pat.context.set_offline(False)
    expect(pat.locator("#conn")).to_be_hidden(timeout=30_000)
    expect(pat.locator(".tab").first).to_contain_text("(ended)")
    expect(panel.locator("li.event").filter(has_text="While you were away")).to_have_count(1)
