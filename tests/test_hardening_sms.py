"""Hardening: the Twilio webhooks against forged, replayed, huge and malformed requests, and notes
that must never become texts (issue 6).

test_sms_bridge.py already proves: unsigned, wrong-token, other-host, changed and unsigned-extra
parameters get 403 (test_forged_webhooks_get_403_and_change_nothing), signed extra parameters are
fine (test_extra_signed_parameters_are_fine), one replay and two concurrent copies store once
(test_duplicate_and_concurrent_message_sids_store_once).
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sms.hashing import number_hash
from sms.signature import compute_signature
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import Harness
from tests.helpers import t
from tests.test_sms_bridge import FROM, SID, TEXTER, TOKEN, _bodies, _start, paired, text, twilio

__all__ = ["twilio"]


async def _open_conv(harness: Harness, number: str = TEXTER) -> str | None:
    srv = harness.servers[0]
    return await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, number))


@pytest.mark.parametrize("case", ["status-path", "host-header-url", "https-url", "query-added", "empty-header",
                                  "signature-of-other-sid"])
async def test_signatures_for_anything_but_this_exact_request_are_refused(harness: Harness, twilio: LocalTwilio,
                                                                          case: str) -> None:
    srv = await _start(harness, twilio)
    params = {"MessageSid": new_sid(), "AccountSid": SID, "From": TEXTER, "To": FROM, "Body": "hello"}
    host_url = srv.url.replace("127.0.0.1", "localhost")
    path, url = "/sms/inbound", srv.url + "/sms/inbound"
    signature = {
        "status-path": compute_signature(TOKEN, srv.url + "/sms/status", params),
        "host-header-url": compute_signature(TOKEN, host_url + "/sms/inbound", params),
        "https-url": compute_signature(TOKEN, url.replace("http://", "https://"), params),
        "query-added": compute_signature(TOKEN, url, params),
        "empty-header": "",
        "signature-of-other-sid": compute_signature(TOKEN, url, {**params, "MessageSid": new_sid()}),
    }[case]
    if case == "query-added":
        path += "?Body=injected"
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403
    assert (await srv.services.engine.queue_counts())[0] == 0 and await _open_conv(harness) is None
    await asyncio.sleep(t(0.2))
    assert not twilio.messages
    assert (await text(srv, "a real one")).status_code == 200  # the bridge itself is fine


async def test_forged_status_callback_changes_no_delivery_state(harness: Harness, twilio: LocalTwilio) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hi")
    await peer.send(type="message", conversation=conv, client_id="p", text="hello there")
    seq = (await peer.next("ack", client_id="p"))["seq"]
    await peer.next("delivery", conversation=conv, seq=seq, state="delivered", timeout=10)
    sent = next(m for m in twilio.messages if m.body == "hello there")
    forged = {"MessageSid": sent.sid, "MessageStatus": "failed", "ErrorCode": "30003", "AccountSid": SID}
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/sms/status", data=forged,
                            headers={"X-Twilio-Signature": compute_signature("wrong", srv.url + "/sms/status",
                                                                             forged)})
    assert r.status_code == 403
    await peer.none("delivery", within=0.5, state="failed")


async def test_a_replayed_and_tenfold_concurrent_message_sid_stores_and_texts_once(
        harness: Harness, twilio: LocalTwilio) -> None:
    web1 = await _start(harness, twilio)
    web2 = await _start(harness, twilio)
    sid = new_sid()
    results = await asyncio.gather(*(text(web, "just once please", sid=sid) for web in (web1, web2) * 5))
    assert [r.status_code for r in results] == [200] * 10
    for _ in range(3):  # Twilio retrying later
        assert (await text(web2, "just once please", sid=sid)).status_code == 200
    conv = await _open_conv(harness)
    assert conv is not None
    history = await web1.services.engine.history(conv)
    assert sum("just once please" in h for h in history) == 1
    await asyncio.sleep(t(1.0))
    in_line = [b for b in twilio.bodies_to(TEXTER) if "1-844-750-1648" in b and "(number 1)" in b]
    assert len(in_line) == 1, twilio.bodies_to(TEXTER)
    assert (await web1.services.engine.queue_counts())[0] == 1


async def test_a_100_kb_body_is_answered_and_stored_bounded(harness: Harness, twilio: LocalTwilio) -> None:
    srv = await _start(harness, twilio)
    huge = ("I need to talk about what happened. " * 3000)[:100_000]
    r = await text(srv, huge)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    conv = await _open_conv(harness)
    assert conv is not None
    history = await srv.services.engine.history(conv)
    assert len(history) == 1 and len(history[0]) < 5_000  # bounded: at most one message's worth
    assert (await text(srv, "and a normal one")).status_code == 200
    assert len(await srv.services.engine.history(conv)) == 2
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    offer = await peer.next("offer", conversation=conv, timeout=5)
    await peer.send(type="accept", offer=offer["offer"])
    assigned = await peer.next("assigned", conversation=conv)
    assert all(len(m["text"]) <= 4000 for m in assigned["history"])


@pytest.mark.parametrize("sender", [
    pytest.param("not-a-number", id="words"),
    pytest.param("", id="empty"),
    pytest.param(None, id="missing"),
    pytest.param("client:alice", id="twilio-client"),
    pytest.param("+1", id="too-short"),
    pytest.param("12345", id="short-code"),
    pytest.param("+16135550123<script>", id="markup"),
    pytest.param("+" + "9" * 40, id="too-long"),
    pytest.param("+16135550123\n+16135550199", id="two-numbers"),
    pytest.param("\u0661\u0666\u0661\u0663\u0665\u0665\u0665\u0660\u0661\u0662\u0663", id="arabic-digits"),
])
async def test_a_malformed_from_opens_nothing_and_answers_twiml(harness: Harness, twilio: LocalTwilio,
                                                                sender: str | None) -> None:
    srv = await _start(harness, twilio)
    params = {"MessageSid": new_sid(), "AccountSid": SID, "To": FROM, "Body": "hello",
              **({"From": sender} if sender is not None else {})}
    url = srv.url + "/sms/inbound"
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/sms/inbound", data=params,
                            headers={"X-Twilio-Signature": compute_signature(TOKEN, url, params)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert "<Response" in r.text
    assert (await srv.services.engine.queue_counts())[0] == 0
    await asyncio.sleep(t(0.3))
    assert not twilio.messages
    assert (await text(srv, "a real texter")).status_code == 200
    assert (await srv.services.engine.queue_counts())[0] == 1


async def test_notes_and_whispers_never_become_texts(harness: Harness, twilio: LocalTwilio) -> None:
    """An SMS conversation with a peer's note and a supervisor's whisper: the texter's phone (the
    local Twilio API) receives the peer's message but no note or whisper text, by any path."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice", display="Alice")
    await harness.add_peer("sup", role="supervisor", display="Sue")
    peer = await harness.peer("alice", capacity=1)
    sup = await harness.peer("sup", capacity=1)
    await sup.send(type="shift", action="break")
    await sup.next("shift", state="break")
    conv = await paired(srv, peer, "hi, can someone talk")
    await sup.send(type="monitor", conversation=conv)
    await sup.next("monitoring", conversation=conv)
    await peer.send(type="note", conversation=conv, text="SECRET-NOTE-1 texter sounds shaky")
    await peer.next("note", conversation=conv)
    await sup.send(type="whisper", conversation=conv, text="SECRET-WHISPER-2 ask about safety")
    await peer.next("note", conversation=conv, whisper=True)
    await peer.send(type="message", conversation=conv, client_id="p1", text="How are you feeling right now?")
    seq = (await peer.next("ack", client_id="p1"))["seq"]
    await peer.next("delivery", conversation=conv, seq=seq, state="sent", timeout=10)
    await text(srv, "a bit better")
    await peer.next("message", conversation=conv, text="a bit better")
    await peer.send(type="note", conversation=conv, text="SECRET-NOTE-3 after reply")
    await peer.next("note", conversation=conv)
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended", conversation=conv)
    bodies = await _bodies(twilio, 4)
    await asyncio.sleep(t(1.0))  # anything late (closing text, stray events) has arrived
    bodies = [m.body for m in twilio.messages]
    assert "How are you feeling right now?" in bodies
    assert not [b for b in bodies if "SECRET" in b or "texter sounds" in b or "ask about safety" in b], bodies
    assert all(m.to == TEXTER for m in twilio.messages)
