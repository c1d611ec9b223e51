"""routing/envelope.py reads what routing/_lib.lua builds: envelopes and events list items."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from records.keyspace import Keys
from routing import envelope
from routing.scripts import script_source
from tests.conftest import RedisServer

# A frame whose text holds a tab (escaped by JSON) and non-ASCII characters.
FRAME = json.dumps({"type": "message", "text": "a\tb é"}, ensure_ascii=False)

PROBE = """
redis.call('HSET', K.conv('c1'), 'events', ARGV[3])
to_seeker('c1', 7, ARGV[2])
return {envelope(7, 'c1', ARGV[2]), envelope(0, '-', ARGV[2])}
"""


async def test_lua_built_envelopes_and_events_unpack_to_their_fields(redis_server: RedisServer) -> None:
    k = Keys("envpfx")
    lib = script_source("forget").split("\n-- forget:")[0]
    redis = Redis.from_url(redis_server.url)
    try:
        await redis.delete(k.conv("c1"), k.sms_events)
        message, shift = await redis.eval(lib + PROBE, 0, "envpfx", FRAME, k.sms_events)
        assert envelope.unpack(message.decode()) == envelope.Envelope(7, "c1", FRAME)
        assert envelope.unpack(shift.decode()) == envelope.Envelope(0, envelope.NO_CONV, FRAME)
        assert envelope.pack(7, "c1", FRAME) == message.decode()
        [item] = await redis.lrange(k.sms_events, 0, -1)
        assert envelope.unpack_event(item.decode()) == envelope.Event("c1", FRAME)
    finally:
        await redis.delete(k.conv("c1"), k.sms_events)
        await redis.aclose()


def test_a_control_envelope_unpacks_as_control() -> None:
    env = envelope.unpack(envelope.pack_control("kick", "*"))
    assert env == envelope.Envelope(0, "kick", "*", control=True)


@pytest.mark.parametrize("data", [
    pytest.param("", id="empty"),
    pytest.param("5\tc1", id="no-frame"),
    pytest.param("x\tc1\t{}", id="seq-not-a-number"),
])
def test_what_is_not_an_envelope_is_refused(data: str) -> None:
    with pytest.raises(ValueError):
        envelope.unpack(data)
