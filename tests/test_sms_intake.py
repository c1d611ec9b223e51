"""SMS intake (issue 13): the optional check-in by text, in both languages, and the texter's
language from a clear first text."""

from __future__ import annotations

import asyncio

import pytest

from sms.keywords import checkin_feeling
from sms.twilio_server import LocalTwilio
from tests.conftest import Harness, Running
from tests.helpers import t
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


async def _model_loaded(srv: Running) -> None:
    sms = srv.services.sms
    assert sms is not None
    for _ in range(int(t(20) / 0.05)):
        if sms.langid.ready:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the language model did not load")


@pytest.mark.parametrize(("first", "says", "not_says"), [
    pytest.param("Bonjour, j'ai besoin de parler à quelqu'un", "Vous êtes en file", "You're in line", id="fr"),
    pytest.param("I need to talk to someone please", "You're in line", "Vous êtes en file", id="en"),
])
async def test_a_clear_first_text_sets_the_texters_language(
        twilio: LocalTwilio, harness: Harness, first: str, says: str, not_says: str) -> None:  # noqa: F811
    srv = await _start(harness, twilio)
    await _model_loaded(srv)
    await text(srv, first)
    notice = (await _bodies(twilio, 1))[0]
    assert says in notice and not_says not in notice
    if says.startswith("Vous"):  # and a French-speaking peer is offered it first
        await harness.add_peer("anglo", languages=("en",))
        await harness.add_peer("franco", languages=("fr",))
        anglo = await harness.peer("anglo", capacity=1)
        franco = await harness.peer("franco", capacity=1)
        assert (await franco.next("offer", timeout=5))["lang"] == "fr"
        await anglo.none("offer", within=0.3)


async def test_an_unclear_first_text_keeps_replies_bilingual(twilio: LocalTwilio, harness: Harness) -> None:  # noqa: F811
    srv = await _start(harness, twilio)
    await _model_loaded(srv)
    await text(srv, "ok merci")
    notice = (await _bodies(twilio, 1))[0]
    assert "You're in line" in notice and "Vous êtes en file" in notice
