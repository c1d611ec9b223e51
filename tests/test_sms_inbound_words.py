"""No texter's words are lost: keywords inside a live conversation, pictures, senders that are
not phone numbers (issue: inputs that broke comparable SMS services)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from routing.archive import archive
from sms.hashing import number_hash
from sms.texts import Language
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import Harness, Running
from tests.helpers import captured_logs, t
from tests.test_sms_bridge import TEXTER, _bodies, _start, paired, text, twilio

__all__ = ["twilio"]  # the fixture, shared with test_sms_bridge

# Every word of the keyword table that is not an opt-out or DELETE, as a texter types it.
WORDS = ["Yes", "yes!", "START", "unstop", "Info", "HELP", "aide", "EN", "fr", "Oui"]


@pytest.mark.parametrize("word", WORDS)
async def test_a_keyword_word_in_a_live_conversation_reaches_the_peer(
        twilio: LocalTwilio, harness: Harness, word: str) -> None:
    """A texter asked "would you like the number of the 24/7 line?" answers "Yes": the peer
    sees it, and the texter gets no command reply in the middle of the chat."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello, I'm texting in English")
    await _set_known_language(srv, "en")
    await peer.send(type="message", conversation=conv, client_id="q", text="Would you like the 24/7 number?")
    await peer.next("ack", client_id="q")
    before = len(await _bodies(twilio, 3))
    r = await text(srv, word)
    assert r.status_code == 200
    got = await peer.next("message", conversation=conv, text=word)
    assert got["from"] == "seeker"
    help_word = word.strip("!").upper() in ("HELP", "INFO", "AIDE")
    # HELP/INFO/AIDE may still be answered with the crisis line, in the TwiML; nothing else is.
    assert ("1-844-750-1648" in r.text) == help_word
    assert ("<Message>" in r.text) == help_word
    await asyncio.sleep(t(0.5))
    assert len(twilio.bodies_to(TEXTER)) == before, twilio.bodies_to(TEXTER)[before:]
    info = await srv.services.engine.info(conv)
    assert info is not None and info.state.value == "active" and info.lang == "en"


async def _set_known_language(srv: Running, lang: str) -> None:
    """The texter's language is known (they chose it, or the peer set it)."""
    nhash = number_hash(srv.settings.secret_key, TEXTER)
    conv = await srv.services.sms.open_conversation(nhash)
    assert conv is not None
    await srv.services.sms._set_lang(nhash, conv, Language(lang))


async def _metrics(srv: Running) -> str:
    async with httpx.AsyncClient() as http:
        return (await http.get(srv.url + "/metrics")).text


@pytest.mark.parametrize("word", ["STOP", "Arrêt", "DELETE", "supprimer"])
async def test_opt_out_and_delete_still_act_inside_a_conversation(
        twilio: LocalTwilio, harness: Harness, word: str) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello")
    await text(srv, word)
    ended = await peer.next("ended", conversation=conv)
    assert ended["by"] == "seeker"
    assert not any(f.get("type") == "message" and f.get("text") == word for f in peer.seen)


