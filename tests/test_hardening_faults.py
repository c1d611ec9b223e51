"""Hardening: a failing machine (issue 6). Nothing acknowledged is lost, and the service recovers
without a restart.

Already proven elsewhere: a seeker on a SIGKILLed `chatd web` resumes on another process
(test_multiprocess.py), Redis restarted mid-chat (test_ops.py), timers surviving an in-process
worker restart (test_worker.py), logging into /dev/full in-process (test_privacy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from redis.asyncio import Redis

from config.settings import Settings
from records.keyspace import Keys
from tests.conftest import Harness, RedisServer, Running, free_port
from tests.helpers import WS, t
from tests.processes import connect_peer, login, processes, ready, spawn


def _env(harness: Harness, port: int | None = None, **extra: str) -> dict[str, str]:
    """The environment of a chatd subprocess sharing this test's Redis prefix, secret and SQLite file."""
    s = harness.settings
    env = {**os.environ, "CHATD_REDIS_URL": harness.redis_server.url, "CHATD_DATA_DIR": str(s.data_dir),
           "CHATD_DATABASE": str(s.database), "CHATD_KEY_PREFIX": s.key_prefix, "CHATD_SECRET_KEY": s.secret_key,
           "CHATD_LOG_FORMAT": "json", "CHATD_DEBRIEF_S": "0", **extra}
    if port is not None:
        env |= {"CHATD_PORT": str(port), "CHATD_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    return env


# --- a web process killed outright -----------------------------------------------------------
@pytest.mark.timeout(120)
async def test_sigkilled_web_process_its_peer_and_seeker_carry_on_elsewhere_exactly_once(harness: Harness) -> None:
    """Seeker and peer both on web A; A gets SIGKILL. The peer's console reconnects to web B and gets
    `shift` then `assigned` with the full history, each acknowledged message once; the seeker
    resumes on B; the chat goes on; and when the worker sweeps dead A, nothing is requeued."""
    await harness.start(web=False, worker=False)  # only for the store (accounts)
    await harness.add_peer("alice", display="Alice")
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    grace = {"CHATD_PEER_GRACE_S": str(t(3)), "CHATD_SEEKER_GRACE_S": str(t(3))}
    sockets: list[WS] = []
    with processes() as procs:
        web_a = spawn(procs, "web", _env(harness, ports[0], **grace))
        spawn(procs, "web", _env(harness, ports[1], **grace))
        spawn(procs, "worker", _env(harness, **grace))
        for url in urls:
            await ready(url)
        try:
            cookie = await login(urls[0])
            peer = await connect_peer(urls[0], cookie)
            sockets.append(peer)
            await peer.send(type="shift", action="start", capacity=2)
            await peer.next("shift", state="on")
            seeker = WS(await websockets.connect("ws" + urls[0][4:] + "/ws/seeker"))
            sockets.append(seeker)
            await seeker.send(type="hello", lang="en")
            welcome = await seeker.next("welcome")
            conv = welcome["conversation"]
            await seeker.send(type="message", client_id="s1", text="seeker one")
            await seeker.next("ack", client_id="s1")
            offer = await peer.next("offer", conversation=conv, timeout=10)
            await peer.send(type="accept", offer=offer["offer"])
            await peer.next("assigned", conversation=conv)
            acked: dict[int, str] = {}
            for i in range(3):
                await seeker.send(type="message", client_id=f"s{i + 2}", text=f"seeker {i + 2}")
                acked[(await seeker.next("ack", client_id=f"s{i + 2}"))["seq"]] = f"seeker {i + 2}"
                await peer.send(type="message", conversation=conv, client_id=f"p{i}", text=f"peer {i}")
                acked[(await peer.next("ack", client_id=f"p{i}"))["seq"]] = f"peer {i}"
            web_a.send_signal(signal.SIGKILL)
            web_a.wait(10)
            # The peer's console reconnects to B (same cookie: sessions live in Redis).
            back = await connect_peer(urls[1], cookie)
            sockets.append(back)
            shift = await back.next("shift")
            assert shift["state"] == "on" and shift["active"] == 1
            assigned = await back.next("assigned", conversation=conv)
            assert back.seen.index(shift) < back.seen.index(assigned)
            seqs = [m["seq"] for m in assigned["history"]]
            assert seqs == list(range(1, len(seqs) + 1)), seqs  # each once, in order
            texts = {m["seq"]: m["text"] for m in assigned["history"]}
            assert all(texts.get(seq) == text for seq, text in acked.items())
            # The seeker resumes on B.
            again = WS(await websockets.connect("ws" + urls[1][4:] + "/ws/seeker"))
            sockets.append(again)
            await again.send(type="hello", resume=welcome["resume"], last_seq=0)
            await again.next("welcome")
            await again.next("status", state="active", peer="Alice")
            replay = [f["seq"] for f in again.seen if f["type"] == "message"]
            assert replay == seqs
            # The chat goes on, each new message exactly once on each side.
            await again.send(type="message", client_id="after-1", text="after the crash")
            new_seq = (await again.next("ack", client_id="after-1"))["seq"]
            assert new_seq == len(seqs) + 1
            await back.next("message", conversation=conv, seq=new_seq)
            await back.send(type="message", conversation=conv, client_id="after-2", text="still with you")
            await again.next("message", text="still with you")
            # The worker sweeps dead A (heartbeat TTL 10 s, sweep every 5 s): nothing is requeued,
            # ended or duplicated, though both grace times (3 s) are far shorter than that.
            redis = Redis.from_url(harness.redis_server.url)
            try:
                keys = Keys(harness.settings.key_prefix)
                deadline = time.monotonic() + t(25)
                while await redis.scard(keys.procs) > 1 and time.monotonic() < deadline:
                    await asyncio.sleep(0.5)
                assert await redis.scard(keys.procs) == 1, "dead process never swept"
            finally:
                await redis.aclose()
            await asyncio.sleep(t(4))  # past both grace times
            await back.none("released", within=0.1)
            await back.none("ended", within=0.1)
            await again.none("ended", within=0.1)
            await again.none("status", within=0.1, state="waiting")
            await again.send(type="message", client_id="after-3", text="are we still connected?")
            last = (await again.next("ack", client_id="after-3"))["seq"]
            await back.next("message", conversation=conv, seq=last)
            live = [f["seq"] for f in back.seen if f["type"] == "message"]
            assert len(live) == len(set(live)), live  # no duplicate on the peer
            seen_by_seeker = [f["seq"] for f in again.seen if f["type"] == "message"]
            assert len(seen_by_seeker) == len(set(seen_by_seeker)), seen_by_seeker
        finally:
            for ws in sockets:
                with contextlib.suppress(Exception):
                    await ws.close()


# --- the worker killed outright --------------------------------------------------------------
@pytest.mark.timeout(90)
async def test_sigkilled_worker_restarted_still_expires_offers_and_escalates(harness: Harness) -> None:
    """`chatd worker` as a real process, SIGKILLed while an offer and a wait are pending: after a
    new worker starts, the offer expires (and goes back out) and the wait escalation fires."""
    timing = {"CHATD_OFFER_TIMEOUT_S": str(t(1.5)), "CHATD_WAIT_ESCALATE_S": str(t(2.5))}
    web = await harness.start(worker=False, offer_timeout_s=t(1.5), wait_escalate_s=t(2.5))
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1, server=web)
    with processes() as procs:
        worker = spawn(procs, "worker", _env(harness, **timing))
        first, w1 = await harness.seeker(server=web)
        await first.send(type="message", client_id="a", text="first in line")
        offer = await alice.next("offer", conversation=w1["conversation"], timeout=15)
        second, w2 = await harness.seeker(server=web)
        await second.send(type="message", client_id="b", text="second in line")
        await second.next("ack", client_id="b")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        await asyncio.sleep(t(3.0))  # both deadlines pass while no worker runs
        await alice.none("revoked", within=0.1)
        await second.none("escalation", within=0.1, reason="wait_timeout")
        spawn(procs, "worker", _env(harness, **timing))
        assert (await alice.next("revoked", timeout=15))["offer"] == offer["offer"]
        assert (await second.next("escalation", reason="wait_timeout", timeout=10))["reason"] == "wait_timeout"
        again = await alice.next("offer", timeout=10)  # matching goes on with the new worker
        assert again["offer"] != offer["offer"]


