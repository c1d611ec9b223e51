"""Hardening: privacy byte for byte (issue 6).

Logs of a scenario covering web, SMS, notes, whispers and failed logins hold no text, number,
token, cookie or password; the SQLite files hold no phone number; forget and DELETE remove the
texts from every Redis key and every SQLite file at once; retention purges old texts.
test_privacy.py covers the logs of a web conversation; test_store.py the purge at store level.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import uuid

import httpx
import pytest
from redis.asyncio import Redis

from config.logging import configure_logging
from routing.archive import archive
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import PASSWORD, Harness, Running
from tests.helpers import WS, t
from tests.test_sms_bridge import TEXTER, _bodies, _start, paired, text, twilio  # noqa: F401

__all__ = ["twilio"]

NUMBER_FORMATS = ["+16135550123", "16135550123", "6135550123", "613-555-0123", "613 555 0123", "(613) 555-0123",
                  "613.555.0123", "+1 613 555 0123", "+1-613-555-0123"]


def _sqlite_files(srv: Running) -> dict[str, bytes]:
    """The database file and its WAL and shared-memory files, as they are on disk."""
    db = srv.settings.database
    return {p.name: p.read_bytes() for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
            if p.exists()}


def _sqlite_bytes(srv: Running) -> bytes:
    return b"".join(_sqlite_files(srv).values())


def _where(srv: Running, needles: list[str]) -> dict[str, list[str]]:
    """Which SQLite files hold which of the needles (for failure messages)."""
    return {name: [n[:16] for n in _found(data, needles)] for name, data in _sqlite_files(srv).items()
            if _found(data, needles)}


async def _redis_bytes(redis: Redis) -> bytes:
    """Every value of every key in Redis, read according to its type."""
    out: list[str] = []  # chatd's client decodes its replies
    async for key in redis.scan_iter(match="*", count=1000):
        kind = await redis.type(key)
        out.append(key)
        if kind == "string":
            out.append(await redis.get(key) or "")
        elif kind == "hash":
            for k, v in (await redis.hgetall(key)).items():
                out += [k, v]
        elif kind == "list":
            out += await redis.lrange(key, 0, -1)
        elif kind == "set":
            out += list(await redis.smembers(key))
        elif kind == "zset":
            out += [m for m, _ in await redis.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in await redis.xrange(key):
                for k, v in fields.items():
                    out += [k, v]
    return "\n".join(out).encode()


def _found(haystack: bytes, needles: list[str]) -> list[str]:
    """Needles present in the haystack as UTF-8, or as the JSON escape of their text."""
    found = []
    for needle in needles:
        forms = {needle.encode(), json.dumps(needle)[1:-1].encode()}
        if any(form in haystack for form in forms):
            found.append(needle)
    return found


async def _login_status(srv: Running, username: str, password: str) -> int:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return (await http.post("/api/login", json={"username": username, "password": password})).status_code


# --- logs -------------------------------------------------------------------------------------
async def test_logs_of_web_sms_notes_and_failed_logins_hold_nothing_private(
        harness: Harness, twilio: LocalTwilio, capfd: pytest.CaptureFixture[str]) -> None:
    tag = uuid.uuid4().hex[:8]
    web_text, sms_text, peer_text = f"WEB-{tag} it happened", f"SMS-{tag} at the base", f"PEER-{tag} I hear you"
    note, whisper, risk = f"NOTE-{tag} calmer", f"WHISPER-{tag} safety", "I want to kill myself"
    wrong_passwords = [f"wrong-{tag}-password", PASSWORD + "!", f"\u00e9t\u00e9-{tag}-\U0001f510"]
    configure_logging("json", "debug")
    try:
        srv = await _start(harness, twilio)
        await harness.add_peer("alice", display="Alice")
        await harness.add_peer("sup", role="supervisor", display="Sue")
        for wrong in wrong_passwords:
            assert await _login_status(srv, "alice", wrong) == 401
        assert await _login_status(srv, "nobody-" + tag, PASSWORD) == 401
        cookie = await harness.login("alice")
        sup_cookie = await harness.login("sup")
        peer = await harness.peer("alice", capacity=2, cookie=cookie)
        sup = await harness.peer("sup", cookie=sup_cookie)
        # The web seeker.
        seeker, welcome = await harness.seeker()
        conv = welcome["conversation"]
        await seeker.send(type="message", client_id="a", text=web_text)
        await seeker.send(type="message", client_id="b", text=risk)
        offer = await peer.next("offer", conversation=conv)
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned", conversation=conv)
        await peer.send(type="message", conversation=conv, client_id="p", text=peer_text)
        await peer.send(type="note", conversation=conv, text=note)
        await peer.next("note", conversation=conv)
        await sup.send(type="whisper", conversation=conv, text=whisper)
        await peer.next("note", conversation=conv, whisper=True)
        await seeker.close()
        again = await harness.connect("/ws/seeker")
        await again.send(type="hello", resume=welcome["resume"], last_seq=0)
        await again.next("welcome")
        await again.send(type="end")
        await again.next("ended")
        # The texter, with a forged webhook and a malformed sender among the real ones.
        assert (await text(srv, sms_text)).status_code == 200
        assert (await text(srv, "hello", token="forged-token")).status_code == 403
        assert (await text(srv, "hello", number="+16135550123 x")).status_code == 200
        sms_offer = await peer.next("offer", timeout=5)
        sms_conv = sms_offer["conversation"]
        await peer.send(type="accept", offer=sms_offer["offer"])
        await peer.next("assigned", conversation=sms_conv)
        await peer.send(type="message", conversation=sms_conv, client_id="sp", text=peer_text + " by text")
        seq = (await peer.next("ack", client_id="sp"))["seq"]
        await peer.next("delivery", conversation=sms_conv, seq=seq, state="delivered", timeout=10)
        await peer.send(type="note", conversation=sms_conv, text=note + " sms")
        await text(srv, "STOP")
        await peer.next("ended", conversation=sms_conv)
        async with httpx.AsyncClient(base_url=srv.url) as http:
            await http.post("/api/logout", headers={"Origin": srv.url, "Cookie": f"chatd_session={cookie}"})
        await asyncio.sleep(t(0.5))
        await harness.close()
    finally:
        configure_logging("console", "warning")
    out, err = capfd.readouterr()
    logs = (out + err).encode()
    assert b"conversation.queued" in logs and b"login.failed" in logs and b"sms." in logs  # logging did happen
    secrets = [web_text, sms_text, peer_text, note, whisper, risk, welcome["resume"], cookie, sup_cookie,
               PASSWORD, *wrong_passwords, *NUMBER_FORMATS, harness.settings.secret_key, "twilio-test-token"]
    assert not _found(logs, secrets), f"leaked into the logs: {[s[:14] for s in _found(logs, secrets)]}"


# --- SQLite holds no number -------------------------------------------------------------------
async def test_sqlite_files_hold_no_phone_number_in_any_format(harness: Harness, twilio: LocalTwilio) -> None:
    """After texts, an opt-out, an opt-in, a DELETE and an archived conversation: the database and
    its WAL hold the number's HMAC only."""
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    conv = await paired(srv, peer, "hello from my phone, call me at 613-555-0123")
    await peer.send(type="message", conversation=conv, client_id="p", text="thanks for reaching out")
    await peer.next("ack", client_id="p")
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await peer.next("ended")
    assert await archive(srv.services.engine, srv.services.store, srv.settings, conv)  # as the worker will
    await text(srv, "STOP")
    await text(srv, "START")
    await text(srv, "again")
    await text(srv, "DELETE")
    await asyncio.sleep(t(0.5))
    row = await srv.services.store.conversation(conv)
    assert row is not None
    stored = _sqlite_bytes(srv)
    # What the texter typed is a message text (retained as the policy says); the number that
    # Twilio gave as From must never be stored, in any format.
    assert not _found(stored.replace(b"613-555-0123", b""), NUMBER_FORMATS), _found(stored, NUMBER_FORMATS)
    with sqlite3.connect(srv.settings.database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(str(r) for table in tables for r in db.execute(f"SELECT * FROM {table}"))
    assert "6135550123" not in dump.replace("-", "").replace(" ", "").replace("call me at 6135550123", "")


# --- forget and DELETE remove texts at once ----------------------------------------------------
async def _archived(srv: Running, conv: str) -> None:
    for _ in range(int(t(10) / 0.05)):
        row = await srv.services.store.conversation(conv)
        if row is not None and row.get("ended_ms") and await srv.services.store.messages(conv):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never archived")


async def _assigned(harness: Harness, peer: WS, first_text: str) -> tuple[WS, dict[str, str]]:
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="first", text=first_text)
    offer = await peer.next("offer", conversation=welcome["conversation"])
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=welcome["conversation"])
    return seeker, welcome


