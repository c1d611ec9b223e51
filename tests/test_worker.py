"""The worker owns the timers; they live in Redis, so a restarted worker carries on."""

from __future__ import annotations

import asyncio

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