# --- SQLite busy ------------------------------------------------------------------------------
async def test_archive_and_survey_wait_out_a_locked_database(harness: Harness) -> None:
    """Another process holds SQLite's write lock for 1.5 s while a conversation ends: nothing fails,
    and once the lock goes the archive (with the survey) lands."""
    srv = await harness.start()
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="a", text="archive me despite the lock")
    await seeker.next("ack")
    blocker = sqlite3.connect(srv.settings.database, isolation_level=None, timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        await seeker.send(type="end")
        await seeker.next("ended")
        await seeker.send(type="survey", rating=4)
        await asyncio.sleep(t(1.5))
        # (Read with a connection of our own: WAL readers are not blocked by the writer's lock.)
        with sqlite3.connect(srv.settings.database) as reader:
            early = reader.execute("SELECT ended_ms FROM conversations WHERE id = ?", (conv,)).fetchone()
        assert early is None or not early[0]  # not archived yet: the lock holds
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    for _ in range(int(t(15) / 0.1)):
        row = await srv.services.store.conversation(conv)
        if row is not None and row.get("ended_ms") and await srv.services.store.messages(conv):
            break
        await asyncio.sleep(0.1)
    assert row is not None and row.get("ended_ms"), row
    assert [m.text for m in await srv.services.store.messages(conv)] == ["archive me despite the lock"]
    assert not [f for f in seeker.seen + seeker.buffer if f["type"] == "error"]
    for _ in range(30):
        row = await srv.services.store.conversation(conv)
        if row is not None and row.get("survey") == 4:
            break
        await asyncio.sleep(0.1)
    assert row is not None and row["survey"] == 4
    # The service works on as before.
    s2, _ = await harness.seeker()
    await s2.send(type="message", client_id="x", text="next")
    await s2.next("ack")


async def test_database_locked_past_its_timeout_costs_no_socket(harness: Harness) -> None:
    """Another process holds SQLite's write lock longer than the busy timeout (shortened here):
    actions live in Redis and still happen (an accept assigns, a break starts; their records
    are lost and logged); a survey, which only the database keeps, gets "unavailable" and is
    stored when retried after the lock goes; no socket closes."""
    srv = await harness.start(database_busy_timeout_s=0.3)
    await harness.add_peer("locked")
    console = await harness.peer("locked", capacity=1)
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hello while the database is locked")
    offer = await console.next("offer", timeout=10)
    blocker = sqlite3.connect(srv.settings.database, isolation_level=None, timeout=0)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        await console.send(type="accept", offer=offer["offer"])
        assert (await console.next("assigned"))["conversation"] == welcome["conversation"]
        await seeker.next("status", state="active")
        await console.send(type="shift", action="break")
        await console.next("shift", timeout=5, state="break")
        await console.send(type="end", conversation=welcome["conversation"], outcome="supported")
        await seeker.next("ended")
        await seeker.send(type="survey", rating=5)
        assert (await seeker.next("error", timeout=5))["code"] == "unavailable"
    finally:
        blocker.execute("COMMIT")
        blocker.close()
    await seeker.send(type="survey", rating=5)
    await seeker.none("error", within=0.5)
    assert (await srv.services.store.conversation(welcome["conversation"]) or {}).get("survey") == 5
    console.buffer.clear()
    await console.send(type="shift", action="start", capacity=1)
    await console.next("shift", state="on")
    assert console.conn.state is websockets.protocol.State.OPEN
    assert seeker.conn.state is websockets.protocol.State.OPEN
    assert not [f for f in console.seen if f["type"] == "error"]


# --- a slow consumer --------------------------------------------------------------------------
async def _stalled_console(harness: Harness, srv: Running, username: str) -> tuple[WS, str, str]:
    """A console on shift with one conversation, whose client then stops reading: a small receive
    buffer and a websockets client that stops pulling from TCP once two frames wait unread."""
    cookie = await harness.login(username)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", srv.settings.port))
    slow = WS(await websockets.connect(srv.ws_url + "/ws/peer", sock=raw, origin=srv.url,  # type: ignore[arg-type]
                                       additional_headers={"Cookie": f"chatd_session={cookie}"}, max_queue=2,
                                       max_size=2**20))
    harness.sockets.append(slow)
    await slow.send(type="shift", action="start", capacity=1)
    await slow.next("shift", state="on")
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="a", text="hello")
    offer = await slow.next("offer", conversation=conv)
    await slow.send(type="accept", offer=offer["offer"])
    await slow.next("assigned", conversation=conv)
    return slow, conv, cookie


