"""Archiving an ended conversation from Redis into the durable records, idempotently, and retention.

Forget races archive: ``forget`` marks the conversation forgotten and deletes its log in one
Redis step, then deletes the archived texts. Archive reads flag and log in one MULTI, writes, and
reads the flag again afterwards; if forget happened in between, archive deletes what it wrote.
Either order ends with no text stored.
"""

from __future__ import annotations

import json
import time

from redis.asyncio import Redis

from config.settings import Settings
from records import ArchivedMessage, ArchivedNote, ConversationRecord, Escalation, Records, replies
from records.keyspace import Keys
from routing.engine import Engine

MIN_REDIS_KEEP_S = 60
LIVE_BATCH = 200  # conversations read from Redis per round trip


def _int(v: str | None) -> int | None:
    return int(v) if v else None


def conversation_row(conv: str, h: dict[str, str], esc: list[str]) -> ConversationRecord:
    """The records' row of a conversation from its Redis hash and escalation list (live or ended)."""
    first_queued = _int(h.get("first_queued"))
    accepted, ended = _int(h.get("accepted")), _int(h.get("ended"))
    wait_end = accepted or ended
    escalations: list[Escalation] = []
    for item in esc:
        reason, _, at = item.partition("|")
        escalations.append({"reason": reason, "at_ms": int(at or 0)})
    return {
        "id": conv, "channel": h.get("channel"), "lang": h.get("lang"), "created_ms": _int(h.get("created")),
        "queued_ms": first_queued, "accepted_ms": accepted, "ended_ms": ended, "ended_by": h.get("ended_by"),
        "outcome": h.get("outcome") or None,
        "wait_s": (wait_end - first_queued) / 1000 if first_queued and wait_end else None,
        "peer": h.get("peer") or h.get("last_peer") or None, "escalations": escalations,
        "risk": h.get("risk") == "1", "survey": _int(h.get("survey")), "label": h.get("label") or None,
        "number_hash": h.get("number_hash") or None, "forgotten": h.get("forgotten") == "1",
        "checkin_feeling": _int(h.get("checkin_feeling")), "checkin_safe": h.get("checkin_safe") or None,
        "end_feeling": _int(h.get("end_feeling")),
    }


async def live_rows(redis: Redis, k: Keys) -> list[ConversationRecord]:
    """The rows of conversations not yet in the records as ended: live ones (``P:live``) and
    ended ones whose archive is still due (an ``archive`` timer), each queued at least once.

    Statistics upsert these before they count (``Records.record_live_conversations``)."""
    convs = set(replies.texts(await redis.smembers(k.live)))
    convs.update(m.partition("|")[2] for m in replies.texts(await redis.zrange(k.timers, 0, -1))
                 if m.startswith("archive|"))
    rows: list[ConversationRecord] = []
    ordered = sorted(convs)
    for start in range(0, len(ordered), LIVE_BATCH):
        batch = ordered[start:start + LIVE_BATCH]
        async with redis.pipeline(transaction=False) as pipe:
            for conv in batch:
                pipe.hgetall(k.conv(conv))
                pipe.lrange(k.esc(conv), 0, -1)
            found = await pipe.execute()
        for i, conv in enumerate(batch):
            h: dict[str, str] = found[2 * i]
            if h and h.get("first_queued"):
                rows.append(conversation_row(conv, h, found[2 * i + 1]))
    return rows


async def archive(engine: Engine, store: Records, settings: Settings, conv: str) -> bool:
    """Copy an ended conversation to the records; True when it was archived (now or before)."""
    k, redis = engine.keys, engine.redis
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hgetall(k.conv(conv))
        pipe.lrange(k.log(conv), 0, -1)
        pipe.lrange(k.esc(conv), 0, -1)
        pipe.lrange(k.notes(conv), 0, -1)
        raw, log, esc, raw_notes = await pipe.execute()
    h: dict[str, str] = raw
    if not h:
        return True  # archived before, and its Redis copy has expired
    if h.get("state") != "ended":
        return False
    forgotten = h.get("forgotten") == "1"
    row = conversation_row(conv, h, esc)
    keep_texts = settings.retention_days > 0 and not forgotten
    messages, notes = [], []
    if keep_texts:
        for m in log:
            obj = json.loads(m)
            messages.append(ArchivedMessage(int(obj["seq"]), str(obj["from"]), str(obj["text"]), str(obj["at"])))
        for n in raw_notes:
            obj = json.loads(n)
            notes.append(ArchivedNote(str(obj["from"]), str(obj["text"]), str(obj["at"]), bool(obj["whisper"])))
    await store.archive_conversation(row, messages, notes)
    if (messages or notes) and await redis.hget(k.conv(conv), "forgotten") == "1":
        await store.forget(conv)
    keep_s = max(int(settings.seeker_grace_s), MIN_REDIS_KEEP_S)
    async with redis.pipeline(transaction=True) as pipe:
        if settings.retention_days == 0:
            pipe.delete(k.log(conv), k.notes(conv))
        # The live copy stays a little longer so a returning seeker still sees 'ended'.
        for key in k.conv_keys(conv):
            pipe.expire(key, keep_s)
        pipe.hdel(k.conv(conv), "number")  # an SMS number never outlives the open conversation
        await pipe.execute()
    return True


async def purge(store: Records, settings: Settings, now_ms: int | None = None) -> int:
    """Delete archived texts of conversations that ended more than the retention time ago."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    return await store.purge(now - settings.retention_days * 86_400_000)
