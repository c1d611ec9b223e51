"""The Lua helpers build exactly the key names routing/keys.py documents."""

from __future__ import annotations

from redis.asyncio import Redis

from routing.keys import Keys
from routing.scripts import SCRIPT_NAMES, script_source
from tests.conftest import RedisServer

PROBE = """
return {K.conv('c1'), K.log('c1'), K.cids('c1'), K.declined('c1'), K.esc('c1'), K.notes('c1'), K.peer('u1'),
        K.peer_convs('u1'), K.peer_offers('u1'), K.offer('o1'), K.conns('seeker', 'c1'), K.queue, K.live,
        K.on_shift, K.shifting, K.timers, K.wake, K.worker, K.sms_events, K.stats, K.ch_seeker('c1'),
        K.ch_monitor('c1'), K.ch_peer('u1'), K.ch_sup, K.ch_queue, K.once('i1')}
"""


async def test_lua_and_python_key_names_agree(redis_server: RedisServer) -> None:
    k = Keys("pfx")
    expected = [k.conv("c1"), k.log("c1"), k.cids("c1"), k.declined("c1"), k.esc("c1"), k.notes("c1"), k.peer("u1"),
                k.peer_convs("u1"), k.peer_offers("u1"), k.offer("o1"), k.conns("seeker", "c1"), k.queue, k.live,
                k.on_shift, k.shifting, k.timers, k.wake, k.worker, k.sms_events, k.stats, k.ch_seeker("c1"),
                k.ch_monitor("c1"), k.ch_peer("u1"), k.ch_sup, k.ch_queue, k.once("i1")]
    lib = script_source("forget").split("\n-- forget:")[0]
    redis = Redis.from_url(redis_server.url)
    try:
        got = await redis.eval(lib + PROBE, 0, "pfx")
        assert [g.decode() for g in got] == expected
        for name in SCRIPT_NAMES:  # every script compiles
            await redis.script_load(script_source(name))
    finally:
        await redis.aclose()
