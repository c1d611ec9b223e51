"""Server frames: every frame a whole conversation produces, Lua-built ones included, decodes
strictly into its type in routing/frames.py, so a frame and its type cannot drift apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from routing import frames
from tests.conftest import Harness
from tests.helpers import WS
from tests.test_sms_bridge import _start, paired, text, twilio  # noqa: F401  (twilio: a fixture)

# Every type a web conversation's journey below must produce (SMS delivery: the test after it).
WEB_SEEKER_TYPES = {frames.Welcome, frames.SeekerAck, frames.SeekerMessage, frames.StatusWaiting,
                    frames.StatusActive, frames.SeekerEscalation, frames.SeekerTyping, frames.SeekerEnded,
                    frames.Forgotten, frames.Error}
# canned_changed follows an admin's edit, not a conversation: tests/test_program.py decodes it.
# The nudge needs a peer who stays silent: tests/test_first_reply.py decodes it the same way.
WEB_CONSOLE_TYPES = set(frames.CONSOLE_FRAMES) - {frames.Delivery, frames.CannedChanged, frames.Nudge}


def _decoded(ws: WS, audience: tuple[type[Any], ...]) -> list[Any]:
    """Every frame ``ws`` received, decoded strictly; each must be one of ``audience``'s types."""
    out = []
    for obj in ws.seen + ws.buffer:
        frame = frames.decode(json.dumps(obj))
        assert isinstance(frame, audience), f"{type(frame).__name__} is not for this socket: {obj}"
        assert frames.as_dict(frame) == obj, "decoding and encoding again changed the frame"
        out.append(frame)
    return out


async def test_every_frame_of_a_conversation_decodes_into_its_type(harness: Harness) -> None:
    """Seeker and consoles through a whole conversation: queue, offer, revoke, accept, messages
    both ways, typing, notes, language, monitoring and a whisper, escalation by the peer, a
    transfer, a resume, a reconnecting console, the end and forget."""
    await harness.start()
    for name, role, display in (("alice", "peer", "Alice"), ("bob", "peer", "Bob"), ("sup", "supervisor", "Sue")):
        await harness.add_peer(name, role=role, display=display)
    alice = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="c1", text="hello, I need to talk — é")
    await seeker.next("ack", client_id="c1")
    await seeker.next("status", state="waiting")

    first = await alice.next("offer", conversation=conv)
    await alice.send(type="shift", action="break")
    await alice.next("revoked", offer=first["offer"])
    await alice.send(type="accept", offer=first["offer"])
    assert (await alice.next("error", code="offer_gone"))["offer"] == first["offer"]
    await alice.send(type="shift", action="start", capacity=1)
    offer = await alice.next("offer", conversation=conv)
    await alice.send(type="accept", offer=offer["offer"])
    await alice.next("assigned", conversation=conv)
    await seeker.next("status", state="active")

    await seeker.send(type="message", client_id="c2", text="are you there?")
    await alice.next("message", conversation=conv, text="are you there?")
    await alice.send(type="message", conversation=conv, client_id="p1", text="yes, I am here")
    await alice.next("ack", client_id="p1")
    await seeker.next("message", text="yes, I am here")
    await seeker.send(type="typing")
    await alice.next("typing", conversation=conv)
    await alice.send(type="typing", conversation=conv)
    await seeker.next("typing")
    await alice.send(type="note", conversation=conv, text="calmer now")
    await alice.next("note", conversation=conv, whisper=False)
    await alice.send(type="language", conversation=conv, lang="en")
    await alice.next("language", conversation=conv)
    again = await harness.peer("alice")  # a reconnecting console: shift, assigned, queue, synced
    await again.next("synced")

    sup = await harness.peer("sup", capacity=1)
    await sup.send(type="monitor", conversation=conv)
    await sup.next("monitoring", conversation=conv)
    await sup.send(type="monitor", conversation="0" * 32)
    assert (await sup.next("error", code="not_available"))["conversation"] == "0" * 32
    await sup.send(type="whisper", conversation=conv, text="ask about safety")
    await alice.next("note", conversation=conv, whisper=True)
    await alice.send(type="escalate", conversation=conv)
    await seeker.next("escalation", reason="peer")
    await alice.next("escalation", conversation=conv, reason="peer")
    await sup.next("alert", conversation=conv, reason="peer")
    await sup.next("escalation", conversation=conv)
    await sup.next("overview")

    bob = await harness.peer("bob", capacity=1)
    await alice.send(type="transfer", conversation=conv, to="bob")
    await alice.next("released", conversation=conv)
    offer = await bob.next("offer", conversation=conv)
    assert offer["transfer_from"] == "alice"
    await bob.send(type="accept", offer=offer["offer"])
    await bob.next("assigned", conversation=conv)
    await seeker.next("status", state="active", peer="Bob")
    resumed = await harness.connect("/ws/seeker")  # a resume: Python re-sends what Lua built
    await resumed.send(type="hello", resume=welcome["resume"], last_seq=0)
    await resumed.next("status", state="active")
    await resumed.send(type="nonsense")
    await resumed.next("error", code="bad_request")

    await bob.send(type="end", conversation=conv, outcome="resolved")
    await bob.next("ended", conversation=conv, by="peer")
    await sup.next("ended", conversation=conv)
    await seeker.next("ended", by="peer")
    await resumed.next("ended")
    await seeker.send(type="forget")
    await seeker.next("forgotten")

    seekers = [f for ws in (seeker, resumed) for f in _decoded(ws, frames.SEEKER_FRAMES)]
    consoles = [f for ws in (alice, again, sup, bob) for f in _decoded(ws, frames.CONSOLE_FRAMES)]
    assert WEB_SEEKER_TYPES - {type(f) for f in seekers} == set()
    assert WEB_CONSOLE_TYPES - {type(f) for f in consoles} == set()


