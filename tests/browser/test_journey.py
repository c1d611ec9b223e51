"""The whole journey, a seeker and a peer side by side in two browser contexts."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from pagehelpers import PEER, WAIT_MS, accept_offer, login, screenshot, seeker_send, start_shift
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def shown_seqs(transcript: Any) -> list[int]:
    """The seq numbers of the messages a transcript shows, in the order shown."""
    seqs = transcript.locator("li.msg").evaluate_all("els => els.map(e => e.dataset.seq || '')")
    return [int(s) for s in seqs if s]


def test_seeker_and_peer_chat_from_first_message_to_forget(new_page: Any) -> None:
    """Login, shift, offer, accept, both ways, typing, a dropped connection, end, survey, forget."""
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")

    # Before the first message: the notice, the crisis line and quick exit are there.
    expect(seeker.locator("#notice")).to_have_attribute("open", "")
    expect(seeker.locator("#notice-text")).to_contain_text("not an emergency service")
    expect(seeker.locator("#crisis-tel")).to_have_attribute("href", "tel:1-844-750-1648")
    expect(seeker.locator("#crisis-mail")).to_have_text("DND.SMRC-CIIS.MDN@forces.gc.ca")
    screenshot(seeker, "seeker-before-first-message")

    screenshot(peer, "console-login")
    login(peer, PEER)
    start_shift(peer, capacity=2)
    expect(peer.locator("#q-peers")).to_have_text("1")

    seeker_send(seeker, "Hello, is anyone there?")
    first = seeker.locator("li.msg-own").first
    expect(first.locator(".msg-state")).to_have_text("Delivered")
    expect(seeker.locator("#status")).to_have_attribute("data-state", re.compile("waiting|active"))

    # The offer: noticeable without sound (countdown, flashing title), then accepted.
    offer = peer.locator(".offer").first
    expect(offer).to_be_visible()
    expect(offer.locator(".offer-countdown")).to_contain_text(re.compile(r"Expires in \d+ s"))
    peer.wait_for_function("() => document.title.includes('New offer')")
    screenshot(peer, "console-offer")
    panel = accept_offer(peer)
    expect(panel.locator("li.msg-seeker")).to_contain_text("Hello, is anyone there?")
    expect(seeker.locator("#status")).to_have_text(f"You are chatting with {PEER.display_name}.")

    # Both ways.
    panel.locator(".composer-text").fill("Hi, I'm Pat. I'm here to listen.")
    panel.locator(".composer-text").press("Enter")
    expect(panel.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    expect(seeker.locator("li.msg-peer")).to_contain_text("I'm here to listen")
    seeker_send(seeker, "Thank you.")
    expect(panel.locator("li.msg-seeker").last).to_contain_text("Thank you.")

    # Typing, both ways. Typed for over two seconds: both the page and the server space
    # typing frames out, so a short burst right after a message may be folded into it.
    panel.locator(".composer-text").press_sequentially("Take your time", delay=180)
    expect(seeker.locator("#typing")).to_have_text("The peer supporter is typing…")
    seeker.locator("#composer-text").press_sequentially("Well, you see", delay=180)
    expect(panel.locator(".typing")).to_have_text("The seeker is typing…")
    seeker.fill("#composer-text", "")
    panel.locator(".composer-text").fill("")
    screenshot(seeker, "seeker-with-peer")
    screenshot(peer, "console-conversation")

    # A dropped connection: the seeker writes while offline, the peer writes meanwhile;
    # after the reconnect both sides have every message exactly once.
    seeker.context.set_offline(True)
    expect(seeker.locator("#offline")).to_be_visible()
    screenshot(seeker, "seeker-offline")
    seeker_send(seeker, "Written while offline")
    expect(seeker.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Not sent yet")
    panel.locator(".composer-text").fill("Are you still there?")
    panel.locator(".composer-text").press("Enter")
    expect(panel.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    seeker.context.set_offline(False)
    expect(seeker.locator("#offline")).to_be_hidden(timeout=30_000)
    expect(seeker.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    expect(seeker.locator("li.msg-peer").filter(has_text="Are you still there?")).to_have_count(1)
    expect(panel.locator("li.msg-seeker").filter(has_text="Written while offline")).to_have_count(1)
    seeker_seqs = shown_seqs(seeker.locator("#transcript"))
    assert seeker_seqs == sorted(set(seeker_seqs)), f"seeker sees a duplicate or out of order: {seeker_seqs}"
    peer_seqs = shown_seqs(panel.locator(".transcript"))
    assert seeker_seqs == peer_seqs, f"the two sides differ: seeker {seeker_seqs}, peer {peer_seqs}"
    assert seeker_seqs == list(range(1, len(seeker_seqs) + 1)), f"a message is missing: {seeker_seqs}"

    # A private note stays on the peer's side.
    panel.locator(".notes summary").click()
    panel.locator(".note-text").fill("Seeker sounds calmer now.")
    panel.locator(".note-form button[type=submit]").click()
    expect(panel.locator(".notes-list")).to_contain_text("Seeker sounds calmer now.")
    expect(seeker.locator("body")).not_to_contain_text("calmer")

    # The peer ends it with an outcome; the seeker sees the end, rates, and deletes it.
    panel.locator(".end-outcome").select_option("resolved")
    panel.get_by_role("button", name="End conversation").click()
    expect(peer.locator(".tab").first).to_contain_text("ended")
    expect(seeker.locator("#after")).to_be_visible()
    expect(seeker.locator("#after-title")).to_be_focused()
    expect(seeker.locator("#composer")).to_be_hidden()
    screenshot(seeker, "seeker-ended")
    screenshot(peer, "console-ended")

    seeker.locator("#survey input[name='rating'][value='4']").check()
    seeker.locator("#survey button[type=submit]").click()
    expect(seeker.locator("#survey-done")).to_have_text("Thank you. Your rating was sent.")
    seeker.click("#forget")
    expect(seeker.locator("#forget-confirm")).to_be_focused()
    seeker.click("#forget-confirm")
    expect(seeker.locator("#forget-status")).to_have_text("The conversation was deleted.")
    expect(seeker.locator("#transcript li")).to_have_count(0)
    assert seeker.evaluate("() => sessionStorage.getItem('chatd.resume')") is None
    screenshot(seeker, "seeker-forgotten")

    # The peer closes the ended tab.
    peer.get_by_role("button", name="Close this tab").click()
    expect(peer.locator(".tab")).to_have_count(0)


def test_reload_resumes_without_duplicates(new_page: Any) -> None:
    """A reload in the middle of a conversation shows the whole conversation once."""
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "first")
    panel = accept_offer(peer)
    panel.locator(".composer-text").fill("second")
    panel.locator(".composer-text").press("Enter")
    expect(seeker.locator("li.msg-peer")).to_contain_text("second")
    seeker.fill("#composer-text", "a draft I have not sent")

    seeker.reload()
    expect(seeker.locator("#status")).to_have_text(f"You are chatting with {PEER.display_name}.")
    expect(seeker.locator("li.msg-own").filter(has_text="first")).to_have_count(1)
    expect(seeker.locator("li.msg-peer").filter(has_text="second")).to_have_count(1)
    expect(seeker.locator("#composer-text")).to_have_value("a draft I have not sent")
    seeker_send(seeker, "third")
    expect(panel.locator("li.msg-seeker").filter(has_text="third")).to_have_count(1)


def test_resume_replays_a_message_whose_frame_an_ack_overtook(new_page: Any) -> None:
    """The peer's message (seq N) is held on its way to the page while the ack of the seeker's
    next message (N+1) gets through, and then the connection drops with N still in flight:
    the page resumes after N-1, the last seq with no gap below it, so the server replays N;
    N+1, seen before the gap was filled, is not shown twice."""
    held_text = "a message held on its way to the page"
    held: list[dict[str, Any]] = []
    sockets: list[tuple[Any, Any]] = []  # (page side, server side) of each socket the page opens
    hellos: list[dict[str, Any]] = []

    def route(page_side: Any) -> None:
        server_side = page_side.connect_to_server()
        first = not sockets
        sockets.append((page_side, server_side))

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "hello":
                hellos.append(frame)
            server_side.send(message)

        def from_server(message: str | bytes) -> None:
            frame = json.loads(message)
            if first and frame.get("type") == "message" and frame.get("text") == held_text:
                held.append(frame)  # never delivered: lost with this socket
                return
            page_side.send(message)

        page_side.on_message(from_page)
        server_side.on_message(from_server)

    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker", goto=False)
    seeker.route_web_socket(re.compile(r"/ws/seeker$"), route)
    seeker.goto("/")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "first")
    panel = accept_offer(peer)
    expect(seeker.locator("#status")).to_have_text(f"You are chatting with {PEER.display_name}.")

    panel.locator(".composer-text").fill(held_text)
    panel.locator(".composer-text").press("Enter")
    deadline = time.monotonic() + WAIT_MS / 1000
    while not held and time.monotonic() < deadline:
        seeker.wait_for_timeout(20)  # lets Playwright run the route's handlers
    assert held, "the peer's message never reached the seeker's socket"
    seeker_send(seeker, "written after it")
    expect(seeker.locator("li.msg-own").last.locator(".msg-state")).to_have_text("Delivered")
    assert shown_seqs(seeker.locator("#transcript"))[-1] == held[0]["seq"] + 1, "the ack did not overtake"

    page_side, server_side = sockets[0]
    page_side.close(code=1012, reason="dropped by the test")
    server_side.close()
    expect(seeker.locator("li.msg-peer").filter(has_text=held_text)).to_have_count(1)
    expect(seeker.locator("li.msg-own").filter(has_text="written after it")).to_have_count(1)
    assert hellos[-1].get("last_seq") == held[0]["seq"] - 1, f"resumed with {hellos[-1]}"
    seqs = shown_seqs(seeker.locator("#transcript"))
    assert seqs == list(range(1, held[0]["seq"] + 2)), f"a message is missing or doubled: {seqs}"


def test_peer_console_reconnects_and_gets_its_conversation_back(new_page: Any) -> None:
    """The console's socket drops; on reconnect the open conversation is there, once."""
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "hello")
    panel = accept_offer(peer)
    peer.context.set_offline(True)
    expect(peer.locator("#conn")).to_be_visible()
    seeker_send(seeker, "sent while the peer was away")
    peer.context.set_offline(False)
    expect(peer.locator("#conn")).to_be_hidden(timeout=30_000)
    expect(panel.locator("li.msg-seeker").filter(has_text="sent while the peer was away")).to_have_count(1)
    expect(peer.locator(".tab")).to_have_count(1)


