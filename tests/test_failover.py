"""Two machines (contract section 8): two `chatd web` processes with their own data dirs and one
`chatd worker`, sharing only Redis through Sentinel (each message waiting for one replica) and
the database. The Redis primary is killed mid-chat; after the promotion every acknowledged
message of both sides is stored once, in order, and both sides talk again within 30 seconds,
with no chatd process restarted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import PASSWORD
from tests.engines import MASTER_NAME, SentinelCluster, free_port
from tests.helpers import WS, t
from tests.processes import connect_peer, login, processes, ready, spawn
from tests.talk import PeerTalker, SeekerTalker, Talker, check_transcript

CONTRACT_S = 30.0


def _env(cluster: SentinelCluster, database: str, data_dir: Path, port: int) -> dict[str, str]:
    env = {**os.environ, "CHATD_DATA_DIR": str(data_dir), "CHATD_DATABASE": database,
           "CHATD_REDIS_SENTINELS": cluster.sentinel_setting, "CHATD_REDIS_MASTER": MASTER_NAME,
           "CHATD_REDIS_MIN_REPLICAS": "1", "CHATD_SECRET_KEY": "k" * 48, "CHATD_PORT": str(port),
           "CHATD_PUBLIC_URL": f"http://127.0.0.1:{port}", "CHATD_LOG_FORMAT": "json", "CHATD_LOG_LEVEL": "info"}
    env.pop("CHATD_REDIS_URL", None)
    return env


async def _until(check: Callable[[], bool], what: str, within_s: float) -> None:
    deadline = time.monotonic() + t(within_s)
    while not check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


def _talks_again(side: Talker, other: Talker, since: float) -> float | None:
    """When ``side``'s first message acknowledged after ``since`` had also reached ``other``."""
    first = side.first_ack_after(since)
    if first is None or first[0] not in other.heard_at:
        return None
    return max(first[1], other.heard_at[first[0]])


async def _stored(url: str, resume: str) -> list[dict[str, Any]]:
    """Every stored message, as a seeker resuming from seq 0 on ``url`` is sent them."""
    ws = WS(await websockets.connect("ws" + url[4:] + "/ws/seeker"))
    try:
        await ws.send(type="hello", resume=resume, last_seq=0)
        await ws.next("welcome")
        await ws.next("status", timeout=10)  # the replay ends with the current status
        return [f for f in ws.buffer if f["type"] == "message"]
    finally:
        await ws.close()


@pytest.mark.timeout(300)
async def test_two_machines_lose_nothing_acknowledged_when_the_redis_primary_is_killed(
        guarded_sentinel_cluster: SentinelCluster, shared_database: str, tmp_path: Path) -> None:
    cluster = guarded_sentinel_cluster
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    envs = [_env(cluster, shared_database, tmp_path / f"machine-{i + 1}", port) for i, port in enumerate(ports)]
    worker_env = _env(cluster, shared_database, tmp_path / "machine-3", free_port())
    add = subprocess.run([sys.executable, "-m", "chatd", "supporters", "add", "alice", "--display-name", "Alice",
                          "--trained", "--password-stdin"], input=PASSWORD + "\n", text=True, env=envs[0],
                         capture_output=True, check=False)
    assert add.returncode == 0, add.stderr
    with contextlib.ExitStack() as logs, processes() as procs:
        for name, env, command in (("web-1", envs[0], "web"), ("web-2", envs[1], "web"),
                                   ("worker", worker_env, "worker")):
            spawn(procs, command, env, stderr=logs.enter_context((tmp_path / f"{name}.log").open("wb")))
        for url in urls:
            await ready(url)

        # A seeker on machine 1 and a peer on machine 2, paired.
        cookie = await login(urls[1])
        console = await connect_peer(urls[1], cookie)
        await console.send(type="shift", action="start", capacity=1)
        await console.next("shift", state="on")
        seeker = SeekerTalker("seeker", urls[0])
        await seeker.start()
        await seeker.say(0)
        offer = await console.next("offer", conversation=seeker.conv, timeout=10)
        await console.send(type="accept", offer=offer["offer"])
        await console.next("assigned", conversation=seeker.conv)
        peer = PeerTalker("peer", urls[1], cookie, seeker.conv)
        await peer.say(0)
        await console.close()

        stop = asyncio.Event()
        talking = [asyncio.create_task(side.talk(stop)) for side in (seeker, peer)]
        try:
            await _until(lambda: len(seeker.acked) >= 6 and len(peer.acked) >= 6, "no steady traffic", 30)
            old = await cluster.primary()
            old.stop(kill=True)
            _, promoted_at = await cluster.wait_promotion(old)
            old.start()  # as its supervisor would; Sentinel makes it a replica of the new primary
            await _until(lambda: _talks_again(seeker, peer, promoted_at) and _talks_again(peer, seeker, promoted_at),
                         "the two sides did not talk again after the promotion", CONTRACT_S + 30)
            again = [_talks_again(side, other, promoted_at) for side, other in ((seeker, peer), (peer, seeker))]
            assert all(at is not None and at - promoted_at <= CONTRACT_S for at in again), \
                f"talked again {[round((at or 0) - promoted_at, 1) for at in again]} s after the promotion"
            await _until(lambda: all(sum(at > promoted_at for at in side.acked_at.values()) >= 5
                                     for side in (seeker, peer)), "the chat did not go on", 30)
        finally:
            stop.set()
            await asyncio.gather(*talking)

        assert [p.poll() for p in procs] == [None, None, None], "a chatd process stopped"
        async with httpx.AsyncClient() as http:
            assert [(await http.get(url + "/readyz")).status_code for url in urls] == [200, 200]
        check_transcript(await _stored(urls[1], seeker.resume), [seeker, peer])
        for talker in (seeker, peer):
            await talker.close()
