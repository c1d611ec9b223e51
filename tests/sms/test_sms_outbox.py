"""sms.outbox: ordered, paced, retried sends through the real client, real Redis, local Twilio."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from config.settings import Settings
from records.keyspace import SmsKeys
from sms.outbox import DeliveryState, Enqueued, Outbox, RetryPolicy
from sms.segments import split_message
from sms.sender import TwilioSender
from sms.twilio_server import DROP, LocalTwilio
from tests.helpers import captured_logs

ServeApp = Callable[[ASGIApp], contextlib.AbstractAsyncContextManager[str]]
Report = tuple[str, int, DeliveryState, str | None]
A, B = "+16135550100", "+16135550111"


class Deliveries:
    """Collects on_delivery reports and lets a test wait for one."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self._changed = asyncio.Condition()

    async def __call__(self, conversation_id: str, seq: int, state: DeliveryState, code: str | None) -> None:
        async with self._changed:
            self.reports.append((conversation_id, seq, state, code))
            self._changed.notify_all()

    def states(self, conversation_id: str, seq: int) -> list[DeliveryState]:
        return [r[2] for r in self.reports if r[:2] == (conversation_id, seq)]

    async def wait(self, conversation_id: str, seq: int, state: DeliveryState, timeout_s: float = 10.0) -> Report:
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(lambda: state in self.states(conversation_id, seq))
        return next(r for r in self.reports if r[:3] == (conversation_id, seq, state))


@pytest.fixture
def deliveries() -> Deliveries:
    return Deliveries()


@pytest.fixture
def quick_retry(time_factor: float) -> RetryPolicy:
    return RetryPolicy(total_s=1.5 * time_factor, first_backoff_s=0.05, max_backoff_s=0.2)


@pytest.fixture
async def outbox(redis: Redis, sender: TwilioSender, settings: Settings, deliveries: Deliveries,
                 quick_retry: RetryPolicy) -> AsyncIterator[Outbox]:
    box = Outbox(redis, sender, settings, deliveries, retry=quick_retry, poll_s=0.05, max_pending=5)
    box.start()
    try:
        yield box
    finally:
        await box.aclose()


async def test_messages_are_sent_in_order_per_conversation(outbox: Outbox, local_twilio: LocalTwilio,
                                                           deliveries: Deliveries) -> None:
    for seq in range(1, 5):
        assert await outbox.enqueue("c1", seq, A, f"a{seq}") is Enqueued.QUEUED
        assert await outbox.enqueue("c2", seq, B, f"b{seq}") is Enqueued.QUEUED
    await deliveries.wait("c1", 4, DeliveryState.SENT)
    await deliveries.wait("c2", 4, DeliveryState.SENT)
    assert local_twilio.bodies_to(A) == ["a1", "a2", "a3", "a4"]
    assert local_twilio.bodies_to(B) == ["b1", "b2", "b3", "b4"]
    assert deliveries.states("c1", 2) == [DeliveryState.QUEUED, DeliveryState.SENT]
    assert await outbox.pending("c1") == 0


class _TimedSender:
    """The real sender, noting when each send starts (the moment pacing controls)."""

    def __init__(self, inner: TwilioSender) -> None:
        self.inner = inner
        self.started: list[float] = []

    @property
    def from_number(self) -> str:
        return self.inner.from_number

    async def send(self, to: str, body: str) -> str:
        self.started.append(time.time())
        return await self.inner.send(to, body)


async def test_sends_from_one_number_are_paced(redis: Redis, sender: TwilioSender, settings: Settings,
                                               local_twilio: LocalTwilio, deliveries: Deliveries) -> None:
    """Across conversations and workers, sends start 1/rate apart (not all at once)."""
    timed = _TimedSender(sender)
    paced = settings.with_changes(sms_rate_per_s=5.0)
    box = Outbox(redis, timed, paced, deliveries, poll_s=0.05)
    box.start()
    try:
        for seq in range(6):
            await box.enqueue(f"p{seq % 3}", seq, A if seq % 2 else B, f"m{seq}")
        for seq in range(6):
            await deliveries.wait(f"p{seq % 3}", seq, DeliveryState.SENT)
    finally:
        await box.aclose()
    starts = sorted(timed.started)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # The turn is taken by Redis's clock and recorded here once this process gets to it: a
    # loaded machine can shift one record against the next, so half an interval of slack.
    # Unpaced, the four workers would start these sends a few milliseconds apart.
    assert len(starts) == 6 and min(gaps) >= 0.5 / paced.sms_rate_per_s, gaps


