"""The seeker's chat window on its own: languages, quick exit, phone size, resume failures."""

from __future__ import annotations

from typing import Any

import pytest
from pagehelpers import EXIT_URL, NEUTRAL_START_URL, screenshot, seeker_send
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def test_french_is_chosen_from_the_browser_language(new_page: Any) -> None:
    """A French browser gets the French page, and the conversation is opened in French."""
    seeker = new_page("/", name="seeker", locale="fr-CA")
    expect(seeker.locator("html")).to_have_attribute("lang", "fr")
    expect(seeker).to_have_title("Clavardage de soutien par les pairs")
    expect(seeker.locator("#quick-exit")).to_have_text("Sortie rapide")
    expect(seeker.locator("#notice-text")).to_contain_text("Ce n'est pas un service d'urgence")
    expect(seeker.locator("#notice-text")).to_contain_text("911")
    expect(seeker.locator(".crisis")).to_contain_text("Ligne de crise")
    screenshot(seeker, "seeker-fr")

    # Nobody is on shift: the seeker is queued and escalated, in French.
    frames: list[str] = []
    seeker.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))
    seeker_send(seeker, "Bonjour")
    expect(seeker.locator("li.msg-own .msg-state")).to_have_text("Reçu")
    assert any('"lang":"fr"' in f for f in frames), f"hello did not ask for French: {frames}"
    expect(seeker.locator("#status")).to_contain_text("aucun pair n\u2019est en service")
    expect(seeker.locator(".escalation")).to_contain_text("1-844-750-1648")
    screenshot(seeker, "seeker-fr-escalation")


def test_language_can_be_switched_and_stays_for_the_tab(new_page: Any) -> None:
    seeker = new_page("/", name="seeker")
    expect(seeker.locator("#lang-switch")).to_have_text("Français")
    seeker.click("#lang-switch")
    expect(seeker.locator("html")).to_have_attribute("lang", "fr")
    expect(seeker.locator("#composer label")).to_have_text("Votre message")
    expect(seeker.locator("#lang-switch")).to_have_text("English")
    seeker.reload()
    expect(seeker.locator("html")).to_have_attribute("lang", "fr")
    seeker.click("#lang-switch")
    expect(seeker.locator("#composer label")).to_have_text("Your message")


@pytest.mark.parametrize("how", ["button", "escape"])
def test_quick_exit_replaces_the_page_and_clears_the_tab(new_page: Any, how: str) -> None:
    """Quick exit: the neutral site replaces the chat, Back does not return to it, and the
    tab's sessionStorage is empty (the conversation cannot be resumed from this tab)."""
    seeker = new_page(NEUTRAL_START_URL, name="seeker")
    seeker.goto("/")
    chat_url = seeker.url
    seeker_send(seeker, "something private")
    expect(seeker.locator("li.msg-own .msg-state")).to_have_text("Delivered")
    seeker.fill("#composer-text", "a private draft")
    assert seeker.evaluate("() => sessionStorage.length") > 0
    length_before = seeker.evaluate("() => history.length")

    if how == "button":
        seeker.click("#quick-exit")
    else:
        seeker.locator("body").press("Escape")
        seeker.keyboard.press("Escape")
        seeker.keyboard.press("Escape")
    seeker.wait_for_url(EXIT_URL)
    assert seeker.evaluate("() => history.length") == length_before, "quick exit added a history entry"

    seeker.go_back()
    assert seeker.url == NEUTRAL_START_URL, f"Back led to {seeker.url}"
    seeker.go_forward()
    assert seeker.url == EXIT_URL

    # Same tab, same origin as the chat: nothing is left of the conversation.
    seeker.goto(chat_url)
    assert seeker.evaluate("() => sessionStorage.length") == 0
    expect(seeker.locator("#transcript li")).to_have_count(0)
    expect(seeker.locator("#composer-text")).to_have_value("")
    expect(seeker.locator("#status")).to_have_text("Your chat starts when you send your first message.")


def test_quick_exit_works_even_if_the_chat_fails_to_load(new_page: Any) -> None:
    """Quick exit is a module of its own, loaded apart from the chat's: when a module of the
    chat does not load (a flaky connection, a half-finished deploy), quick exit still works."""
    seeker = new_page(NEUTRAL_START_URL, name="seeker")
    seeker.route("**/static/socket.js", lambda route: route.fulfill(status=404, body=""))
    seeker.goto("/")
    chat_url = seeker.url
    expect(seeker.locator("#status")).to_have_text("")  # the chat did not start
    seeker.evaluate("() => sessionStorage.setItem('chatd.draft', 'a private draft')")
    seeker.click("#quick-exit")
    seeker.wait_for_url(EXIT_URL)
    seeker.goto(chat_url)
    assert seeker.evaluate("() => sessionStorage.length") == 0


def test_one_or_two_escapes_do_not_exit(new_page: Any) -> None:
    seeker = new_page("/", name="seeker")
    seeker.locator("body").press("Escape")
    seeker.keyboard.press("Escape")
    seeker.wait_for_timeout(2500)  # longer than the three-press window
    seeker.keyboard.press("Escape")
    seeker.wait_for_timeout(300)
    assert seeker.url.endswith("/"), seeker.url


