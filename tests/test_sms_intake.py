"""SMS intake (issue 13): the optional check-in by text, in both languages."""

from __future__ import annotations

import pytest

from sms.keywords import checkin_feeling
from sms.twilio_server import LocalTwilio
from tests.conftest import Harness
from tests.test_sms_bridge import _bodies, _start, text, twilio  # noqa: F401  (twilio: a fixture)


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param("4", 4, id="digit"), pytest.param(" 7. ", 7, id="spaces-and-dot"), pytest.param("1!", 1, id="bang"),
    pytest.param("0", None, id="zero"), pytest.param("8", None, id="eight"), pytest.param("44", None, id="two-digits"),
    pytest.param("4 stars", None, id="words"), pytest.param("", None, id="empty"),
])
def test_a_reply_of_just_a_number_1_to_7_is_a_checkin(body: str, expected: int | None) -> None:
    assert checkin_feeling(body) == expected


@pytest.mark.parametrize(("first", "invite"), [
    pytest.param("Hi, I need to talk", "reply 1-7", id="en-unknown-bilingual"),
    pytest.param("AIDE", "répondez 1 à 7", id="fr"),
])
async def test_a_texter_replies_with_a_number_and_the_peer_sees_it_as_the_checkin(
        twilio: LocalTwilio, harness: Harness, first: str, invite: str) -> None:  # noqa: F811
    srv = await _start(harness, twilio)
    await text(srv, first)
    if first == "AIDE":  # a keyword: the language is French now; the next text opens the conversation
        await text(srv, "Bonjour, j'ai besoin de parler")
    bodies = await _bodies(twilio, 1)  # (AIDE is answered in the webhook's TwiML, not by the API)
    notice = next(b for b in bodies if "1-844-750-1648" in b and ("line" in b or "file" in b))
    assert invite in notice
    await text(srv, "3")
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    offer = await alice.next("offer", timeout=5)
    assert offer["checkin"] == {"feeling": 3, "safe": None}
    await alice.send(type="accept", offer=offer["offer"])
    assigned = await alice.next("assigned")
    assert [m["text"] for m in assigned["history"] if m["from"] == "seeker"][-1] == "3"  # still a message too
