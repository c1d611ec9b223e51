"""No chat left unanswered: the nudge, the supervisors' alert and the seeker's reassurance when a
peer who took a conversation does not write, and long-unanswered conversations on the overview."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from routing import frames
from tests.conftest import Harness, Running
from tests.helpers import WS, t


async def _accepted(harness: Harness, server: Running | None = None, lang: str = "en",
                    ) -> tuple[WS, WS, dict[str, Any]]:
    """A seeker whose conversation the peer 'alice' accepted; returns seeker, alice, welcome."""
    await harness.add_peer("alice", server=server)
    alice = await harness.peer("alice", capacity=1, server=server)
    seeker, welcome = await harness.seeker(lang=lang, server=server)
    await seeker.send(type="message", client_id="a", text="hello")
    offer = await alice.next("offer", conversation=welcome["conversation"])
    await alice.send(type="accept", offer=offer["offer"])
    await alice.next("assigned")
    return seeker, alice, welcome


async def _supervisor_on_shift(harness: Harness, server: Running | None = None) -> WS:
    await harness.add_peer("sup", role="supervisor", server=server)
    return await harness.peer("sup", capacity=1, server=server)


async def test_a_peer_who_sends_nothing_is_nudged_then_supervisors_alerted_and_seeker_reassured(
        harness: Harness) -> None:
    first_reply_s = t(0.8)
    await harness.start(first_reply_s=first_reply_s)
    seeker, alice, welcome = await _accepted(harness, lang="fr")
    conv = welcome["conversation"]
    sup = await _supervisor_on_shift(harness)
    await alice.none("nudge", within=first_reply_s * 0.6)
    nudge = await alice.next("nudge", conversation=conv, timeout=t(5))
    assert nudge["waited_s"] >= 0
    await sup.none("alert", within=0.1, reason="no_first_reply")
    alert = await sup.next("alert", conversation=conv, timeout=t(5))
    assert alert["reason"] == "no_first_reply" and alert["peer"] == "alice" and alert["state"] == "active"
    reassured = await seeker.next("message", timeout=t(5), **{"from": "system"})
    while "écrire" not in reassured["text"]:  # after the "a peer joined" message
        reassured = await seeker.next("message", timeout=t(5), **{"from": "system"})
    assert "pair aidante" in reassured["text"]
    await seeker.none("escalation", within=0.2)  # an alert, not an escalation: no crisis line pushed
    for obj in [nudge, alert]:
        assert frames.as_dict(frames.decode(json.dumps(obj))) == obj


async def test_a_peer_who_writes_in_time_is_never_nudged(harness: Harness) -> None:
    first_reply_s = t(0.6)
    await harness.start(first_reply_s=first_reply_s)
    seeker, alice, welcome = await _accepted(harness)
    sup = await _supervisor_on_shift(harness)
    await alice.send(type="message", conversation=welcome["conversation"], client_id="p1", text="Hi, I'm here.")
    await alice.next("ack")
    await alice.none("nudge", within=first_reply_s * 2.5)
    await sup.none("alert", within=0.05)


async def test_nudge_and_alert_timers_survive_a_worker_restart(harness: Harness) -> None:
    first_reply_s = t(0.5)
    web = await harness.start(worker=False, first_reply_s=first_reply_s)
    worker = await harness.start(web=False, first_reply_s=first_reply_s)
    seeker, alice, welcome = await _accepted(harness, server=web)
    sup = await _supervisor_on_shift(harness, server=web)
    await worker.stop()
    harness.servers.remove(worker)
    await asyncio.sleep(first_reply_s * 2 + 0.3)  # both deadlines pass while no worker runs
    await alice.none("nudge", within=0.1)
    await harness.start(web=False, first_reply_s=first_reply_s)
    await alice.next("nudge", conversation=welcome["conversation"], timeout=t(5))
    assert (await sup.next("alert", conversation=welcome["conversation"], timeout=t(5)))["reason"] == "no_first_reply"
    await seeker.next("message", timeout=t(5), text="A peer supporter is here with you and will write in a moment.")


async def test_a_seeker_message_left_unanswered_shows_as_overdue_on_the_supervisor_overview(
        harness: Harness) -> None:
    await harness.start(unanswered_s=3.0, first_reply_s=t(60))
    seeker, alice, welcome = await _accepted(harness)
    conv = welcome["conversation"]
    await alice.send(type="message", conversation=conv, client_id="p1", text="Hi, I'm here.")
    await alice.next("ack")
    await seeker.send(type="message", client_id="b", text="thanks, so...")
    await seeker.next("ack")
    sup = await _supervisor_on_shift(harness)

    async def row() -> dict[str, Any]:
        frame = await sup.next("overview", timeout=t(5))
        (found,) = [c for c in frame["conversations"] if c["conversation"] == conv]
        return found

    first = await row()
    assert first["unanswered_s"] is not None and first["overdue"] == (first["unanswered_s"] >= 3)
    while not (later := await row())["overdue"]:
        pass
    assert later["unanswered_s"] >= 3
    await alice.send(type="message", conversation=conv, client_id="p2", text="Take your time.")
    await alice.next("ack")
    answered = await row()
    assert answered["unanswered_s"] is None and answered["overdue"] is False