def _server_side(srv: Running, username: str) -> Any:
    return next((c for c in srv.services.peers if c.user == username), None)


@pytest.mark.timeout(90)
async def test_a_console_that_stops_reading_is_closed_1013_and_others_are_still_served(harness: Harness) -> None:
    """A peer console stops reading while thousands of 4,000-character frames are sent to it: its
    backlog is bounded (the server closes it with 1013 once its 1,024-frame queue is full), and
    another pair on the same process keeps talking all the while. When the client reads again it
    finds the 1013 close, reconnects, and gets the whole history. (How much a stalled reader costs
    others in latency is the bench's to measure.)"""
    srv = await harness.start()
    await harness.add_peer("slow")
    await harness.add_peer("bob")
    slow, conv, cookie = await _stalled_console(harness, srv, "slow")
    bob = await harness.peer("bob", capacity=1)
    other, w2 = await harness.seeker()
    await other.send(type="message", client_id="a", text="hi bob")
    offer2 = await bob.next("offer", conversation=w2["conversation"])
    await bob.send(type="accept", offer=offer2["offer"])
    await bob.next("assigned")
    await other.next("status", state="active")

    async def round_trip(i: int) -> None:
        await bob.send(type="message", conversation=w2["conversation"], client_id=f"rt{i}", text=f"ping {i}")
        await other.next("message", text=f"ping {i}", timeout=10)

    await round_trip(0)
    big = "x" * 3990
    engine = srv.services.engine
    sent = 0
    for sent in range(1, 5001):
        await engine.append(conv, "seeker", f"{sent:05d} {big}")
        if sent % 200 == 0:
            await round_trip(sent)
            conn = _server_side(srv, "slow")
            if conn is None or conn.close_code is not None:
                break
    conn = _server_side(srv, "slow")
    assert conn is None or conn.close_code == 1013, "the server never gave up on the stalled console"
    for i in range(3):
        await round_trip(10_000 + i)
    # The client reads again: a bounded backlog, then the 1013 close.
    assert await slow.closed(timeout=15) == 1013
    received = [f for f in slow.seen if f["type"] == "message"]
    assert len(received) < sent
    back = WS(await websockets.connect(srv.ws_url + "/ws/peer", origin=srv.url,  # type: ignore[arg-type]
                                       additional_headers={"Cookie": f"chatd_session={cookie}"}, max_size=None))
    harness.sockets.append(back)
    assigned = await back.next("assigned", conversation=conv, timeout=10)
    assert len(assigned["history"]) == sent + 2  # hello, joined, the flood: megabytes of history: nothing was lost