async def test_retryable_failures_are_retried_until_success(outbox: Outbox, local_twilio: LocalTwilio,
                                                            deliveries: Deliveries) -> None:
    local_twilio.fail_next(500, 2)
    local_twilio.fail_next(429)
    local_twilio.fail_next(DROP)
    await outbox.enqueue("c1", 1, A, "first")
    await outbox.enqueue("c1", 2, A, "second")
    await deliveries.wait("c1", 2, DeliveryState.SENT)
    assert local_twilio.bodies_to(A) == ["first", "second"]
    assert local_twilio.stats.failures == 4
    assert deliveries.states("c1", 1) == [DeliveryState.QUEUED, DeliveryState.SENT]


async def test_opted_out_number_fails_at_once_with_the_code(outbox: Outbox, local_twilio: LocalTwilio,
                                                            deliveries: Deliveries) -> None:
    local_twilio.fail_next(400, code=21610)
    await outbox.enqueue("c1", 1, A, "are you there?")
    await outbox.enqueue("c1", 2, A, "next")
    assert await deliveries.wait("c1", 1, DeliveryState.FAILED) == ("c1", 1, DeliveryState.FAILED, "21610")
    await deliveries.wait("c1", 2, DeliveryState.SENT)  # the conversation is not stuck behind it
    assert local_twilio.stats.requests == 2


async def test_retries_give_up_after_the_total_time_with_the_last_code(
        outbox: Outbox, local_twilio: LocalTwilio, deliveries: Deliveries, quick_retry: RetryPolicy) -> None:
    local_twilio.fail_next(503, 10_000)
    started = time.monotonic()
    await outbox.enqueue("c1", 1, A, "hello")
    report = await deliveries.wait("c1", 1, DeliveryState.FAILED, timeout_s=10 + quick_retry.total_s)
    assert report[3] == "503"
    assert time.monotonic() - started >= quick_retry.total_s
    assert local_twilio.stats.requests >= 3 and local_twilio.messages == []


def test_the_default_retry_policy_lasts_at_least_a_minute() -> None:
    policy = RetryPolicy()
    assert policy.total_s >= 60
    for attempts in range(1, 12):
        assert 0 < policy.delay_s(attempts) <= policy.max_backoff_s


async def test_a_long_message_is_split_and_reported_sent_once(outbox: Outbox, local_twilio: LocalTwilio,
                                                              deliveries: Deliveries) -> None:
    words = [f"w{i}" for i in range(700)]
    await outbox.enqueue("c1", 1, A, " ".join(words))
    await outbox.enqueue("c1", 2, A, "after")
    await deliveries.wait("c1", 2, DeliveryState.SENT)
    bodies = local_twilio.bodies_to(A)
    assert len(bodies) == len(split_message(" ".join(words))) + 1 >= 3 and bodies[-1] == "after"
    assert " ".join(bodies[:-1]).split() == words and all(len(b) <= 1600 for b in bodies)
    assert deliveries.states("c1", 1) == [DeliveryState.QUEUED, DeliveryState.SENT]


async def test_a_failure_midway_through_parts_resumes_at_the_failed_part(
        outbox: Outbox, local_twilio: LocalTwilio, deliveries: Deliveries) -> None:
    text = " ".join(["x" * 20] * 100)  # two parts
    local_twilio.fail_next(500, 2, after=1)
    await outbox.enqueue("c1", 1, A, text)
    await deliveries.wait("c1", 1, DeliveryState.SENT)
    assert local_twilio.bodies_to(A) == split_message(text)
    assert local_twilio.stats.requests == 4


async def test_overflow_refuses_new_messages_and_reports_them_failed(
        redis: Redis, sender: TwilioSender, settings: Settings, deliveries: Deliveries) -> None:
    box = Outbox(redis, sender, settings, deliveries, max_pending=2)  # not started: nothing drains
    assert await box.enqueue("c1", 1, A, "one") is Enqueued.QUEUED
    assert await box.enqueue("c1", 2, A, "two") is Enqueued.QUEUED
    assert await box.enqueue("c1", 3, A, "three") is Enqueued.FULL
    assert deliveries.states("c1", 3) == [DeliveryState.FAILED]
    assert deliveries.reports[-1][3] == "outbox_full"
    assert await box.enqueue("c1", 4, A, "x " * 20_000) is Enqueued.TOO_LONG
    assert await box.enqueue("c1", 5, A, "   ") is Enqueued.EMPTY
    assert await box.pending("c1") == 2


