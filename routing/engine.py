"""The routing engine: every change to live state, as calls of the atomic Lua scripts.

Web processes and the worker share one Engine per process. Methods take and return plain
values; socket code never talks to Redis for routing itself.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from config.settings import Settings
from records import ESCALATION_REASONS as RECORDED_REASONS
from records import replies
from records.keyspace import Keys
from routing import envelope, estimate, frames, histograms, texts
from routing.errors import IllegalTransition, RoutingError
from routing.scripts import Scripts
from routing.states import ConvState, ShiftAction, ShiftState

MISSED_OFFERS_BEFORE_BREAK = 2
MATCH_SCAN_LIMIT = 500  # queue entries one matching pass looks at (as in _lib.lua)
MATCH_IDS_PER_PASS = 64  # offers one match.lua call may make
MAX_NOTES = 500  # notes and whispers kept per conversation; the oldest go first

_ERROR_MESSAGES = {
    "unknown": ("not_allowed", "no such conversation is assigned to you"),
    "ended": ("not_allowed", "the conversation has ended"),
    "not_allowed": ("not_allowed", "that conversation is not assigned to you"),
    "offer_gone": ("offer_gone", "the offer expired, was revoked or was declined"),
    "not_available": ("not_available", "that peer is not on shift with a free slot"),
    "not_ended": ("not_allowed", "only an ended conversation can be forgotten"),
}


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_now() -> str:
    """Now as ISO 8601 UTC with milliseconds, e.g. ``2026-11-25T04:20:00.123Z``."""
    return iso_ms(now_ms())


def iso_ms(ms: int) -> str:
    """``ms`` (milliseconds since the Unix epoch) as ISO 8601 UTC with milliseconds, e.g.
    ``2026-11-25T04:20:00.123Z``: the text of :func:`iso_now` at that instant."""
    second, milli = divmod(ms, 1000)
    return f"{_iso_second(second)}.{milli:03d}Z"


@functools.lru_cache(maxsize=4)  # every message is stamped, and most share their second
def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    """An unguessable identifier (128 bits)."""
    return secrets.token_hex(16)


def _reasons(raw: str) -> tuple[str, ...]:
    return tuple(r for r in raw.split(",") if r)


def _err(reply: list[Any]) -> RoutingError:
    code = str(reply[1])
    public, message = _ERROR_MESSAGES.get(code, ("not_allowed", code.replace("_", " ")))
    return RoutingError(public, message)


# The contract's four, and wait_estimate (an addition): the estimated wait passed CHATD_WAIT_ESCALATE_S.
ESCALATION_REASONS = RECORDED_REASONS


@dataclass(frozen=True, slots=True)
class ChannelNeeds:
    """What a channel asks of routing for its conversations, stored with each at creation, so
    that routing names no channel.

    ``events``: a Redis list key that gets every seeker-facing frame as ``conv<TAB>frame`` (the
    SMS bridge turns them into texts; empty: none); ``idle_s``: the conversation ends after this
    long with no message (0: never); ``archive_delay_s``: the archive waits this long after the
    end (the bridge still needs the number for the closing text).
    """

    events: str = ""
    idle_s: float = 0.0
    archive_delay_s: float = 0.0

    def fields(self) -> dict[str, str | int]:
        return {"events": self.events, "idle_ms": int(self.idle_s * 1000),
                "archive_delay_ms": int(self.archive_delay_s * 1000)}


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one append did: the message's seq; ``duplicate`` when the client_id was stored
    before (nothing was done again); ``queued`` when it put the conversation in the queue;
    ``escalated``: the reasons it escalated the conversation for, in this same atomic step."""

    seq: int
    duplicate: bool = False
    queued: bool = False
    peers_on_shift: int = 0
    escalated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConvInfo:
    """A conversation's routing fields, typed: the one way code outside routing reads them."""

    id: str
    state: ConvState
    channel: str
    lang: str
    peer: str  # the assigned peer's username ("" when none)
    seq: int
    escalated: tuple[str, ...]
    risk: bool
    peer_name: str = ""  # the assigned peer's display name, as the seeker sees it
    ended_by: str = ""
    queued_ms: int = 0  # when it was last queued (Unix ms; 0: never)
    label: str = ""  # an SMS texter's label for peers ("" for web)
    last_seeker_ms: int = 0  # when the seeker last wrote (Unix ms; 0: never)
    last_peer_ms: int = 0  # when a peer last wrote in it