@pytest.mark.parametrize("archived_first", [False, True], ids=["before-archive", "after-archive"])
async def test_forget_removes_every_text_from_redis_and_sqlite_at_once(harness: Harness,
                                                                       archived_first: bool) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    tag = uuid.uuid4().hex[:10]
    texts = [f"SEEKER-{tag} first", f"SEEKER-{tag} second", f"PEER-{tag} reply", f"NOTE-{tag} private"]
    seeker, welcome = await _assigned(harness, peer, texts[0])
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="second", text=texts[1])
    await seeker.next("ack", client_id="second")
    await peer.send(type="message", conversation=conv, client_id="p", text=texts[2])
    await peer.next("ack", client_id="p")
    await peer.send(type="note", conversation=conv, text=texts[3])
    await peer.next("note")
    await seeker.send(type="end")
    await seeker.next("ended")
    if archived_first:
        await _archived(srv, conv)
        assert _found(_sqlite_bytes(srv), texts)  # the check below can see texts where they are
    assert _found(await _redis_bytes(srv.services.redis), texts)
    await seeker.send(type="forget")
    await seeker.next("forgotten")
    # At once: no waiting for a worker.
    assert not _found(await _redis_bytes(srv.services.redis), texts), "a text is still in Redis"
    assert not _found(_sqlite_bytes(srv), texts), f"texts still in the SQLite files: {_where(srv, texts)}"
    await asyncio.sleep(t(1.0))  # and the worker's archive does not bring them back
    assert not _found(await _redis_bytes(srv.services.redis), texts)
    assert not _found(_sqlite_bytes(srv), texts)
    assert await srv.services.store.messages(conv) == []


