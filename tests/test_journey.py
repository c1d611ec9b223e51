"""A seeker and a peer meet, talk both ways with shared seq numbers, and end."""

from __future__ import annotations

from tests.conftest import Harness


async def test_seeker_and_peer_talk_with_shared_seq_numbers(harness: Harness) -> None:
    """Messages from both sides take the next seq of one per-conversation numbering."""
    await harness.start()
    await harness.add_peer("alice", display="Alice")
    peer = await harness.peer("alice", capacity=2)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    assert welcome["crisis_line"] == "1-844-750-1648"
    assert welcome["crisis_email"] == "DND.SMRC-CIIS.MDN@forces.gc.ca"
    assert len(conv) >= 32 and len(welcome["resume"]) >= 32

    await seeker.send(type="message", client_id="c1", text="hello, is anyone there?")
    assert (await seeker.next("ack", client_id="c1"))["seq"] == 1
    status = await seeker.next("status", state="waiting")
    assert status["position"] == 1 and status["peers_on_shift"] == 1

    offer = await peer.next("offer", conversation=conv)
    assert offer["channel"] == "web" and offer["risk"] is False and 0 < offer["expires_in_s"] <= 30
    await peer.send(type="accept", offer=offer["offer"])
    assigned = await peer.next("assigned", conversation=conv)
    assert [m["text"] for m in assigned["history"]][0] == "hello, is anyone there?"
    assert (await seeker.next("status", state="active"))["peer"] == "Alice"
    joined = await seeker.next("message", **{"from": "system"})
    assert joined["seq"] == 2

    await peer.send(type="message", conversation=conv, client_id="p1", text="I'm here. Take your time.")
    ack = await peer.next("ack", client_id="p1")
    assert ack == {"type": "ack", "conversation": conv, "client_id": "p1", "seq": 3}
    got = await seeker.next("message", seq=3)
    assert got["from"] == "peer" and got["text"] == "I'm here. Take your time." and got["at"].endswith("Z")

    await seeker.send(type="message", client_id="c2", text="thank you")
    assert (await seeker.next("ack", client_id="c2"))["seq"] == 4
    assert (await peer.next("message", conversation=conv, seq=4))["from"] == "seeker"

    await seeker.send(type="typing")
    await peer.next("typing", conversation=conv)
    await peer.send(type="typing", conversation=conv)
    await seeker.next("typing")

    await peer.send(type="end", conversation=conv, outcome="resolved")
    assert (await seeker.next("ended"))["by"] == "peer"
    assert (await peer.next("ended", conversation=conv))["by"] == "peer"


async def test_duplicate_client_id_gets_same_ack_and_stores_nothing(harness: Harness) -> None:
    await harness.start()
    seeker, welcome = await harness.seeker()
    for _ in range(3):
        await seeker.send(type="message", client_id="same", text="once")
        assert (await seeker.next("ack", client_id="same"))["seq"] == 1
    history = await harness.servers[0].services.engine.history(welcome["conversation"])
    assert len(history) == 1


async def test_seeker_end_reaches_peer_and_frees_its_slot(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("bob")
    peer = await harness.peer("bob", capacity=1)
    s1, w1 = await harness.seeker()
    await s1.send(type="message", client_id="a", text="first")
    offer = await peer.next("offer", conversation=w1["conversation"])
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    s2, w2 = await harness.seeker()
    await s2.send(type="message", client_id="a", text="second")
    await peer.none("offer", within=0.5, conversation=w2["conversation"])
    await s1.send(type="end")
    assert (await s1.next("ended"))["by"] == "seeker"
    assert (await peer.next("ended", conversation=w1["conversation"]))["by"] == "seeker"
    # The freed slot is filled at once.
    await peer.next("offer", conversation=w2["conversation"])
