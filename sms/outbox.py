"""The SMS outbox: peer messages to texters, in order, paced, retried, never lost silently.

``enqueue`` stores a message (split into API-sized parts) in Redis; worker tasks started
by :meth:`Outbox.start` (or awaited via :meth:`Outbox.run`) send them. The promises:

* **Order per conversation.** A conversation is held by one worker at a time (a lease in
  ``inflight``), which sends its messages head first, part by part.
* **Pacing per sending number.** A send starts only ``1 / sms_rate_per_s`` after the
  previous one from that number started, checked in Redis so all worker processes share it.
* **Retries.** A network error, timeout, 5xx or 429 is retried with exponential backoff
  and jitter until :attr:`RetryPolicy.total_s` (at least a minute by default) has passed
  since the part first failed; then the message is ``failed``. A permanent error (21610
  opted out, 21211 invalid number, ...) fails it at once, with Twilio's code.
* **At least once.** A part is marked sent only after Twilio accepted it. A worker that
  dies mid-send leaves its lease to expire, and the part is sent again: a texter may
  rarely get a part twice, never zero times.
* **Every change reported** through ``on_delivery(conversation_id, seq, state, code)``:
  ``queued`` on enqueue, ``sent`` when Twilio accepted every part, ``delivered`` from
  status callbacks (:meth:`Outbox.handle_status`), ``failed`` with a code.
* **Bounded.** At most ``max_pending`` waiting messages per conversation and
  ``max_parts`` parts per message; beyond that ``enqueue`` refuses the new message
  (reported ``failed`` with code ``outbox_full`` / ``too_long``) rather than drop one
  the peer already saw queued.
* **Never blank.** A message with nothing visible in it (empty, spaces, zero-width
  characters...) is refused, reported ``failed`` with code ``empty``: the peer sees it
  was not sent, and the texter never gets a text that shows nothing.

Logs carry conversation ids, seqs, part numbers, codes and a short HMAC of the number:
never the number or the text.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from config.cancellation import raise_if_cancelling
from config.settings import Settings
from records import replies
from records.keyspace import SmsKeys
from sms.errors import SendError
from sms.hashing import number_hash
from sms.segments import split_message
from sms.sender import Sender

log = structlog.get_logger("chatd.sms.outbox")


class DeliveryState(StrEnum):
    """Where a peer message to a texter stands (the ``delivery`` the peer console shows)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


_STATES = frozenset(s.value for s in DeliveryState)


class Enqueued(StrEnum):
    """What :meth:`Outbox.enqueue` did with a message."""

    QUEUED = "queued"
    DUPLICATE = "duplicate"  # this (conversation, seq) was enqueued before: ignored
    FULL = "outbox_full"  # the conversation's backlog is at max_pending: refused
    TOO_LONG = "too_long"  # more than max_parts parts: refused
    EMPTY = "empty"  # nothing visible (config.textrules.is_blank): refused, never sent blank