@pytest.mark.timeout(60)
async def test_a_console_that_never_reads_again_is_dropped_by_the_server(harness: Harness) -> None:
    """A client that never reads again cannot hold the server's memory: within seconds of the
    overflow the server lets go of its socket altogether."""
    srv = await harness.start()
    await harness.add_peer("slow")
    slow, conv, _ = await _stalled_console(harness, srv, "slow")
    big = "x" * 3990
    for i in range(3000):
        await srv.services.engine.append(conv, "seeker", f"{i:05d} {big}")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        deadline = time.monotonic() + t(15)
        while time.monotonic() < deadline:
            if "chatd_peer_sockets 0" in (await http.get("/metrics")).text:
                break
            await asyncio.sleep(0.2)
        assert "chatd_peer_sockets 0" in (await http.get("/metrics")).text
    assert _server_side(srv, "slow") is None
    with contextlib.suppress(websockets.ConnectionClosed):
        await slow.closed(timeout=10)


# --- Redis restarted: the worker and the consoles carry on ---------------------------------------
async def _ready_again(srv: Running) -> None:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        for _ in range(100):
            if (await http.get("/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("never ready again")


@pytest.mark.timeout(90)
async def test_after_a_redis_restart_the_worker_matches_again_without_a_restart(tmp_path: Path,
                                                                                base_settings: Settings) -> None:
    """Redis gone for a few seconds (the worker's loop failing all the while), then back: a waiting
    seeker is offered to a peer by the same worker, no process restarted."""
    redis = RedisServer(tmp_path / "own-redis")
    redis.start()
    harness = Harness(redis, base_settings)
    try:
        srv = await harness.start()
        await harness.add_peer("alice")
        seeker, _ = await harness.seeker()
        redis.stop(kill=True)
        await asyncio.sleep(t(2))
        redis.start()
        await _ready_again(srv)
        for _ in range(50):
            await seeker.send(type="message", client_id="m", text="after the restart")
            if any(f["type"] == "ack" for f in await seeker.drain(0.2)):
                break
        peer = await harness.peer("alice", capacity=1)
        offer = await peer.next("offer", timeout=15)
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned", conversation=offer["conversation"])
        assert not srv.task.done()
    finally:
        await harness.close()
        redis.stop()


@pytest.mark.timeout(90)
async def test_consoles_stay_open_through_a_redis_outage(tmp_path: Path, base_settings: Settings) -> None:
    """operations.md: while Redis is unreachable sockets stay open and every action is answered
    `unavailable`; when it returns they carry on. The console's periodic session check must not
    turn an outage into a 1011 close."""
    redis = RedisServer(tmp_path / "own-redis")
    redis.start()
    harness = Harness(redis, base_settings)
    try:
        srv = await harness.start()
        await harness.add_peer("alice")
        peer = await harness.peer("alice", capacity=1)
        redis.stop(kill=True)
        await asyncio.sleep(t(3))  # longer than the console's session check period (2 s)
        await peer.send(type="shift", action="start", capacity=2)
        try:
            err = await peer.next("error", timeout=15)
        except websockets.ConnectionClosed as exc:
            raise AssertionError(f"the console was closed during the outage: {exc}") from None
        assert err["code"] == "unavailable"
        redis.start()
        await _ready_again(srv)
        for _ in range(50):
            await peer.send(type="shift", action="start", capacity=2)
            if any(f["type"] == "shift" and f.get("capacity") == 2 for f in await peer.drain(0.2)):
                break
        else:
            raise AssertionError("the console never recovered")
    finally:
        await harness.close()
        redis.stop()


# --- the log disk full --------------------------------------------------------------------------
@pytest.mark.timeout(60)
async def test_a_web_process_logging_into_a_full_disk_still_serves(harness: Harness) -> None:
    """`chatd web` with its standard error on /dev/full (every log write fails with ENOSPC)."""
    await harness.start(web=False)  # the worker, in this process
    await harness.add_peer("alice")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with processes() as procs, open("/dev/full", "wb") as full:
        proc = spawn(procs, "web", _env(harness, port, CHATD_LOG_LEVEL="debug"), stderr=full)
        await ready(url)
        cookie = await login(url)
        peer = await connect_peer(url, cookie)
        seeker = WS(await websockets.connect("ws" + url[4:] + "/ws/seeker"))
        try:
            await peer.send(type="shift", action="start", capacity=1)
            await peer.next("shift", state="on")
            await seeker.send(type="hello", lang="en")
            conv = (await seeker.next("welcome"))["conversation"]
            await seeker.send(type="message", client_id="a", text="hello")
            await seeker.next("ack")
            offer = await peer.next("offer", conversation=conv, timeout=10)
            await peer.send(type="accept", offer=offer["offer"])
            await peer.next("assigned")
            await peer.send(type="message", conversation=conv, client_id="p", text="I'm here")
            assert (await seeker.next("message", text="I'm here"))["from"] == "peer"
            await seeker.send_raw("not json")  # an error path that logs too
            assert (await seeker.next("error"))["code"] == "bad_request"
            assert proc.poll() is None
        finally:
            await peer.close()
            await seeker.close()

