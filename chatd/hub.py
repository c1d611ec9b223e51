"""Events between processes: one Redis pub/sub listener per process, fanned out locally.

Scripts publish envelopes ``seq<TAB>conv<TAB>frame`` (routing/_lib.lua). Each process keeps one
pub/sub connection and one listener task; a socket subscribes to the channels it needs and
gets every envelope through :meth:`Subscriber.deliver`, which must not block (sockets put
frames on their own bounded queue). After a lost pub/sub connection the hub reconnects with
backoff, subscribes again, and asks every subscriber to resync from Redis, since pub/sub
keeps nothing for a disconnected listener.

The connection comes from the process's Redis client, so through Sentinels a reconnect goes to
the primary they name now (chatd/redis_client.py): after a failover the hub subscribes again on
the new primary by itself. A connection to a host that vanished without closing it (power lost,
a partition) would sit silent forever, indistinguishable from a quiet night; so the listener
sends its own PING every ``PING_EVERY_S`` and reconnects when nothing at all, not even the pong,
has come for ``SILENT_AFTER_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from config.cancellation import raise_if_cancelling
from config.logging import get_logger

log = get_logger(__name__)
SUBSCRIBE_TIMEOUT_S = 5.0
PING_EVERY_S = 3.0
SILENT_AFTER_S = 10.0


class Subscriber(Protocol):
    def deliver(self, channel: str, data: str) -> None:
        """Take one envelope; never blocks."""

    def resync(self) -> None:
        """Events may have been missed: catch up from Redis (schedules its own work)."""


class Hub:
    """Channel subscriptions of this process, shared by all of its sockets."""

    def __init__(self, redis: Redis, base_channels: list[str]) -> None:
        self.redis = redis
        self._base = list(base_channels)
        self._subs: dict[str, set[Subscriber]] = defaultdict(set)
        self._confirm: dict[str, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self.reconnects = 0

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._listen(), name="hub-listener")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None

    async def _connect(self) -> None:
        """Subscribe every channel on a new pub/sub connection, and wait until Redis confirms
        them all: a write to a dead pooled socket can look like success, and announcing a
        reconnect that has not happened would send every socket to resync against a Redis
        that is still away."""
        pubsub = self.redis.pubsub()
        channels = [*self._base, *(c for c, s in self._subs.items() if s)]
        try:
            await pubsub.subscribe(*channels)
            pending = set(channels)
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                while pending:
                    msg = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT_S)
                    if msg is None:
                        continue
                    if msg.get("type") == "subscribe":
                        pending.discard(msg["channel"])
                    else:
                        self._dispatch(msg)
        except BaseException:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise
        self._pubsub = pubsub
        self._ready.set()

    async def subscribe(self, channel: str, sub: Subscriber) -> None:
        """Add a subscriber; returns once Redis confirms the subscription (no event missed after)."""
        first = not self._subs[channel]
        self._subs[channel].add(sub)
        if channel in self._base:
            return
        if first:
            await self._ready.wait()
            fut = self._confirm.get(channel)
            if fut is None or fut.done():
                fut = asyncio.get_running_loop().create_future()
                self._confirm[channel] = fut
            if self._pubsub is None:
                return  # reconnecting: _connect subscribes every channel with a subscriber
            await self._pubsub.subscribe(channel)
        else:
            # Another socket here asked first; its SUBSCRIBE may not be confirmed yet.
            pending = self._confirm.get(channel)
            if pending is None:
                return
            fut = pending
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                await asyncio.shield(fut)
        except TimeoutError:
            log.warning("hub.subscribe_unconfirmed")

    async def unsubscribe(self, channel: str, sub: Subscriber) -> None:
        subs = self._subs.get(channel)
        if subs is None:
            return
        subs.discard(sub)
        if subs or channel in self._base:
            return
        del self._subs[channel]
        if self._pubsub is not None and self._ready.is_set():
            with contextlib.suppress(RedisError, OSError):
                await self._pubsub.unsubscribe(channel)

    def add_base_subscriber(self, channel: str, sub: Subscriber) -> None:
        """A process-level subscriber to one of the base channels (always subscribed)."""
        self._subs[channel].add(sub)

    def local_subscribers(self, channel: str) -> set[Subscriber]:
        return set(self._subs.get(channel, ()))

    async def _listen(self) -> None:
        backoff_s = 0.1
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            try:
                if self._pubsub is None:
                    raise ConnectionError("pub/sub not connected")
                now = loop.time()
                if now - heard > SILENT_AFTER_S:
                    raise ConnectionError(f"pub/sub silent for {SILENT_AFTER_S} s")
                if now - pinged >= PING_EVERY_S:
                    pinged = now
                    await self._pubsub.ping()
                msg = await self._pubsub.get_message(timeout=1.0)
                backoff_s = 0.1
                if msg is not None:
                    heard = loop.time()  # a pong counts: the link is alive
                    self._dispatch(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: reconnect with backoff, never die
                raise_if_cancelling()
                self._ready.clear()
                log.warning("hub.disconnected", error=type(exc).__name__, retry_in_s=backoff_s)
                if self._pubsub is not None:
                    with contextlib.suppress(Exception):
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                    self._pubsub = None
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)
                try:
                    await self._connect()
                except asyncio.CancelledError:
                    raise
                except Exception as retry_exc:
                    log.info("hub.reconnect_failed", error=type(retry_exc).__name__)
                    continue  # still away: the next round backs off further
                heard = pinged = loop.time()
                self.reconnects += 1
                log.info("hub.reconnected")
                for subs in list(self._subs.values()):
                    for sub in list(subs):
                        sub.resync()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        channel: str = msg["channel"]
        if kind == "subscribe":
            fut = self._confirm.pop(channel, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        if kind != "message":
            return
        data: str = msg["data"]
        for sub in list(self._subs.get(channel, ())):
            try:
                sub.deliver(channel, data)
            except Exception:
                log.exception("hub.deliver_failed")