OnDelivery = Callable[[str, int, DeliveryState, str | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for retryable failures: doubling from ``first_backoff_s`` up to
    ``max_backoff_s``, each delay jittered to between half and all of itself (so workers
    that failed together do not retry together), until ``total_s`` after the first failure.
    """

    total_s: float = 90.0
    first_backoff_s: float = 1.0
    max_backoff_s: float = 20.0

    def delay_s(self, attempts: int) -> float:
        """The wait before the next try, after ``attempts`` failed tries (1 or more)."""
        ceiling = min(self.max_backoff_s, self.first_backoff_s * 2 ** max(attempts - 1, 0))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


_SCRIPTS = ("enqueue", "claim", "release", "part_sent", "retry", "fail", "cancel", "status", "pace")
# Scripts that use the shared release/holds helpers get outbox_lib.lua in front.
_WITH_LIB = frozenset({"enqueue", "release", "part_sent", "retry", "fail", "cancel"})


def _load_script(name: str) -> str:
    package = resources.files("sms")
    body = (package / f"outbox_{name}.lua").read_text(encoding="utf-8")
    if name in _WITH_LIB:
        return (package / "outbox_lib.lua").read_text(encoding="utf-8") + "\n" + body
    return body


@dataclass(frozen=True, slots=True)
class _Job:
    seq: int
    to: str
    parts: list[str]
    next_part: int
    attempts: int
    failing_since: float | None


class Outbox:
    """A Redis-backed outbox draining to one :class:`~sms.sender.Sender`.

    The owner calls :meth:`start` (in the Starlette lifespan or the worker process) and
    :meth:`aclose` on shutdown; web processes that only enqueue never start it.
    """

    def __init__(self, redis: Redis, sender: Sender, settings: Settings, on_delivery: OnDelivery, *,
                 retry: RetryPolicy | None = None, max_pending: int = 50, max_parts: int = 10,
                 concurrency: int = 4, lease_s: float = 60.0, poll_s: float = 0.5,
                 receipt_ttl_s: float = 2 * 86400.0, error_backoff_s: float = 1.0) -> None:
        if settings.sms_rate_per_s <= 0:
            raise ValueError("sms_rate_per_s must be positive")
        self._redis = redis
        self._sender = sender
        self._secret = settings.secret_key
        self._keys = SmsKeys(settings.key_prefix)
        self._interval_s = 1.0 / settings.sms_rate_per_s
        self._on_delivery = on_delivery
        self._retry = retry or RetryPolicy()
        self._max_pending = max_pending
        self._max_parts = max_parts
        self._concurrency = concurrency
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._ttl_ms = int(receipt_ttl_s * 1000)
        self._error_backoff_s = error_backoff_s
        self._pace_key = self._keys.pace(self._hash(sender.from_number))
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(_load_script(name)) for name in _SCRIPTS
        }
        # Wakes idle workers at once when this process enqueues; other processes'
        # enqueues are seen within poll_s.
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    # -- the API the glue uses ------------------------------------------------------------

    async def enqueue(self, conversation_id: str, seq: int, to_number: str, body: str) -> Enqueued:
        """Queue peer message ``seq`` of a conversation for ``to_number`` (E.164).

        Reports ``queued`` (or ``failed`` with the refusal code) through ``on_delivery``;
        a repeat of an already queued ``seq`` is ignored and reports nothing.
        """
        parts = split_message(body)
        if not parts or len(parts) > self._max_parts:
            outcome = Enqueued.EMPTY if not parts else Enqueued.TOO_LONG
        else:
            result = await self._run("enqueue", conversation_id,
                                     [self._keys.job(conversation_id, seq),
                                      self._keys.receipt(conversation_id, seq)],
                                     [seq, to_number, json.dumps(parts), len(parts), time.time(),
                                      self._max_pending, self._ttl_ms])
            outcome = {"queued": Enqueued.QUEUED, "duplicate": Enqueued.DUPLICATE}.get(
                result, Enqueued.FULL)
        log.info("sms.enqueue", conversation_id=conversation_id, seq=seq, outcome=str(outcome),
                 to=self._hash(to_number)[:12])
        if outcome is Enqueued.QUEUED:
            self._wake.set()
            await self._report(conversation_id, seq, DeliveryState.QUEUED, None)
        elif outcome is not Enqueued.DUPLICATE:
            await self._report(conversation_id, seq, DeliveryState.FAILED, str(outcome))
        return outcome

    async def handle_status(self, message_sid: str, message_status: str,
                            error_code: str | None = None) -> None:
        """Apply a Twilio status callback (``MessageSid``, ``MessageStatus``, ``ErrorCode``).

        Reports ``delivered`` once every part of the message is delivered, ``failed`` on a
        ``failed``/``undelivered`` part; repeats and unknown SIDs change nothing.
        """
        fields = replies.mapping(await self._redis.hgetall(self._keys.message_sid(message_sid)))
        if "conv" not in fields:
            log.info("sms.status_unknown", message_sid=message_sid, status=message_status)
            return
        conversation_id, seq = fields["conv"], int(fields["seq"])
        result: str | None = await self._scripts["status"](
            keys=[self._keys.receipt(conversation_id, seq)],
            args=[message_sid, message_status, error_code or ""])
        log.info("sms.status", conversation_id=conversation_id, seq=seq, message_sid=message_sid,
                 status=message_status, code=error_code, outcome=result)
        if result == "delivered":
            await self._report(conversation_id, seq, DeliveryState.DELIVERED, None)
        elif result == "failed":
            await self._report(conversation_id, seq, DeliveryState.FAILED, error_code or message_status)

    async def cancel_conversation(self, conversation_id: str) -> list[int]:
        """Drop every waiting message of a conversation; each is reported ``failed``
        (code ``cancelled``). Returns their seqs. A part already on its way may still arrive.
        """
        raw = await self._redis.lrange(self._keys.conversation(conversation_id), 0, -1)
        seqs = [int(s) for s in raw]
        if not seqs:
            return []
        keys: list[str] = []
        for seq in seqs:
            keys += [self._keys.job(conversation_id, seq), self._keys.receipt(conversation_id, seq)]
        dropped = [int(s) for s in await self._run("cancel", conversation_id, keys, seqs)]
        log.info("sms.cancelled", conversation_id=conversation_id, count=len(dropped))
        for seq in dropped:
            await self._report(conversation_id, seq, DeliveryState.FAILED, "cancelled")
        return dropped

    async def receipts(self, conversation_id: str, seqs: Sequence[int]) -> dict[int, tuple[DeliveryState, str | None]]:
        """The latest delivery state (and failure code) of each of ``seqs`` that has a
        receipt; receipts live ``receipt_ttl_s``, so older messages are left out.
        """
        if not seqs:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for seq in seqs:
                pipe.hmget(self._keys.receipt(conversation_id, seq), "state", "code")
            replies = await pipe.execute()
        found: dict[int, tuple[DeliveryState, str | None]] = {}
        for seq, (state, code) in zip(seqs, replies, strict=True):
            if state in _STATES:
                found[seq] = (DeliveryState(state), code or None)
        return found

    async def pending(self, conversation_id: str) -> int:
        """How many messages of the conversation wait to be sent (the head included)."""
        return int(await self._redis.llen(self._keys.conversation(conversation_id)))

    # -- the workers ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker tasks; this object owns them until :meth:`aclose`."""
        if self._tasks:
            raise RuntimeError("Outbox already started")
        self._closing = False
        self._tasks = [asyncio.create_task(self._worker(), name=f"sms-outbox-{i}")
                       for i in range(self._concurrency)]

    async def aclose(self) -> None:
        """Stop the workers (each gives back the conversation it holds); idempotent."""
        tasks, self._tasks = self._tasks, []
        self._closing = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self) -> None:
        """Run the workers until cancelled (for an owner that prefers one task)."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.aclose()

    async def _worker(self) -> None:
        token = secrets.token_hex(8)
        # The flag backs up cancellation: on Python 3.11 a cancel that lands while the
        # idle wait's asyncio.timeout is expiring can be turned into TimeoutError and lost.
        while not self._closing:
            try:
                self._wake.clear()
                conversation_id, wait_s = await self._claim_shielded(token)
                if conversation_id is not None:
                    await self._process(conversation_id, token)
                    continue
                try:
                    async with asyncio.timeout(wait_s):
                        await self._wake.wait()
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                raise_if_cancelling()
                # Redis unreachable or a bug: the held lease expires and another pass
                # sends the message; keep the loop alive.
                log.exception("sms.worker_error")
                await asyncio.sleep(self._error_backoff_s)

    async def _claim_shielded(self, token: str) -> tuple[str | None, float]:
        """:meth:`_claim`, finished even when cancelled, so a stopping worker never leaves a
        conversation claimed in Redis but unknown to it (stuck until its lease expires).
        """
        claim = asyncio.ensure_future(self._claim(token))
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            conversation_id, _ = await claim
            if conversation_id is not None:
                await self._release(conversation_id, token)
            raise

    async def _release(self, conversation_id: str, token: str) -> None:
        await self._run("release", conversation_id, [], [token, time.time()])

    async def _claim(self, token: str) -> tuple[str | None, float]:
        """A conversation now held under ``token``, or ``None`` and how long to idle."""
        now = time.time()
        conv, next_ready, next_lease = await self._scripts["claim"](
            keys=[self._keys.ready, self._keys.inflight, self._keys.lease],
            args=[now, now + self._lease_s, token])
        if conv:
            return conv, 0.0
        wait_s = self._poll_s
        for due in (next_ready, next_lease):
            if due:
                wait_s = min(wait_s, float(due) - now)
        return None, max(wait_s, 0.005)

    async def _process(self, conversation_id: str, token: str) -> None:
        """Send the head message of a held conversation, part by part, then release it."""
        try:
            job = await self._head_job(conversation_id, token)
            if job is None:
                await self._release(conversation_id, token)
                return
            await self._send_job(conversation_id, token, job)
        except asyncio.CancelledError:
            # Stopping: hand the conversation back now rather than after the lease
            # expires. The part in flight (if any) will be sent again: at least once.
            await asyncio.shield(self._release(conversation_id, token))
            raise

    async def _head_job(self, conversation_id: str, token: str) -> _Job | None:
        head = await self._redis.lindex(self._keys.conversation(conversation_id), 0)
        if head is None:
            return None
        seq = int(head)
        fields = replies.mapping(await self._redis.hgetall(self._keys.job(conversation_id, seq)))
        if "to" not in fields:
            # The job expired (its TTL bounds how long a number may sit in Redis) while
            # its seq stayed listed; fail it so the conversation moves on.
            await self._fail(conversation_id, seq, token=token, code="expired")
            return None
        return _Job(seq=seq, to=fields["to"], parts=json.loads(fields["parts"]),
                    next_part=int(fields["next"]), attempts=int(fields.get("attempts") or 0),
                    failing_since=float(fields["failing_since"]) if fields.get("failing_since") else None)

    async def _send_job(self, conversation_id: str, token: str, job: _Job) -> None:
        part, failing_since, attempts = job.next_part, job.failing_since, job.attempts
        bound = log.bind(conversation_id=conversation_id, seq=job.seq, to=self._hash(job.to)[:12])
        while True:
            await self._pace()
            try:
                sid = await self._sender.send(job.to, job.parts[part])
            except SendError as exc:
                now = time.time()
                since = failing_since if failing_since is not None else now
                if exc.retryable and now - since < self._retry.total_s:
                    delay_s = self._retry.delay_s(attempts + 1)
                    bound.info("sms.retry", part=part, code=exc.code, attempts=attempts + 1,
                               delay_s=round(delay_s, 3))
                    await self._run("retry", conversation_id, [self._keys.job(conversation_id, job.seq)],
                                    [token, now + delay_s, now, exc.code])
                    return
                bound.warning("sms.failed", part=part, code=exc.code, retryable=exc.retryable,
                              attempts=attempts + 1)
                await self._fail(conversation_id, job.seq, token=token, code=exc.code)
                return
            now = time.time()
            result: str | None = await self._run(
                "part_sent", conversation_id,
                [self._keys.job(conversation_id, job.seq), self._keys.receipt(conversation_id, job.seq),
                 self._keys.message_sid(sid)],
                [job.seq, part, sid, now, token, now + self._lease_s, self._ttl_ms])
            bound.info("sms.part_sent", part=part, parts=len(job.parts), message_sid=sid, outcome=result)
            if result == "more":
                part, failing_since, attempts = part + 1, None, 0
                continue
            if result in ("done", "done_delivered"):
                await self._report(conversation_id, job.seq, DeliveryState.SENT, None)
            if result == "done_delivered":
                await self._report(conversation_id, job.seq, DeliveryState.DELIVERED, None)
            return

    async def _fail(self, conversation_id: str, seq: int, *, token: str, code: str) -> None:
        result: str | None = await self._run("fail", conversation_id,
                                             [self._keys.job(conversation_id, seq),
                                              self._keys.receipt(conversation_id, seq)],
                                             [seq, token, time.time(), code])
        if result == "failed":
            await self._report(conversation_id, seq, DeliveryState.FAILED, code)

    async def _pace(self) -> None:
        """Wait for, then take, this sending number's turn (kept in Redis for all workers)."""
        while True:
            wait: str | None = await self._scripts["pace"](
                keys=[self._pace_key], args=[self._interval_s, int((self._interval_s + 60) * 1000)])
            if not wait:
                return
            await asyncio.sleep(float(wait))

    # -- helpers --------------------------------------------------------------------------

    async def _run(self, name: str, conversation_id: str, extra_keys: Sequence[str],
                   args: Sequence[Any]) -> Any:
        """Run an outbox script with the shared leading keys and conversation id."""
        keys = [self._keys.ready, self._keys.inflight, self._keys.lease,
                self._keys.conversation(conversation_id), *extra_keys]
        return await self._scripts[name](keys=keys, args=[conversation_id, *args])

    async def _report(self, conversation_id: str, seq: int, state: DeliveryState, code: str | None) -> None:
        try:
            await self._on_delivery(conversation_id, seq, state, code)
        except Exception:
            # A failing listener must not stop the outbox or lose later reports.
            log.exception("sms.delivery_callback_failed", conversation_id=conversation_id, seq=seq,
                          state=str(state))

    def _hash(self, number: str) -> str:
        return number_hash(self._secret, number) if self._secret else "-"
