"""The bench checks every relay's delivery the same way: a message lost, delivered twice or
delivered to another conversation is found, whether chatd, B2 or a peer (P1, P2) relayed it.

The load generator runs in-process here, against real servers on real sockets: a deliberately
miswired relay speaking B2's wire, and the real peers over a real Redis. No timing is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.delivery import Delivery, delivery
from bench.loadgen import Generator
from bench.peer_apps import PEER_APPS, PeerApp
from bench.wire import bench_text
from tests.conftest import RedisServer, free_port
from tests.helpers import t

ROOT = Path(__file__).resolve().parent.parent
PAIRS = 6
MESSAGES = 24


def tally(sent: dict[str, int], received: dict[str, int], refused: dict[str, int] | None = None,
          misrouted: int = 0) -> dict[str, Any]:
    return {"sent": sent, "refused": refused or {}, "received": received, "misrouted": misrouted,
            "misrouted_examples": ["c1 reached a socket of ['c2']"] if misrouted else []}


def test_an_exact_delivery_has_no_problem() -> None:
    d = delivery([tally({"c1": 3, "c2": 2}, {}), tally({}, {"c1": 3, "c2": 2})])
    assert (d.sent, d.received, d.lost, d.extra, d.misrouted) == (5, 5, 0, 0, 0)
    assert d.problems("relay") == []


@pytest.mark.parametrize(("tallies", "problem"), [
    pytest.param([tally({"c1": 3}, {"c1": 2})], "relay: 1 of 3 messages lost", id="lost"),
    pytest.param([tally({"c1": 3}, {"c1": 4})], "relay: 1 messages delivered twice", id="duplicate"),
    pytest.param([tally({"c1": 1}, {}, misrouted=1)], "relay: 1 messages reached the wrong conversation",
                 id="misrouted"),
])
def test_a_wrong_delivery_is_a_problem(tallies: list[dict[str, Any]], problem: str) -> None:
    assert any(p.startswith(problem) for p in delivery(tallies).problems("relay"))


async def test_a_message_of_an_earlier_period_arriving_late_is_a_straggler_not_a_duplicate() -> None:
    """A relay that fell behind in figure 2 may deliver figure-2 messages after the tally moved on
    to figure 3: late, counted apart, never a second delivery of figure 3's one message."""
    gen = Generator()
    await gen.op_tally(reset=True, from_step=100)
    gen._record(bench_text(2, 0, "c1"), 1_000_000, {"c1"})  # sent in figure 2's window 2
    gen._record(bench_text(100, 0, "c1"), 1_000_000, {"c1"})  # sent in figure 3's first step
    counted = await gen.op_tally(reset=False)
    assert counted["received"] == {"c1": 1} and counted["stragglers"] == 1
    d = delivery([tally({"c1": 1}, counted["received"]) | {"stragglers": counted["stragglers"]}])
    assert d.problems("relay") == [] and d.stragglers == 1
    # Counted as its own period's: a step before the period is late, one in it is not.
    await gen.op_tally(reset=True)
    gen._record(bench_text(2, 0, "c1"), 1_000_000, {"c1"})
    assert (await gen.op_tally())["received"] == {"c1": 1}


def test_a_refused_message_is_not_lost_and_may_still_arrive() -> None:
    """chatd's ``unavailable`` means "may or may not have been stored": either way is fine."""
    assert delivery([tally({"c1": 3}, {"c1": 2}, refused={"c1": 1})]).problems("relay") == []
    assert delivery([tally({"c1": 3}, {"c1": 3}, refused={"c1": 1})]).problems("relay") == []


# --- the load generator against real relays -----------------------------------------------------
Route = Callable[[str, int], str | None]  # (sender's conversation, its n-th message) -> receiver's, or None: drop


