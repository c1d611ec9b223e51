"""The seeker socket: resume, survey, forget, and bad input answered without losing anything."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from chatd.seeker import ack_text
from routing import frames
from tests.conftest import Harness
from tests.helpers import t


@pytest.mark.parametrize("raw,code", [
    pytest.param("not json", "bad_request", id="invalid-json"),
    pytest.param("[1,2]", "bad_request", id="array-frame"),
    pytest.param('{"type": 5}', "bad_request", id="type-not-string"),
    pytest.param('{"type": "nonsense"}', "bad_request", id="unknown-type"),
    pytest.param('{"type": "message", "client_id": "x"}', "bad_request", id="missing-text"),
    pytest.param('{"type": "message", "client_id": "x", "text": ""}', "bad_request", id="empty-text"),
    pytest.param('{"type": "message", "client_id": "x", "text": "   "}', "bad_request", id="blank-text"),
    pytest.param('{"type": "message", "client_id": {"$regex": ".*"}, "text": "hi"}', "bad_request",
                 id="object-as-client-id"),
    pytest.param('{"type": "message", "client_id": ["a"], "text": "hi"}', "bad_request", id="array-as-client-id"),
    pytest.param('{"type": "message", "client_id": "x", "text": {"$ne": 1}}', "bad_request", id="object-as-text"),
    pytest.param('{"type": "message", "client_id": "x", "text": 42}', "bad_request", id="number-as-text"),
    pytest.param(json.dumps({"type": "message", "client_id": "x" * 65, "text": "hi"}), "bad_request",
                 id="client-id-too-long"),
    pytest.param(json.dumps({"type": "message", "client_id": "x", "text": "a" * 4001}), "too_large",
                 id="text-too-long"),
    pytest.param('{"type": "message", "client_id": "x", "text": "\\ud800"}', "bad_request", id="lone-surrogate"),
    pytest.param('{"type": "survey", "rating": 6}', "bad_request", id="rating-too-high"),
    pytest.param('{"type": "survey", "rating": "5"}', "bad_request", id="rating-as-string"),
    pytest.param('{"type": "survey", "rating": true}', "bad_request", id="rating-as-bool"),
    pytest.param('{"type": "accept", "offer": "abc"}', "bad_request", id="peer-type-from-seeker"),
    pytest.param("[" * 5000 + "]" * 5000, "bad_request", id="deeply-nested"),
    pytest.param('{"type": "hello", "lang": "de"}', "bad_request", id="unsupported-lang"),
    pytest.param('{"type": "hello", "resume": {"$gt": ""}}', "bad_request", id="object-as-resume"),
])
async def test_bad_frames_get_an_error_and_the_socket_survives(harness: Harness, raw: str, code: str) -> None:
    await harness.start()
    seeker, welcome = await harness.seeker() if "hello" not in raw else (await harness.connect("/ws/seeker"), {})
    await seeker.send_raw(raw)
    err = await seeker.next("error")
    assert err["code"] == code and err["message"]
    if not welcome:
        await seeker.send(type="hello", lang="en")
        welcome = await seeker.next("welcome")
    await seeker.send(type="message", client_id="after", text="still here")
    assert (await seeker.next("ack", client_id="after"))["seq"] == 1


async def test_frames_before_hello_get_bad_request_and_socket_stays(harness: Harness) -> None:
    await harness.start()
    ws = await harness.connect("/ws/seeker")
    for frame in ({"type": "message", "client_id": "a", "text": "hi"}, {"type": "typing"}, {"type": "end"}):
        await ws.send(**frame)
        assert (await ws.next("error"))["code"] == "bad_request"
    await ws.send(type="hello", lang="fr")
    assert (await ws.next("welcome"))["lang"] == "fr"


async def test_binary_frame_is_refused_and_socket_stays(harness: Harness) -> None:
    await harness.start()
    seeker, _ = await harness.seeker()
    await seeker.send_raw(b"\x00\x01binary")
    assert (await seeker.next("error"))["code"] == "bad_request"
    await seeker.send(type="message", client_id="a", text="ok")
    await seeker.next("ack", client_id="a")


async def test_frame_over_64_kib_closes_with_1009(harness: Harness) -> None:
    await harness.start()
    seeker, _ = await harness.seeker()
    await seeker.send_raw(json.dumps({"type": "message", "client_id": "a", "text": "x" * 70_000}))
    assert await seeker.closed() == 1009


async def test_unknown_resume_token_is_refused_and_socket_stays(harness: Harness) -> None:
    await harness.start()
    ws = await harness.connect("/ws/seeker")
    await ws.send(type="hello", resume="A" * 43, last_seq=0)
    assert (await ws.next("error"))["code"] == "unknown_resume"
    await ws.send(type="hello", lang="en")
    await ws.next("welcome")


async def test_resume_replays_every_message_after_last_seq_then_status(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice", display="Alice")
    peer = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="s1", text="one")
    await seeker.next("ack", client_id="s1")
    offer = await peer.next("offer")
    await peer.send(type="accept", offer=offer["offer"])
    await seeker.next("status", state="active")
    await seeker.close()
    # While the seeker is away the peer writes twice.
    for i in (1, 2):
        await peer.send(type="message", conversation=conv, client_id=f"p{i}", text=f"reply {i}")
        await peer.next("ack", client_id=f"p{i}")
    again = await harness.connect("/ws/seeker")
    await again.send(type="hello", resume=welcome["resume"], last_seq=1)
    w2 = await again.next("welcome")
    assert w2["conversation"] == conv
    frames = await again.drain(0.5)
    messages = [f for f in frames if f["type"] == "message"]
    assert [m["seq"] for m in messages] == [2, 3, 4]
    assert [m["text"] for m in messages[1:]] == ["reply 1", "reply 2"]
    last = [f for f in frames if f["type"] != "message"][-1]
    assert last == {"type": "status", "state": "active", "peer": "Alice"}
    # Own messages are replayed too, from seq 1.
    third = await harness.connect("/ws/seeker")
    await third.send(type="hello", resume=welcome["resume"], last_seq=0)
    await third.next("welcome")
    assert (await third.next("message", seq=1)) | {"at": ""} == {
        "type": "message", "seq": 1, "from": "seeker", "text": "one", "at": ""}


async def test_seeker_gone_past_grace_ends_the_conversation(harness: Harness) -> None:
    await harness.start(seeker_grace_s=t(0.5))
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="s1", text="hi")
    offer = await peer.next("offer")
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    await seeker.close()
    ended = await peer.next("ended", timeout=5, conversation=welcome["conversation"])
    assert ended["by"] == "system"


async def test_resume_within_grace_keeps_the_conversation(harness: Harness) -> None:
    await harness.start(seeker_grace_s=t(1.0))
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="s1", text="hi")
    await seeker.next("ack")
    await seeker.close()
    await asyncio.sleep(t(0.3))
    again = await harness.connect("/ws/seeker")
    await again.send(type="hello", resume=welcome["resume"], last_seq=1)
    await again.next("welcome")
    await again.next("status", state="waiting")
    await asyncio.sleep(t(1.5))
    await again.none("ended", within=0.2)
    info = await harness.servers[0].services.engine.info(welcome["conversation"])
    assert info is not None and info.state.value == "waiting"


async def test_survey_and_forget_after_end(harness: Harness) -> None:
    srv = await harness.start()
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="s1", text="private words")
    await seeker.next("ack")
    await seeker.send(type="survey", rating=4)
    assert (await seeker.next("error"))["code"] == "not_allowed"  # not before the end
    await seeker.send(type="forget")
    assert (await seeker.next("error"))["code"] == "not_allowed"
    await seeker.send(type="end")
    assert (await seeker.next("ended"))["by"] == "seeker"
    await seeker.send(type="survey", rating=0)
    assert (await seeker.next("error"))["code"] == "bad_request"
    await seeker.send(type="survey", rating=5)
    await seeker.none("error", within=0.3)
    # Let the worker archive it first, so forget must reach SQLite as well as Redis.
    store = srv.services.store
    for _ in range(50):
        if await store.messages(conv):
            break
        await asyncio.sleep(0.05)
    assert [m.text for m in await store.messages(conv)] == ["private words"]
    await seeker.send(type="forget")
    await seeker.next("forgotten")
    assert await store.messages(conv) == []
    assert await srv.services.engine.history(conv) == []
    row = await store.conversation(conv)
    assert row is not None and row["survey"] == 5 and row["forgotten"] == 1
    assert b"private words" not in srv.settings.database.read_bytes()


async def test_rate_limit_refuses_a_flood_but_not_five_a_second(harness: Harness) -> None:
    await harness.start()
    calm, _ = await harness.seeker()
    for i in range(15):  # 5 a second for 3 seconds
        await calm.send(type="message", client_id=f"c{i}", text="steady")
        await asyncio.sleep(0.2)
    frames = await calm.drain(0.5)
    assert not [f for f in frames if f.get("code") == "rate_limited"]
    assert len([f for f in frames if f["type"] == "ack"]) == 15
    flood, _ = await harness.seeker()
    for i in range(60):
        await flood.send(type="message", client_id=f"f{i}", text="spam")
    frames = await flood.drain(1.0)
    assert [f for f in frames if f.get("code") == "rate_limited"]
    # Others are unaffected.
    await calm.send(type="message", client_id="after", text="fine")
    await calm.next("ack", client_id="after")


async def test_sockets_that_never_say_hello_are_closed(harness: Harness) -> None:
    await harness.start(hello_timeout_s=t(0.5))
    silent = [await harness.connect("/ws/seeker") for _ in range(20)]
    codes = await asyncio.gather(*(ws.closed() for ws in silent))
    assert set(codes) == {4408}


async def test_many_sockets_from_one_address_are_allowed(harness: Harness) -> None:
    """At least 200 open sockets from one address (many people share one)."""
    await harness.start()
    conns: list[Any] = []
    try:
        for _ in range(200):
            conns.append(await websockets.connect(harness.servers[0].ws_url + "/ws/seeker"))
        await conns[-1].send(json.dumps({"type": "hello", "lang": "en"}))
        assert json.loads(await conns[-1].recv())["type"] == "welcome"
    finally:
        await asyncio.gather(*(c.close() for c in conns))


async def test_a_failed_hello_does_not_stop_the_hello_deadline(harness: Harness) -> None:
    await harness.start(hello_timeout_s=t(0.6))
    ws = await harness.connect("/ws/seeker")
    await ws.send(type="hello", resume="B" * 43, last_seq=0)
    assert (await ws.next("error"))["code"] == "unknown_resume"
    assert await ws.closed() == 4408


@pytest.mark.parametrize("client_id", ["c-1", "é\"\\\n", "x" * 64], ids=["plain", "escapes", "longest"])
def test_preformatted_ack_is_the_ack_frame_encode_writes(client_id: str) -> None:
    """The seeker's ack is written without the dataclass; it must be the same frame, byte for byte."""
    assert ack_text(client_id, 7) == frames.encode(frames.SeekerAck(client_id=client_id, seq=7))
    assert frames.decode(ack_text(client_id, 7)) == frames.SeekerAck(client_id=client_id, seq=7)
