"""The SMS bridge: Twilio webhooks in, texts out, into the same queue and console as the web.

Inbound (``POST /sms/inbound``, any web process): the signature is checked against
``CHATD_PUBLIC_URL`` + path; a ``MessageSid`` seen before stores nothing; keywords are handled
here (answered in the TwiML); any other text goes to the number's one open conversation
(opened and queued on first contact). The number lives only in that conversation's Redis
hash while it is open, keyed elsewhere by its HMAC; peers see "Texter 4F2A".

Outbound (the worker): the routing scripts push every seeker-facing frame of an SMS
conversation onto ``P:sms:events``; one consumer turns them into texts on the outbox (peer
and system messages, the in-line notice, escalations, closing texts). Delivery states go to
the assigned peer as ``delivery`` frames. Crash safety: an event is moved to a processing
list while handled and handled again after a restart (the outbox ignores a repeated seq).

The bridge is given what it uses (Redis, the routing engine, the records, the keyspace, the
settings, the risk matcher); chatd/sms_plugin.py starts it in a chatd process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, NamedTuple
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from config.cancellation import raise_if_cancelling
from config.logging import get_logger
from config.settings import Settings
from config.textrules import is_blank
from records import Records, replies
from records.keyspace import Keys
from routing import envelope, frames, hours
from routing import texts as routing_texts
from routing.engine import ChannelNeeds, Engine, new_id, now_ms
from routing.errors import RoutingError
from routing.risk import RiskMatcher
from routing.states import ConvState
from routing.worker import Worker
from sms.hashing import normalise_e164, number_hash, texter_label
from sms.keywords import Intent, checkin_feeling, classify
from sms.langid import LanguageGuesser
from sms.outbox import DeliveryState, Outbox
from sms.sender import TwilioSender
from sms.signature import is_valid_request
from sms.texts import Language, SmsTexts
from sms.webform import InvalidForm, form_items

log = get_logger(__name__)

NOTICE_SEQ_BASE = 1_000_000_000  # seqs of the service's own notices, apart from messages
SID_TTL_S = 3 * 86400
LANG_TTL_S = 90 * 86400
MAX_BODY = 1600 * 2
MAX_FORM_BYTES = 1024 * 1024  # Twilio's form is a few KB; a 100 KB body is still answered
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
OPEN_ATTEMPTS = 3
ARCHIVE_DELAY_S = 60.0  # the closing text goes out before the number leaves Redis
CONVS_TTL_S = 7 * 86400  # the number's conversations in Redis: well past any archive
WEBHOOK_TIMEOUT_S = 0.9  # Twilio is answered within one second, whatever happens
BAD_FORM = "bad request: not a form Twilio sends (percent-encoded UTF-8, at most 1 MiB and 1,000 fields)\n"
REPLY_PREFIX = "reply:"  # a MessageSid done with no message stored keeps its TwiML answer after this
MEDIA_SUFFIX = ":media"  # the client id of the line saying a text's picture was not shown: MessageSid + this
# Twilio's message SIDs: "SM" (SMS) or "MM" (MMS) and 32 hex digits; any id-safe token is taken.
_SID_RE = re.compile(r"[A-Za-z0-9]{2,64}")


async def _form(request: Request) -> list[tuple[str, str]] | None:
    """The webhook's form fields read exactly (sms/webform.py), or None for a body Twilio could
    not have sent (not UTF-8, raw bytes, over MAX_FORM_BYTES): answered 400, nothing changes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        log.warning("sms.webhook_malformed", why="too_large")
        return None
    body = await request.body()
    try:
        if len(body) > MAX_FORM_BYTES:
            raise InvalidForm("too large")
        return form_items(body)
    except InvalidForm:
        log.warning("sms.webhook_malformed", why="not_utf8")
        return None


