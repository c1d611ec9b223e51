"""Durable records: archive is idempotent, forget wins races, retention purges, the CLI manages accounts."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from chatd.store import ArchivedMessage, Store
from routing.archive import archive, purge
from tests.conftest import PASSWORD, Harness


async def _ended_conversation(harness: Harness, text: str = "remember me") -> str:
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="a", text=text)
    await seeker.next("ack")
    await seeker.send(type="end")
    await seeker.next("ended")
    return str(welcome["conversation"])


async def _archived(store: Store, conv: str) -> dict[str, object]:
    for _ in range(100):
        row = await store.conversation(conv)
        if row is not None and row.get("ended_ms"):
            return row
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


async def test_purge_deletes_texts_older_than_retention(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3")
    try:
        now = int(time.time() * 1000)
        for conv, age_days in (("old", 31), ("new", 29)):
            await store.archive_conversation({"id": conv, "ended_ms": now - age_days * 86_400_000},
                                             [ArchivedMessage(1, "seeker", f"text {conv}", "t")])
        from config.settings import Settings
        assert await purge(store, Settings(retention_days=30), now) == 1
        assert await store.messages("old") == [] and len(await store.messages("new")) == 1
        assert await store.conversation("old") is not None  # the record stays, its texts go
    finally:
        await store.close()


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


async def test_concurrent_reads_and_writes_across_processes_never_fail_locked(tmp_path: Path) -> None:
    """Two connections on one file (as two processes have), each shared by many tasks: reads
    interleaved with writes on one connection while the other writes must all succeed.
    (Interleaved statements once made writes fail at once with "database is locked", and the
    peer socket that asked died with them.)"""
    path = tmp_path / "db.sqlite3"
    stores = [await Store.open(path), await Store.open(path)]
    try:
        await stores[0].add_supporter("p", "P", "peer", True, "hash", 0)

        async def busy(store: Store, n: int) -> None:
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
