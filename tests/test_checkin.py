"""The optional check-in (web): stored, shown to the peer, "not safe" treated as a risk match,
strictly validated; and the end survey's feeling beside the contract's rating."""

from __future__ import annotations

import json
from typing import Any

import pytest

from routing import frames
from tests.conftest import Harness


async def test_checkin_answers_are_stored_and_shown_in_the_offer_and_the_assigned_frame(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="checkin", feeling=3, safe="yes")
    await seeker.send(type="message", client_id="a", text="hello")
    await seeker.next("ack")
    await seeker.none("escalation", within=0.2)
    offer = await alice.next("offer", conversation=conv)
    assert offer["checkin"] == {"feeling": 3, "safe": "yes"} and offer["risk"] is False
    await alice.send(type="accept", offer=offer["offer"])
    assigned = await alice.next("assigned", conversation=conv)
    assert assigned["checkin"] == {"feeling": 3, "safe": "yes"}
    for frame in (offer, assigned):  # strictly, as tests/test_frames.py decodes every other frame
        assert frames.as_dict(frames.decode(json.dumps(frame))) == frame
    fields = await srv.services.redis.hmget(srv.services.keys.conv(conv), ["checkin_feeling", "checkin_safe"])
    assert fields == ["3", "yes"]


@pytest.mark.parametrize(("lang", "safe", "words"), [
    pytest.param("en", "no", "24/7 line", id="en-no"),
    pytest.param("fr", "not_sure", "ligne 24/7", id="fr-not-sure"),
])
async def test_not_safe_escalates_for_risk_alerts_supervisors_and_queues_at_the_front(
        harness: Harness, lang: str, safe: str, words: str) -> None:
    srv = await harness.start()
    await harness.add_peer("sup", role="supervisor")
    sup = await harness.peer("sup", capacity=1)
    # The supervisor is busy with an earlier seeker, so both wait behind it: the risky one goes first.
    first, _ = await harness.seeker()
    await first.send(type="message", client_id="a", text="first")
    busy = await sup.next("offer")
    await sup.send(type="accept", offer=busy["offer"])
    await sup.next("assigned")
    earlier, w_earlier = await harness.seeker()
    await earlier.send(type="message", client_id="a", text="I was here before")
    await earlier.next("ack")
    seeker, welcome = await harness.seeker(lang)
    conv = welcome["conversation"]
    await seeker.send(type="checkin", safe=safe)
    esc = await seeker.next("escalation")
    assert esc["reason"] == "risk" and "1-844-750-1648" in esc["text"] and words in esc["text"]
    alert = await sup.next("alert", conversation=conv)
    assert alert["reason"] == "risk" and alert["state"] == "waiting"
    # Queued at once, ahead of the one who came earlier, though the seeker has written nothing yet.
    assert (await seeker.next("status", state="waiting"))["position"] == 1
    await seeker.send(type="message", client_id="a", text="hi")
    await seeker.next("ack")
    positions, _ = await srv.services.engine.positions([conv, w_earlier["conversation"]])
    assert positions == [1, 2]


@pytest.mark.parametrize("frame", [
    pytest.param({"type": "checkin"}, id="empty"),
    pytest.param({"type": "checkin", "feeling": 0}, id="feeling-0"),
    pytest.param({"type": "checkin", "feeling": 8}, id="feeling-8"),
    pytest.param({"type": "checkin", "feeling": "5"}, id="feeling-string"),
    pytest.param({"type": "checkin", "feeling": True}, id="feeling-bool"),
    pytest.param({"type": "checkin", "safe": "maybe"}, id="safe-unknown"),
    pytest.param({"type": "checkin", "safe": ["no"]}, id="safe-list"),
    pytest.param({"type": "survey", "feeling": 9}, id="survey-feeling-9"),
    pytest.param({"type": "survey"}, id="survey-empty"),
])
async def test_bad_checkin_values_are_refused_and_the_socket_stays_open(
        harness: Harness, frame: dict[str, Any]) -> None:
    await harness.start()
    seeker, _ = await harness.seeker()
    await seeker.send(**frame)
    await seeker.next("error", code="bad_request")
    await seeker.send(type="message", client_id="a", text="still here")
    await seeker.next("ack")


async def test_checkin_after_a_peer_joined_is_not_allowed(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hello")
    offer = await alice.next("offer")
    await alice.send(type="accept", offer=offer["offer"])
    await seeker.next("status", state="active")
    await seeker.send(type="checkin", feeling=4)
    await seeker.next("error", code="not_allowed")


async def test_end_survey_feeling_is_stored_beside_the_rating(harness: Harness) -> None:
    srv = await harness.start()
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="checkin", feeling=2)
    await seeker.send(type="message", client_id="a", text="hello")
    await seeker.next("ack")
    await seeker.send(type="end")
    await seeker.next("ended")
    await seeker.send(type="survey", feeling=5)  # the feeling alone: the rating may be left out
    await seeker.send(type="survey", rating=4)
    await seeker.send(type="survey", rating=6)  # the contract's survey stays as strict as before
    await seeker.next("error", code="bad_request")
    record = await srv.services.store.conversation(conv)
    assert record is not None and record["end_feeling"] == 5 and record["survey"] == 4
    assert record["checkin_feeling"] in (2, None)  # set by the archive, which may not have run yet
