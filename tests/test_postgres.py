"""The service on PostgreSQL: a whole chat is archived and read back; while PostgreSQL is stopped
the chat goes on (Redis holds the live state), ``/readyz`` says 503, and once it is back the
archive catches up with every message."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from records import ArchivedNote, RecordsUnavailable
from tests.conftest import PASSWORD, Harness, Running
from tests.helpers import archived, chat_to_the_end, t
from tests.postgres import PostgresServer, postgres_server


@pytest.fixture(scope="module")
def stoppable() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this module's own, which its tests stop and start again (the
    session's server stays up for every other test)."""
    with postgres_server() as server:
        yield server


@pytest.fixture
async def stoppable_url(stoppable: PostgresServer) -> AsyncIterator[str]:
    if stoppable.proc is None:
        stoppable.start()  # a test that failed while it was stopped
    url = await stoppable.create_database()
    yield url
    if stoppable.proc is None:
        stoppable.start()
    await stoppable.drop_database(url)


async def _readyz(srv: Running) -> int:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return (await http.get("/readyz")).status_code


async def _until_ready(srv: Running, status: int, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + t(within_s)
    while (got := await _readyz(srv)) != status:
        assert time.monotonic() < deadline, f"/readyz stayed {got}, not {status}"
        await asyncio.sleep(0.1)


async def test_a_chat_on_postgresql_is_archived_and_read_back(postgres_url: str, harness: Harness) -> None:
    srv = await harness.start(database=postgres_url)
    conv = await chat_to_the_end(harness, "alice", text="bonjour, quelqu'un ?")
    row = await archived(srv.services.store, conv)
    assert row["channel"] == "web" and row["ended_by"] == "peer" and row["peer"] == "alice"
    assert row["outcome"] == "resolved" and row["forgotten"] is False and row["risk"] is False
    texts = [(m.sender, m.text) for m in await srv.services.store.messages(conv)]
    assert ("seeker", "bonjour, quelqu'un ?") in texts and ("peer", "I'm here. Take your time.") in texts
    assert [m.seq for m in await srv.services.store.messages(conv)] == list(range(1, len(texts) + 1))
    notes = await srv.services.store.notes(conv)
    assert [(n.author, n.text, n.whisper) for n in notes] == [("Alice", "calmer now", False)]
    assert isinstance(notes[0], ArchivedNote)
    for _ in range(50):  # the rating is written beside the archive, maybe just after it
        if (rated := await srv.services.store.conversation(conv)) is not None and rated["survey"] == 4:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the rating was not stored")
    assert [e.action for e in await srv.services.store.audit_log(conv)] == ["accept", "note", "end"]
    assert await _readyz(srv) == 200


@pytest.mark.parametrize("how", [pytest.param("fast", id="fast-shutdown"), pytest.param("kill", id="sigkill")])
async def test_chat_goes_on_while_postgresql_is_stopped_and_the_archive_catches_up(
        stoppable: PostgresServer, stoppable_url: str, harness: Harness, how: str) -> None:
    """PostgreSQL stops mid-chat for a few seconds (a fast shutdown, or killed outright) and
    starts again on the same port: every message is acknowledged and delivered meanwhile,
    /readyz is 503 while it is down and 200 after, and the conversation that ended while it was
    down is archived with every message once it is back (the worker retries the archive); a
    login meanwhile is answered 503."""
    srv = await harness.start(database=stoppable_url)
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="s0", text="before")
    await seeker.next("ack", client_id="s0")
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=conv)
    assert await _readyz(srv) == 200

    stoppable.stop(kill=how == "kill")
    await _until_ready(srv, 503)
    sent: list[str] = ["before"]
    for i in range(1, 6):  # a few seconds of steady traffic both ways while the database is down
        await seeker.send(type="message", client_id=f"s{i}", text=f"seeker {i}")
        await seeker.next("ack", client_id=f"s{i}")
        await peer.next("message", conversation=conv, text=f"seeker {i}")
        await peer.send(type="message", conversation=conv, client_id=f"p{i}", text=f"peer {i}")
        await peer.next("ack", client_id=f"p{i}")
        await seeker.next("message", text=f"peer {i}")
        sent += [f"seeker {i}", f"peer {i}"]
        await asyncio.sleep(0.4)
    await seeker.send(type="end")
    await seeker.next("ended")
    await asyncio.sleep(t(1))  # the worker tries to archive it now, and fails
    with pytest.raises(RecordsUnavailable):
        await srv.services.store.conversation(conv)
    assert await _readyz(srv) == 503
    async with httpx.AsyncClient(base_url=srv.url) as http:  # accounts are in the database: a 503, not a 500
        login = await http.post("/api/login", json={"username": "alice", "password": PASSWORD},
                                headers={"Origin": srv.url})
    assert login.status_code == 503 and login.json()["error"] == "unavailable"

    stoppable.start()
    await _until_ready(srv, 200)
    await archived(srv.services.store, conv, timeout_s=20)
    live = [json.loads(m)["text"] for m in await srv.services.engine.history(conv)]
    stored = [m.text for m in await srv.services.store.messages(conv)]
    assert stored == live and [text for text in stored if text in sent] == sent
