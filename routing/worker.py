"""The worker: owner of every timer and of matching.

Timers live in Redis (``P:timers``, member ``kind|arg`` scored by deadline), so a restarted
worker carries on where the last one stopped. A handler runs at least once: it removes its
timer only after it ran, and every handler is safe to repeat because the Lua step behind it
checks the state first. One loop does everything, in order: wait for a nudge or the next
deadline, run due timers, match, and now and then sweep dead processes and purge old texts.

**One worker works at a time**, by a lease in Redis (``P:worker``, ``lease.lua``): a second
``chatd worker`` (a rolling deploy, a standby, a mistaken scale-up) waits until the lease is
released by a worker that stops, or lapses ``LEASE_S`` after a worker was killed or cut off
from Redis. The worker renews it every ``RENEW_EVERY_S``; one that cannot renew it in time, or
finds it taken, stops its loop (the SMS consumer watches :attr:`Worker.leading`) and waits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from config.cancellation import raise_if_cancelling
from config.logging import get_logger
from config.settings import Settings
from records import Records, replies
from routing.archive import archive, purge
from routing.engine import Engine, new_id
from routing.errors import RoutingError
from routing.states import ShiftAction, ShiftState

log = get_logger(__name__)
MAX_WAIT_S = 1.0
TIMER_BATCH = 200
SWEEP_EVERY_S = 5.0
PURGE_EVERY_S = 3600.0
RETRY_LATER_MS = 5000
LEASE_S = 6.0  # a killed worker's standby takes over within this (plus STANDBY_POLL_S)
RENEW_EVERY_S = 2.0
STANDBY_POLL_S = 1.0
# Each timer kind runs under its own deadline and in this order within a batch of due timers, so
# a slow step (an archive write waiting on a busy database) never holds back an offer's expiry or
# an escalation by more than a few seconds: it times out and is tried again later, like a failure.
TIMER_TIMEOUT_S = {"offer": 5.0, "lang": 5.0, "wait": 5.0, "nudge": 5.0, "noreply": 5.0, "sgrace": 5.0,
                   "pgrace": 10.0, "idle": 5.0, "smsidle": 5.0, "debrief": 5.0, "archive": 15.0}
TIMER_ORDER = tuple(TIMER_TIMEOUT_S)

TimerHandler = Callable[[str], Awaitable[None]]


class LeaseLost(Exception):
    """The worker lease lapsed or another worker holds it: stop working and wait again."""


def _timer_rank(member: str) -> int:
    kind = member.partition("|")[0]
    return TIMER_ORDER.index(kind) if kind in TIMER_ORDER else len(TIMER_ORDER)


class Worker:
    def __init__(self, engine: Engine, store: Records, settings: Settings) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.redis = engine.redis
        self.keys = engine.keys
        self.handlers: dict[str, TimerHandler] = {
            "offer": self._offer, "lang": self._lang_fallback, "wait": self._wait,
            "nudge": self._nudge, "noreply": self._no_reply_alert, "sgrace": self._seeker_grace,
            "pgrace": self._peer_grace, "debrief": self._debrief, "archive": self._archive,
            "idle": self._idle, "smsidle": self._idle,  # smsidle: timers set before the idle timer was generic
        }
        self._last_sweep = 0.0
        self._last_purge = 0.0
        self.token = new_id()
        self._leading = asyncio.Event()

    @property
    def leading(self) -> bool:
        """Whether this worker holds the lease (and does the work) now."""
        return self._leading.is_set()

    async def wait_leading(self) -> None:
        """Until this worker holds the lease: another part's loop that must run in one worker
        only (the SMS consumer) waits here, and checks :attr:`leading` as it goes."""
        await self._leading.wait()

    async def run(self) -> None:
        """Wait for the lease, then work while holding it; wait again if it is lost."""
        log.info("worker.started")
        while True:
            await self._take_lease()
            self._leading.set()
            log.info("worker.leading")
            failed = False
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._keep_lease(), name="worker-lease")
                    group.create_task(self._loop(), name="worker-loop")
            except* LeaseLost:
                log.warning("worker.lease_lost")
            except* Exception as errors:
                # The loop or the lease keeper failed (a bug): hand over, and start again.
                log.error("worker.task_failed", errors=[type(e).__name__ for e in errors.exceptions])
                failed = True
            finally:
                self._leading.clear()
                await self._release_lease()
            if failed:
                await asyncio.sleep(RENEW_EVERY_S)  # not a tight loop of failures

    async def _take_lease(self) -> None:
        said = False
        while True:
            try:
                if await self._lease("take") == 1:
                    return
                if not said:
                    log.info("worker.standby", reason="another worker holds the lease")
                    said = True
            except (RedisError, OSError) as exc:
                raise_if_cancelling()
                log.warning("worker.lease_unavailable", error=type(exc).__name__)
            await asyncio.sleep(STANDBY_POLL_S)

    async def _keep_lease(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            try:
                held = await asyncio.wait_for(self._lease("renew"), RENEW_EVERY_S)
            except (RedisError, OSError, TimeoutError) as exc:
                # Not renewed in time, the lease may lapse and a standby take over: stop first.
                if time.monotonic() - renewed >= LEASE_S - RENEW_EVERY_S:
                    raise LeaseLost from exc
                continue
            if held != 1:
                raise LeaseLost
            renewed = time.monotonic()

    async def _release_lease(self) -> None:
        """Hand over at once (a standby need not wait for the lease to lapse); best effort."""
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(self._lease("release"), RENEW_EVERY_S)

    async def _lease(self, action: str) -> int:
        return int(await self.engine.scripts.call("lease", action, self.token, int(LEASE_S * 1000)))

    async def _loop(self) -> None:
        backoff_s = 0.1
        while True:
            try:
                await self.step()
                backoff_s = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()
                log.warning("worker.step_failed", error=type(exc).__name__, retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)

    async def step(self) -> None:
        """One round: wait, timers, matching, housekeeping."""
        await self.redis.brpop([self.keys.wake], timeout=await self._wait_s())
        await self.redis.delete(self.keys.wake)
        await self.run_due_timers()
        await self.engine.match()
        now = time.monotonic()
        if now - self._last_sweep >= SWEEP_EVERY_S:
            self._last_sweep = now
            await self.sweep_dead_processes()
            for conv in await self.engine.escalate_long_waits():
                log.info("conversation.escalated", conversation=conv, reason="wait_estimate")
        if now - self._last_purge >= PURGE_EVERY_S or self._last_purge == 0.0:
            self._last_purge = now
            deleted = await purge(self.store, self.settings)
            log.info("retention.purged", messages=deleted)

    async def _wait_s(self) -> float:
        head: list[Any] = await self.redis.zrange(self.keys.timers, 0, 0, withscores=True)
        if not head:
            return MAX_WAIT_S
        due_in_s = (float(head[0][1]) - time.time() * 1000) / 1000
        return min(MAX_WAIT_S, max(0.01, due_in_s))

    async def run_due_timers(self) -> int:
        due = await self.redis.zrangebyscore(self.keys.timers, "-inf", int(time.time() * 1000),
                                             start=0, num=TIMER_BATCH)
        members = sorted(replies.texts(due), key=_timer_rank)
        for member in members:
            kind, _, arg = member.partition("|")
            handler = self.handlers.get(kind)
            try:
                if handler is not None:
                    async with asyncio.timeout(TIMER_TIMEOUT_S.get(kind, 5.0)):
                        await handler(arg)
                else:
                    log.warning("timer.unknown_kind", kind=kind)
                await self.redis.zrem(self.keys.timers, member)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Try again a little later instead of spinning on a failing timer.
                log.warning("timer.failed", kind=kind, error=type(exc).__name__)
                await self.redis.zadd(self.keys.timers, {member: int(time.time() * 1000) + RETRY_LATER_MS})
        return len(due)

    # --- handlers ---------------------------------------------------------------------------
    async def _offer(self, offer: str) -> None:
        if await self.engine.expire_offer(offer):
            log.info("offer.expired", offer=offer)

    async def _lang_fallback(self, conv: str) -> None:
        """Its language wait is over: the match that follows the timers in :meth:`step` may now
        offer it to any peer. Nothing to do here but be due, which wakes the worker."""
        log.info("conversation.lang_fallback", conversation=conv)

    async def _nudge(self, conv: str) -> None:
        if await self.engine.no_first_reply(conv, "nudge"):
            log.info("conversation.nudged", conversation=conv)

    async def _no_reply_alert(self, conv: str) -> None:
        if await self.engine.no_first_reply(conv, "alert"):
            log.info("conversation.alerted", conversation=conv, reason="no_first_reply")

    async def _wait(self, conv: str) -> None:
        if await self.engine.escalate(conv, "wait_timeout", only_if_queued=True):
            log.info("conversation.escalated", conversation=conv, reason="wait_timeout")

    async def _seeker_grace(self, conv: str) -> None:
        if await self.engine.end(conv, "system", only_if_detached=True):
            log.info("conversation.ended", conversation=conv, by="system", why="seeker_gone")

    async def _peer_grace(self, user: str) -> None:
        if await self.redis.hlen(self.keys.conns("peer", user)) > 0:
            return
        for conv in await self.engine.peer_conversations(user):
            try:
                await self.engine.release(conv, user, None, reason="grace")
                log.info("conversation.requeued", conversation=conv, peer=user, why="peer_gone")
            except RoutingError:
                pass
        if await self.engine.peer_state(user) != ShiftState.OFF:
            await self.engine.shift(user, ShiftAction.END)
            await self.store.shift_ended(user, int(time.time() * 1000))
            log.info("shift.changed", peer=user, after="off", why="peer_gone")

    async def _debrief(self, user: str) -> None:
        await self.engine.end_debrief(user)

    async def _idle(self, conv: str) -> None:
        """A conversation whose channel asked for an idle time had no message for that long."""
        if await self.engine.end(conv, "system", outcome="idle"):
            log.info("conversation.ended", conversation=conv, by="system", why="idle")

    async def _archive(self, conv: str) -> None:
        if await archive(self.engine, self.store, self.settings, conv):
            log.info("conversation.archived", conversation=conv)

    async def sweep_dead_processes(self) -> None:
        """Sockets of a process whose heartbeat stopped (killed) are detached, starting grace."""
        for proc in replies.texts(await self.redis.smembers(self.keys.procs)):
            if await self.redis.exists(self.keys.proc(proc)):
                continue
            members = replies.texts(await self.redis.smembers(self.keys.proc_conns(proc)))
            for m in members:
                kind, ident, sock = m.split("|", 2)
                await self.engine.detach(kind, ident, sock, proc)
            await self.redis.delete(self.keys.proc_conns(proc))
            await self.redis.srem(self.keys.procs, proc)
            log.info("process.swept", proc=proc, sockets=len(members))