_INFO_FIELDS = ["state", "channel", "lang", "peer", "seq", "escalated", "risk", "peer_name", "ended_by", "queued",
                "label", "last_seeker", "last_peer"]


def _conv_info(conv: str, reply: Any) -> ConvInfo | None:
    h = replies.fields(reply)
    if h[0] is None:
        return None
    vals = [v or "" for v in h]
    return ConvInfo(id=conv, state=ConvState(vals[0]), channel=vals[1], lang=vals[2] or "en",
                    peer=vals[3], seq=int(vals[4] or 0), escalated=_reasons(vals[5]), risk=vals[6] == "1",
                    peer_name=vals[7], ended_by=vals[8], queued_ms=int(vals[9] or 0), label=vals[10],
                    last_seeker_ms=int(vals[11] or 0), last_peer_ms=int(vals[12] or 0))


def script_constants(settings: Settings) -> dict[str, Any]:
    """What the scripts say themselves: the crisis line and email, the escalation frame's text
    for each reason in each language (CONTRACT.md section 2, ``escalation``), and how long a
    conversation waits for a peer who speaks its language (section 3), how long an accepting
    peer has for its first message, and the seeker's reassurance when it is late."""
    line, email = settings.crisis_line, settings.crisis_email
    return {"crisis_line": line, "crisis_email": email, "lang_fallback_ms": int(settings.lang_fallback_s * 1000),
            "first_reply_ms": int(settings.first_reply_s * 1000),
            "texts": {"peer_soon": {lang: texts.text("peer_soon", lang) for lang in ("en", "fr")}},
            "escalation": {reason: {lang: texts.escalation_text(reason, lang, line, email) for lang in ("en", "fr")}
                           for reason in ESCALATION_REASONS}}


