"""The worker owns the timers; they live in Redis, so a restarted worker carries on."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time

from routing.worker import Worker
from tests.conftest import Harness
from tests.helpers import t


async def test_offer_expiry_survives_a_worker_restart(harness: Harness) -> None:
    web = await harness.start(worker=False, offer_timeout_s=t(1.0))
    worker = await harness.start(web=False, offer_timeout_s=t(1.0))
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1, server=web)
    await asyncio.sleep(0.05)
    bob = await harness.peer("bob", capacity=1, server=web)
    seeker, welcome = await harness.seeker(server=web)
    await seeker.send(type="message", client_id="a", text="hello")
    offer = await alice.next("offer", conversation=welcome["conversation"])
    await worker.stop()
    harness.servers.remove(worker)
    await asyncio.sleep(t(1.5))  # the deadline passes while no worker runs
    await alice.none("revoked", within=0.2)
    await harness.start(web=False, offer_timeout_s=t(1.0))
    assert (await alice.next("revoked", timeout=5))["offer"] == offer["offer"]
    await bob.next("offer", conversation=welcome["conversation"], timeout=5)


async def test_wait_escalation_fires_after_worker_restart(harness: Harness) -> None:
    web = await harness.start(worker=False, wait_escalate_s=t(1.0))
    seeker, _ = await harness.seeker(server=web)
    await seeker.send(type="message", client_id="a", text="hello")
    await seeker.next("ack")
    await asyncio.sleep(t(1.2))
    await seeker.none("escalation", reason="wait_timeout", within=0.1)
    await harness.start(web=False, wait_escalate_s=t(1.0))
    assert (await seeker.next("escalation", reason="wait_timeout", timeout=5))["reason"] == "wait_timeout"


async def test_an_archive_stuck_on_a_locked_database_does_not_hold_back_a_wait_escalation(harness: Harness) -> None:
    """An archive timer and a wait timer come due together while another connection holds
    SQLite's write lock: the escalation reaches the seeker while the archive is still stuck
    (neither done nor given up), and the archive lands once the lock goes."""
    web = await harness.start(worker=False, wait_escalate_s=t(0.2))
    k = web.services.keys
    ended, ended_welcome = await harness.seeker(server=web)
    archived = ended_welcome["conversation"]
    await ended.send(type="message", client_id="a", text="to be archived")
    await ended.next("ack")
    await ended.send(type="end")
    await ended.next("ended")
    waiting, welcome = await harness.seeker(server=web)
    await waiting.send(type="message", client_id="a", text="still waiting")
    await waiting.next("ack")
    due = {f"archive|{archived}", f"wait|{welcome['conversation']}"}
    redis = web.services.redis
    while set(await redis.zrangebyscore(k.timers, "-inf", int(time.time() * 1000))) != due:
        await asyncio.sleep(0.05)
    archive_deadline = await redis.zscore(k.timers, f"archive|{archived}")
    # One process's worker, sharing the web side's store and engine, as `chatd serve` runs it.
    worker = Worker(web.services.engine, web.services.store, web.settings)
    blocker = sqlite3.connect(web.settings.database, isolation_level=None, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    batch = asyncio.create_task(worker.run_due_timers())
    try:
        await waiting.next("escalation", reason="wait_timeout", timeout=30)
        # Still stuck: not archived, and its timer neither removed (done) nor moved (given up).
        assert await redis.zscore(k.timers, f"archive|{archived}") == archive_deadline
        with contextlib.closing(sqlite3.connect(web.settings.database)) as reader:
            assert reader.execute("SELECT 1 FROM conversations WHERE id = ?", (archived,)).fetchone() is None
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        ran = await batch
    assert ran == 2
    assert await redis.zscore(k.timers, f"archive|{archived}") is None
    assert (await web.services.store.conversation(archived) or {}).get("ended_ms")