def test_phone_sized_screen_keeps_crisis_line_and_quick_exit_in_view(new_page: Any) -> None:
    seeker = new_page("/", name="seeker", viewport={"width": 360, "height": 640}, is_mobile=True,
                      has_touch=True, device_scale_factor=2)
    screenshot(seeker, "seeker-phone")
    for i in range(12):
        seeker_send(seeker, f"message number {i} on a small screen, long enough to wrap onto two lines")
    expect(seeker.locator("li.msg-own")).to_have_count(12)
    expect(seeker.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    seeker.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert seeker.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), \
        "the page scrolls sideways on a phone"
    for selector in ("#crisis-tel", "#quick-exit", "#composer-text", "#send"):
        box = seeker.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= 640, f"{selector} is out of view: {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360, f"{selector} is cut off: {box}"
    # Touch targets of the main controls are at least 44 CSS pixels high.
    for selector in ("#quick-exit", "#send"):
        box = seeker.locator(selector).bounding_box()
        assert box is not None and box["height"] >= 44, f"{selector} is too small to tap: {box}"
    screenshot(seeker, "seeker-phone-chat")


@pytest.mark.parametrize(("locale", "heading", "leads", "kept"), [
    pytest.param("en-CA", "What is confidential, and what is not", ["Confidential:", "Not confidential:"],
                 "for 30 days after it ends", id="en"),
    pytest.param("fr-CA", "Ce qui est confidentiel et ce qui ne l\u2019est pas",
                 ["Confidentiel\u00a0:", "Non confidentiel\u00a0:"], "pendant 30 jours après sa fin", id="fr"),
])
def test_notice_says_what_is_confidential_on_a_phone_s_first_screen(
        new_page: Any, locale: str, heading: str, leads: list[str], kept: str) -> None:
    """On a 390 x 844 phone, before anything is scrolled, the notice's heading names what is
    and is not confidential, and the notice is seen whole between the sticky header and the
    sticky composer, with no inner scrolling; its details are one tap away."""
    seeker = new_page("/", name="seeker", locale=locale, viewport={"width": 390, "height": 844},
                      is_mobile=True, has_touch=True, device_scale_factor=2)
    title = seeker.locator("#notice-title")
    expect(title).to_have_text(heading)
    expect(title).to_be_in_viewport()
    expect(seeker.locator("#notice-text > p > strong")).to_have_text(leads)
    fit = seeker.evaluate("""() => {
        const rect = (selector) => document.querySelector(selector).getBoundingClientRect();
        const notice = document.getElementById('notice');
        return {headerBottom: rect('.topbar').bottom, composerTop: rect('#composer').top,
                top: rect('#notice').top, bottom: rect('#notice').bottom, scrollY: window.scrollY,
                scrollHeight: notice.scrollHeight, clientHeight: notice.clientHeight};
    }""")
    assert fit["scrollY"] == 0, fit
    assert fit["scrollHeight"] <= fit["clientHeight"], f"the notice scrolls inside itself: {fit}"
    assert fit["top"] >= fit["headerBottom"], f"the header covers the notice: {fit}"
    assert fit["bottom"] <= fit["composerTop"], f"part of the notice is below the fold: {fit}"
    screenshot(seeker, "seeker-phone-notice" + ("-fr" if locale == "fr-CA" else ""))

    more = seeker.locator("#notice-text .notice-more")
    expect(more.locator("p").first).to_be_hidden()
    toggle = more.locator("summary").bounding_box()
    assert toggle is not None and toggle["height"] >= 44, f"'More details' is too small to tap: {toggle}"
    more.locator("summary").click()
    expect(more.locator("p").first).to_be_visible()
    expect(more).to_contain_text(kept)


def test_unknown_resume_token_starts_over_cleanly(new_page: Any) -> None:
    """A token the server no longer knows: the page drops it and lets the seeker start again."""
    seeker = new_page("/", name="seeker")
    seeker.evaluate("() => sessionStorage.setItem('chatd.resume', 'no-such-token')")
    seeker.reload()
    expect(seeker.locator("#notice-line")).to_contain_text("ended or expired")
    expect(seeker.locator("#status")).to_have_text("Your chat starts when you send your first message.")
    assert seeker.evaluate("() => sessionStorage.getItem('chatd.resume')") is None
    seeker_send(seeker, "starting again")
    expect(seeker.locator("li.msg-own .msg-state")).to_have_text("Delivered")
    assert seeker.evaluate("() => sessionStorage.getItem('chatd.resume')") not in (None, "no-such-token")


def test_seeker_page_works_with_the_keyboard_alone(new_page: Any) -> None:
    """Skip link to the message box, type, Enter sends; the leave button asks first."""
    seeker = new_page("/", name="seeker")
    seeker.keyboard.press("Tab")
    expect(seeker.locator(".skip-link")).to_be_focused()
    seeker.keyboard.press("Enter")
    expect(seeker.locator("#composer-text")).to_be_focused()
    seeker.keyboard.type("typed with the keyboard")
    seeker.keyboard.press("Enter")
    expect(seeker.locator("li.msg-own .msg-state")).to_have_text("Delivered")
    expect(seeker.locator("#composer-text")).to_be_focused()
    seeker.focus("#leave")
    seeker.keyboard.press("Enter")
    expect(seeker.locator("#leave-confirm")).to_be_focused()
    seeker.keyboard.press("Enter")
    expect(seeker.locator("#after-title")).to_be_focused()
    expect(seeker.locator("#status")).to_have_text("The conversation has ended.")


def test_a_burst_of_messages_is_never_left_unsent(new_page: Any) -> None:
    """More messages at once than the rate limit lets through: the refused ones go again by
    themselves, and every one ends Delivered (no message silently stays 'Sent')."""
    seeker = new_page("/", name="seeker")
    seeker_send(seeker, "first")
    expect(seeker.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    seeker.evaluate("""() => {
        const box = document.getElementById('composer-text');
        const send = document.getElementById('send');
        for (let i = 0; i < 30; i++) { box.value = 'burst ' + i; send.click(); }
    }""")
    expect(seeker.locator("li.msg-own")).to_have_count(31)
    expect(seeker.locator("li.msg-own .msg-state", has_text="Delivered")).to_have_count(31, timeout=60_000)
