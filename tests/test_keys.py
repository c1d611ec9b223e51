"""Every Redis key name is built in records/keyspace.py, and the Lua that builds names builds the same."""

from __future__ import annotations

import ast
import itertools
from importlib import resources
from pathlib import Path

from redis.asyncio import Redis

from records.keyspace import Keys
from routing.scripts import SCRIPT_NAMES, script_source
from tests.conftest import RedisServer

ROOT = Path(__file__).resolve().parent.parent
SOURCE_PACKAGES = ("chatd", "config", "peers", "records", "routing", "sms", "bench")
KEYSPACE = Path("records/keyspace.py")

PROBE = """
return {K.conv('c1'), K.log('c1'), K.cids('c1'), K.declined('c1'), K.esc('c1'), K.notes('c1'), K.peer('u1'),
        K.peer_convs('u1'), K.peer_offers('u1'), K.offer('o1'), K.conns('seeker', 'c1'), K.queue, K.live,
        K.on_shift, K.shifting, K.timers, K.wake, K.worker, K.sms_events, K.stats, K.ch_seeker('c1'),
        K.ch_monitor('c1'), K.ch_peer('u1'), K.ch_sup, K.ch_queue, K.once('i1'), K.accepts}
"""


async def test_lua_and_python_key_names_agree(redis_server: RedisServer) -> None:
    k = Keys("pfx")
    expected = [k.conv("c1"), k.log("c1"), k.cids("c1"), k.declined("c1"), k.esc("c1"), k.notes("c1"), k.peer("u1"),
                k.peer_convs("u1"), k.peer_offers("u1"), k.offer("o1"), k.conns("seeker", "c1"), k.queue, k.live,
                k.on_shift, k.shifting, k.timers, k.wake, k.worker, k.sms_events, k.stats, k.ch_seeker("c1"),
                k.ch_monitor("c1"), k.ch_peer("u1"), k.ch_sup, k.ch_queue, k.once("i1"), k.accepts]
    lib = script_source("forget").split("\n-- forget:")[0]
    redis = Redis.from_url(redis_server.url)
    try:
        got = await redis.eval(lib + PROBE, 0, "pfx")
        assert [g.decode() for g in got] == expected
        for name in SCRIPT_NAMES:  # every script compiles
            await redis.script_load(script_source(name))
    finally:
        await redis.aclose()


async def test_sms_inbound_lua_reads_the_conversation_hash_keyspace_names(redis_server: RedisServer) -> None:
    """sms/inbound.lua builds a conversation's hash name from ``conv("")`` and an id: it finds the
    hash at ``Keys.conv(id)``, and clears a claim on a conversation that ended there."""
    k = Keys("pfx")
    inbound = resources.files("sms").joinpath("inbound.lua").read_text(encoding="utf-8")
    redis = Redis.from_url(redis_server.url)
    try:
        await redis.delete(k.conv("c1"), k.sms.open("nh"), k.sms.lang("nh"), k.once("SM1"))
        await redis.hset(k.conv("c1"), mapping={"state": "active", "sms_lang": "fr"})
        await redis.set(k.sms.open("nh"), "c1")
        keys, args = [k.once("SM1"), k.sms.open("nh"), k.sms.lang("nh")], [k.conv("")]
        assert [v.decode() for v in await redis.eval(inbound, 3, *keys, *args)] == ["ok", "c1", "fr"]
        await redis.hset(k.conv("c1"), "state", "ended")
        assert [v.decode() for v in await redis.eval(inbound, 3, *keys, *args)] == ["ok", "", ""]
        assert await redis.get(k.sms.open("nh")) is None
    finally:
        await redis.delete(k.conv("c1"))
        await redis.aclose()


def _prefix_fstrings(path: Path) -> list[int]:
    """Lines of f-strings that put a ``prefix`` before a ':' (the shape of a key name)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.JoinedStr):
            continue
        parts = node.values
        for part, after in itertools.pairwise(parts):
            if (isinstance(part, ast.FormattedValue) and "prefix" in ast.unparse(part.value)
                    and isinstance(after, ast.Constant) and str(after.value).startswith(":")):
                lines.append(node.lineno)
    return lines


def test_no_module_but_the_keyspace_builds_key_names() -> None:
    found = {f"{path.relative_to(ROOT)}:{line}"
             for package in SOURCE_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
             if path.relative_to(ROOT) != KEYSPACE for line in _prefix_fstrings(path)}
    assert found == set()
    assert _prefix_fstrings(ROOT / KEYSPACE)  # the check does see the keyspace's own names
