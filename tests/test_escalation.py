"""Escalation to the 24/7 line: the four reasons of contract section 5."""

from __future__ import annotations

import asyncio

from tests.conftest import Harness
from tests.helpers import t


async def test_no_peer_on_shift_escalates_at_once_and_stays_queued(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("sup", role="supervisor")
    sup = await harness.peer("sup", capacity=1)
    await sup.send(type="shift", action="break")  # on break: does not count, but is it alerted? no: not "on"
    await sup.next("shift", state="break")
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="is anyone there")
    esc = await seeker.next("escalation")
    assert esc["reason"] == "no_peer_on_shift" and esc["crisis_line"] == "1-844-750-1648"
    assert "1-844-750-1648" in esc["text"] and esc["crisis_email"] in esc["text"]
    await sup.none("alert", within=0.3)  # supervisors on break are not alerted
    info = await srv.services.engine.info(welcome["conversation"])
    assert info is not None and info.state.value == "waiting" and info.escalated == ("no_peer_on_shift",)
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    await alice.next("offer", conversation=welcome["conversation"])


async def test_escalation_text_is_in_french_for_french_seekers(harness: Harness) -> None:
    await harness.start()
    seeker, _ = await harness.seeker("fr")
    await seeker.send(type="message", client_id="a", text="bonjour")
    esc = await seeker.next("escalation")
    assert "1-844-750-1648" in esc["text"] and "Aucune personne" in esc["text"]


async def test_wait_timeout_escalates_and_alerts_supervisors_on_shift(harness: Harness) -> None:
    await harness.start(wait_escalate_s=t(0.6))
    await harness.add_peer("sup", role="supervisor")
    await harness.add_peer("busy")
    sup = await harness.peer("sup", capacity=1)
    # The supervisor on shift takes one conversation, so the next one waits.
    s1, w1 = await harness.seeker()
    await s1.send(type="message", client_id="a", text="first")
    offer = await sup.next("offer")
    await sup.send(type="accept", offer=offer["offer"])
    await sup.next("assigned")
    s2, w2 = await harness.seeker()
    await s2.send(type="message", client_id="a", text="second")
    esc = await s2.next("escalation", timeout=5)
    assert esc["reason"] == "wait_timeout"
    alert = await sup.next("alert", conversation=w2["conversation"], timeout=5)
    assert alert["reason"] == "wait_timeout"
    await s2.none("escalation", within=1.0)  # once only
    await s2.next("status", state="waiting")  # still in the queue


async def test_risk_words_escalate_and_jump_the_queue(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("sup", role="supervisor")
    sup = await harness.peer("sup", capacity=1)
    s0, w0 = await harness.seeker()
    await s0.send(type="message", client_id="a", text="occupying the supervisor")
    offer = await sup.next("offer")
    await sup.send(type="accept", offer=offer["offer"])
    await sup.next("assigned")
    calm = []
    for i in range(3):
        s, w = await harness.seeker()
        await s.send(type="message", client_id="a", text=f"calm {i}")
        await s.next("ack")
        calm.append((s, w))
    risky, wr = await harness.seeker()
    await risky.send(type="message", client_id="a", text="I want to end my life")
    assert (await risky.next("escalation"))["reason"] == "risk"
    alert = await sup.next("alert", conversation=wr["conversation"])
    assert alert["reason"] == "risk"
    assert (await risky.next("status", state="waiting", position=1))["position"] == 1
    await calm[0][0].next("status", state="waiting", position=2, timeout=3)
    info = await srv.services.engine.info(wr["conversation"])
    assert info is not None and info.risk
    # Risk goes first to the next free peer.
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    offer = await alice.next("offer")
    assert offer["conversation"] == wr["conversation"] and offer["risk"] is True


async def test_risk_during_active_chat_alerts_and_tells_the_peer(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="a", text="hi")
    offer = await alice.next("offer")
    await alice.send(type="accept", offer=offer["offer"])
    await alice.next("assigned")
    await seeker.send(type="message", client_id="b", text="Je veux me suicider")
    assert (await seeker.next("escalation"))["reason"] == "risk"
    assert (await alice.next("escalation", conversation=conv))["reason"] == "risk"


async def test_peer_escalation_sends_crisis_line_each_time(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="a", text="hi")
    offer = await alice.next("offer")
    await alice.send(type="accept", offer=offer["offer"])
    await alice.next("assigned")
    for _ in range(2):
        await alice.send(type="escalate", conversation=conv)
        assert (await seeker.next("escalation"))["reason"] == "peer"
    await seeker.send(type="end")
    await seeker.next("ended")
    for _ in range(100):
        row = await srv.services.store.conversation(conv)
        if row and row["escalations"]:
            break
        await asyncio.sleep(0.05)
    assert (row is not None and [e["reason"] for e in row["escalations"]] == ["no_peer_on_shift", "peer", "peer"]) \
        or [e["reason"] for e in row["escalations"]] == ["peer", "peer"]