@pytest.mark.parametrize("body", [
    pytest.param("\u200b\u200b", id="zero-width-spaces"),
    pytest.param("\u2800", id="braille-blank"),
    pytest.param("\u3164 \u00a0\ufe0f", id="fillers-and-selectors"),
])
async def test_a_message_that_shows_nothing_is_refused_and_reported_failed_never_sent(
        outbox: Outbox, local_twilio: LocalTwilio, deliveries: Deliveries, body: str) -> None:
    """The peer sees it failed (code "empty"), not silence; the texter gets nothing blank, and the
    conversation's next message goes out as usual."""
    assert await outbox.enqueue("c1", 1, A, body) is Enqueued.EMPTY
    assert deliveries.reports == [("c1", 1, DeliveryState.FAILED, "empty")]
    assert await outbox.enqueue("c1", 2, A, "next") is Enqueued.QUEUED
    await deliveries.wait("c1", 2, DeliveryState.SENT)
    assert local_twilio.bodies_to(A) == ["next"]


async def test_enqueueing_the_same_seq_twice_sends_once(outbox: Outbox, local_twilio: LocalTwilio,
                                                        deliveries: Deliveries) -> None:
    assert await outbox.enqueue("c1", 1, A, "once") is Enqueued.QUEUED
    assert await outbox.enqueue("c1", 1, A, "once") is Enqueued.DUPLICATE
    await deliveries.wait("c1", 1, DeliveryState.SENT)
    assert await outbox.enqueue("c1", 1, A, "once") is Enqueued.DUPLICATE
    await outbox.enqueue("c1", 2, A, "two")
    await deliveries.wait("c1", 2, DeliveryState.SENT)
    assert local_twilio.bodies_to(A) == ["once", "two"]


async def test_a_crashed_worker_s_message_is_sent_after_its_lease_expires(
        redis: Redis, sender: TwilioSender, settings: Settings, deliveries: Deliveries,
        local_twilio: LocalTwilio) -> None:
    """A worker that claimed a conversation and died: a new worker resends (at least once)."""
    crashed = Outbox(redis, sender, settings, deliveries, lease_s=0.3)
    await crashed.enqueue("c1", 1, A, "survives")
    conversation, _ = await crashed._claim("dead-worker")  # claimed, then the process died
    assert conversation == "c1"
    keys = SmsKeys(settings.key_prefix)
    assert await redis.zscore(keys.inflight, "c1") is not None
    survivor = Outbox(redis, sender, settings, deliveries, lease_s=0.3, poll_s=0.05)
    survivor.start()
    try:
        await deliveries.wait("c1", 1, DeliveryState.SENT)
    finally:
        await survivor.aclose()
    assert local_twilio.bodies_to(A) == ["survives"]
    assert await redis.zscore(keys.inflight, "c1") is None


class _HeldAfterFirst:
    """A sender that sends its first text and then holds every later one until cancelled,
    so a test knows for certain that a part is in flight when it stops the outbox.
    """

    def __init__(self, inner: TwilioSender) -> None:
        self._inner = inner
        self.sent = 0
        self.holding = asyncio.Event()

    @property
    def from_number(self) -> str:
        return self._inner.from_number

    async def send(self, to: str, body: str) -> str:
        if self.sent == 0:
            self.sent += 1
            return await self._inner.send(to, body)
        self.holding.set()
        await asyncio.Event().wait()  # until the outbox is stopped
        raise AssertionError("unreachable")


async def test_stopping_mid_send_gives_the_conversation_back(
        redis: Redis, sender: TwilioSender, settings: Settings, deliveries: Deliveries,
        local_twilio: LocalTwilio) -> None:
    held = _HeldAfterFirst(sender)
    box = Outbox(redis, held, settings, deliveries, poll_s=0.05)
    await box.enqueue("c1", 1, A, " ".join(["y" * 20] * 100))
    box.start()
    keys = SmsKeys(settings.key_prefix)
    async with asyncio.timeout(5):
        await held.holding.wait()  # part 1 sent; part 2 on its way when the outbox stops
    await box.aclose()
    assert await redis.hget(keys.job("c1", 1), "next") == "1"  # part 1 recorded as sent
    assert await redis.zscore(keys.inflight, "c1") is None
    assert await redis.zscore(keys.ready, "c1") is not None
    assert await redis.hget(keys.lease, "c1") is None
    again = Outbox(redis, sender, settings, deliveries, poll_s=0.05)
    again.start()
    try:
        await deliveries.wait("c1", 1, DeliveryState.SENT)
    finally:
        await again.aclose()
    parts = split_message(" ".join(["y" * 20] * 100))
    assert len(parts) == 2
    assert local_twilio.bodies_to(A) == parts  # part 1 once, then part 2: resumed, not restarted


