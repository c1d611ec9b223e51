"""Hardening: hostile input on any socket (issue 6).

Mistyped fields, deep nesting, invalid UTF-8, oversized frames, floods, silent sockets and
guessed resume tokens: each is refused the way the protocol says, and nobody else notices.
The seeker-side table of bad frames is in test_seeker.py; this file adds the peer socket, the
transport-level attacks and the measurements of "others are unaffected".
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import Harness
from tests.helpers import WS, t

CONV = "0123456789abcdef0123456789abcdef"


async def _served(ws: WS, client_id: str) -> None:
    """A seeker message is stored and acknowledged (how fast is the bench's business, not a test's)."""
    await ws.send(type="message", client_id=client_id, text="are you there?")
    await ws.next("ack", client_id=client_id, timeout=10)


# --- mistyped and malformed frames on the peer socket ----------------------------------------
@pytest.mark.parametrize("raw,code", [
    pytest.param("not json", "bad_request", id="invalid-json"),
    pytest.param('{"type": "shift", "action": "start", "capacity": NaN}', "bad_request", id="nan-capacity"),
    pytest.param('{"type": "shift", "action": "start", "capacity": 1e400}', "bad_request", id="infinite-capacity"),
    pytest.param('{"type": "shift", "action": "start", "capacity": ' + "9" * 400 + "}", "bad_request",
                 id="huge-int-capacity"),
    pytest.param('{"type": "shift", "action": "start", "capacity": true}', "bad_request", id="bool-capacity"),
    pytest.param('{"type": "shift", "action": "start", "capacity": 2.5}', "bad_request", id="float-capacity"),
    pytest.param('{"type": "shift", "action": ["start"], "capacity": 1}', "bad_request", id="array-action"),
    pytest.param('{"type": ["shift"]}', "bad_request", id="array-type"),
    pytest.param('{"type": "accept", "offer": {"$gt": ""}}', "bad_request", id="object-offer"),
    pytest.param('{"type": "accept", "offer": 12345}', "bad_request", id="number-offer"),
    pytest.param('{"type": "decline", "offer": null}', "bad_request", id="null-offer"),
    pytest.param(json.dumps({"type": "message", "conversation": {"$ne": ""}, "client_id": "x", "text": "hi"}),
                 "bad_request", id="object-conversation"),
    pytest.param(json.dumps({"type": "message", "conversation": CONV, "client_id": "x", "text": ["hi"]}),
                 "bad_request", id="array-text"),
    pytest.param(json.dumps({"type": "message", "conversation": CONV, "client_id": 7, "text": "hi"}),
                 "bad_request", id="number-client-id"),
    pytest.param(json.dumps({"type": "message", "conversation": "../" + CONV, "client_id": "x", "text": "hi"}),
                 "bad_request", id="path-in-conversation"),
    pytest.param(json.dumps({"type": "message", "conversation": CONV + "*", "client_id": "x", "text": "hi"}),
                 "bad_request", id="glob-in-conversation"),
    pytest.param(json.dumps({"type": "end", "conversation": [CONV], "outcome": "x"}), "bad_request",
                 id="array-conversation"),
    pytest.param(json.dumps({"type": "end", "conversation": CONV, "outcome": {"a": 1}}), "bad_request",
                 id="object-outcome"),
    pytest.param(json.dumps({"type": "transfer", "conversation": CONV, "to": {"$ne": None}}), "bad_request",
                 id="object-transfer-target"),
    pytest.param(json.dumps({"type": "transfer", "conversation": CONV, "to": 5}), "bad_request",
                 id="number-transfer-target"),
    pytest.param(json.dumps({"type": "note", "conversation": CONV, "text": {"t": 1}}), "bad_request",
                 id="object-note"),
    pytest.param(json.dumps({"type": "note", "conversation": CONV, "text": "n" * 4001}), "too_large",
                 id="note-too-long"),
    pytest.param(json.dumps({"type": "whisper", "conversation": CONV, "text": 1}), "bad_request",
                 id="number-whisper"),
    pytest.param(json.dumps({"type": "monitor", "conversation": True}), "bad_request", id="bool-monitor"),
    pytest.param(json.dumps({"type": "language", "conversation": CONV, "lang": {"x": 1}}), "bad_request",
                 id="object-lang"),
    pytest.param(json.dumps({"type": "typing", "conversation": 0}), "bad_request", id="number-typing"),
    pytest.param('{"type": "message", "conversation": "' + CONV + '", "client_id": "x", "text": "\\udc00"}',
                 "bad_request", id="lone-surrogate"),
    pytest.param("[" * 5000 + "]" * 5000, "bad_request", id="deeply-nested-array"),
    pytest.param('{"type": "shift", "action": "start", "capacity": 1, "x": ' + "[" * 30000 + "]" * 30000 + "}",
                 "bad_request", id="deeply-nested-inside-object"),
    pytest.param('{"type": "note", "conversation": "' + CONV + '", "text": "x", "y": '
                 + '{"a":' * 10000 + "1" + "}" * 10000 + "}", "bad_request", id="deeply-nested-objects"),
])
async def test_peer_socket_refuses_mistyped_and_nested_frames_and_survives(harness: Harness, raw: str,
                                                                           code: str) -> None:
    """Objects, arrays, numbers where strings belong and deep nesting: an error, the socket lives on,
    and nothing happened (the peer is still off shift)."""
    await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice")
    await peer.send_raw(raw)
    err = await peer.next("error")
    assert err["code"] == code and err["message"]
    await peer.none("shift", within=0.2)
    await peer.send(type="shift", action="start", capacity=1)
    assert (await peer.next("shift", state="on"))["capacity"] == 1


async def test_peer_frame_over_64_kib_closes_with_1009(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    await peer.send_raw(json.dumps({"type": "note", "conversation": CONV, "text": "x" * 70_000}))
    assert await peer.closed() == 1009
    again = await harness.peer("alice")  # the account and the process are fine
    await again.next("shift", state="on")


# --- transport-level attacks -----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/ws/seeker", "/ws/peer"])
async def test_invalid_utf8_text_frame_closes_1007_and_others_are_unaffected(harness: Harness, path: str) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    bystander, _ = await harness.seeker()
    if path == "/ws/peer":
        victim = await harness.peer("alice", capacity=1)
    else:
        victim, _ = await harness.seeker()
    await victim.conn.send(b'{"type":"typing","x":"\xff\xfe\xc3\x28"}', text=True)
    assert await victim.closed() == 1007
    await _served(bystander, "after-1007")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz")).status_code == 200
    fresh, _ = await harness.seeker()
    await fresh.send(type="message", client_id="a", text="new socket works")
    await fresh.next("ack", client_id="a")


async def test_a_flood_is_rate_limited_closed_1008_and_others_are_still_served(harness: Harness) -> None:
    """Five sockets flood as fast as TCP allows; a calm socket's messages are each stored and
    acknowledged all the while (never refused), each flooder gets rate_limited and then 1008
    after 200 refusals in a row. (How much a flood slows others is measured by the bench.)"""
    await harness.start()
    calm, _ = await harness.seeker()
    flooders = [(await harness.seeker())[0] for _ in range(5)]

    async def flood(ws: WS, n: int) -> None:
        payload = "x" * 1000
        try:
            for i in range(2000):
                await ws.send(type="message", client_id=f"f{n}-{i}", text=payload)
        except websockets.ConnectionClosed:
            pass

    tasks = [asyncio.create_task(flood(ws, n)) for n, ws in enumerate(flooders)]
    try:
        for i in range(5):
            await _served(calm, f"during{i}")
            await asyncio.sleep(0.2)
        codes = await asyncio.gather(*(ws.closed(timeout=15) for ws in flooders))
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
    assert set(codes) == {1008}
    for ws in flooders:
        assert any(f.get("code") == "rate_limited" for f in ws.buffer + ws.seen)
        acks = [f for f in ws.buffer + ws.seen if f["type"] == "ack"]
        assert len(acks) <= 40  # the burst and the refill, not the flood
    assert not [f for f in calm.buffer + calm.seen if f["type"] == "error"]
    await _served(calm, "after")


@pytest.mark.timeout(90)
async def test_hundreds_of_silent_sockets_are_closed_after_the_hello_timeout(harness: Harness) -> None:
    srv = await harness.start(hello_timeout_s=t(1.5))
    conns: list[Any] = []
    try:
        for _ in range(300):
            conns.append(await websockets.connect(srv.ws_url + "/ws/seeker"))
        speaker, _ = await harness.seeker()  # one that does say hello, among them
        await _served(speaker, "a")

        async def close_code(conn: Any) -> int | None:
            try:
                async with asyncio.timeout(t(10)):
                    await conn.recv()
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
            return None

        codes = await asyncio.gather(*(close_code(c) for c in conns))
        assert codes.count(4408) == len(conns), set(codes)
        await speaker.none("error", within=0.2)
        await _served(speaker, "b")  # the one that said hello stays
        async with httpx.AsyncClient(base_url=srv.url) as http:
            metrics = (await http.get("/metrics")).text
        assert "chatd_seeker_sockets 1" in metrics
    finally:
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)


@pytest.mark.parametrize("guess", [
    pytest.param(lambda real: secrets.token_urlsafe(32), id="random"),
    pytest.param(lambda real: real[:-1] + ("A" if real[-1] != "A" else "B"), id="one-char-off"),
    pytest.param(lambda real: real.upper() if real.upper() != real else real.lower(), id="case-changed"),
    pytest.param(lambda real: real + "=", id="padded"),
    pytest.param(lambda real: real[:20], id="prefix"),
    pytest.param(lambda real: "*", id="glob"),
    pytest.param(lambda real: "", id="empty"),
    pytest.param(lambda real: "x" * 128, id="longest"),
    pytest.param(lambda real: "é" * 43, id="unicode"),
])
async def test_guessed_resume_tokens_are_unknown_and_the_socket_survives(harness: Harness, guess: Any) -> None:
    """Near misses of a real token are all unknown_resume; the real one works on the same socket."""
    await harness.start()
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="mine")
    await seeker.next("ack")
    ws = await harness.connect("/ws/seeker")
    await ws.send(type="hello", resume=guess(welcome["resume"]), last_seq=0)
    err = await ws.next("error")
    assert err["code"] in ("unknown_resume", "bad_request")
    await ws.none("welcome", within=0.1)
    await ws.send(type="hello", resume=welcome["resume"], last_seq=0)
    assert (await ws.next("welcome"))["conversation"] == welcome["conversation"]
    assert (await ws.next("message", seq=1))["text"] == "mine"


async def test_many_random_resume_tokens_all_fail_and_a_real_one_still_works(harness: Harness) -> None:
    """200 random tokens over ten sockets (within the rate limit): every one unknown_resume, no
    conversation revealed, every socket still open; then a real token resumes on each of them."""
    await harness.start()
    seeker, welcome = await harness.seeker()
    sockets = [await harness.connect("/ws/seeker") for _ in range(10)]

    async def guess(ws: WS) -> list[str]:
        codes = []
        for _ in range(20):
            await ws.send(type="hello", resume=secrets.token_urlsafe(32), last_seq=0)
            codes.append((await ws.next("error"))["code"])
        return codes

    results = await asyncio.gather(*(guess(ws) for ws in sockets))
    assert all(code == "unknown_resume" for codes in results for code in codes)
    await asyncio.sleep(t(0.3))  # the bucket refills
    for ws in sockets:
        assert not [f for f in ws.seen if f["type"] == "welcome"]
        await ws.send(type="hello", resume=welcome["resume"], last_seq=0)
        assert (await ws.next("welcome"))["conversation"] == welcome["conversation"]


# --- strings that are not valid Unicode, anywhere (issue 9) ----------------------------------
# JSON can spell a lone UTF-16 surrogate ("\ud800"); no socket, Redis or SQLite can take one.
# Each frame below is valid JSON: it must be refused with bad_request, whatever field holds it.
S = "\\ud800"  # as it appears inside the raw JSON text
CONV_SQ = CONV  # a well-formed id, so that only the surrogate is wrong


@pytest.mark.parametrize("raw", [
    pytest.param('{"type":"message","client_id":"' + S + '","text":"hello"}', id="client-id"),
    pytest.param('{"type":"message","client_id":"a","text":"hello \\udfff"}', id="text-low-surrogate"),
    pytest.param('{"type":"message","client_id":"a","text":"cut emoji \\ud83d"}', id="text-half-a-pair"),
    pytest.param('{"type":"message","client_id":"a","text":"hello","extra":"' + S + '"}', id="unknown-field"),
    pytest.param('{"type":"message","client_id":"a","text":"hello","x":{"y":[1,"' + S + '"]}}',
                 id="nested-unknown-field"),
    pytest.param('{"type":"message","client_id":"a","text":"hello","' + S + '":1}', id="a-key"),
    pytest.param('{"type":"' + S + '"}', id="type"),
    pytest.param('{"type":"typing","x":"' + S + '"}', id="typing-extra"),
    pytest.param('{"type":"end","x":"' + S + '"}', id="end-extra"),
    pytest.param('{"type":"survey","rating":5,"x":"' + S + '"}', id="survey-extra"),
    pytest.param('{"type":"hello","lang":"' + S + '"}', id="second-hello-lang"),
    # Valid UTF-8 that PostgreSQL cannot store: acknowledged, it would never be archived.
    pytest.param('{"type":"message","client_id":"a","text":"hi\\u0000there"}', id="text-nul"),
])
async def test_unencodable_strings_in_any_seeker_field_are_bad_request(harness: Harness, raw: str) -> None:
    """A lone surrogate in any field (known, unknown, nested, a key, the type) is bad_request;
    the socket stays open and nothing was stored (the next message is seq 1)."""
    srv = await harness.start()
    seeker, welcome = await harness.seeker()
    await seeker.send_raw(raw)
    err = await seeker.next("error")
    assert err["code"] == "bad_request" and "Unicode" in err["message"]
    info = await srv.services.engine.info(welcome["conversation"])
    assert info is not None and info.state.value == "new" and info.seq == 0
    await seeker.send(type="message", client_id="after", text="still here")
    assert (await seeker.next("ack", client_id="after"))["seq"] == 1


@pytest.mark.parametrize("raw", [
    pytest.param('{"type":"hello","resume":"' + S + '","last_seq":0}', id="resume-token"),
    pytest.param('{"type":"hello","lang":"' + S + '"}', id="lang"),
    pytest.param('{"type":"hello","lang":"en","x":["' + S + '"]}', id="extra"),
])
async def test_unencodable_strings_in_a_hello_are_bad_request(harness: Harness, raw: str) -> None:
    """Before any conversation exists: refused, and a real hello then works on the same socket."""
    await harness.start()
    ws = await harness.connect("/ws/seeker")
    await ws.send_raw(raw)
    err = await ws.next("error")
    assert err["code"] == "bad_request"
    await ws.send(type="hello", lang="en")
    await ws.next("welcome")
    await ws.send(type="message", client_id="a", text="hello")
    assert (await ws.next("ack", client_id="a"))["seq"] == 1


@pytest.mark.parametrize("raw", [
    pytest.param('{"type":"message","conversation":"' + CONV_SQ + '","client_id":"' + S + '","text":"hi"}',
                 id="message-client-id"),
    pytest.param('{"type":"message","conversation":"' + S + '","client_id":"a","text":"hi"}',
                 id="message-conversation"),
    pytest.param('{"type":"message","conversation":"' + CONV_SQ + '","client_id":"a","text":"hi","x":"' + S
                 + '"}', id="message-extra"),
    pytest.param('{"type":"accept","offer":"' + S + '"}', id="accept-offer"),
    pytest.param('{"type":"decline","offer":"' + S + '"}', id="decline-offer"),
    pytest.param('{"type":"end","conversation":"' + CONV_SQ + '","outcome":"' + S + '"}', id="end-outcome"),
    pytest.param('{"type":"transfer","conversation":"' + CONV_SQ + '","to":"' + S + '"}', id="transfer-to"),
    pytest.param('{"type":"language","conversation":"' + CONV_SQ + '","lang":"' + S + '"}', id="language-lang"),
    pytest.param('{"type":"note","conversation":"' + CONV_SQ + '","text":"n","x":"' + S + '"}', id="note-extra"),
    pytest.param('{"type":"whisper","conversation":"' + CONV_SQ + '","text":"' + S + '"}', id="whisper-text"),
    pytest.param('{"type":"monitor","conversation":"' + CONV_SQ + '","' + S + '":true}', id="monitor-key"),
    pytest.param('{"type":"shift","action":"' + S + '"}', id="shift-action"),
    pytest.param('{"type":"note","conversation":"' + CONV_SQ + '","text":"a\\u0000b"}', id="note-text-nul"),
    pytest.param('{"type":"' + S + '","conversation":"' + CONV_SQ + '"}', id="type"),
])
async def test_unencodable_strings_in_any_peer_field_are_bad_request(harness: Harness, raw: str) -> None:
    """The peer socket: bad_request, the socket lives on and nothing happened (still off shift)."""
    await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice")
    await peer.send_raw(raw)
    err = await peer.next("error")
    assert err["code"] == "bad_request" and "Unicode" in err["message"]
    await peer.send(type="shift", action="start", capacity=1)
    assert (await peer.next("shift", state="on"))["capacity"] == 1


# --- text that shows nothing (issue 9) -------------------------------------------------------
# A few of the invisible kinds (config/textrules.py; tests/test_textrules.py has the full table).
BLANK_TEXTS = ["\u200b\u200b", "\u2800", "\u3164", " \u00a0\u3000\u2028", "\ufe0f\u034f\u200d",
               "\U000e0041\U000e007f", "\u202e\u2066\u2069", "\u115f\u1160\uffa0"]


async def test_a_seeker_message_that_shows_nothing_is_refused_and_queues_nothing(harness: Harness) -> None:
    """Zero-width, filler and other invisible texts: "text is empty", nothing stored, the
    conversation is not queued; the socket stays and a real message is then seq 1."""
    srv = await harness.start()
    seeker, welcome = await harness.seeker()
    for i, text in enumerate(BLANK_TEXTS):
        await seeker.send(type="message", client_id=f"blank{i}", text=text)
        err = await seeker.next("error")
        assert (err["code"], err["message"]) == ("bad_request", "text is empty"), ascii(text)
    info = await srv.services.engine.info(welcome["conversation"])
    assert info is not None and info.state.value == "new" and info.seq == 0
    assert await srv.services.redis.zcard(srv.services.keys.queue) == 0
    await seeker.send(type="message", client_id="real", text="\u200bhello\u200b")  # visible: kept as sent
    assert (await seeker.next("ack", client_id="real"))["seq"] == 1
    stored = await srv.services.engine.history(welcome["conversation"])
    assert [json.loads(m)["text"] for m in stored] == ["\u200bhello\u200b"]


async def _paired(harness: Harness, peer: WS) -> str:
    seeker, welcome = await harness.seeker()
    conv: str = welcome["conversation"]
    await seeker.send(type="message", client_id="first", text="hello")
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=conv)
    return conv


@pytest.mark.parametrize("kind", ["message", "note", "whisper"])
async def test_a_peer_text_that_shows_nothing_is_refused_and_stores_nothing(harness: Harness, kind: str) -> None:
    """A peer's message, note, or a supervisor's whisper, made only of invisible characters:
    "text is empty", nothing stored (no seq taken, no note kept), the socket stays."""
    srv = await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sue", role="supervisor")
    peer = await harness.peer("alice", capacity=1)
    conv = await _paired(harness, peer)
    sender = await harness.peer("sue") if kind == "whisper" else peer
    engine, redis, keys = srv.services.engine, srv.services.redis, srv.services.keys
    before = await engine.info(conv)
    assert before is not None
    extra = {"client_id": "blank"} if kind == "message" else {}
    for text in BLANK_TEXTS:
        await sender.send(type=kind, conversation=conv, text=text, **extra)
        err = await sender.next("error")
        assert (err["code"], err["message"]) == ("bad_request", "text is empty"), ascii(text)
    after = await engine.info(conv)
    assert after is not None and after.seq == before.seq
    assert await redis.llen(keys.notes(conv)) == 0
    await sender.send(type=kind, conversation=conv, text="ok", **({"client_id": "real"} if extra else {}))
    if kind == "message":
        assert (await sender.next("ack", client_id="real"))["seq"] == before.seq + 1
    else:
        await peer.next("note", conversation=conv, text="ok")
        assert await redis.llen(keys.notes(conv)) == 1


# --- HTTP: the login body and the session cookie (issue 9) -----------------------------------
@pytest.mark.parametrize("body", [
    pytest.param(b'{"username":"' + S.encode() + b'","password":"correct-horse-battery"}', id="username-escape"),
    pytest.param(b'{"username":"alice","password":"\\udfff-horse-battery"}', id="password-escape"),
    pytest.param(b'{"username":"\xed\xa0\x80alice","password":"correct-horse-battery"}',
                 id="username-raw-surrogate-bytes"),  # json.loads decodes bytes with surrogatepass
    pytest.param(b'{"username":"alice","password":"x","remember":["' + S.encode() + b'"]}', id="extra-field"),
    pytest.param(b'{"username":"alice","password":"x","' + S.encode() + b'":1}', id="a-key"),
    pytest.param(b'{"username":"alice","password":"x","x":' + b"[" * 2000 + b"]" * 2000 + b"}",
                 id="nested-too-deep"),
    pytest.param(b'{"username":"\xff","password":"x"}', id="invalid-utf8"),
])
async def test_login_with_text_that_is_not_valid_unicode_is_400(harness: Harness, body: bytes) -> None:
    """400, not a 500, and the right login still works."""
    srv = await harness.start()
    await harness.add_peer("alice")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/api/login", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "bad_request"
    await harness.login("alice")


@pytest.mark.parametrize("cookie", [
    pytest.param(b"chatd_session=\xe9t\xe9.\xe9", id="latin-1-bytes"),
    pytest.param(b"chatd_session=abc.\xc3\xa9\xc3\xa9", id="utf-8-bytes"),
    pytest.param(b"chatd_session=\xff", id="no-signature"),
])
async def test_a_cookie_with_non_ascii_bytes_is_refused_not_a_500(harness: Harness, cookie: bytes) -> None:
    """Headers arrive as Latin-1 text; a signature check on non-ASCII text must answer "no"."""
    srv = await harness.start()
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/api/me", headers={"Cookie": cookie})).status_code == 401
        assert (await http.post("/api/logout", headers={"Cookie": cookie})).status_code == 200
    with pytest.raises(websockets.InvalidStatus) as refused:
        await harness.connect("/ws/peer", origin=srv.url,  # type: ignore[arg-type]
                              additional_headers={"Cookie": cookie.decode("latin-1")})
    assert refused.value.response.status_code == 403


# --- the command line and the environment (issue 9) ------------------------------------------
GOOD = b"correct-horse-battery\n"


@pytest.mark.parametrize("args,stdin,env,culprit", [
    pytest.param([b"add", b"carol", b"--display-name", b"Car\xffol", b"--password-stdin"], GOOD, {},
                 "display-name", id="display-name-argv"),
    pytest.param([b"add", b"carol", b"--display-name", b"\xed\xa0\x80", b"--password-stdin"], GOOD, {},
                 "display-name", id="display-name-surrogate-bytes"),
    pytest.param([b"add", b"car\xe9ol", b"--display-name", b"Carol", b"--password-stdin"], GOOD, {},
                 "username", id="username-latin-1"),
    pytest.param([b"add", b"carol", b"--display-name", b"Carol", b"--password-stdin"], b"horse\xff-battery!\n", {},
                 "password", id="password-stdin-invalid-utf8"),
    pytest.param([b"add", b"carol", b"--display-name", b"Carol", b"--password-stdin"],
                 b"\xed\xa0\x80correct-horse\n", {}, "password", id="password-stdin-surrogate-bytes"),
    pytest.param([b"set-trained", b"car\xffol"], b"", {}, "username", id="set-trained-username"),
    pytest.param([b"disable", b"car\xffol"], b"", {}, "username", id="disable-username"),
    pytest.param([b"list"], b"", {b"CHATD_CRISIS_LINE": b"1-844-\xff"}, "CHATD_CRISIS_LINE", id="env-crisis-line"),
    pytest.param([b"list"], b"", {b"CHATD_NOTICE_FR": b"Avis \xe9t\xe9"}, "CHATD_NOTICE_FR", id="env-notice"),
])
def test_the_cli_refuses_text_that_is_not_utf8_and_writes_nothing(tmp_path: Path, args: list[bytes], stdin: bytes,
                                                                 env: dict[bytes, bytes], culprit: str) -> None:
    """argv and the environment reach Python with undecodable bytes as lone surrogates, stdin as
    raw bytes: a clear message naming what is wrong, exit code 2, and no database written."""
    base = {b"CHATD_DATA_DIR": str(tmp_path).encode(), b"PATH": b"/usr/bin:/bin", b"CHATD_LOG_FORMAT": b"console"}
    done = subprocess.run([sys.executable.encode(), b"-m", b"chatd", b"supporters", *args], input=stdin,
                          env={**base, **env}, capture_output=True, check=False, cwd=tmp_path)
    stderr = done.stderr.decode(errors="replace")
    assert done.returncode == 2, stderr
    assert culprit in stderr and "UTF-8" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "chatd.sqlite3").exists()


def test_a_dotenv_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"CHATD_CRISIS_LINE=1-844-\xff\n")
    done = subprocess.run([sys.executable, "-m", "chatd", "supporters", "list"], capture_output=True, check=False,
                          cwd=tmp_path, env={"CHATD_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and b".env is not valid UTF-8" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("body", [
    pytest.param(b'{"from":"+16135550199","body":"hi \\ud800"}', id="body-escape"),
    pytest.param(b'{"from":"+16135550199","body":"hi \xed\xa0\x80"}', id="body-raw-surrogate-bytes"),
    pytest.param(b'{"from":"\\udc00+16135550199","body":"hi"}', id="from"),
    pytest.param(b'{"from":"+16135550199","body":"hi","x":' + b"[" * 3000 + b"]" * 3000 + b"}", id="too-deep"),
])
async def test_the_phone_simulator_refuses_text_that_is_not_valid_unicode(harness: Harness, body: bytes) -> None:
    """The dev phone's JSON endpoint: 400, not a 500; its query string is decoded with
    replacement by Starlette, so a bad escape there is just not a number (400)."""
    srv = await harness.start()
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/dev/phone/api/send", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert (await http.get("/dev/phone/api/messages?number=%2B1613555%ED%A0%80")).status_code == 400
        ok = await http.post("/dev/phone/api/send", json={"from": "+16135550199", "body": "HELP"})
        assert ok.status_code == 200


@pytest.mark.parametrize("name", [
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param("\u3164", id="hangul-filler"),
    pytest.param("\u2800 \u00a0", id="braille-blank-and-spaces"),
])
def test_a_display_name_that_shows_nothing_is_refused(tmp_path: Path, name: str) -> None:
    """Seekers see the display name ("status active peer"): one made of invisible characters is
    refused like an empty one, with exit code 2 and no account."""
    env = {"CHATD_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "CHATD_LOG_FORMAT": "console"}
    done = subprocess.run([sys.executable, "-m", "chatd", "supporters", "add", "carol", "--display-name", name,
                           "--password-stdin"], input=GOOD, env=env, capture_output=True, check=False, cwd=tmp_path)
    assert done.returncode == 2 and b"display name" in done.stderr, done.stderr
    listed = subprocess.run([sys.executable, "-m", "chatd", "supporters", "list"], env=env, capture_output=True,
                            check=False, cwd=tmp_path)
    assert b"carol" not in listed.stdout
