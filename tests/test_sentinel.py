"""A chatd process finds Redis through Sentinel and follows a failover by itself, with no restart:
a primary killed outright, and a switchover that demotes a primary still running. A real
primary, replica and three Sentinels (tests/engines.py)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from routing.engine import script_constants
from routing.scripts import script_source
from tests.conftest import Harness, Running
from tests.engines import MASTER_NAME, SentinelCluster
from tests.helpers import t
from tests.talk import PeerTalker, SeekerTalker, check_transcript

CONTRACT_S = 30.0  # conversations go on within 30 seconds of the promotion (contract section 8)


async def _ready(url: str) -> int:
    async with httpx.AsyncClient(timeout=t(5)) as http:
        try:
            return (await http.get(url + "/readyz")).status_code
        except httpx.HTTPError:
            return 0


async def _until(check: Callable[[], bool], what: str, within_s: float) -> None:
    deadline = time.monotonic() + t(within_s)
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def _paired(harness: Harness, srv: Running, cluster: SentinelCluster) -> tuple[SeekerTalker, PeerTalker, str]:
    """A seeker and the peer alice talking on ``srv``; alice's session cookie."""
    await harness.add_peer("alice", display="Alice")
    cookie = await harness.login("alice", srv)
    console = await harness.peer("alice", capacity=2, server=srv, cookie=cookie)
    seeker = SeekerTalker("seeker", srv.url)
    await seeker.start()
    await seeker.say(0)
    offer = await console.next("offer", conversation=seeker.conv, timeout=10)
    await console.send(type="accept", offer=offer["offer"])
    await console.next("assigned", conversation=seeker.conv)
    peer = PeerTalker("peer", srv.url, cookie, seeker.conv)
    await peer.say(0)
    return seeker, peer, cookie


async def _history(srv: Running, conv: str) -> list[dict[str, Any]]:
    return [json.loads(m) for m in await srv.services.engine.history(conv)]


async def test_a_process_follows_the_promotion_of_the_replica_without_a_restart(
        sentinel_cluster: SentinelCluster, harness: Harness) -> None:
    """The primary is killed: /readyz is 503 until the Sentinels promote the replica, then 200;
    the hub subscribes again on the new primary, the scripts it never had are loaded there, and
    the worker's timers go on."""
    cluster = sentinel_cluster
    harness.settings = harness.settings.with_changes(
        redis_sentinels=tuple(("127.0.0.1", s.port) for s in cluster.sentinels), redis_master=MASTER_NAME,
        offer_timeout_s=t(3))
    srv = await harness.start()
    seeker, peer, cookie = await _paired(harness, srv, cluster)
    old = await cluster.primary()
    replica = next(node for node in cluster.nodes if node is not old)
    client = replica.client()
    await client.script_flush()  # the new primary will know none of chatd's scripts: NOSCRIPT
    await client.aclose()

    old.stop(kill=True)
    assert await _ready(srv.url) == 503
    new, promoted_at = await cluster.wait_promotion(old)
    assert new is replica
    for _ in range(int(t(CONTRACT_S) / 0.1)):
        if await _ready(srv.url) == 200:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("/readyz stayed 503 after the promotion")

    await asyncio.wait_for(seeker.say(1), t(CONTRACT_S))
    await asyncio.wait_for(peer.say(1), t(CONTRACT_S))
    await _until(lambda: "seeker says 1" in peer.heard_at and "peer says 1" in seeker.heard_at,
                 "the two sides do not hear each other after the promotion", CONTRACT_S)
    sha = hashlib.sha1(script_source("append", script_constants(srv.settings)).encode()).hexdigest()
    client = new.client()
    try:
        assert await client.script_exists(sha) == [True]
    finally:
        await client.aclose()

    # The worker's timers go on: an offer made after the failover expires by itself.
    console = await harness.peer("alice", server=srv, cookie=cookie)
    other, _ = await harness.seeker(server=srv)
    await other.send(type="message", client_id="x", text="hello?")
    offer = await console.next("offer", timeout=10)
    await console.next("revoked", offer=offer["offer"], timeout=15)

    check_transcript(await _history(srv, seeker.conv), [seeker, peer])
    for talker in (seeker, peer):
        await talker.close()


async def test_a_switchover_demotes_the_running_primary_and_loses_nothing_acknowledged(
        guarded_sentinel_cluster: SentinelCluster, harness: Harness) -> None:
    """SENTINEL FAILOVER under steady traffic both ways, each message waiting for one replica: the
    old primary, still running, becomes a replica (a write there is refused READONLY); every
    acknowledged message is stored once, in order, and the chat goes on. The old primary, its
    replica gone, refuses writes (min-replicas-to-write, as docs/operations.md advises) for the
    ten seconds until Sentinel turns it into a replica, instead of taking writes that the new
    primary never gets."""
    cluster = guarded_sentinel_cluster
    harness.settings = harness.settings.with_changes(
        redis_sentinels=tuple(("127.0.0.1", s.port) for s in cluster.sentinels), redis_master=MASTER_NAME,
        redis_min_replicas=1)
    srv = await harness.start()
    seeker, peer, _ = await _paired(harness, srv, cluster)
    stop = asyncio.Event()
    talking = [asyncio.create_task(side.talk(stop)) for side in (seeker, peer)]
    try:
        await _until(lambda: len(seeker.acked) >= 4 and len(peer.acked) >= 4, "no steady traffic", 20)
        old = await cluster.primary()
        sentinel = cluster.sentinels[0].client()
        try:
            await sentinel.execute_command("SENTINEL", "FAILOVER", MASTER_NAME)
        finally:
            await sentinel.aclose()
        _, switched_at = await cluster.wait_promotion(old)
        await _until(lambda: all(side.first_ack_after(switched_at) for side in (seeker, peer))
                     and sum(at > switched_at for at in seeker.acked_at.values()) >= 3
                     and sum(at > switched_at for at in peer.acked_at.values()) >= 3,
                     "the chat did not go on after the switchover", CONTRACT_S)
    finally:
        stop.set()
        await asyncio.gather(*talking)
    client = old.client()
    try:
        assert (await client.role())[0] == "slave"
    finally:
        await client.aclose()
    check_transcript(await _history(srv, seeker.conv), [seeker, peer])
    for talker in (seeker, peer):
        await talker.close()
