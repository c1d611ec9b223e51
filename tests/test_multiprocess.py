"""Several web processes share one Redis: a seeker and its peer on different processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import websockets

from tests.conftest import PASSWORD, Harness, RedisServer, free_port
from tests.helpers import WS
from tests.processes import connect_peer, login, processes, ready, spawn


async def test_seeker_and_peer_on_different_web_processes(harness: Harness) -> None:
    web1 = await harness.start(worker=False)
    web2 = await harness.start(worker=False)
    await harness.start(web=False)
    await harness.add_peer("alice", display="Alice")
    peer = await harness.peer("alice", capacity=1, server=web2)
    seeker, welcome = await harness.seeker(server=web1)
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="a", text="from process one")
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    assert (await peer.next("assigned"))["history"][0]["text"] == "from process one"
    await seeker.next("status", state="active", peer="Alice")
    await peer.send(type="message", conversation=conv, client_id="p", text="from process two")
    assert (await seeker.next("message", **{"from": "peer"}))["text"] == "from process two"
    # The seeker resumes on the other process and keeps talking.
    await seeker.close()
    again = await harness.connect("/ws/seeker", web2)
    await again.send(type="hello", resume=welcome["resume"], last_seq=0)
    await again.next("welcome")
    assert [m["seq"] for m in (await again.drain(0.4)) if m["type"] == "message"] == [1, 2, 3]
    await again.send(type="message", client_id="b", text="now on two")
    assert (await peer.next("message", conversation=conv, seq=4))["text"] == "now on two"


def _env(redis_url: str, tmp: Path, prefix: str, port: int) -> dict[str, str]:
    return {**os.environ, "CHATD_REDIS_URL": redis_url, "CHATD_DATA_DIR": str(tmp),
            "CHATD_KEY_PREFIX": prefix, "CHATD_SECRET_KEY": "s" * 40, "CHATD_PORT": str(port),
            "CHATD_PUBLIC_URL": f"http://127.0.0.1:{port}", "CHATD_LOG_FORMAT": "json"}


@pytest.mark.timeout(120)
async def test_real_processes_web_web_worker_and_sigkill_of_a_web_process(
        redis_server: RedisServer, tmp_path: Path) -> None:
    """`chatd web` x2 and `chatd worker` as real processes; one web is SIGKILLed mid-chat and
    its seeker resumes on the other with every acknowledged message exactly once."""
    prefix = "p" + uuid.uuid4().hex[:10]
    ports = [free_port(), free_port()]
    envs = [_env(redis_server.url, tmp_path, prefix, p) for p in ports]
    add = subprocess.run([sys.executable, "-m", "chatd", "supporters", "add", "alice", "--display-name", "Alice",
                          "--trained", "--password-stdin"], input=PASSWORD + "\n", text=True, env=envs[0],
                         capture_output=True, check=False)
    assert add.returncode == 0, add.stderr
    with processes() as procs:
        for env in envs:
            spawn(procs, "web", env)
        spawn(procs, "worker", envs[0])
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for url in urls:
            await ready(url)
        peer = await connect_peer(urls[1], await login(urls[1]))
        await peer.send(type="shift", action="start", capacity=1)
        await peer.next("shift", state="on")
        seeker = WS(await websockets.connect("ws" + urls[0][4:] + "/ws/seeker"))
        await seeker.send(type="hello", lang="en")
        welcome = await seeker.next("welcome")
        conv = welcome["conversation"]
        await seeker.send(type="message", client_id="m1", text="one")
        await seeker.next("ack", client_id="m1")
        offer = await peer.next("offer", conversation=conv, timeout=10)
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned", conversation=conv)
        await seeker.send(type="message", client_id="m2", text="two")
        m2_seq = (await seeker.next("ack", client_id="m2"))["seq"]
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        await peer.send(type="message", conversation=conv, client_id="p1", text="still here")
        await peer.next("ack", client_id="p1")
        again = WS(await websockets.connect("ws" + urls[1][4:] + "/ws/seeker"))
        await again.send(type="hello", resume=welcome["resume"], last_seq=0)
        await again.next("welcome")
        frames = await again.drain(0.5)
        texts = [(f["seq"], f["text"]) for f in frames if f["type"] == "message"]
        assert [s for s, _ in texts] == [1, 2, 3, 4]
        assert [x for _, x in texts if x in ("one", "two", "still here")] == ["one", "two", "still here"]
        await again.send(type="message", client_id="m2", text="two")  # a retried send is not stored twice
        assert (await again.next("ack", client_id="m2"))["seq"] == m2_seq
        await again.send(type="message", client_id="m3", text="three")
        assert (await peer.next("message", conversation=conv, timeout=5, text="three"))["from"] == "seeker"
        for ws in (peer, seeker, again):
            await ws.close()