async def test_sms_delivery_frames_decode_into_their_type(twilio: Any, harness: Harness) -> None:  # noqa: F811
    """The bridge's delivery frames, live and replayed, and the SMS conversation's other frames."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    conv = await paired(srv, alice, "hello")
    await alice.send(type="message", conversation=conv, client_id="p1", text="hi, I am Alice")
    await alice.next("delivery", conversation=conv, state="sent")
    again = await harness.peer("alice")
    await again.next("delivery", conversation=conv, replay=True)
    await text(srv, "thanks")
    await alice.next("message", conversation=conv, text="thanks")
    consoles = [f for ws in (alice, again) for f in _decoded(ws, frames.CONSOLE_FRAMES)]
    assert any(isinstance(f, frames.Delivery) and f.replay is None for f in consoles)
    assert any(isinstance(f, frames.Delivery) and f.replay for f in consoles)
    assert all(f.label for f in consoles if isinstance(f, frames.Assigned))


@pytest.mark.parametrize("frame,wire", [
    pytest.param(frames.Delivery(conversation="c", seq=1, state="sent"),
                 {"type": "delivery", "conversation": "c", "seq": 1, "state": "sent"}, id="delivery-omits-code"),
    pytest.param(frames.Delivery(conversation="c", seq=1, state="failed", code="21610", replay=True),
                 {"type": "delivery", "conversation": "c", "seq": 1, "state": "failed", "code": "21610",
                  "replay": True}, id="delivery-with-code"),
    pytest.param(frames.Shift(state="off", capacity=0, active=0, debrief_until=None),
                 {"type": "shift", "state": "off", "capacity": 0, "active": 0, "debrief_until": None},
                 id="shift-sends-null"),
    pytest.param(frames.Error(code="bad_request", message="m"),
                 {"type": "error", "code": "bad_request", "message": "m"}, id="error-omits-extras"),
    pytest.param(frames.Note(conversation="c", from_="Al", text="t", at="a", whisper=False),
                 {"type": "note", "conversation": "c", "from": "Al", "text": "t", "at": "a", "whisper": False},
                 id="note-from"),
])
def test_encode_omits_only_the_fields_marked_so(frame: Any, wire: dict[str, Any]) -> None:
    assert json.loads(frames.encode(frame)) == wire
    assert frames.decode(frames.encode(frame)) == frame


@pytest.mark.parametrize("raw", [
    pytest.param('{"type":"queue","waiting":1}', id="missing-field"),
    pytest.param('{"type":"queue","waiting":1,"peers_on_shift":2,"extra":3}', id="unknown-field"),
    pytest.param('{"type":"queue","waiting":true,"peers_on_shift":2}', id="bool-for-int"),
    pytest.param('{"type":"status","state":"active","position":1,"peers_on_shift":2}', id="wrong-state"),
    pytest.param('{"type":"nonsense"}', id="unknown-type"),
])
def test_decode_refuses_a_frame_that_is_not_its_type(raw: str) -> None:
    with pytest.raises(frames.FrameError):
        frames.decode(raw)
