"""Durable records: archive is idempotent, forget wins races, retention purges, the CLI manages accounts.

Tests that talk to the records alone take the ``records`` fixture (or open more handles on the
same ``database``), and run once per backend: SQLite and a real PostgreSQL (tests/postgres.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from config.settings import Settings
from records import (
    ArchivedMessage,
    ArchivedNote,
    AuditEntry,
    ConversationRecord,
    RecordExists,
    Records,
    RecordsUnavailable,
    open_records,
)
from records.postgres import PostgresRecords
from routing.archive import archive, purge
from tests.conftest import PASSWORD, Harness, free_port


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where the records live, once per backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "db.sqlite3"


@pytest.fixture
async def records(database: str | Path) -> AsyncIterator[Records]:
    opened = await open_records(database)
    try:
        yield opened
    finally:
        await opened.close()


async def _ended_conversation(harness: Harness, text: str = "remember me") -> str:
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="a", text=text)
    await seeker.next("ack")
    await seeker.send(type="end")
    await seeker.next("ended")
    return str(welcome["conversation"])


async def _archived(store: Records, conv: str) -> dict[str, object]:
    for _ in range(100):
        row = await store.conversation(conv)
        if row is not None and row.get("ended_ms"):
            return dict(row)
        await asyncio.sleep(0.05)
    raise AssertionError("not archived")


async def test_worker_archives_ended_conversation_idempotently(harness: Harness) -> None:
    srv = await harness.start()
    conv = await _ended_conversation(harness)
    row = await _archived(srv.services.store, conv)
    assert row["channel"] == "web" and row["ended_by"] == "seeker" and row["escalations"]
    assert [m.text for m in await srv.services.store.messages(conv)] == ["remember me"]
    assert await archive(srv.services.engine, srv.services.store, srv.settings, conv)  # again: no change
    assert len(await srv.services.store.messages(conv)) == 1


async def test_retention_zero_keeps_no_text_after_the_end(harness: Harness) -> None:
    srv = await harness.start(retention_days=0)
    conv = await _ended_conversation(harness, "gone at the end")
    await _archived(srv.services.store, conv)
    assert await srv.services.store.messages(conv) == []
    assert await srv.services.engine.history(conv) == []


async def test_purge_deletes_texts_older_than_retention(records: Records) -> None:
    now = int(time.time() * 1000)
    for conv, age_days in (("old", 31), ("new", 29)):
        await records.archive_conversation({"id": conv, "ended_ms": now - age_days * 86_400_000},
                                           [ArchivedMessage(1, "seeker", f"text {conv}", "t")])
    assert await purge(records, Settings(retention_days=30), now) == 1
    assert await records.messages("old") == [] and len(await records.messages("new")) == 1
    assert await records.conversation("old") is not None  # the record stays, its texts go


async def test_archived_conversation_reads_back_as_written(records: Records) -> None:
    """Every field in, the same out (escalations as a list, flags as booleans); a repeat adds
    no message twice, keeps a rating given earlier, and never clears the forgotten mark."""
    written: ConversationRecord = {
        "id": "c1", "channel": "sms", "lang": "fr", "created_ms": 1, "queued_ms": 2, "accepted_ms": 5,
        "ended_ms": 9, "ended_by": "peer", "outcome": "supported", "wait_s": 0.003, "peer": "alice",
        "escalations": [{"reason": "risk", "at_ms": 3}], "risk": True, "survey": None, "label": "Texter 4F2A",
        "number_hash": "nh", "forgotten": False, "checkin_feeling": 3, "checkin_safe": "not_sure",
        "end_feeling": None}
    messages = [ArchivedMessage(1, "seeker", "bonjour", "t1"), ArchivedMessage(2, "peer", "salut", "t2")]
    await records.set_survey("c1", 4)  # a rating can arrive before the archive
    await records.set_end_feeling("c1", 5)  # and so can the end survey's feeling
    await records.archive_conversation(written, messages, [ArchivedNote("alice", "a note", "t3", whisper=False)])
    await records.archive_conversation(written, messages[:1])
    assert await records.conversation("c1") == {**written, "survey": 4, "end_feeling": 5}
    assert await records.messages("c1") == messages
    assert await records.notes("c1") == [ArchivedNote("alice", "a note", "t3", whisper=False)]
    assert await records.forget_number("nh") == ["c1"]
    await records.archive_conversation(written, [])
    row = await records.conversation("c1")
    assert row is not None and row["forgotten"] is True and await records.messages("c1") == []
    assert await records.conversation("nobody") is None


async def test_a_nul_stored_before_the_rule_never_stops_an_archive(records: Records, database: str | Path) -> None:
    """The edges refuse U+0000 now (config/textrules.py); a text holding one from before (or
    copied from SQLite, which keeps it) is archived on PostgreSQL with U+FFFD in its place,
    instead of failing the archive on every retry."""
    await records.archive_conversation({"id": "nul-1", "channel": "web", "ended_ms": 1},
                                       [ArchivedMessage(1, "seeker", "a\x00b", "t")],
                                       [ArchivedNote("Al", "n\x00", "t", False)])
    on_postgresql = isinstance(database, str) and database.startswith("postgresql")
    assert [m.text for m in await records.messages("nul-1")] == ["a\ufffdb" if on_postgresql else "a\x00b"]
    assert [n.text for n in await records.notes("nul-1")] == ["n\ufffd" if on_postgresql else "n\x00"]


async def test_a_taken_username_raises_record_exists(records: Records) -> None:
    await records.add_supporter("carol", "Carol", "peer", False, "hash", 0)
    with pytest.raises(RecordExists):
        await records.add_supporter("carol", "Other", "peer", True, "hash2", 1)
    supporter = await records.get_supporter("carol")
    assert supporter is not None and supporter.display_name == "Carol"


async def test_a_database_locked_past_its_timeout_raises_records_unavailable(tmp_path: Path) -> None:
    """SQLite: another connection holds the write lock past the busy timeout (shortened here).
    SQLite only: the lock is taken through sqlite3 on the file; PostgreSQL's own is below."""
    database = tmp_path / "db.sqlite3"
    opened = await open_records(database, busy_timeout_s=0.2)
    blocker = sqlite3.connect(database, isolation_level=None, timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(RecordsUnavailable):
            await opened.audit("alice", "accept", "c1", "", 0)
        blocker.execute("COMMIT")
        await opened.audit("alice", "accept", "c1", "", 0)  # the same call works once the lock goes
        assert len(await opened.audit_log("c1")) == 1
    finally:
        blocker.close()
        await opened.close()


async def test_a_table_locked_past_the_command_timeout_raises_records_unavailable(postgres_url: str) -> None:
    """PostgreSQL: another session holds a lock on the table past the command timeout (shortened
    here); the same call works once the lock goes."""
    opened = await PostgresRecords.open(postgres_url, command_timeout_s=0.3)
    blocker = await asyncpg.connect(postgres_url)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(RecordsUnavailable):
            await opened.audit("alice", "accept", "c1", "", 0)
        await transaction.commit()
        await opened.audit("alice", "accept", "c1", "", 0)
        assert len(await opened.audit_log("c1")) == 1
    finally:
        await blocker.close()
        await opened.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
async def test_a_postgresql_url_opens_the_postgresql_backend(scheme: str, postgres_url: str, tmp_path: Path) -> None:
    """The URL reaches open_records as given (a Path would fold its '//'), in either scheme."""
    url = scheme + postgres_url.removeprefix("postgresql")
    settings = Settings.from_env({"CHATD_DATABASE": url, "CHATD_DATA_DIR": str(tmp_path)}, cwd=tmp_path,
                                 create_secret=False)
    assert settings.database == url
    store = await open_records(settings.database)
    try:
        assert store.dialect == "postgresql"
        await store.ping()
    finally:
        await store.close()
    assert list(tmp_path.iterdir()) == []  # no SQLite file made under a mangled name


async def test_an_unreachable_postgresql_raises_records_unavailable() -> None:
    with pytest.raises(RecordsUnavailable):
        await open_records(f"postgresql://nobody@127.0.0.1:{free_port()}/chatd")


async def test_forget_racing_archive_leaves_no_text(harness: Harness) -> None:
    srv = await harness.start(worker=False)
    conv = await _ended_conversation(harness, "racy text")
    engine, store = srv.services.engine, srv.services.store
    # Archive has read the log; forget happens; archive then writes what it read.
    await engine.forget(conv)
    await store.forget(conv)
    await engine.redis.hset(engine.keys.conv(conv), "forgotten", "0")  # archive's stale view
    async def archive_after_flag() -> None:
        await archive(engine, store, srv.settings, conv)
    await engine.redis.rpush(engine.keys.log(conv), '{"seq":1,"from":"seeker","text":"racy text","at":"t"}')
    task = asyncio.create_task(archive_after_flag())
    await asyncio.sleep(0)
    await engine.redis.hset(engine.keys.conv(conv), "forgotten", "1")
    await task
    assert await store.messages(conv) == []


def test_cli_supporters_and_purge(tmp_path: Path) -> None:
    env = {"CHATD_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "CHATD_LOG_FORMAT": "console"}
    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chatd", *args], input=stdin, text=True, env=env,
                              capture_output=True, check=False, cwd=tmp_path)
    assert run("supporters", "add", "carol", "--display-name", "Carol", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    dup = run("supporters", "add", "carol", "--display-name", "Carol", "--password-stdin", stdin=PASSWORD + "\n")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    short = run("supporters", "add", "dave", "--display-name", "Dave", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "password" in short.stderr
    bad = run("supporters", "add", "Bad Name", "--display-name", "X", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad.returncode == 2 and "username" in bad.stderr
    assert "carol\tCarol\tpeer\t" in run("supporters", "list").stdout
    assert run("supporters", "set-trained", "carol").returncode == 0
    assert "trained" in run("supporters", "list").stdout
    assert run("supporters", "disable", "carol").returncode == 0
    assert "disabled" in run("supporters", "list").stdout
    assert run("supporters", "disable", "nobody").returncode == 2
    purged = run("purge")
    assert purged.returncode == 0 and "deleted 0" in purged.stdout
    web = run("web")
    assert web.returncode == 2 and "CHATD_REDIS_URL" in web.stderr
    assert b"correct-horse" not in (tmp_path / "chatd.sqlite3").read_bytes()  # only the argon2id hash


async def test_concurrent_reads_and_writes_across_processes_never_fail_locked(database: str | Path) -> None:
    """Two connections on one database (as two processes have), each shared by many tasks: reads
    interleaved with writes on one connection while the other writes must all succeed.
    (Interleaved statements once made writes fail at once with "database is locked", and the
    peer socket that asked died with them.)"""
    stores = [await open_records(database), await open_records(database)]
    try:
        await stores[0].add_supporter("p", "P", "peer", True, "hash", 0)

        async def busy(store: Records, n: int) -> None:
            for i in range(40):
                await store.audit(f"a{n}", "accept", f"c{n}-{i}", "", i)
                assert await store.get_supporter("p") is not None
                await store.archive_conversation({"id": f"c{n}-{i}", "ended_ms": i},
                                                 [ArchivedMessage(1, "seeker", "t", "t")])
                await store.shift_started(f"a{n}", 2, i)

        await asyncio.gather(*(busy(stores[n % 2], n) for n in range(16)))
        assert len(await stores[1].audit_log()) == 16 * 40
        assert len(await stores[0].messages("c3-39")) == 1
    finally:
        for store in stores:
            await store.close()


async def test_a_peer_starting_a_shift_from_two_consoles_at_once_opens_one_shift(database: str | Path) -> None:
    """Many shift starts of one peer at once, from two handles (two processes): one open row,
    with the capacity of one of them; the end closes it."""
    stores = [await open_records(database), await open_records(database)]
    try:
        await asyncio.gather(*(stores[i % 2].shift_started("alice", 1 + i % 3, i) for i in range(12)))
        rows = [row async for batch in stores[0].dump_table("shifts", 100) for row in batch.rows]
        assert len(rows) == 1
        await stores[1].shift_ended("alice", 99)
        await stores[0].shift_started("alice", 2, 100)
        assert await stores[0].count_rows("shifts") == 2
    finally:
        for store in stores:
            await store.close()


async def test_a_call_whose_connection_is_cut_mid_statement_is_run_again(postgres_url: str) -> None:
    """PostgreSQL: the server ends the session of a call waiting on a lock (as a restart or a
    failover would); the call is run again on a new connection and succeeds, writing once."""
    opened = await PostgresRecords.open(postgres_url)
    blocker = await asyncpg.connect(postgres_url)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE audit IN ACCESS EXCLUSIVE MODE")
        call = asyncio.create_task(opened.audit("alice", "accept", "c1", "", 0))
        waiting = None
        for _ in range(100):
            waiting = await blocker.fetchval("SELECT pid FROM pg_stat_activity WHERE application_name = 'chatd'"
                                             " AND wait_event_type = 'Lock'")
            if waiting is not None:
                break
            await asyncio.sleep(0.02)
        assert waiting is not None, "the call never waited on the lock"
        assert await blocker.fetchval("SELECT pg_terminate_backend($1)", waiting)
        await transaction.commit()
        await asyncio.wait_for(call, 5)
        assert await opened.audit_log("c1") == [AuditEntry("alice", "accept", "c1", "")]
    finally:
        await blocker.close()
        await opened.close()
