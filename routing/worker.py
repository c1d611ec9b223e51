"""The worker: owner of every timer and of matching.

Timers live in Redis (``P:timers``, member ``kind|arg`` scored by deadline), so a restarted
worker carries on where the last one stopped. A handler runs at least once: it removes its
timer only after it ran, and every handler is safe to repeat because the Lua step behind it
checks the state first. One loop does everything, in order: wait for a nudge or the next
deadline, run due timers, match, and now and then sweep dead processes and purge old texts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chatd.store import Store
from config.logging import get_logger
from config.settings import Settings
from routing.archive import archive, purge
from routing.engine import Engine
from routing.errors import RoutingError
from routing.states import ShiftAction, ShiftState

log = get_logger(__name__)
MAX_WAIT_S = 1.0
TIMER_BATCH = 200
SWEEP_EVERY_S = 5.0
PURGE_EVERY_S = 3600.0
RETRY_LATER_MS = 5000

TimerHandler = Callable[[str], Awaitable[None]]


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class Worker:
    def __init__(self, engine: Engine, store: Store, settings: Settings) -> None:
        self.engine = engine
        self.store = store
        self.settings = settings
        self.redis = engine.redis
        self.keys = engine.keys
        self.handlers: dict[str, TimerHandler] = {
            "offer": self._offer, "wait": self._wait, "sgrace": self._seeker_grace,
            "pgrace": self._peer_grace, "debrief": self._debrief, "archive": self._archive,
        }
        self._last_sweep = 0.0
        self._last_purge = 0.0

    def add_handler(self, kind: str, handler: TimerHandler) -> None:
        """Another part (the SMS bridge) owns a timer kind of its own."""
        self.handlers[kind] = handler

    async def run(self) -> None:
        log.info("worker.started")
        backoff_s = 0.1
        while True:
            try:
                await self.step()
                backoff_s = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
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
        for raw in due:
            member = _s(raw)
            kind, _, arg = member.partition("|")
            handler = self.handlers.get(kind)
            try:
                if handler is not None:
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

    async def _archive(self, conv: str) -> None:
        if await archive(self.engine, self.store, self.settings, conv):
            log.info("conversation.archived", conversation=conv)

    async def sweep_dead_processes(self) -> None:
        """Sockets of a process whose heartbeat stopped (killed) are detached, starting grace."""
        for raw in await self.redis.smembers(self.keys.procs):
            proc = _s(raw)
            if await self.redis.exists(self.keys.proc(proc)):
                continue
            members = await self.redis.smembers(self.keys.proc_conns(proc))
            for m in members:
                kind, ident, sock = _s(m).split("|", 2)
                await self.engine.detach(kind, ident, sock, proc)
            await self.redis.delete(self.keys.proc_conns(proc))
            await self.redis.srem(self.keys.procs, proc)
            log.info("process.swept", proc=proc, sockets=len(members))
