"""The optional check-in in the chat window, and the first-reply nudge in the console (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from pagehelpers import PEER, SUPERVISOR, accept_offer, login, screenshot, seeker_send, start_shift
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(150)]


@pytest.fixture
def server_env() -> dict[str, str]:
    # A short first-reply time, so the nudge and the supervisors' alert come within the test.
    return {"CHATD_FIRST_REPLY_S": "3"}


def test_checkin_answers_reach_the_peer_with_the_offer(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer, capacity=1)
    checkin = seeker.locator("#checkin")
    expect(checkin).to_be_visible()
    checkin.locator("input[name='feeling'][value='3']").check()
    checkin.locator("input[name='safe'][value='yes']").check()
    screenshot(seeker, "checkin")
    seeker_send(seeker, "hello, I would like to talk")  # the picked answers go with the first message
    expect(checkin).to_be_hidden()
    offer = peer.locator(".offer").first
    expect(offer.locator(".offer-checkin")).to_have_text("Check-in: feeling 3/7 · safe: yes")
    panel = accept_offer(peer)
    expect(panel.locator(".panel-checkin")).to_contain_text("feeling 3/7")
    expect(seeker.locator(".escalation")).to_have_count(0)


def test_checkin_is_skipped_with_one_key_and_the_first_message_goes_as_usual(new_page: Any) -> None:
    seeker = new_page("/", name="seeker")
    expect(seeker.locator("#checkin")).to_be_visible()
    seeker.focus("#checkin-skip")
    seeker.keyboard.press("Enter")
    expect(seeker.locator("#checkin")).to_be_hidden()
    expect(seeker.locator("#composer-text")).to_be_focused()
    seeker_send(seeker, "just a message")
    expect(seeker.locator("#transcript li")).to_have_count(1)


@pytest.mark.parametrize(("locale", "answer", "words"), [
    pytest.param("en-CA", "no", "24/7 line", id="en-no"),
    pytest.param("fr-CA", "not_sure", "ligne 24/7", id="fr-not-sure"),
])
def test_not_safe_shows_the_crisis_line_at_once_and_alerts_supervisors(
        new_page: Any, locale: str, answer: str, words: str) -> None:
    sup = new_page("/console", name="sup")
    login(sup, SUPERVISOR)
    start_shift(sup, capacity=1)
    seeker = new_page("/", name="seeker", locale=locale)
    seeker.locator(f"#checkin input[name='safe'][value='{answer}']").check()
    seeker.click("#checkin-send")  # answered alone, before any message
    box = seeker.locator(".escalation")
    expect(box).to_be_visible()
    expect(box).to_contain_text(words)
    expect(box.get_by_role("link", name="1-844-750-1648")).to_be_visible()
    if answer == "no":
        screenshot(seeker, "checkin-not-safe")
    expect(sup.locator("#alert-list li")).to_have_count(1)
    expect(sup.locator("#alert-list li").first).to_have_attribute("data-reason", "risk")


def test_a_peer_who_does_not_write_is_nudged_and_the_nudge_goes_when_they_do(new_page: Any) -> None:
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer, capacity=1)
    seeker_send(seeker, "hello?")
    panel = accept_offer(peer)
    nudge = panel.locator(".banner-nudge")
    expect(nudge).to_be_visible(timeout=15_000)
    expect(nudge).to_have_attribute("role", "alert")
    expect(nudge).to_contain_text("You have not written to chat 1 yet")
    expect(peer.locator(".tab.tab-nudged")).to_have_count(1)
    screenshot(peer, "nudge")
    panel.locator(".composer-text").fill("Hi, I'm here with you.")
    panel.locator(".composer-text").press("Enter")
    expect(nudge).to_have_count(0)
    expect(peer.locator(".tab.tab-nudged")).to_have_count(0)
