"""The SMS bridge end to end: signed webhooks in, texts out through the real twilio client to a
local Twilio-compatible server, into the same queue and console as the web."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sms.signature import compute_signature
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import Harness, Running
from tests.helpers import WS, t

SID, TOKEN, FROM = "AC" + "1" * 32, "twilio-test-token-0123456789abcd", "+15550001111"
TEXTER = "+16135550123"


@pytest.fixture
async def twilio() -> AsyncIterator[LocalTwilio]:
    server = LocalTwilio(SID, TOKEN, status_callbacks=True, callback_delay_s=0.05)
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


async def _start(harness: Harness, twilio: LocalTwilio, **overrides: Any) -> Running:
    return await harness.start(twilio_account_sid=SID, twilio_auth_token=TOKEN, twilio_from_number=FROM,
                               twilio_api_base=twilio.base_url, **overrides)


async def text(srv: Running, body: str, *, number: str = TEXTER, sid: str | None = None,
               token: str = TOKEN, url: str | None = None, extra: dict[str, str] | None = None) -> httpx.Response:
    """A signed inbound webhook, as Twilio sends it."""
    params = {"MessageSid": sid or new_sid(), "AccountSid": SID, "From": number, "To": FROM, "Body": body,
              "NumMedia": "0", **(extra or {})}
    signature = compute_signature(token, url or (srv.url + "/sms/inbound"), params)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return await http.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})


async def paired(srv: Running, peer: WS, body: str) -> str:
    """The texter writes ``body``; ``peer`` (on shift, with room) accepts. The conversation id."""
    await text(srv, body)
    offer = await peer.next("offer", timeout=5)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=offer["conversation"])
    return str(offer["conversation"])


async def _bodies(twilio: LocalTwilio, count: int, number: str = TEXTER) -> list[str]:
    for _ in range(int(t(10) / 0.05)):
        if len(twilio.bodies_to(number)) >= count:
            break
        await asyncio.sleep(0.05)
    return twilio.bodies_to(number)


async def test_a_texter_is_queued_paired_and_chats_with_a_peer(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice", display="Alice")
    peer = await harness.peer("alice", capacity=1)
    r = await text(srv, "Hi, I need to talk")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    offer = await peer.next("offer", timeout=5)
    assert offer["channel"] == "sms"
    conv = offer["conversation"]
    queued = (await _bodies(twilio, 1))[0]
    assert "1-844-750-1648" in queued and "911" in queued and "(number 1)" in queued
    await peer.send(type="accept", offer=offer["offer"])
    assigned = await peer.next("assigned", conversation=conv)
    assert assigned["label"].startswith("Texter ") and assigned["history"][0]["text"] == "Hi, I need to talk"
    await peer.send(type="message", conversation=conv, client_id="p1", text="I'm here with you.")
    seq = (await peer.next("ack", client_id="p1"))["seq"]
    for state in ("queued", "sent", "delivered"):
        assert (await peer.next("delivery", conversation=conv, seq=seq, state=state, timeout=10))["state"] == state
    assert "I'm here with you." in await _bodies(twilio, 3)
    assert all(m.from_ == FROM for m in twilio.messages) if hasattr(twilio.messages[0], "from_") else True
    await text(srv, "thank you")
    assert (await peer.next("message", conversation=conv, text="thank you"))["from"] == "seeker"
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended", conversation=conv)
    closing = (await _bodies(twilio, 4))[-1]
    assert closing != "I'm here with you."
    # A new text after the end opens a new conversation.
    await text(srv, "me again")
    again = await peer.next("offer", timeout=5)
    assert again["conversation"] != conv
    # The phone number is in no frame a peer saw, and never in the SQLite file.
    assert TEXTER not in str(peer.seen) and TEXTER[2:] not in str(peer.seen)
    assert TEXTER.encode() not in srv.settings.database.read_bytes()


@pytest.mark.parametrize("case", ["unsigned", "wrong-token", "other-url", "changed-param", "extra-param"])
async def test_forged_webhooks_get_403_and_change_nothing(twilio: LocalTwilio, harness: Harness, case: str) -> None:
    srv = await _start(harness, twilio)
    params = {"MessageSid": new_sid(), "From": TEXTER, "To": FROM, "Body": "hello"}
    url = srv.url + "/sms/inbound"
    signature = {
        "unsigned": "",
        "wrong-token": compute_signature("not-the-token", url, params),
        "other-url": compute_signature(TOKEN, "https://elsewhere.example/sms/inbound", params),
        "changed-param": compute_signature(TOKEN, url, {**params, "Body": "something else"}),
        "extra-param": compute_signature(TOKEN, url, params),
    }[case]
    data = {**params, "Injected": "x"} if case == "extra-param" else params
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/sms/inbound", data=data, headers={"X-Twilio-Signature": signature} if signature else {})
        assert r.status_code == 403
        r = await http.post("/sms/status", data={"MessageSid": "SMx", "MessageStatus": "delivered"})
        assert r.status_code == 403
    waiting, _ = await srv.services.engine.queue_counts()
    assert waiting == 0 and not twilio.messages


async def test_extra_signed_parameters_are_fine(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    r = await text(srv, "hello", extra={"FromCity": "OTTAWA", "SmsStatus": "received", "ApiVersion": "2010-04-01"})
    assert r.status_code == 200
    assert (await srv.services.engine.queue_counts())[0] == 1


async def test_duplicate_and_concurrent_message_sids_store_once(twilio: LocalTwilio, harness: Harness) -> None:
    web1 = await _start(harness, twilio)
    web2 = await _start(harness, twilio, )
    sid = new_sid()
    first = await text(web1, "only once", sid=sid)
    assert first.status_code == 200
    assert (await text(web1, "only once", sid=sid)).status_code == 200
    sid2 = new_sid()
    results = await asyncio.gather(text(web1, "twin", sid=sid2), text(web2, "twin", sid=sid2))
    assert [r.status_code for r in results] == [200, 200]
    conv = await web1.services.sms.open_conversation(
        __import__("sms.hashing", fromlist=["number_hash"]).number_hash(web1.settings.secret_key, TEXTER))
    history = await web1.services.engine.history(conv)
    assert [h.count("only once") for h in history].count(1) == 1 and sum("twin" in h for h in history) == 1


@pytest.mark.parametrize("body,expect", [
    pytest.param("HELP", "1-844-750-1648", id="help"),
    pytest.param("aide", "1-844-750-1648", id="aide-fr"),
    pytest.param(" Info ", "1-844-750-1648", id="info"),
])
async def test_help_is_answered_in_twiml_and_opens_nothing(twilio: LocalTwilio, harness: Harness,
                                                           body: str, expect: str) -> None:
    srv = await _start(harness, twilio)
    r = await text(srv, body)
    assert r.status_code == 200 and "<Message>" in r.text and expect in r.text
    assert (await srv.services.engine.queue_counts())[0] == 0


async def test_stop_ends_the_conversation_and_silences_the_number_until_start(
        harness: Harness, twilio: LocalTwilio) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello")
    sent_before = len(await _bodies(twilio, 2))
    r = await text(srv, "ARRÊT")
    assert r.status_code == 200 and "<Message>" not in r.text
    assert (await peer.next("ended", conversation=conv))["by"] == "seeker"
    await text(srv, "STOP please")  # not a keyword: a message, in a new conversation
    offer2 = await peer.next("offer", timeout=5)
    await peer.send(type="accept", offer=offer2["offer"])
    await peer.next("assigned", conversation=offer2["conversation"])
    await peer.send(type="message", conversation=offer2["conversation"], client_id="x", text="are you ok?")
    seq = (await peer.next("ack", client_id="x"))["seq"]
    failed = await peer.next("delivery", conversation=offer2["conversation"], seq=seq, state="failed", timeout=5)
    assert failed.get("code") == "21610"
    await asyncio.sleep(t(0.5))
    assert len(twilio.bodies_to(TEXTER)) == sent_before
    r = await text(srv, "START")
    assert "<Message>" in r.text
    await peer.send(type="message", conversation=offer2["conversation"], client_id="y", text="welcome back")
    seq = (await peer.next("ack", client_id="y"))["seq"]
    await peer.next("delivery", conversation=offer2["conversation"], seq=seq, state="sent", timeout=10)


async def test_delete_forgets_the_numbers_texts(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await text(srv, "something private")
    from sms.hashing import number_hash
    conv = await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, TEXTER))
    assert conv is not None
    r = await text(srv, "SUPPRIMER")
    assert "<Message>" in r.text
    info = await srv.services.engine.info(conv)
    assert info is not None and info.state.value == "ended"
    assert await srv.services.engine.history(conv) == []
    await asyncio.sleep(t(0.3))
    assert await srv.services.store.messages(conv) == []
    assert b"something private" not in srv.settings.database.read_bytes()


async def test_send_failures_are_retried_and_permanent_ones_shown(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hi")
    await _bodies(twilio, 2)  # the in-line notice and "a peer has joined"
    twilio.fail_next(500, 1)
    twilio.fail_next(429, 1)
    await peer.send(type="message", conversation=conv, client_id="r", text="retried until sent")
    seq = (await peer.next("ack", client_id="r"))["seq"]
    await peer.next("delivery", conversation=conv, seq=seq, state="sent", timeout=15)
    assert "retried until sent" in twilio.bodies_to(TEXTER)
    twilio.fail_next(400, 1, code=21211)
    await peer.send(type="message", conversation=conv, client_id="p", text="permanent failure")
    seq = (await peer.next("ack", client_id="p"))["seq"]
    failed = await peer.next("delivery", conversation=conv, seq=seq, state="failed", timeout=10)
    assert failed["code"] == "21211"


async def test_idle_sms_conversation_ends_with_a_closing_text(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio, sms_idle_s=t(0.5))
    await text(srv, "hello?")
    from sms.hashing import number_hash
    conv = await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, TEXTER))
    assert conv is not None
    for _ in range(100):
        info = await srv.services.engine.info(conv)
        if info is not None and info.state.value == "ended":
            break
        await asyncio.sleep(0.05)
    assert info is not None and info.state.value == "ended"
    bodies = await _bodies(twilio, 3)
    assert len(bodies) >= 3  # in line, no peer on shift (escalation), closing


async def test_simulator_exists_only_without_credentials(twilio: LocalTwilio, harness: Harness) -> None:
    real = await _start(harness, twilio)
    sim = await harness.start(key_prefix=harness.settings.key_prefix + "sim")
    async with httpx.AsyncClient() as http:
        assert (await http.get(real.url + "/dev/phone")).status_code == 404
        page = await http.get(sim.url + "/dev/phone")
        assert page.status_code == 200 and "Phone simulator" in page.text
        r = await http.post(sim.url + "/dev/phone/api/send", json={"from": "+16135550199", "body": "HELP"})
        assert r.status_code == 200 and "1-844-750-1648" in r.json()["reply"]
        await harness.add_peer("alice", server=sim)
        peer = await harness.peer("alice", capacity=1, server=sim)
        r = await http.post(sim.url + "/dev/phone/api/send", json={"from": "+16135550199", "body": "hello"})
        offer = await peer.next("offer", timeout=5)
        assert offer["channel"] == "sms"
        for _ in range(100):
            got = (await http.get(sim.url + "/dev/phone/api/messages", params={"number": "+16135550199"})).json()
            if got["messages"]:
                break
            await asyncio.sleep(0.05)
        assert "1-844-750-1648" in got["messages"][0]["body"]




async def test_language_is_learned_from_keywords_and_fr(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    r = await text(srv, "AIDE")
    assert "Ligne 24/7" in r.text
    await text(srv, "bonjour")
    queued = (await _bodies(twilio, 1))[0]
    assert "Vous êtes en file" in queued and "You're in line" not in queued
    other = "+16135550188"
    await text(srv, "hello", number=other)
    both = (await _bodies(twilio, 1, other))[0]
    assert "You're in line" in both and "Vous êtes en file" in both  # unknown: both languages
    r = await text(srv, "EN", number=other)
    assert "<Message>" in r.text


async def test_peer_sets_the_texters_language(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    await harness.add_peer("mallory")
    peer = await harness.peer("alice", capacity=1)
    mallory = await harness.peer("mallory")
    await text(srv, "allo")
    offer = await peer.next("offer", timeout=5)
    conv = offer["conversation"]
    await mallory.send(type="language", conversation=conv, lang="fr")
    assert (await mallory.next("error"))["code"] == "not_allowed"
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    await peer.send(type="language", conversation=conv, lang="de")
    assert (await peer.next("error"))["code"] == "bad_request"
    await peer.send(type="language", conversation=conv, lang="fr")
    assert (await peer.next("language", conversation=conv))["lang"] == "fr"
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended")
    closing = (await _bodies(twilio, 3))[-1]
    assert closing.startswith("La personne aidante a terminé la conversation") and "Thank" not in closing


async def test_delivery_states_follow_the_conversation_to_a_new_console(
        twilio: LocalTwilio, harness: Harness) -> None:
    """A console that reconnects, the peer a conversation is transferred to, and a monitoring
    supervisor each see where every text stands, marked as a replay (no second alert)."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    await harness.add_peer("sue", role="supervisor")
    alice = await harness.peer("alice", capacity=1)
    conv = await paired(srv, alice, "hi")
    await alice.send(type="message", conversation=conv, client_id="ok", text="this one arrives")
    delivered = (await alice.next("ack", client_id="ok"))["seq"]
    await alice.next("delivery", conversation=conv, seq=delivered, state="delivered", timeout=10)
    twilio.fail_next(400, 1, code=21211)
    await alice.send(type="message", conversation=conv, client_id="no", text="this one fails")
    failed = (await alice.next("ack", client_id="no"))["seq"]
    await alice.next("delivery", conversation=conv, seq=failed, state="failed", timeout=10)
    expected = {(delivered, "delivered", None), (failed, "failed", "21211")}

    async def replayed(ws: Any, kind: str) -> set[tuple[int, str, str | None]]:
        await ws.next(kind, conversation=conv)
        # Live delivery frames may come too (the texter is told a new peer joined, by text).
        frames = [await ws.next("delivery", conversation=conv, replay=True) for _ in expected]
        return {(f["seq"], f["state"], f.get("code")) for f in frames}

    await alice.close()
    assert await replayed(await harness.peer("alice"), "assigned") == expected
    sue = await harness.peer("sue")
    await sue.send(type="monitor", conversation=conv)
    assert await replayed(sue, "monitoring") == expected
    bob = await harness.peer("bob", capacity=1)
    alice = await harness.peer("alice")
    await alice.send(type="transfer", conversation=conv, to="bob")
    offer = await bob.next("offer", conversation=conv)
    await bob.send(type="accept", offer=offer["offer"])
    assert await replayed(bob, "assigned") == expected


async def test_a_text_with_a_nul_reaches_the_peer_with_a_replacement_character(twilio: LocalTwilio,
                                                                               harness: Harness) -> None:
    """No database stores U+0000 (config/textrules.py), yet a text is never refused for one (that
    would lose the texter's words): it reaches the peer with U+FFFD in its place."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice", display="Alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello")
    assert (await text(srv, "a\x00b")).status_code == 200
    assert (await peer.next("message", conversation=conv))["text"] == "a\ufffdb"