def _media_count(raw: str) -> int:
    """Twilio's ``NumMedia``: how many pictures (or other media) came with the text; 0 when
    absent or not a number (``MediaUrl0``… are never fetched)."""
    if not (raw.isascii() and raw.isdigit()):
        return 0
    return 10 if len(raw) > 2 else min(int(raw), 10)  # never int() of thousands of digits


def twiml(text: str | None) -> Response:
    body = (EMPTY_TWIML if not text else
            f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>')
    return Response(body, media_type="application/xml")


@dataclass(frozen=True, slots=True)
class Credentials:
    account_sid: str
    auth_token: str
    from_number: str
    simulated: bool


def credentials(settings: Settings) -> Credentials:
    """The Twilio account, or the built-in simulator's (derived from the secret key, so every
    process of one deployment agrees on it)."""
    sid, token, number = settings.twilio_account_sid, settings.twilio_auth_token, settings.twilio_from_number
    if sid and token and number:
        return Credentials(sid, token, number, simulated=False)
    digest = hmac.new(settings.secret_key.encode(), b"chatd-sms-simulator", hashlib.sha256).hexdigest()
    return Credentials("AC" + digest[:32], digest[32:64], "+15550100000", simulated=True)


@dataclass(frozen=True, slots=True)
class SmsFields:
    """The bridge's own fields of an SMS conversation (routing's are :class:`routing.engine.ConvInfo`):
    the texter's number (None once it is gone), its keyed hash, and the language texts go out in
    (None: not known yet, texts are bilingual)."""

    number: str | None
    number_hash: str
    lang: Language | None


class SmsBridge:
    """Webhooks in, the consumer of ``P:sms:events`` out; one per process."""

    def __init__(self, *, redis: Redis, engine: Engine, records: Records, keys: Keys, settings: Settings,
                 risk: RiskMatcher, creds: Credentials, outbox: Outbox, sender: TwilioSender) -> None:
        self.redis = redis
        self.engine = engine
        self.records = records
        self.keys = keys
        self.sms_keys = keys.sms
        self.settings = settings
        self.risk = risk
        self.creds = creds
        self.outbox = outbox
        self.sender = sender
        self.texts = SmsTexts.from_settings(settings)
        self.langid = LanguageGuesser()  # loaded by start_sms (chatd/sms_plugin.py), in a thread
        # Texts out for every seeker-facing frame, an idle end, and the number kept past the end
        # long enough for the closing text.
        self.needs = ChannelNeeds(events=keys.sms_events, idle_s=settings.sms_idle_s, archive_delay_s=ARCHIVE_DELAY_S)
        package = resources.files("sms")
        self._lookup = self.redis.register_script(package.joinpath("inbound.lua").read_text(encoding="utf-8"))
        self._open_clear = self.redis.register_script(package.joinpath("open_clear.lua").read_text(encoding="utf-8"))

    # --- inbound ----------------------------------------------------------------------------
    async def inbound(self, request: Request) -> Response:
        """``POST /sms/inbound``: Twilio's Messaging webhook (CONTRACT.md section 4).

        A ``MessageSid`` counts as seen only once its work is done: the text stored with every
        step it triggers (one atomic append: queueing, escalation, the in-line notice's event),
        or the keyword's action taken. Any failure before that answers 503 and leaves nothing
        claimed, so Twilio's retry of the same ``MessageSid`` (docs/sms.md: connection
        overrides) completes the work, exactly once.
        """
        items = await _form(request)
        if items is None:
            return PlainTextResponse(BAD_FORM, status_code=400)
        if not is_valid_request(self.creds.auth_token, self.settings.public_url, request.url.path,
                                request.url.query, items, request.headers.get("x-twilio-signature")):
            log.warning("sms.forged_webhook")
            return PlainTextResponse("invalid signature\n", status_code=403)
        fields = dict(items)
        sid = fields.get("MessageSid", "")
        if not _SID_RE.fullmatch(sid):
            log.warning("sms.inbound_malformed", has_sid=bool(sid))
            return twiml(None)
        number = normalise_e164(fields.get("From", ""))
        if number is None:
            # A short code or an alphanumeric sender (a carrier's or a business's): no one to
            # answer or pair. Counted and logged, never with the sender.
            log.info("sms.sender_not_a_number", message_sid=sid)
            await self._count("sms_sender_not_a_number")
            return twiml(None)
        nhash = number_hash(self.settings.secret_key, number)
        media = _media_count(fields.get("NumMedia", ""))
        # Done means the text's last step is done: with a picture, the line saying it was not shown.
        done = self.keys.once(sid + MEDIA_SUFFIX if media else sid)
        try:
            async with asyncio.timeout(WEBHOOK_TIMEOUT_S):
                found = await self._lookup(keys=[done, self.sms_keys.open(nhash), self.sms_keys.lang(nhash)],
                                           args=[self.keys.conv("")])
                # A NUL cannot be stored (config/textrules.py); a text is never refused for one.
                body = fields.get("Body", "")[:MAX_BODY].replace("\x00", "\ufffd")
                if found[0] == "dup":
                    log.info("sms.inbound_duplicate", message_sid=sid)
                    # An earlier attempt did the work, but perhaps no replica has it yet: the 200
                    # acknowledges it, so it waits for them as the first answer would have.
                    await self.engine.confirm_replicated()
                    # Twilio retries when the first answer was lost: this one is what the texter gets.
                    return twiml(self._answer_again(found[1], found[2], body))
                conv, lang = found[1] or None, found[2] or None
                reply, marked = await self._handle(nhash, number, body, sid, conv,
                                                   Language(lang) if lang else None, media)
                if not marked:  # a stored text's last append marked it done already
                    await self.redis.set(done, REPLY_PREFIX + (reply or ""), ex=SID_TTL_S, nx=True)
        except Exception as exc:
            # Not done: nothing is claimed, so Twilio's retry (503) does the work.
            log.warning("sms.inbound_failed", message_sid=sid, error=type(exc).__name__)
            return PlainTextResponse("try again\n", status_code=503)
        return twiml(reply)

    def _answer_again(self, done: str, lang: str, body: str) -> str | None:
        """The TwiML answer to a copy of a text whose work is done: the answer kept with it, or
        for a text stored in a conversation, the crisis line again if it was HELP/AIDE."""
        if done.startswith(REPLY_PREFIX):
            return done[len(REPLY_PREFIX):] or None
        return self.texts.help(Language(lang) if lang else None) if classify(body).intent == Intent.HELP else None

    async def _count(self, counter: str) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(WEBHOOK_TIMEOUT_S):
                await self.redis.hincrby(self.keys.stats, counter, 1)

    async def open_conversation(self, nhash: str) -> str | None:
        conv = replies.text(await self.redis.get(self.sms_keys.open(nhash)))
        if conv is None:
            return None
        info = await self.engine.info(conv)
        if info is None or info.state == ConvState.ENDED:
            await self._open_clear(keys=[self.sms_keys.open(nhash)], args=[conv])
            return None
        return conv

    async def _handle(self, nhash: str, number: str, body: str, sid: str, conv: str | None,
                      lang: Language | None, media: int) -> tuple[str | None, bool]:
        """Act on one inbound text: the TwiML answer's text, if any, and whether the work was
        marked done already (a stored text's append marks it). Every step is safe to repeat: a
        retry after a failure part-way redoes what was not done and nothing twice.

        While the number has an open conversation and is not opted out, its texts are that
        conversation's words (a "Yes" answers the peer): only the opt-out keywords and
        DELETE/SUPPRIMER act there, as carriers require, and HELP/AIDE is answered with the
        crisis line *and* reaches the peer; FR/EN, while the texter's language is not known yet
        (the in-line notice invites them), also choose it. An opted-out number's keywords
        (START) always act.
        """
        records, engine = self.records, self.engine
        c = classify(body)
        if lang is None and c.language is not None and c.intent in (Intent.HELP, Intent.OPT_OUT, Intent.DELETE):
            # AIDE, ARRET, SUPPRIMER are French and HELP, DELETE English: answer in kind from now on.
            await self._set_lang(nhash, conv, c.language)
            lang = c.language
        if c.intent == Intent.OPT_OUT:
            await records.set_opt_out(nhash, True, now_ms())
            if conv is not None:
                await self.outbox.cancel_conversation(conv)
                await engine.end(conv, "seeker", outcome="opted_out")
            log.info("sms.opted_out", conversation=conv)
            return None, False  # Twilio's Advanced Opt-Out sends the confirmation
        if c.intent == Intent.DELETE:
            await self._forget_number(nhash, conv)
            return self.texts.deleted(lang or c.language), False
        if conv is not None and (c.intent == Intent.TEXT or not await records.is_opted_out(nhash)):
            chosen = c.language if c.intent == Intent.LANGUAGE and lang is None else None
            if chosen is not None:
                # The in-line notice of a texter whose language is not known asks "Reply FR". Set
                # first: the append below marks the MessageSid done, and a retry does no more.
                await self._set_lang(nhash, conv, chosen)
                lang = chosen
            try:
                marked = await self._to_conversation(nhash, number, body, sid, conv, lang, media,
                                                     may_open=c.intent == Intent.TEXT)
            except RoutingError:
                conv = None  # a keyword whose conversation ended this very moment: a keyword, below
            else:
                if media and not marked and is_blank(body):  # the conversation ended this very moment
                    return self.texts.media_not_shown(lang), False
                if c.intent == Intent.HELP:
                    return self.texts.help(lang), marked
                if chosen is not None:
                    return self.texts.language_set(chosen), marked
                return None, marked
        if c.intent == Intent.HELP:
            return self.texts.help(lang or c.language), False
        if c.intent == Intent.OPT_IN:
            await records.set_opt_out(nhash, False, now_ms())
            log.info("sms.opted_in")
            return self.texts.opted_in(lang or c.language), False
        if c.intent == Intent.LANGUAGE and c.language is not None:
            await self._set_lang(nhash, conv, c.language)
            return self.texts.language_set(c.language), False
        if is_blank(body):
            if media:
                # A picture with no words and no one to show it to: say so, and where help is.
                log.info("sms.media_not_shown", in_conversation=False, media=media)
                await self._count("sms_media_not_shown")
                return self.texts.media_not_shown(lang), False
            return None, False
        if lang is None and (guessed := self.langid.guess(body)) is not None:
            # The first text says which language it is in, clearly (sms/langid.py): reply in it.
            await self._set_lang(nhash, None, guessed)
            lang = guessed
            log.info("sms.language_identified", lang=guessed.value)
        return None, await self._to_conversation(nhash, number, body, sid, None, lang, media)

    async def _to_conversation(self, nhash: str, number: str, body: str, sid: str, conv: str | None,
                               lang: Language | None, media: int, *, may_open: bool = True) -> bool:
        """The text's words (and a line saying a picture was not shown) into the number's open
        conversation, opened and queued on first contact; each stored once per ``sid``. True
        when the last of them was stored, which marks the ``MessageSid`` done (append.lua).
        Without ``may_open`` (a keyword's word), a conversation that ended meanwhile raises
        :class:`RoutingError` instead of opening a new one (a keyword never opens one)."""
        marked = False
        if conv is None:
            conv = await self._open(nhash, number, lang)
        if not is_blank(body):
            was = conv
            conv = await self._append(nhash, number, conv, lang, "seeker", body, sid,
                                      risk=self.risk.matches(body), may_open=may_open)
            marked = not media
            if conv == was and (feeling := checkin_feeling(body)) is not None:
                await self._check_in(conv, feeling)
        if media:
            # Never fetched nor stored (docs/security.md); both sides see that it was not shown.
            log.info("sms.media_not_shown", conversation=conv, media=media)
            await self._count("sms_media_not_shown")
            try:  # the line never opens a conversation of its own
                await self.engine.append(conv, "system", routing_texts.text_for("media_not_shown", lang),
                                         client_id=sid + MEDIA_SUFFIX, once_ttl_s=SID_TTL_S)
                marked = True
            except RoutingError:
                pass  # it ended this very moment; with no words, the caller answers in TwiML
        return marked

    async def _append(self, nhash: str, number: str, conv: str, lang: Language | None, sender: str, text: str,
                      client_id: str, *, risk: bool = False, may_open: bool = True) -> str:
        """Append to ``conv``, or (``may_open``) to a new conversation when it ended meanwhile; its id."""
        engine = self.engine
        try:
            result = await engine.append(conv, sender, text, client_id=client_id, risk=risk, once_ttl_s=SID_TTL_S)
        except RoutingError:
            if not may_open:
                raise
            # It ended between our look and the append: open a new one for this text.
            await self._open_clear(keys=[self.sms_keys.open(nhash)], args=[conv])
            conv = await self._open(nhash, number, lang)
            result = await engine.append(conv, sender, text, client_id=client_id, risk=risk, once_ttl_s=SID_TTL_S)
        if result.queued:
            log.info("conversation.queued", conversation=conv, channel="sms", risk=risk)
        for reason in result.escalated:
            log.info("conversation.escalated", conversation=conv, reason=reason)
        return conv

    async def _check_in(self, conv: str, feeling: int) -> None:
        """A number 1..7 in reply to the in-line notice: the check-in's feeling, while no peer has
        the conversation yet (after that it is just a message, which it also is)."""
        try:
            await self.engine.check_in(conv, feeling, None)
            log.info("sms.checkin", conversation=conv)
        except RoutingError:
            pass

    async def _set_lang(self, nhash: str, conv: str | None, lang: Language) -> None:
        await self.redis.set(self.sms_keys.lang(nhash), lang.value, ex=LANG_TTL_S)
        if conv is not None:
            await self.engine.set_language(conv, lang.value)

    async def _open(self, nhash: str, number: str, lang: Language | None) -> str:
        """The number's open conversation, created if it has none (one per number).

        The conversation is created first and claimed second (SET NX), so the claim never names
        a conversation that does not exist yet: another process reading it in between would
        take it for ended and open a second one. A losing candidate is discarded.
        """
        candidate = new_id()
        await self.engine.create_conversation(
            "sms", (lang or Language.EN).value, label=texter_label(nhash), conv_id=candidate, needs=self.needs,
            extra={"number": number, "number_hash": nhash, "sms_lang": lang.value if lang else ""})
        # Remembered before it is claimed: DELETE reaches it from now until long after its archive.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(self.sms_keys.convs(nhash), candidate)
            pipe.expire(self.sms_keys.convs(nhash), CONVS_TTL_S)
            await pipe.execute()
        for _ in range(OPEN_ATTEMPTS):
            if await self.redis.set(self.sms_keys.open(nhash), candidate, nx=True):
                log.info("conversation.created", conversation=candidate, channel="sms")
                return candidate
            existing = await self.open_conversation(nhash)  # clears a claim on an ended one
            if existing is not None:
                await self._discard(candidate)
                return existing
        await self._discard(candidate)
        raise RuntimeError("could not claim the number's open conversation")  # webhook answers 503

    async def _discard(self, conv: str) -> None:
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*k.conv_keys(conv))
            pipe.srem(k.live, conv)
            await pipe.execute()

    async def _forget_number(self, nhash: str, conv: str | None) -> None:
        """DELETE/SUPPRIMER: end the open conversation and delete the texts of every conversation
        of the number: archived ones (records), and ones still in Redis, including one that
        ended a moment ago and is not archived yet (its archive then keeps no text)."""
        engine, records = self.engine, self.records
        if conv is not None:
            await self.outbox.cancel_conversation(conv)
            await engine.end(conv, "seeker", outcome="deleted")
        live = set(replies.texts(await self.redis.smembers(self.sms_keys.convs(nhash))))
        for old in {*(await records.forget_number(nhash)), *live, *([conv] if conv else [])}:
            info = await engine.info(old)
            if info is not None and info.state != ConvState.ENDED:
                await self.outbox.cancel_conversation(old)
                await engine.end(old, "seeker", outcome="deleted")
            with contextlib.suppress(RoutingError):
                await engine.forget(old)
            await records.forget(old)
        log.info("sms.deleted", conversation=conv, conversations=len(live))

    async def status(self, request: Request) -> Response:
        """``POST /sms/status``: Twilio's delivery status callback for a text we sent."""
        items = await _form(request)
        if items is None:
            return PlainTextResponse(BAD_FORM, status_code=400)
        if not is_valid_request(self.creds.auth_token, self.settings.public_url, request.url.path,
                                request.url.query, items, request.headers.get("x-twilio-signature")):
            return PlainTextResponse("invalid signature\n", status_code=403)
        fields = dict(items)
        if fields.get("MessageSid") and fields.get("MessageStatus"):
            await self.outbox.handle_status(fields["MessageSid"], fields["MessageStatus"],
                                            fields.get("ErrorCode") or None)
        return Response(status_code=204)

    # --- outbound ---------------------------------------------------------------------------
    async def on_delivery(self, conv: str, seq: int, state: DeliveryState, code: str | None) -> None:
        if seq >= NOTICE_SEQ_BASE:
            return
        info = await self.engine.info(conv)
        peer = info.peer if info is not None else ""
        frame = frames.encode(frames.Delivery(conversation=conv, seq=seq, state=state.value, code=code or None))
        k, env = self.keys, envelope.pack(0, conv, frame)
        async with self.redis.pipeline(transaction=False) as pipe:
            if peer:
                pipe.publish(k.ch_peer(peer), env)
            pipe.publish(k.ch_monitor(conv), env)
            await pipe.execute()

    async def delivery_frames(self, conv: str, seqs: list[int]) -> list[str]:
        """The latest ``delivery`` frame of each of ``seqs`` (peer messages of an SMS
        conversation), marked ``replay``: a console that reconnects, is handed the
        conversation or monitors it sees where each text stands without a second alert.
        """
        receipts = await self.outbox.receipts(conv, [seq for seq in seqs if seq < NOTICE_SEQ_BASE])
        return [frames.encode(frames.Delivery(conversation=conv, seq=seq, state=state.value, code=code or None,
                                              replay=True))
                for seq, (state, code) in sorted(receipts.items())]

    # --- the bridge's own conversation fields ------------------------------------------------
    async def sms_fields(self, conv: str) -> SmsFields:
        h = replies.fields(await self.redis.hmget(self.keys.conv(conv), ["number", "number_hash", "sms_lang"]))
        return SmsFields(number=h[0] or None, number_hash=h[1] or "", lang=Language(h[2]) if h[2] else None)

    async def _first_queued_notice(self, conv: str) -> bool:
        """True the first time only: the texter is told once that it is in line."""
        return bool(await self.redis.hsetnx(self.keys.conv(conv), "sms_queued_notice", "1"))

    async def _next_notice_seq(self, conv: str) -> int:
        """A seq for one of the service's own texts, apart from the conversation's messages."""
        return NOTICE_SEQ_BASE + int(await self.redis.hincrby(self.keys.conv(conv), "sms_notices", 1))

    async def consume(self, worker: Worker) -> None:
        """The worker's loop over SMS conversations' seeker-facing events, while it holds the
        worker lease (one consumer at a time: the processing list is shared)."""
        while True:
            await worker.wait_leading()
            await self._consume_while_leading(worker)

    async def _consume_while_leading(self, worker: Worker) -> None:
        k = self.keys
        backoff_s = 0.1
        recovered = False
        while worker.leading:
            try:
                if not recovered:
                    # Events a killed worker was handling are handled again first (at least once).
                    while (leftover := replies.text(await self.redis.lindex(self.sms_keys.processing, 0))) is not None:
                        await self._event_safely(leftover)
                        await self.redis.lpop(self.sms_keys.processing)
                    recovered = True
                event = replies.text(await self.redis.blmove(k.sms_events, self.sms_keys.processing, 1, "LEFT",
                                                             "RIGHT"))
                if event is not None:
                    await self._event_safely(event)
                    await self.redis.lrem(self.sms_keys.processing, 1, event)
                backoff_s = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("sms.consumer_failed", error=type(exc).__name__)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)

    async def _service_now(self) -> _Service:
        """Whether the program is within its service hours now, and when it next opens."""
        tz = ZoneInfo(self.settings.timezone)
        now = datetime.now(tz)
        current = hours.load(await self.records.program_setting("service_hours"))
        is_open = current.is_open(now)
        return _Service(is_open, None if is_open else current.next_open(now))

    async def _event_safely(self, raw: str) -> None:
        try:
            await self.on_event(raw)
        except (ValueError, KeyError) as exc:
            log.warning("sms.event_dropped", error=type(exc).__name__)

    async def on_event(self, raw: str) -> None:
        event = envelope.unpack_event(raw)
        conv = event.conv
        frame: dict[str, Any] = json.loads(event.frame)
        kind = frame.get("type")
        fields = await self.sms_fields(conv)
        number, nhash, lang = fields.number, fields.number_hash, fields.lang
        if kind == "ended" and nhash:
            # Only if the claim still names this conversation: a new text may have opened another.
            await self._open_clear(keys=[self.sms_keys.open(nhash)], args=[conv])
        if not number:
            return
        text: str | None = None
        seq: int | None = None
        if kind == "message" and frame.get("from") in ("peer", "system"):
            seq = int(frame["seq"])
            text = str(frame["text"])
            if frame["from"] == "system" and lang is None:
                text = routing_texts.bilingual(text)
        elif kind == "status" and frame.get("state") == "waiting":
            if await self._first_queued_notice(conv):
                place = int(frame.get("position") or 1)
                service = await self._service_now()
                if service.open:
                    (est,) = await self.engine.wait_estimates([place], int(frame.get("peers_on_shift") or 0))
                    text = self.texts.queued(lang, place, est)
                else:
                    text = self.texts.queued_closed(lang, place, service.next_open)
        elif kind == "escalation":
            text = self.texts.escalation(lang)
        elif kind == "ended":
            by = frame.get("by")
            text = (self.texts.ended_by_peer(lang) if by == "peer"
                    else self.texts.idle_closed(lang) if by == "system" else None)
        if text is None:
            return
        if seq is None:
            seq = await self._next_notice_seq(conv)
        if nhash and await self.records.is_opted_out(nhash):
            await self.on_delivery(conv, seq, DeliveryState.FAILED, "21610")
            return
        await self.outbox.enqueue(conv, seq, number, text)


class _Service(NamedTuple):
    open: bool
    next_open: datetime | None


def _bridge(request: Request) -> SmsBridge:
    bridge: SmsBridge = request.app.state.services.sms
    return bridge


async def inbound(request: Request) -> Response:
    return await _bridge(request).inbound(request)


async def status(request: Request) -> Response:
    return await _bridge(request).status(request)


def sms_routes(settings: Settings) -> list[BaseRoute]:
    """The webhook routes, and the phone simulator's when no Twilio account is configured."""
    routes: list[BaseRoute] = [
        Route("/sms/inbound", inbound, methods=["POST"]),
        Route("/sms/status", status, methods=["POST"]),
    ]
    if not settings.twilio_configured:
        from sms.simulator import simulator_routes
        routes.extend(simulator_routes())
    return routes