async def test_sms_delete_removes_every_text_from_redis_and_sqlite_at_once(harness: Harness,
                                                                           twilio: LocalTwilio) -> None:
    srv = await _start(harness, twilio)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    tag = uuid.uuid4().hex[:10]
    texts = [f"TEXT-{tag} one", f"TEXT-{tag} two", f"PEER-{tag} reply", f"NOTE-{tag} private"]
    await text(srv, texts[0])
    offer = await peer.next("offer", timeout=5)
    conv = offer["conversation"]
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    await text(srv, texts[1], sid=new_sid())
    await peer.next("message", conversation=conv, text=texts[1])
    await peer.send(type="message", conversation=conv, client_id="p", text=texts[2])
    seq = (await peer.next("ack", client_id="p"))["seq"]
    await peer.next("delivery", conversation=conv, seq=seq, state="sent", timeout=10)
    await peer.send(type="note", conversation=conv, text=texts[3])
    await peer.next("note")
    assert _found(await _redis_bytes(srv.services.redis), texts)
    r = await text(srv, "DELETE")
    assert r.status_code == 200 and "<Message>" in r.text
    assert not _found(await _redis_bytes(srv.services.redis), texts), "a text is still in Redis"
    assert not _found(_sqlite_bytes(srv), texts), f"texts still in the SQLite files: {_where(srv, texts)}"
    await asyncio.sleep(t(1.0))
    assert not _found(await _redis_bytes(srv.services.redis), texts)
    assert not _found(_sqlite_bytes(srv), texts)


# --- retention --------------------------------------------------------------------------------
async def test_chatd_purge_deletes_texts_past_retention_from_every_file(harness: Harness) -> None:
    """Two archived conversations, one ended 31 days ago: `chatd purge` deletes its texts (from the
    database and its WAL), keeps its record, and keeps the recent one's texts."""
    srv = await harness.start()
    tag = uuid.uuid4().hex[:10]
    convs = []
    for label in ("OLD", "NEW"):
        seeker, welcome = await harness.seeker()
        await seeker.send(type="message", client_id="a", text=f"{label}-{tag} words")
        await seeker.next("ack")
        await seeker.send(type="end")
        await seeker.next("ended")
        await _archived(srv, welcome["conversation"])
        convs.append(welcome["conversation"])
    await harness.close()  # the service stops; the operator runs the purge
    with sqlite3.connect(srv.settings.database) as db:
        db.execute("UPDATE conversations SET ended_ms = ended_ms - ? WHERE id = ?", (31 * 86_400_000, convs[0]))
    env = {"CHATD_DATABASE": str(srv.settings.database), "CHATD_DATA_DIR": str(srv.settings.data_dir),
           "CHATD_SECRET_KEY": srv.settings.secret_key, "CHATD_RETENTION_DAYS": "30", "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "chatd", "purge", env=env,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert b"deleted 1" in out, out
    with sqlite3.connect(srv.settings.database) as db:
        kept = db.execute("SELECT id FROM conversations").fetchall()
    assert {c for (c,) in kept} >= set(convs)  # the records stay
    stored = _sqlite_bytes(srv)
    assert f"NEW-{tag} words".encode() in stored
    assert f"OLD-{tag} words".encode() not in stored, f"purged text still in: {_where(srv, [f'OLD-{tag} words'])}"

