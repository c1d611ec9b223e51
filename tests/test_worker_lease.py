"""One worker works at a time: a second `chatd worker` waits as a standby and takes over."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis

from tests.conftest import Harness, Running
from tests.helpers import t


def _worker(srv: Running) -> Any:
    return srv.app.state.worker


async def _until(condition: Any, what: str, within_s: float = 15.0) -> None:
    deadline = time.monotonic() + t(within_s)
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


async def test_two_workers_one_works_the_other_takes_over_when_it_stops(harness: Harness) -> None:
    web = await harness.start(worker=False, offer_timeout_s=t(1.0))
    first = await harness.start(web=False, offer_timeout_s=t(1.0))
    second = await harness.start(web=False, offer_timeout_s=t(1.0))
    workers = [_worker(first), _worker(second)]
    await _until(lambda: any(w.leading for w in workers), "no worker took the lease")
    await asyncio.sleep(t(0.5))
    assert [w.leading for w in workers].count(True) == 1
    leader, standby = (first, second) if workers[0].leading else (second, first)
    await leader.stop()
    harness.servers.remove(leader)
    await _until(lambda: _worker(standby).leading, "the standby never took over")
    # The new leader does the worker's work: an offer nobody accepts expires and is revoked.
    await harness.add_peer("alice", server=web)
    alice = await harness.peer("alice", capacity=1, server=web)
    seeker, welcome = await harness.seeker(server=web)
    await seeker.send(type="message", client_id="a", text="hello")
    offer = await alice.next("offer", conversation=welcome["conversation"])
    assert (await alice.next("revoked", timeout=10))["offer"] == offer["offer"]


async def test_a_worker_whose_lease_is_taken_stops_working_until_it_is_free(harness: Harness) -> None:
    """Should the lease lapse (a worker cut off from Redis) and another worker take it, the first
    stops at its next renewal instead of working alongside; it leads again once the lease is free."""
    srv = await harness.start(web=False)
    worker = _worker(srv)
    await _until(lambda: worker.leading, "the worker never took the lease")
    redis = Redis.from_url(harness.redis_server.url)
    key = srv.services.keys.worker
    try:
        assert (await redis.get(key)).decode() == worker.token
        await redis.set(key, "another-worker", px=int(t(3) * 1000))
        await _until(lambda: not worker.leading, "the worker kept working without the lease")
        assert (await redis.get(key)) == b"another-worker"  # not released: it was not its own
        await _until(lambda: worker.leading, "the worker never took the lease back once it lapsed")
        assert (await redis.get(key)).decode() == worker.token
        await srv.stop()
        harness.servers.remove(srv)
        assert await redis.get(key) is None  # released on stop: a standby need not wait
    finally:
        await redis.aclose()