class Engine:
    """Live routing state in Redis, changed only through the Lua scripts."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys(settings.key_prefix)
        self.scripts = Scripts(redis, settings.key_prefix, script_constants(settings),
                               min_replicas=settings.redis_min_replicas)

    # --- conversations ----------------------------------------------------------------------
    async def create_conversation(self, channel: str, lang: str, *, label: str | None = None,
                                  extra: dict[str, str] | None = None, conv_id: str | None = None,
                                  needs: ChannelNeeds = ChannelNeeds()) -> tuple[str, str]:
        """A new conversation (state new); returns its id and the seeker's resume token.
        ``needs``: what its channel asks of routing (see :class:`ChannelNeeds`)."""
        conv, token = conv_id or new_id(), secrets.token_urlsafe(32)
        fields: dict[Any, str | int] = {"state": ConvState.NEW.value, "channel": channel, "lang": lang, "seq": 0,
                  "created": now_ms(), "created_at": iso_now(), "risk": "0", "escalated": "",
                  "peer": "", "offer": "", **needs.fields(), **({"label": label} if label else {}),
                  **(extra or {})}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.conv(conv), mapping=fields)
            pipe.sadd(self.keys.live, conv)
            if channel == "web":
                # Resumable for as long as the conversation can live plus the grace time.
                pipe.set(self.keys.resume(token_hash(token)), conv, ex=7 * 86400)
            pipe.hincrby(self.keys.stats, "conversations_created", 1)
            await pipe.execute()
        return conv, token

    async def resume(self, token: str) -> str | None:
        """The conversation of a resume token, or None. The lookup is by hash (constant time)."""
        conv = replies.text(await self.redis.get(self.keys.resume(token_hash(token))))
        if conv is None or not await self.redis.exists(self.keys.conv(conv)):
            return None
        return conv

    async def info(self, conv: str) -> ConvInfo | None:
        """The conversation's routing fields, or None when it does not exist."""
        return _conv_info(conv, await self.redis.hmget(self.keys.conv(conv), _INFO_FIELDS))

    async def infos(self, convs: list[str]) -> list[ConvInfo | None]:
        """:meth:`info` of each of ``convs``, in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conv in convs:
                pipe.hmget(self.keys.conv(conv), _INFO_FIELDS)
            results = await pipe.execute()
        return [_conv_info(conv, r) for conv, r in zip(convs, results, strict=True)]

    async def history(self, conv: str, after_seq: int = 0) -> list[str]:
        """Stored messages with ``seq > after_seq``, as their JSON texts, in order."""
        out = replies.texts(await self.redis.lrange(self.keys.log(conv), 0, -1))
        if after_seq <= 0:
            return out
        # seq starts at 1 and grows by 1, so the log index is seq - 1.
        return out[after_seq:]

    async def append(self, conv: str, sender: str, text: str, *, client_id: str = "", actor: str = "",
                     risk: bool = False, once_ttl_s: int = 0) -> AppendResult:
        """Store a message and run every step it triggers (queueing, escalation for no peer on
        shift or for risk), atomically; acknowledged only once this returns (it is in Redis).

        ``client_id`` makes a retry store nothing twice (the same result, ``duplicate``); with
        ``once_ttl_s`` it is unique across conversations for that long (an SMS MessageSid).
        Raises :class:`RoutingError` when the conversation is unknown or ended, or not the
        acting peer's.
        """
        now = now_ms()
        reply = await self.scripts.call(
            "append", conv, sender, client_id, text, iso_ms(now), now, actor,
            int(self.settings.wait_escalate_s * 1000), "1" if risk else "0",
            new_id() if sender == "seeker" else "", int(self.settings.offer_timeout_s * 1000), once_ttl_s)
        kind = str(reply[0])
        if kind == "err":
            raise _err(reply)
        if kind == "dup":
            return AppendResult(seq=int(reply[1]), duplicate=True)
        if kind == "queued":
            return AppendResult(seq=int(reply[1]), queued=True, peers_on_shift=int(reply[2]),
                                escalated=_reasons(reply[3]))
        accepted = reply[3] if len(reply) > 3 else b""
        if accepted:  # a peer's first message (marked once per conversation by the script)
            await histograms.observe(self.redis, self.keys, "first_reply", max(0, now - int(accepted)) / 1000)
        return AppendResult(seq=int(reply[1]), escalated=_reasons(reply[2]))

    async def confirm_replicated(self) -> None:
        """Wait until ``CHATD_REDIS_MIN_REPLICAS`` replicas have every write made so far; raises
        ``routing.scripts.NotReplicated`` (a RedisError) when they do not confirm within a second.
        For acknowledging again a step an earlier attempt did (:meth:`append` waits by itself)."""
        await self.scripts.confirm_replicated()

    async def end(self, conv: str, by: str, *, actor: str = "", outcome: str = "",
                  only_if_detached: bool = False) -> bool:
        """End a conversation. Returns False when it had already ended."""
        archive_at = now_ms()
        reply = await self.scripts.call("end", conv, by, actor, outcome, now_ms(),
                                        int(self.settings.debrief_s * 1000), archive_at,
                                        "1" if only_if_detached else "0")
        if str(reply[0]) == "err":
            if str(reply[1]) in ("ended", "attached"):
                return False
            raise _err(reply)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(self.keys.stats, f"conversations_ended_{by}", 1)
            pipe.hget(self.keys.conv(conv), "accepted")
            _, accepted = await pipe.execute()
        if not accepted:  # ended before any peer accepted it: abandoned, by whom
            await self.redis.hincrby(self.keys.stats, f"abandoned_{by}", 1)
        return True

    async def escalate(self, conv: str, reason: str, *, actor: str = "", only_if_queued: bool = False) -> bool:
        """Escalate: a peer's (``peer``, by ``actor``) or the worker's (``wait_timeout``).

        A peer's escalation is refused, with :class:`RoutingError` ``not_allowed``, unless the
        conversation is active and assigned to ``actor``: checked in the same atomic step, so a
        conversation that ends or moves meanwhile is not escalated in its name. The worker's
        returns False when it was a repeat or no longer applies. An unknown conversation
        raises :class:`RoutingError` ``unknown_conversation``.
        """
        reply = await self.scripts.call("escalate", conv, reason, now_ms(), "1" if only_if_queued else "0", actor)
        if str(reply[0]) == "err":
            why = str(reply[1])
            if actor:
                raise _err(reply)
            if why in ("dup", "not_queued", "ended"):
                return False
            if why == "unknown":
                raise RoutingError("unknown_conversation", "no such conversation")
            raise _err(reply)
        return True

    async def no_first_reply(self, conv: str, stage: str) -> bool:
        """The peer who took ``conv`` has not written yet: ``nudge`` its console, or (``alert``)
        alert supervisors and reassure the seeker (noreply.lua). False when it no longer applies."""
        reply = await self.scripts.call("noreply", conv, stage, now_ms(), iso_now())
        return str(reply[0]) == "ok"

    async def forget(self, conv: str) -> None:
        reply = await self.scripts.call("forget", conv)
        if str(reply[0]) == "err":
            raise _err(reply)

    async def set_survey(self, conv: str, rating: int) -> None:
        await self.redis.hset(self.keys.conv(conv), "survey", rating)

    async def check_in(self, conv: str, feeling: int | None, safe: str | None) -> tuple[str, ...]:
        """Store the seeker's check-in (checkin.lua); the reasons it escalated the conversation for
        just now ("not safe": ``risk``, and queued at the front). Refused (``not_allowed``) once a
        peer has it or it ended."""
        reply = await self.scripts.call("checkin", conv, "" if feeling is None else feeling, safe or "", now_ms(),
                                        int(self.settings.wait_escalate_s * 1000))
        if str(reply[0]) == "err":
            code = str(reply[1])
            raise RoutingError("not_allowed", "the check-in is only before a peer joins" if code == "not_allowed"
                               else _ERROR_MESSAGES.get(code, ("", code))[1])
        return _reasons(str(reply[1]))

    async def set_end_feeling(self, conv: str, feeling: int) -> None:
        await self.redis.hset(self.keys.conv(conv), "end_feeling", feeling)

    async def set_language(self, conv: str, lang: str) -> None:
        """The conversation's language (``en``/``fr``), set by its peer: the language of the texts
        the service writes into it, and of an SMS conversation's texts."""
        await self.redis.hset(self.keys.conv(conv), mapping={"lang": lang, "sms_lang": lang})

    async def seeker_typing(self, conv: str) -> None:
        """The seeker is typing: tell the assigned peer's consoles, when a peer is assigned."""
        info = await self.info(conv)
        if info is not None and info.state == ConvState.ACTIVE and info.peer:
            frame = frames.encode(frames.PeerTyping(conversation=conv))
            await self.redis.publish(self.keys.ch_peer(info.peer), envelope.pack(0, conv, frame))

    async def peer_typing(self, conv: str) -> None:
        """The peer is typing: tell the seeker's sockets (the caller checked the assignment)."""
        frame = frames.encode(frames.SeekerTyping())
        await self.redis.publish(self.keys.ch_seeker(conv), envelope.pack(0, conv, frame))

    async def add_note(self, conv: str, author: str, text: str, *, whisper: bool, to_peer: str,
                       copy_to: str = "") -> None:
        """A note (or a supervisor's whisper) on a conversation, by ``author`` (display name).

        Kept with the conversation (its next peer and a reconnecting console see them; the
        last MAX_NOTES), and sent to ``to_peer``, to monitors and to ``copy_to`` (the
        whispering supervisor): on peer and monitor channels only, never on a seeker's.
        """
        at = iso_now()
        stored = frames.encode(frames.StoredNote(from_=author, text=text, at=at, whisper=whisper))
        frame = frames.encode(frames.Note(conversation=conv, from_=author, text=text, at=at, whisper=whisper))
        env = envelope.pack(0, conv, frame)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.keys.notes(conv), stored)
            pipe.ltrim(self.keys.notes(conv), -MAX_NOTES, -1)
            pipe.publish(self.keys.ch_peer(to_peer), env)
            pipe.publish(self.keys.ch_monitor(conv), env)
            if copy_to and copy_to != to_peer:
                pipe.publish(self.keys.ch_peer(copy_to), env)
            await pipe.execute()

    # --- offers ----------------------------------------------------------------------------
    async def accept(self, offer: str, peer: str) -> str:
        now = now_ms()
        reply = await self.scripts.call("accept", offer, peer, now, iso_now(),
                                        texts.text("joined", "en"), texts.text("joined", "fr"))
        if str(reply[0]) == "err":
            raise _err(reply)
        conv = str(reply[1])
        queued = replies.text(await self.redis.hget(self.keys.conv(conv), "queued"))
        if queued:
            await histograms.observe(self.redis, self.keys, "queue_wait", max(0, now - int(queued)) / 1000)
        return conv

    async def decline(self, offer: str, peer: str) -> None:
        reply = await self.scripts.call("release_offer", offer, peer, "decline", MISSED_OFFERS_BEFORE_BREAK)
        if str(reply[0]) == "err":
            raise _err(reply)

    async def expire_offer(self, offer: str) -> bool:
        reply = await self.scripts.call("release_offer", offer, "", "expire", MISSED_OFFERS_BEFORE_BREAK)
        return str(reply[0]) == "ok"

    async def release(self, conv: str, from_peer: str, to_peer: str | None, *, reason: str = "transfer") -> None:
        """Transfer to ``to_peer`` (an offer), or back to the head of the queue when None."""
        key = "peer_lost" if reason == "grace" else "transferred"
        now = now_ms()
        reply = await self.scripts.call(
            "release", conv, from_peer, to_peer or "", new_id(), now,
            now + int(self.settings.offer_timeout_s * 1000), int(self.settings.wait_escalate_s * 1000),
            iso_now(), texts.text(key, "en"), texts.text(key, "fr"))
        if str(reply[0]) == "err":
            raise _err(reply)

    # --- peers ------------------------------------------------------------------------------
    async def shift(self, peer: str, action: ShiftAction, *, capacity: int = 1, display: str = "",
                    role: str = "peer", languages: tuple[str, ...] = ("en", "fr")) -> tuple[ShiftState, ShiftState]:
        """Change a peer's shift; on start, ``languages`` (its account's) go with its presence,
        for language-first matching."""
        reply = await self.scripts.call("shift", peer, action.value, capacity, now_ms(), display, role,
                                        ",".join(languages))
        if str(reply[0]) == "err":
            raise IllegalTransition("shift", str(reply[2]), action.value)
        return ShiftState(str(reply[1])), ShiftState(str(reply[2]))

    async def peer_state(self, peer: str) -> ShiftState:
        state = replies.text(await self.redis.hget(self.keys.peer(peer), "state"))
        return ShiftState(state) if state else ShiftState.OFF

    async def peer_conversations(self, peer: str) -> list[str]:
        return sorted(replies.texts(await self.redis.smembers(self.keys.peer_convs(peer))))

    async def peer_offers(self, peer: str) -> list[str]:
        """Pending offer frames of a peer (re-sent to a reconnecting console), built by the same
        Lua function as the offer itself (``offer_frame`` in _lib.lua), in one round trip."""
        return replies.texts(await self.scripts.call("offers", peer, now_ms()))

    async def shift_frame(self, peer: str) -> frames.Shift:
        """The peer's shift frame, as publish_shift in _lib.lua builds it."""
        h = replies.fields(await self.redis.hmget(self.keys.peer(peer), ["state", "capacity", "active",
                                                                         "debrief_until"]))
        debrief = int(h[3] or 0)
        return frames.Shift(state=h[0] or "off", capacity=int(h[1] or 0), active=int(h[2] or 0),
                            debrief_until=debrief / 1000 if debrief else None)

    async def assigned_frame(self, conv: str, kind: str = "assigned") -> str | None:
        frame: str | None = await self.scripts.call("assigned", conv, kind)
        return frame or None

    async def end_debrief(self, peer: str) -> None:
        await self.scripts.call("debrief_end", peer, now_ms())

    # --- presence ---------------------------------------------------------------------------
    async def attach(self, kind: str, ident: str, socket_id: str, proc: str) -> None:
        await self.scripts.call("presence", "attach", kind, ident, socket_id, proc, 0)

    async def detach(self, kind: str, ident: str, socket_id: str, proc: str) -> None:
        grace_s = self.settings.seeker_grace_s if kind == "seeker" else self.settings.peer_grace_s
        await self.scripts.call("presence", "detach", kind, ident, socket_id, proc,
                                now_ms() + int(grace_s * 1000))

    # --- queue ------------------------------------------------------------------------------
    async def queue_counts(self) -> tuple[int, int]:
        """(conversations waiting, peers on shift)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.keys.queue)
            pipe.scard(self.keys.on_shift)
            waiting, on = await pipe.execute()
        return int(waiting), int(on)

    async def positions(self, convs: list[str]) -> tuple[list[int | None], int]:
        """Each conversation's 1-based place in line (None when not queued), and peers on shift."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for conv in convs:
                pipe.zrank(self.keys.queue, conv)
            pipe.scard(self.keys.on_shift)
            replies = await pipe.execute()
        return [None if r is None else int(r) + 1 for r in replies[:-1]], int(replies[-1])

    async def wait_estimates(self, positions: list[int | None], peers_on_shift: int,
                             ) -> list[frames.WaitEstimate | None]:
        """The rounded wait estimate of each place in line (None: not queued, or not enough data)."""
        accepts = estimate.parse_accepts(replies.texts(await self.redis.lrange(self.keys.accepts, 0, -1)))
        now = now_ms()
        out: list[frames.WaitEstimate | None] = []
        for position in positions:
            est = estimate.estimate(position, peers_on_shift, accepts, now) if position else None
            out.append(None if est is None else frames.WaitEstimate(minutes=est.minutes, more_than=est.more_than))
        return out

    async def escalate_long_waits(self) -> list[str]:
        """Escalate (``wait_estimate``) each queued conversation whose estimated wait passes
        CHATD_WAIT_ESCALATE_S, once: the crisis line at once, not after the long wait."""
        queued = replies.texts(await self.redis.zrange(self.keys.queue, 0, MATCH_SCAN_LIMIT - 1))
        if not queued:
            return []
        on = int(await self.redis.scard(self.keys.on_shift))
        accepts = estimate.parse_accepts(replies.texts(await self.redis.lrange(self.keys.accepts, 0, -1)))
        now, done = now_ms(), []
        for position, info in enumerate(await self.infos(queued), start=1):
            if info is None or "wait_estimate" in info.escalated:
                continue
            seconds = estimate.wait_s(position, on, accepts, now)
            too_long = seconds is not None and seconds > self.settings.wait_escalate_s
            if too_long and await self.escalate(info.id, "wait_estimate", only_if_queued=True):
                done.append(info.id)
        return done

    async def match(self) -> int:
        """Matching passes (match.lua: planned and made atomically) until no offer is left to
        make. Returns offers made."""
        made = 0
        while True:
            ids = [new_id() for _ in range(MATCH_IDS_PER_PASS)]
            reply = await self.scripts.call("match", now_ms(), int(self.settings.offer_timeout_s * 1000),
                                            MATCH_SCAN_LIMIT, *ids)
            made += int(reply[0])
            if not int(reply[1]):
                return made
