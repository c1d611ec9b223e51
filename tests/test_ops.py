"""Operations: health, readiness, metrics, and recovery from a Redis restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import websockets

from config.settings import Settings
from tests.conftest import Harness, RedisServer
from tests.helpers import t


async def test_healthz_readyz_and_metrics(harness: Harness) -> None:
    srv = await harness.start()
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hi")
    await seeker.next("ack")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/readyz")).status_code == 200
        r = await http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        body = r.text
    assert "# TYPE chatd_queue_waiting gauge" in body and "chatd_queue_waiting 1" in body
    assert "chatd_seeker_sockets 1" in body
    assert 'chatd_messages_total{sender="seeker"} 1' in body
    assert 'chatd_escalations_total{reason="no_peer_on_shift"} 1' in body


@pytest.mark.timeout(90)
async def test_redis_restart_readyz_503_then_recovery_without_loss(tmp_path: Path,
                                                                  base_settings: Settings) -> None:
    """Redis down: /readyz 503 and a clear error on the socket; back up (AOF): nothing acked is lost."""
    redis = RedisServer(tmp_path / "own-redis")
    redis.start()
    harness = Harness(redis, base_settings)
    try:
        srv = await harness.start()
        await harness.add_peer("alice")
        peer = await harness.peer("alice", capacity=1)
        seeker, welcome = await harness.seeker()
        conv = welcome["conversation"]
        await seeker.send(type="message", client_id="a", text="before the outage")
        await seeker.next("ack", client_id="a")
        offer = await peer.next("offer")
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned")
        redis.stop(kill=True)
        async with httpx.AsyncClient(base_url=srv.url) as http:
            assert (await http.get("/readyz")).status_code == 503
            assert (await http.get("/healthz")).status_code == 200
        await seeker.send(type="message", client_id="b", text="during the outage")
        assert (await seeker.next("error", timeout=15))["code"] == "unavailable"
        redis.start()
        async with httpx.AsyncClient(base_url=srv.url) as http:
            for _ in range(100):
                if (await http.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await http.get("/readyz")).status_code == 200
        # The client retries with the same client_id; the pub/sub link recovers by itself.
        for _ in range(50):
            await seeker.send(type="message", client_id="b", text="during the outage")
            frames = await seeker.drain(0.2)
            if any(f["type"] == "ack" and f["client_id"] == "b" for f in frames):
                break
        history = await srv.services.engine.history(conv)
        assert [m for m in history if "before the outage" in m] and len([m for m in history if "during" in m]) == 1
        await asyncio.sleep(t(0.5))
        await peer.send(type="message", conversation=conv, client_id="p", text="back again")
        assert (await seeker.next("message", text="back again", timeout=10))["from"] == "peer"
    finally:
        await harness.close()
        redis.stop()


async def test_a_hello_while_redis_is_away_closes_1013_and_the_next_one_resumes(tmp_path: Path,
                                                                              base_settings: Settings) -> None:
    """The chat window sends its messages only after a welcome: a hello Redis cannot answer closes
    the socket (1013, try again later) so the window reconnects and says hello again, instead of
    leaving it waiting on a socket that will never welcome it."""
    redis = RedisServer(tmp_path / "own-redis")
    redis.start()
    harness = Harness(redis, base_settings)
    try:
        srv = await harness.start(worker=False)
        seeker, welcome = await harness.seeker()
        await seeker.close()
        redis.stop(kill=True)
        again = await harness.connect("/ws/seeker", srv)
        await again.send(type="hello", resume=welcome["resume"], last_seq=0)
        assert await again.closed(timeout=15) == 1013
        assert not any(f["type"] == "welcome" for f in again.seen)
        redis.start()
        for _ in range(20):
            retry = await harness.connect("/ws/seeker", srv)
            await retry.send(type="hello", resume=welcome["resume"], last_seq=0)
            try:
                resumed = await retry.next("welcome", timeout=10)
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.5)  # closed 1013 again: Redis was not quite back
                continue
            assert resumed["conversation"] == welcome["conversation"]
            return
        raise AssertionError("no welcome after Redis came back")
    finally:
        await harness.close()
        redis.stop()