@contextlib.asynccontextmanager
async def miswired_relay(route: Route) -> AsyncIterator[str]:
    """A one-process relay speaking B2's wire (``/s/CONV`` sends, ``/p/CONV`` receives) that
    forwards each message to the receiver ``route`` names."""
    receivers: dict[str, ServerConnection] = {}

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        role, _, conv = ws.request.path.strip("/").partition("/")
        if role == "p":
            receivers[conv] = ws
            await ws.wait_closed()
            return
        with contextlib.suppress(ConnectionClosed):
            n = 0
            async for frame in ws:
                n += 1
                target = route(conv, n)
                if target is not None and target in receivers:
                    await receivers[target].send(frame)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


async def relay_through(senders_url: str, receivers_url: str, wire: str) -> Delivery:
    """PAIRS pairs on a relay, MESSAGES messages sent round-robin; the load generator's account."""
    gen = Generator()
    convs = [f"c{i}" for i in range(PAIRS)]
    try:
        for url, role in ((receivers_url, "p"), (senders_url, "s")):
            opened = await gen.op_open(url, concurrency=8, convs=convs, role=role, proto=wire)
            assert opened["failed"] == 0, opened["errors"]
        assert (await gen.op_hello(window=8))["failed"] == 0
        await gen.op_tally()  # the hellos are not bench messages, but start from zero all the same
        await gen.op_rate(rate=200.0, duration_s=MESSAGES / 200.0, step=1)
        # Until everything arrived, or nothing more did for a while (a relay that drops).
        seen, still_since = -1, time.monotonic()
        while (d := delivery([await gen.op_tally(reset=False)])).received + d.misrouted < d.sent:
            if d.received + d.misrouted != seen:
                seen, still_since = d.received + d.misrouted, time.monotonic()
            elif time.monotonic() - still_since > t(1):
                break
            await asyncio.sleep(0.05)
        return delivery([await gen.op_tally()])
    finally:
        await gen.op_close()


async def test_a_relay_that_delivers_every_message_to_its_own_receiver_passes() -> None:
    async with miswired_relay(lambda conv, n: conv) as url:
        d = await relay_through(url, url, "b2")
    assert d.sent == MESSAGES
    assert d.problems("relay") == []


async def test_a_message_relayed_to_another_conversation_is_found() -> None:
    """Every third message goes to the next pair's receiver: found as misrouted (and lost)."""
    def next_room(conv: str, n: int) -> str:
        return f"c{(int(conv[1:]) + 1) % PAIRS}" if n % 3 == 0 else conv

    async with miswired_relay(next_room) as url:
        d = await relay_through(url, url, "b2")
    assert d.misrouted > 0
    assert d.lost == d.misrouted
    assert any("wrong conversation" in p for p in d.problems("relay"))


async def test_a_message_the_relay_drops_is_found() -> None:
    async with miswired_relay(lambda conv, n: None if n == 2 else conv) as url:
        d = await relay_through(url, url, "b2")
    assert (d.lost, d.misrouted) == (PAIRS, 0)
    assert any("lost" in p for p in d.problems("relay"))


# --- the real peers, two processes each over a real Redis ---------------------------------------
def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + t(30)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the peer exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture
def start_peer(redis_server: RedisServer) -> Iterator[Callable[[PeerApp], Awaitable[str]]]:
    procs: list[subprocess.Popen[bytes]] = []

    async def start(peer: PeerApp) -> str:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", peer.module, str(port), redis_server.url], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        await asyncio.to_thread(_wait_port, port, proc)
        return f"ws://127.0.0.1:{port}"

    yield start
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=t(10))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("peer", [pytest.param(p, id=p.key) for p in PEER_APPS])
async def test_a_peer_relays_every_message_once_to_its_own_conversation_across_processes(
        peer: PeerApp, start_peer: Callable[[PeerApp], Awaitable[str]]) -> None:
    """Checked as the bench checks it, senders on one process and receivers on the other."""
    if peer.missing():
        # CI installs the bench extra (.ci/run): there a missing peer is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"{peer.name} is not installed in CI: .ci/run must pip install -e '.[bench]'")
        pytest.skip(f"{peer.name} is not installed: pip install -e '.[bench]'")
    senders, receivers = await start_peer(peer), await start_peer(peer)
    d = await relay_through(senders, receivers, peer.wire)
    assert d.sent == MESSAGES
    assert d.problems(peer.label) == []
