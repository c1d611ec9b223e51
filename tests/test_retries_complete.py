"""A retry after any failure completes the work exactly once: a MessageSid (or a client_id)
counts as seen only once its text is stored with every step it triggers. Redis is made to
stall mid-request for real (tests/stall.py), so the first attempt times out after the work
may or may not have landed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

import chatd.connection
from sms.hashing import number_hash
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import Harness, Running
from tests.helpers import t
from tests.stall import StallingProxy
from tests.test_sms_bridge import TEXTER, _bodies, _start, text, twilio

__all__ = ["twilio"]  # the fixture, shared with test_sms_bridge

STALL_S = 2.0  # past the webhook's 0.9 s answer deadline, as a fork or a failover can be


@pytest.fixture
async def proxy(harness: Harness) -> AsyncIterator[StallingProxy]:
    stalling = StallingProxy(harness.redis_server.port)
    await stalling.start()
    try:
        yield stalling
    finally:
        await harness.close()  # the servers first: they must not lose Redis while they stop
        await stalling.aclose()


async def _seeker_texts(srv: Running, conv: str) -> list[str]:
    return [json.loads(m)["text"] for m in await srv.services.engine.history(conv)
            if json.loads(m)["from"] == "seeker"]


async def _escalations(srv: Running, conv: str) -> list[str]:
    raw = await srv.services.redis.lrange(srv.services.keys.esc(conv), 0, -1)
    return [r.split("|")[0] for r in raw]


async def _open(srv: Running) -> str:
    conv = await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, TEXTER))
    assert conv is not None
    return conv


async def test_a_webhook_stalled_on_its_first_lookup_is_completed_by_the_retry(
        twilio: LocalTwilio, harness: Harness, proxy: StallingProxy) -> None:
    srv = await _start(harness, twilio, redis_url=proxy.url)
    await text(srv, "warm-up", number="+16135550100")  # Redis knows the scripts: no NOSCRIPT round
    sid = new_sid()
    proxy.stall_after(sid.encode(), t(STALL_S))
    first = await text(srv, "please, is anyone there", sid=sid)
    assert first.status_code == 503 and proxy.stalls == 1
    await asyncio.sleep(t(STALL_S))
    retry = await text(srv, "please, is anyone there", sid=sid)  # Twilio's retry of the same MessageSid
    assert retry.status_code == 200
    assert await _seeker_texts(srv, await _open(srv)) == ["please, is anyone there"]
    again = await text(srv, "please, is anyone there", sid=sid)
    assert again.status_code == 200
    assert await _seeker_texts(srv, await _open(srv)) == ["please, is anyone there"]


async def test_a_webhook_stalled_after_its_text_was_stored_is_completed_once(
        twilio: LocalTwilio, harness: Harness, proxy: StallingProxy) -> None:
    """A risky first text with no peer on shift: stored, queued and escalated in the step whose
    answer never came back in time; the retry finds it all done, and nothing runs twice."""
    srv = await _start(harness, twilio, redis_url=proxy.url)
    sid = new_sid()
    proxy.stall_after(b"I want to die", t(STALL_S))
    assert (await text(srv, "I want to die", sid=sid)).status_code == 503
    await asyncio.sleep(t(STALL_S))
    assert (await text(srv, "I want to die", sid=sid)).status_code == 200
    conv = await _open(srv)
    assert await _seeker_texts(srv, conv) == ["I want to die"]
    assert await _escalations(srv, conv) == ["no_peer_on_shift", "risk"]
    info = await srv.services.engine.info(conv)
    assert info is not None and info.state.value == "waiting" and info.risk
    # The texter was told once that they are in line, and given the crisis line per escalation.
    bodies = await _bodies(twilio, 3)
    await asyncio.sleep(t(0.5))
    bodies = twilio.bodies_to(TEXTER)
    assert sum("in line (number 1)" in b for b in bodies) == 1
    assert sum("24/7 line is there for you" in b for b in bodies) == 2, bodies


async def test_a_web_message_answered_unavailable_after_it_was_stored_is_escalated_on_resend(
        harness: Harness, proxy: StallingProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    # The socket's own deadline, shortened so the stall outlasts it without a 10 s test.
    monkeypatch.setattr(chatd.connection, "DISPATCH_TIMEOUT_S", t(1.0))
    await harness.start(redis_url=proxy.url)
    other, _ = await harness.seeker()
    await other.send(type="message", client_id="w", text="warm-up")  # Redis knows the scripts
    await other.next("ack", client_id="w")
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    proxy.stall_after(b"I want to die", t(STALL_S))
    await seeker.send(type="message", client_id="m1", text="I want to die")
    assert (await seeker.next("error", timeout=t(STALL_S) + 5))["code"] == "unavailable"
    await asyncio.sleep(t(STALL_S))
    await seeker.send(type="message", client_id="m1", text="I want to die")
    ack = await seeker.next("ack", client_id="m1")
    assert ack["seq"] == 1
    srv = harness.servers[0]
    assert await _seeker_texts(srv, conv) == ["I want to die"]
    assert await _escalations(srv, conv) == ["no_peer_on_shift", "risk"]
    reasons = [(await seeker.next("escalation"))["reason"] for _ in range(2)]
    assert sorted(reasons) == ["no_peer_on_shift", "risk"]
    await seeker.none("escalation", within=0.5)


async def test_a_picture_with_a_caption_stalled_on_its_last_step_is_completed_once(
        twilio: LocalTwilio, harness: Harness, proxy: StallingProxy) -> None:
    """Two steps (the caption, then the line that a picture was not shown): the first landing
    does not make the retry a duplicate; the retry does the second, and neither twice."""
    srv = await _start(harness, twilio, redis_url=proxy.url)
    await text(srv, "warm-up", number="+16135550100")
    sid = new_sid()
    media = {"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/x/Media/ME0", "MediaContentType0": "image/jpeg"}
    proxy.cut_at(b"A picture or file was sent")  # the caption is stored; the line's step never reaches Redis
    assert (await text(srv, "look at this", sid=sid, extra=media)).status_code == 503
    proxy.disarm()
    assert (await text(srv, "look at this", sid=sid, extra=media)).status_code == 200
    assert (await text(srv, "look at this", sid=sid, extra=media)).status_code == 200
    history = [json.loads(m) for m in await srv.services.engine.history(await _open(srv))]
    assert [m["from"] for m in history] == ["seeker", "system"]
    assert history[0]["text"] == "look at this" and "picture" in history[1]["text"]