async def test_fr_while_the_language_is_unknown_chooses_it_and_reaches_the_peer(
        twilio: LocalTwilio, harness: Harness) -> None:
    """The in-line notice of a texter of unknown language says "Reply FR": that still works,
    and the word is not lost to the peer either."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "allo")
    r = await text(srv, "FR")
    assert "français" in r.text
    await peer.next("message", conversation=conv, text="FR")
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended", conversation=conv)
    closing = (await _bodies(twilio, 3))[-1]
    assert closing.startswith("La personne aidante a terminé la conversation")


async def _mms(srv: Running, body: str, *, media: int = 1, number: str = TEXTER) -> httpx.Response:
    extra = {"NumMedia": str(media)}
    for i in range(media):
        extra[f"MediaUrl{i}"] = f"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME{i}"
        extra[f"MediaContentType{i}"] = "image/jpeg"
    return await text(srv, body, number=number, extra=extra)


async def test_a_picture_with_no_words_and_no_conversation_is_answered(
        twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    r = await _mms(srv, "")
    assert r.status_code == 200
    # In both languages (the texter's is not known yet), with the crisis line.
    assert "can't see pictures" in r.text and "voir les images" in r.text and "1-844-750-1648" in r.text
    assert await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, TEXTER)) is None
    assert 'chatd_sms_total{kind="media_not_shown"} 1' in await _metrics(srv)
    # In French once the texter's language is known.
    await text(srv, "AIDE")
    r = await _mms(srv, "  ")
    assert "voir les images" in r.text and "can't see" not in r.text


async def test_a_picture_in_a_conversation_is_a_line_the_peer_sees(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello")
    before = len(await _bodies(twilio, 2))
    await _mms(srv, "")
    line = await peer.next("message", conversation=conv, **{"from": "system"})
    assert "picture" in line["text"]
    # The texter is told too (by text, as a system message is), in words.
    bodies = await _bodies(twilio, before + 1)
    assert any("picture" in b for b in bodies[before:])
    # A caption is the texter's words; the picture still gets its line.
    await _mms(srv, "this is what he sent me", media=2)
    assert (await peer.next("message", conversation=conv, text="this is what he sent me"))["from"] == "seeker"
    assert "picture" in (await peer.next("message", conversation=conv, **{"from": "system"}))["text"]


async def test_a_caption_opens_a_conversation_and_the_picture_is_noted(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    await _mms(srv, "can you see this")
    offer = await peer.next("offer", timeout=5)
    await peer.send(type="accept", offer=offer["offer"])
    history = (await peer.next("assigned", conversation=offer["conversation"]))["history"]
    assert [m["from"] for m in history[:2]] == ["seeker", "system"]
    assert history[0]["text"] == "can you see this" and "picture" in history[1]["text"]


@pytest.mark.parametrize("sender", [
    pytest.param("55555", id="short-code"),
    pytest.param("BANKALERT", id="alphanumeric"),
    pytest.param("+1", id="too-short"),
])
async def test_a_sender_that_is_not_a_phone_number_is_counted_not_logged(
        twilio: LocalTwilio, harness: Harness, sender: str) -> None:
    srv = await _start(harness, twilio)
    with captured_logs() as logs:
        r = await text(srv, "Your code is 1234", number=sender)
    assert r.status_code == 200 and "<Message>" not in r.text
    assert 'chatd_sms_total{kind="sender_not_a_number"} 1' in await _metrics(srv)
    waiting, _ = await srv.services.engine.queue_counts()
    assert waiting == 0
    assert "sms.sender_not_a_number" in {e["event"] for e in logs}
    assert sender not in repr(logs) and "1234" not in repr(logs)


@pytest.mark.parametrize("body", [
    pytest.param("Bonjour\xff".encode("latin-1"), id="raw-latin-1-byte"),
], )
async def test_a_webhook_body_that_is_not_utf8_is_refused_and_changes_nothing(
        twilio: LocalTwilio, harness: Harness, body: bytes) -> None:
    srv = await _start(harness, twilio)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        for raw in (b"MessageSid=SM" + b"1" * 32 + b"&From=%2B16135550123&Body=" + bad
                    for bad in (b"%ED%A0%80", b"%FF", b"%C0%80", body)):
            r = await http.post("/sms/inbound", content=raw,
                                headers={"content-type": "application/x-www-form-urlencoded",
                                         "X-Twilio-Signature": "x"})
            assert r.status_code == 400, raw
            r = await http.post("/sms/status", content=raw,
                                headers={"content-type": "application/x-www-form-urlencoded"})
            assert r.status_code == 400, raw
    waiting, _ = await srv.services.engine.queue_counts()
    assert waiting == 0


@pytest.mark.parametrize("body", [
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param("\u2800", id="braille-blank"),
    pytest.param("\u3164\u00a0\ufe0f", id="filler-nbsp-selector"),
])
async def test_a_text_that_shows_nothing_opens_nothing_and_reaches_no_one(
        twilio: LocalTwilio, harness: Harness, body: str) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    r = await text(srv, body)
    assert r.status_code == 200 and "<Message>" not in r.text
    await peer.none("offer", within=0.5)
    conv = await paired(srv, peer, "hello")
    await text(srv, body)
    await peer.none("message", within=0.5, conversation=conv, **{"from": "seeker"})
    assert [json.loads(m)["text"] for m in await srv.services.engine.history(conv)
            if json.loads(m)["from"] == "seeker"] == ["hello"]


async def test_delete_right_after_the_end_deletes_the_texts_not_yet_archived(
        twilio: LocalTwilio, harness: Harness) -> None:
    """An SMS conversation is archived a minute after it ends; DELETE in that minute reaches it
    too: nothing of its texts is left in Redis, nor in the archive made afterwards."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "my secret words")
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended", conversation=conv)
    r = await text(srv, "DELETE")
    assert "deleted" in r.text
    assert await srv.services.engine.history(conv) == []
    await archive(srv.services.engine, srv.services.store, srv.settings, conv)
    assert await srv.services.store.messages(conv) == []
    assert b"my secret words" not in srv.settings.database.read_bytes()


async def test_a_keyword_whose_conversation_ends_that_moment_opens_nothing(
        twilio: LocalTwilio, harness: Harness) -> None:
    """The peer ends the chat as the texter's "Yes" arrives (the webhook saw it open): the word is
    a keyword again, never the first text of a new conversation (CONTRACT.md section 4)."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello")
    nhash = number_hash(srv.settings.secret_key, TEXTER)
    assert await srv.services.engine.end(conv, "peer", actor="alice")
    for word in ("Yes", "HELP", "START"):
        reply, _ = await srv.services.sms._handle(nhash, TEXTER, word, new_sid(), conv, Language.EN, 0)
        assert reply is not None, word  # answered as the keyword it is
    assert await srv.services.sms.open_conversation(nhash) is None
    waiting, _ = await srv.services.engine.queue_counts()
    assert waiting == 0


async def test_an_absurd_media_count_is_answered_not_a_500(twilio: LocalTwilio, harness: Harness) -> None:
    srv = await _start(harness, twilio)
    r = await text(srv, "", extra={"NumMedia": "1" * 5000})
    assert r.status_code == 200 and "can't see pictures" in r.text


async def test_a_retried_keyword_gets_its_first_answer_again(twilio: LocalTwilio, harness: Harness) -> None:
    """Twilio retries a MessageSid when the first answer was lost: the retry's answer is the one
    the texter gets, so it is the same (DELETE's confirmation, AIDE's crisis line in French)."""
    srv = await _start(harness, twilio)
    await text(srv, "bonjour")
    sid = new_sid()
    first = await text(srv, "SUPPRIMER", sid=sid)
    assert "supprimés" in first.text
    assert (await text(srv, "SUPPRIMER", sid=sid)).text == first.text
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    await paired(srv, peer, "allo")
    sid = new_sid()
    first = await text(srv, "AIDE", sid=sid)
    assert "Ligne 24/7" in first.text
    again = await text(srv, "AIDE", sid=sid)
    assert "Ligne 24/7" in again.text and "24/7 line" not in again.text