def test_escalation_stands_out_and_the_debrief_pause_can_be_ended_early(new_page: Any) -> None:
    """The peer escalates: the seeker gets an alert with the crisis line. Ending an escalated
    conversation starts a debrief pause (shift frame debrief_until); its button ends it."""
    peer = new_page("/console", name="peer")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "hello")
    panel = accept_offer(peer)
    panel.get_by_role("button", name="Escalate to crisis line").click()
    alert = seeker.locator("#transcript .escalation [role=alert]")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("1-844-750-1648")
    call = alert.get_by_role("link", name="Call 1-844-750-1648")
    expect(call).to_have_attribute("href", "tel:1-844-750-1648")
    screenshot(seeker, "seeker-escalation")

    panel.get_by_role("button", name="End conversation").click()
    expect(peer.locator("#debrief")).to_be_visible()
    expect(peer.locator("#debrief-text")).to_contain_text("New offers resume at")
    screenshot(peer, "console-debrief")
    peer.click("#debrief-end")
    expect(peer.locator("#debrief")).to_be_hidden()
    expect(peer.locator("#shift-state")).to_have_attribute("data-state", "on")


def test_the_console_sends_again_a_message_the_server_refused(new_page: Any) -> None:
    """A peer's message answered `unavailable` (Redis briefly away: nothing acknowledged) is sent
    again with the same client_id after a pause, as the chat window does; the seeker gets it once."""
    refused: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    text = "a reply refused once"

    def route(page_side: Any) -> None:
        server_side = page_side.connect_to_server()

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "message" and frame.get("text") == text:
                sent.append(frame)
                if not refused:  # the first attempt: answered as a server whose Redis is away
                    refused.append(frame)
                    page_side.send(json.dumps({"type": "error", "code": "unavailable",
                                               "message": "briefly unavailable: nothing was acknowledged"}))
                    return
            server_side.send(message)

        page_side.on_message(from_page)
        server_side.on_message(lambda message: page_side.send(message))

    peer = new_page("/console", name="peer", goto=False)
    peer.route_web_socket(re.compile(r"/ws/peer$"), route)
    peer.goto("/console")
    seeker = new_page("/", name="seeker")
    login(peer, PEER)
    start_shift(peer)
    seeker_send(seeker, "hello")
    panel = accept_offer(peer)
    panel.locator(".composer-text").fill(text)
    panel.locator(".composer-text").press("Enter")
    expect(seeker.locator("li.msg-peer").filter(has_text=text)).to_have_count(1)
    assert len(sent) == 2 and sent[0]["client_id"] == sent[1]["client_id"], sent
    expect(panel.locator("li.msg-own").filter(has_text=text).locator(".msg-state")).to_have_text("Delivered")