async def test_cancel_drops_waiting_messages_and_reports_them(
        redis: Redis, sender: TwilioSender, settings: Settings, deliveries: Deliveries) -> None:
    box = Outbox(redis, sender, settings, deliveries)
    for seq in (1, 2, 3):
        await box.enqueue("c1", seq, A, f"m{seq}")
    assert await box.cancel_conversation("c1") == [1, 2, 3]
    assert await box.pending("c1") == 0
    assert all(deliveries.states("c1", s)[-1] is DeliveryState.FAILED for s in (1, 2, 3))
    assert {r[3] for r in deliveries.reports if r[2] is DeliveryState.FAILED} == {"cancelled"}
    keys = SmsKeys(settings.key_prefix)
    assert await redis.exists(keys.job("c1", 1)) == 0  # no phone number left behind
    assert await redis.zscore(keys.ready, "c1") is None
    assert await box.cancel_conversation("c1") == []


async def test_status_callbacks_report_delivered_once_all_parts_arrive(
        redis: Redis, settings: Settings, deliveries: Deliveries, serve_app: ServeApp,
        quick_retry: RetryPolicy) -> None:
    holder: list[Outbox] = []

    async def status(request: Request) -> PlainTextResponse:
        form = await request.form()
        await holder[0].handle_status(str(form["MessageSid"]), str(form["MessageStatus"]),
                                      str(form.get("ErrorCode") or "") or None)
        return PlainTextResponse("")

    async with serve_app(Starlette(routes=[Route("/sms/status", status, methods=["POST"])])) as base:
        local = LocalTwilio(settings.twilio_account_sid or "", settings.twilio_auth_token or "",
                            status_callbacks=True)
        api = await local.start()
        try:
            conf = settings.with_changes(twilio_api_base=api, public_url=base)
            async with TwilioSender.from_settings(conf) as sender:
                box = Outbox(redis, sender, conf, deliveries, retry=quick_retry, poll_s=0.05)
                holder.append(box)
                box.start()
                try:
                    await box.enqueue("c1", 1, A, " ".join(["z" * 20] * 100))  # two parts
                    await box.enqueue("c1", 2, A, "short")
                    await deliveries.wait("c1", 1, DeliveryState.DELIVERED)
                    await deliveries.wait("c1", 2, DeliveryState.DELIVERED)
                    # Twilio may repeat a callback: nothing is reported twice.
                    first = local.messages[0]
                    await box.handle_status(first.sid, "delivered")
                    await box.handle_status("SM" + "f" * 32, "delivered")
                finally:
                    await box.aclose()
        finally:
            await local.aclose()
    assert deliveries.states("c1", 1) == [DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.DELIVERED]
    assert deliveries.states("c1", 2) == [DeliveryState.QUEUED, DeliveryState.SENT, DeliveryState.DELIVERED]


async def test_an_undelivered_callback_reports_failed_with_its_code(
        outbox: Outbox, local_twilio: LocalTwilio, deliveries: Deliveries) -> None:
    await outbox.enqueue("c1", 1, A, "hello")
    await deliveries.wait("c1", 1, DeliveryState.SENT)
    await outbox.handle_status(local_twilio.messages[0].sid, "undelivered", "30003")
    assert deliveries.reports[-1] == ("c1", 1, DeliveryState.FAILED, "30003")


async def test_a_failing_listener_does_not_stop_the_outbox(
        redis: Redis, sender: TwilioSender, settings: Settings, local_twilio: LocalTwilio) -> None:
    async def broken(conversation_id: str, seq: int, state: DeliveryState, code: str | None) -> None:
        raise RuntimeError("listener bug")

    box = Outbox(redis, sender, settings, broken, poll_s=0.05)
    box.start()
    try:
        await box.enqueue("c1", 1, A, "one")
        await box.enqueue("c1", 2, A, "two")
        await local_twilio.wait_for_messages(2)
    finally:
        await box.aclose()


async def test_logs_carry_no_phone_number_or_text(redis: Redis, sender: TwilioSender, settings: Settings,
                                                  local_twilio: LocalTwilio, deliveries: Deliveries,
                                                  quick_retry: RetryPolicy) -> None:
    local_twilio.fail_next(500)
    local_twilio.fail_next(400, code=21211)
    with captured_logs() as logs:
        box = Outbox(redis, sender, settings, deliveries, retry=quick_retry, poll_s=0.05)
        box.start()
        try:
            await box.enqueue("c1", 1, A, "my secret words")
            await box.enqueue("c1", 2, A, "more secret words")
            await deliveries.wait("c1", 1, DeliveryState.FAILED)
            await deliveries.wait("c1", 2, DeliveryState.SENT)
        finally:
            await box.aclose()
    assert {e["event"] for e in logs} >= {"sms.enqueue", "sms.retry", "sms.failed", "sms.part_sent"}
    dumped = repr(logs)
    assert "6135550100" not in dumped and "secret words" not in dumped
