"""Script calls pipelined by one sender: each call its own reply or error, NOSCRIPT recovered."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from config.settings import Settings
from records.keyspace import Keys
from routing.engine import AppendResult, Engine
from routing.scripts import Scripts
from tests.conftest import RedisServer


@pytest.fixture
def prefix() -> str:
    """Each test's own key prefix on the session's Redis."""
    return f"scripts-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def test_concurrent_calls_each_get_their_own_reply_and_errors_stay_their_own(redis: Redis, prefix: str) -> None:
    k = Keys(prefix)
    scripts = Scripts(redis, prefix)
    for i in range(0, 200, 2):  # half the conversations have ended, half do not exist
        await redis.hset(k.conv(f"c{i}"), mapping={"state": "ended", "channel": "web"})

    calls = [scripts.call("forget", f"c{i}") for i in range(200)]
    calls.append(scripts.call("forget"))  # too few arguments: a Lua error, for this call only
    replies = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(replies[-1], ResponseError)
    for i, reply in enumerate(replies[:-1]):
        assert not isinstance(reply, BaseException), reply
        assert reply == (["ok"] if i % 2 == 0 else ["err", "unknown"])
    assert await redis.hget(k.conv("c10"), "forgotten") == "1"


async def test_a_batch_recovers_from_a_flushed_script_cache(redis: Redis, prefix: str) -> None:
    """After a Redis restart the scripts are gone (NOSCRIPT): every call of a batch still runs."""
    scripts = Scripts(redis, prefix)
    await scripts.call("forget", "none")  # loaded once
    await redis.script_flush()
    replies = await asyncio.gather(*(scripts.call("forget", f"none{i}") for i in range(50)))
    assert all(r == ["err", "unknown"] for r in replies)


async def test_a_cancelled_caller_leaves_the_others_their_replies(redis: Redis, prefix: str) -> None:
    scripts = Scripts(redis, prefix)
    calls = [asyncio.ensure_future(scripts.call("forget", f"none{i}")) for i in range(20)]
    calls[3].cancel()
    done = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(done) if i != 3)
    assert await scripts.call("forget", "none") == ["err", "unknown"]


@pytest.mark.parametrize("n", [1, 300])
async def test_calls_of_one_task_stay_in_order(redis: Redis, prefix: str, n: int) -> None:
    """A conversation's messages get seqs in the order one task sent them, alone or among many."""
    k = Keys(prefix)
    scripts = Scripts(redis, prefix)
    for c in range(n):
        await redis.hset(k.conv(f"c{c}"), mapping={"state": "active", "channel": "web", "peer": "p"})

    async def writer(c: int) -> list[int]:
        seqs = []
        for j in range(5):
            reply = await scripts.call("append", f"c{c}", "system", f"id{j}", f"text {j}", "t", 1000, "",
                                       300_000, "0", 3_600_000, "", 30_000)
            seqs.append(int(reply[1]))
        return seqs

    results = await asyncio.gather(*(writer(c) for c in range(n)))
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in results)
    texts = [m async for m in _log(redis, k.log("c0"))]
    assert texts == [f"text {j}" for j in range(5)]


async def _log(redis: Redis, key: str):  # type: ignore[no-untyped-def]
    import json
    for raw in await redis.lrange(key, 0, -1):
        yield json.loads(raw)["text"]


async def test_closing_fails_calls_on_their_way_instead_of_leaving_them_hanging(
        redis: Redis, prefix: str, redis_server: RedisServer) -> None:
    """At shutdown the sender is stopped: a call whose reply never came, and one waiting behind
    it, each get an error; a call made afterwards starts a new sender."""
    pauser = Redis.from_url(redis_server.url)
    try:
        scripts = Scripts(redis, prefix)
        await scripts.call("forget", "none")  # connected and loaded
        await pauser.execute_command("CLIENT", "PAUSE", 3000, "ALL")  # Redis answers nobody for 3 s
        first = asyncio.ensure_future(scripts.call("forget", "none1"))
        await asyncio.sleep(0.2)  # on its way: the sender waits for Redis
        second = asyncio.ensure_future(scripts.call("forget", "none2"))
        await asyncio.sleep(0)
        await scripts.aclose()
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert [type(r) for r in results] == [RedisError, RedisError], results
        await pauser.execute_command("CLIENT", "UNPAUSE")
        reply = await scripts.call("forget", "none3")
        assert reply == ["err", "unknown"]
    finally:
        await pauser.aclose()


async def test_closing_returns_once_nothing_is_on_its_way_and_leaves_no_sender(
        redis: Redis, prefix: str, redis_server: RedisServer) -> None:
    """A call sent by its caller's own task while Redis does not answer: aclose ends it (an
    error, not a hang) before returning, fails the call queued behind it, and starts no sender
    for it, so nothing is left talking to a Redis pool about to close."""
    pauser = Redis.from_url(redis_server.url)
    try:
        scripts = Scripts(redis, prefix)
        await scripts.call("forget", "none")
        await pauser.execute_command("CLIENT", "PAUSE", 3000, "ALL")
        first = asyncio.ensure_future(scripts.call("forget", "none1"))
        await asyncio.sleep(0.2)
        second = asyncio.ensure_future(scripts.call("forget", "none2"))
        await asyncio.sleep(0)
        await scripts.aclose()
        assert first.done()  # the caller's own send ended before aclose returned
        assert scripts._sender is None
        assert [type(r) for r in await asyncio.gather(first, second, return_exceptions=True)] == [RedisError] * 2
        await pauser.execute_command("CLIENT", "UNPAUSE")
    finally:
        await pauser.aclose()


async def test_a_call_that_cannot_be_encoded_fails_alone_and_its_batch_is_stored(redis: Redis, prefix: str) -> None:
    """One call in a batch with a string that is not valid UTF-8 (a lone surrogate) gets its own
    error; the other people's messages in the same pipeline are stored and acknowledged."""
    engine = Engine(redis, Settings(key_prefix=prefix))
    convs = [(await engine.create_conversation("web", "en"))[0] for _ in range(8)]
    texts = [f"message {i}" for i in range(8)]
    texts[3] = "cut emoji \ud83d"
    # Started together, the calls join one batch: the first starts the sender, which runs after
    # the others have queued theirs.
    results = await asyncio.gather(*(engine.append(conv, "seeker", text, client_id=f"c{i}")
                                     for i, (conv, text) in enumerate(zip(convs, texts, strict=True))),
                                   return_exceptions=True)
    assert isinstance(results[3], UnicodeEncodeError)
    for i, (conv, result) in enumerate(zip(convs, results, strict=True)):
        if i == 3:
            assert await engine.history(conv) == []
            continue
        assert isinstance(result, AppendResult) and result.seq == 1, result
        assert [json.loads(m)["text"] for m in await engine.history(conv)] == [f"message {i}"]
    assert (await engine.append(convs[3], "seeker", "cut emoji", client_id="c3")).seq == 1  # and it recovers
    await engine.scripts.aclose()
