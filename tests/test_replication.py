"""CHATD_REDIS_MIN_REPLICAS: nothing is acknowledged before a replica has it (Redis WAIT, once per
pipelined batch); unconfirmed in a second, the sender is answered ``unavailable`` and its retry
with the same client_id is stored once. A real primary and a real replica."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chatd.redis_client import close_redis, connect_redis
from config.settings import Settings
from routing.engine import Engine
from sms.hashing import number_hash
from sms.signature import compute_signature
from sms.twilio_server import LocalTwilio, new_sid
from tests.conftest import Harness, Running
from tests.engines import RedisServer
from tests.helpers import WS, t

SID, TOKEN, FROM, TEXTER = "AC" + "2" * 32, "twilio-test-token-replication-000", "+15550002222", "+16135550177"


class Pair:
    """A primary and a replica of it (no Sentinels: nothing here fails over)."""

    def __init__(self, directory: Path) -> None:
        self.primary = RedisServer(directory / "primary")
        self.replica = RedisServer(directory / "replica", ["--replicaof", "127.0.0.1", str(self.primary.port)])

    async def replica_in_sync(self) -> None:
        client = self.primary.client()
        try:
            for _ in range(int(t(20) / 0.05)):
                info: dict[str, Any] = await client.info("replication")
                replica = info.get("slave0")
                if isinstance(replica, dict) and replica.get("state") == "online":
                    return
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()
        raise AssertionError("the replica never came online")

    async def calls(self, command: str) -> int:
        """How many times the primary ran ``command`` (INFO commandstats)."""
        client = self.primary.client()
        try:
            stats: dict[str, Any] = await client.info("commandstats")
        finally:
            await client.aclose()
        return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    servers = Pair(tmp_path_factory.mktemp("replicated"))
    servers.primary.start()
    servers.replica.start()
    try:
        yield servers
    finally:
        servers.replica.stop()
        servers.primary.stop()


@pytest.fixture
async def replicated(pair: Pair, base_settings: Settings) -> AsyncIterator[Settings]:
    """This test's settings, on the pair with one replica to wait for; the replica runs again after."""
    await pair.replica_in_sync()
    try:
        yield base_settings.with_changes(redis_url=pair.primary.url, redis_min_replicas=1)
    finally:
        if pair.replica.proc is None:
            pair.replica.start()


async def test_one_wait_per_pipelined_batch_not_per_message(pair: Pair, replicated: Settings) -> None:
    """Fifty messages sent at once: the first goes at once, alone, and the 49 made while it was
    on its way travel as one pipeline: the primary runs WAIT twice for the fifty, not fifty
    times; steps that acknowledge nothing (presence) never wait."""
    redis = connect_redis(replicated)
    engine = Engine(redis, replicated)
    try:
        convs = [(await engine.create_conversation("web", "en"))[0] for _ in range(51)]
        await engine.append(convs.pop(), "seeker", "loads the script", client_id="warm")
        waits, scripts = await pair.calls("wait"), await pair.calls("evalsha")
        results = await asyncio.gather(*(engine.append(conv, "seeker", f"message {i}", client_id=f"c{i}")
                                         for i, conv in enumerate(convs)))
        assert [(r.seq, r.duplicate) for r in results] == [(1, False)] * 50
        assert await pair.calls("evalsha") - scripts == 50
        assert await pair.calls("wait") - waits == 2
        await asyncio.gather(*(engine.attach("seeker", conv, f"sock{i}", "proc") for i, conv in enumerate(convs)))
        assert await pair.calls("wait") - waits == 2
    finally:
        await engine.scripts.aclose()
        await close_redis(redis)


async def _answer(ws: WS, client_id: str) -> dict[str, Any]:
    """The answer to a message: its ack, or an error (which names no client_id)."""
    for _ in range(50):
        frame = await ws.next_of(("ack", "error"), timeout=5)
        if frame["type"] == "error" or frame["client_id"] == client_id:
            return frame
    raise AssertionError("no answer")


async def test_no_ack_before_a_replica_has_it_and_the_retry_is_stored_once(
        pair: Pair, replicated: Settings, harness: Harness) -> None:
    harness.settings = replicated
    srv = await harness.start(redis_url=pair.primary.url)
    seeker, welcome = await harness.seeker(server=srv)
    await seeker.send(type="message", client_id="m1", text="before")
    assert (await _answer(seeker, "m1"))["seq"] == 1
    pair.replica.stop()
    await seeker.send(type="message", client_id="m2", text="while the replica is away")
    answer = await _answer(seeker, "m2")
    assert (answer["type"], answer["code"]) == ("error", "unavailable")
    await seeker.none("ack", within=1.5)
    pair.replica.start()
    await pair.replica_in_sync()
    await seeker.send(type="message", client_id="m2", text="while the replica is away")
    assert (await _answer(seeker, "m2"))["seq"] == 2
    history = [json.loads(m) for m in await srv.services.engine.history(welcome["conversation"])]
    assert [(m["seq"], m["text"]) for m in history if m["from"] == "seeker"] == \
        [(1, "before"), (2, "while the replica is away")]


async def _text(srv: Running, body: str, sid: str) -> httpx.Response:
    params = {"MessageSid": sid, "AccountSid": SID, "From": TEXTER, "To": FROM, "Body": body, "NumMedia": "0"}
    signature = compute_signature(TOKEN, srv.url + "/sms/inbound", params)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return await http.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})


async def test_the_sms_webhook_answers_503_until_a_replica_has_the_text(
        pair: Pair, replicated: Settings, harness: Harness) -> None:
    """Twilio's 200 is the texter's acknowledgement: it waits for the replica too, and Twilio's
    retry of the same MessageSid stores the text once."""
    twilio = LocalTwilio(SID, TOKEN)
    await twilio.start()
    try:
        harness.settings = replicated.with_changes(twilio_account_sid=SID, twilio_auth_token=TOKEN,
                                                   twilio_from_number=FROM, twilio_api_base=twilio.base_url)
        srv = await harness.start(redis_url=pair.primary.url)
        assert (await _text(srv, "first text", new_sid())).status_code == 200
        pair.replica.stop()
        sid = new_sid()
        assert (await _text(srv, "second text", sid)).status_code == 503
        # Twilio's retry finds the text stored, but no replica has it yet: not acknowledged either.
        assert (await _text(srv, "second text", sid)).status_code == 503
        pair.replica.start()
        await pair.replica_in_sync()
        assert (await _text(srv, "second text", sid)).status_code == 200
        conv = await srv.services.sms.open_conversation(number_hash(srv.settings.secret_key, TEXTER))
        texts = [json.loads(m)["text"] for m in await srv.services.engine.history(conv)]
        assert [x for x in texts if x.endswith(" text")] == ["first text", "second text"]
    finally:
        await twilio.aclose()
