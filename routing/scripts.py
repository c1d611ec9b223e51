"""Loads the routing Lua scripts, each with the shared ``_lib.lua`` prepended, and runs them in
pipelined batches that wait for replicas when ``CHATD_REDIS_MIN_REPLICAS`` asks for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

from config.logging import get_logger
from records.keyspace import Keys

log = get_logger(__name__)

MAX_BATCH = 256  # calls in one pipeline at most
# A caller gives up sooner (its own timeout); this bounds the sending task on a Redis that hangs.
BATCH_TIMEOUT_S = 30.0
CLOSE_WAIT_S = 5.0  # aclose waits this long at most for a caller's own send to end

# CONTRACT.md section 8: replicas confirm within a second, or the sender is answered 'unavailable'.
REPLICATION_WAIT_MS = 1000
# The steps whose success a client is told of as "stored, it will not be lost": a message (the
# seeker's and the peer's ack, the SMS webhook's 200) and forget ('forgotten'). Only batches
# holding one of these wait for replicas, so the worker's lease and timers, presence and the
# other steps go on while a replica is away (a failover can undo the last moment of those; the
# clients' resync shows what survived).
REPLICATED = frozenset({"append", "forget"})

_LUA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

SCRIPT_NAMES = ("append", "offers", "accept", "release_offer", "end", "release", "escalate",
                "shift", "presence", "forget", "debrief_end", "assigned", "match", "lease",
                "noreply", "checkin")


def script_source(name: str, constants: dict[str, Any] | None = None) -> str:
    """The full source of one script: the constants, the shared helpers, then the script itself.

    ``constants`` (JSON-able: the service's own texts and settings a script needs, such as the
    escalation texts) become the Lua table ``CONST``. They are part of the source, so they cost
    no argument per call; processes with the same settings load the same script (same SHA).
    See :func:`constants_preamble` for what a call pays for them.
    """
    pkg = resources.files("routing")
    lib = pkg.joinpath("_lib.lua").read_text(encoding="utf-8")
    return constants_preamble(constants or {}) + lib + "\n" + pkg.joinpath(f"{name}.lua").read_text(encoding="utf-8")


def constants_preamble(constants: dict[str, Any]) -> str:
    """The Lua line that defines ``CONST``: numbers as literals, everything else (the texts) as
    one JSON string decoded on the first read of a non-number field, within that call.

    Redis runs a script's whole body on every call, so a ``cjson.decode`` of the ~2.4 KB of
    texts at the top cost every call ~12 us of Redis's CPU (measured with ``INFO commandstats``,
    ``usec_per_call`` of EVALSHA, against the same script without it), though only an
    escalation reads them. Raises ValueError for a number field whose name is not a Lua name.
    """
    numbers = {k: v for k, v in constants.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    for key, value in numbers.items():
        if not _LUA_NAME.fullmatch(key) or not math.isfinite(value):
            raise ValueError(f"script constant {key!r} = {value!r} cannot be a Lua literal")
    rest = {k: v for k, v in constants.items() if k not in numbers}
    # ASCII-only JSON, then escaped as a Lua string literal: no byte of the texts can end it.
    literal = json.dumps(rest, ensure_ascii=True).replace("\\", "\\\\").replace('"', '\\"')
    fields = ", ".join(f"{key} = {value!r}" for key, value in numbers.items())
    return (f"local CONST = setmetatable({{{fields}}}, {{__index = function(t, k)\n"
            f'  setmetatable(t, nil); for name, v in pairs(cjson.decode("{literal}")) do t[name] = v end\n'
            f"  return t[k]\nend}})\n")


class NotReplicated(RedisError):
    """The primary ran the step, but fewer than ``min_replicas`` replicas confirmed it within
    REPLICATION_WAIT_MS: it must not be acknowledged. A RedisError, so every caller treats it as
    Redis being unavailable (the socket answers ``unavailable``, the SMS webhook 503); the client
    sends it again with the same client_id, and the script stores nothing twice."""


@dataclass(slots=True)
class _Call:
    name: str
    script: AsyncScript
    args: list[Any]
    fut: asyncio.Future[Any]


class Scripts:
    """The registered scripts; calling one reloads it by itself when Redis does not know it
    (NOSCRIPT: after a restart, or on a replica just promoted, whose script cache may be empty).

    Calls are pipelined, one batch on its way at a time: a call made while a batch is on its
    way joins the next one, and a batch is one write and one read for Redis instead of one of
    each per call. At low load a batch is one call; under load (hundreds of sockets writing at
    once) batches grow by themselves, so a backlog drains in a few round trips instead of one
    per call. Measured in bench figure 2 (docs/performance.md): the same CPU, and ~1 s stalls
    gone. Redis runs scripts one at a time anyway, so one pipeline in flight costs no
    parallelism. A call made when nothing is on its way is sent by its caller's own task, at
    once; the calls that came meanwhile are then sent by a sender task, batch after batch, until
    none is left. Each call gets its own reply or error; calls of one task stay in order; a call
    whose arguments cannot be encoded never joins a batch, so it fails alone.

    **Waiting for replicas.** With ``min_replicas`` ≥ 1, a batch holding a REPLICATED step ends
    with ``INCR P:fence`` and ``WAIT min_replicas 1000``, on the same connection: WAIT blocks
    until that many replicas acknowledged every write this connection made, or the timeout
    passed, and returns how many did (https://redis.io/docs/latest/commands/wait/). One WAIT
    per batch, not per message. The fence write makes "every write this connection made" cover
    everything the primary had done before it, whichever connection did it: a retried message
    whose first attempt was stored (on another connection) but not confirmed writes nothing
    itself, and must not be confirmed by an older offset. Fewer replicas than asked: each
    REPLICATED call of the batch fails with :class:`NotReplicated`, the others get their reply.
    """

    def __init__(self, redis: Redis, prefix: str, constants: dict[str, Any] | None = None, *,
                 min_replicas: int = 0) -> None:
        self.prefix = prefix
        self.redis = redis
        self.min_replicas = min_replicas
        self._fence = Keys(prefix).fence
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name, constants)) for name in SCRIPT_NAMES}
        self._batch: list[_Call] = []
        self._sender: asyncio.Task[None] | None = None
        # While a caller sends its own call (see call): its deadline, which aclose brings forward,
        # and a future done when that send has ended, which aclose waits for.
        self._direct: asyncio.Timeout | None = None
        self._direct_ended: asyncio.Future[None] | None = None
        self._direct_aborted = False
        self._closing = False  # aclose under way: no sender is started
        self._encoder = redis.get_encoder()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def call(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with ARGV = (prefix, *args).

        Arguments redis-py cannot pack (a string holding a lone surrogate: UnicodeEncodeError;
        a None or a dict: DataError) fail this call at once, before it joins a batch: a pipeline
        is packed whole, so one such call in it would fail every other caller's step as well.
        Raises :class:`NotReplicated` for a REPLICATED step the replicas did not confirm.
        """
        argv = [self.prefix, *args]
        for arg in argv:
            self._encoder.encode(arg)  # what packing the pipeline would do with it, and raise
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        call = _Call(name, self._scripts[name], argv, fut)
        if self._sender is None and self._direct is None and not self._closing:
            # Nothing on its way: send it from this task, without waiting for a sender task to
            # be scheduled (one event-loop turn, which at load is the other sockets' work). Unlike
            # a batched call, this one's step is cut short if its caller is cancelled mid-send
            # (redis-py then drops the connection): the step ran or not, and the client's retry,
            # with the same client_id, stores it once either way.
            ended = self._direct_ended = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(BATCH_TIMEOUT_S) as self._direct:
                    await self._send([call])
            except BaseException as exc:
                if fut.done() and not fut.cancelled():
                    fut.exception()  # marked retrieved: the raise below is what the caller gets
                if isinstance(exc, TimeoutError) and self._direct_aborted:
                    raise RedisError("shutting down") from None
                raise
            finally:
                self._direct, self._direct_ended, self._direct_aborted = None, None, False
                ended.set_result(None)
                self._start_sender()
            return fut.result()
        self._batch.append(call)
        if self._direct is None:
            self._start_sender()
        return await fut

    def _start_sender(self) -> None:
        """Start the sender task when calls wait and none runs (the direct caller starts it when
        done), unless aclose is under way."""
        if self._batch and self._sender is None and not self._closing:
            self._sender = asyncio.create_task(self._drain(), name="scripts-sender")

    async def confirm_replicated(self) -> None:
        """Return once ``min_replicas`` replicas have every write the primary made so far (at once
        when ``min_replicas`` is 0), else raise :class:`NotReplicated` after REPLICATION_WAIT_MS.

        For an answer that acknowledges a step done earlier, on another connection and perhaps
        never confirmed: a retried SMS whose text an earlier attempt stored. The fence write
        makes this connection's WAIT cover the earlier writes (see the class docstring).
        """
        if not self.min_replicas:
            return
        async with asyncio.timeout(BATCH_TIMEOUT_S), self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(self._fence)
            pipe.execute_command("WAIT", self.min_replicas, REPLICATION_WAIT_MS)
            _, acked = await pipe.execute()
        if int(acked) < self.min_replicas:
            log.warning("redis.not_replicated", replicas=int(acked), wanted=self.min_replicas, calls=0)
            raise NotReplicated(f"{acked} of {self.min_replicas} replicas confirmed within {REPLICATION_WAIT_MS} ms")

    async def aclose(self) -> None:
        """Stop the sender (at shutdown, before the Redis pool closes): calls on their way or
        waiting fail with ``RedisError`` instead of hanging; a later call starts a new sender.
        """
        self._closing = True
        try:
            direct, ended = self._direct, self._direct_ended
            if direct is not None and ended is not None:  # a caller's own send: its deadline is now
                self._direct_aborted = True
                if not direct.expired():  # else it is timing out already
                    direct.reschedule(asyncio.get_running_loop().time())
                # It ends at the caller's next step; nothing is on its way once aclose returns.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_WAIT_S):
                        await asyncio.shield(ended)
            sender = self._sender
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            # Calls that waited for a direct caller's send to end (see call) had no sender yet.
            waiting, self._batch = self._batch, []
            for call in waiting:
                if not call.fut.done():
                    call.fut.set_exception(RedisError("shutting down"))
        finally:
            self._closing = False

    async def _drain(self) -> None:
        """The one sender: sends what is waiting as one pipeline, then what came meanwhile."""
        batch: list[_Call] = []
        try:
            while self._batch:
                batch, self._batch = self._batch[:MAX_BATCH], self._batch[MAX_BATCH:]
                await self._send(batch)
        finally:
            self._sender = None
            # Cancelled (shutdown): nobody is left to send these, nor to read the batch's replies.
            leftover, self._batch = [*batch, *self._batch], []
            for call in leftover:
                if not call.fut.done():
                    call.fut.set_exception(RedisError("shutting down"))

    async def _send(self, batch: list[_Call], *, reloaded: bool = False) -> None:
        wait = self.min_replicas > 0 and any(call.name in REPLICATED for call in batch)
        if len(batch) == 1 and not wait:
            call = batch[0]
            await _settle(call.fut, _within(call.script(keys=[], args=call.args), BATCH_TIMEOUT_S))
            return
        try:
            async with asyncio.timeout(BATCH_TIMEOUT_S), self.redis.pipeline(transaction=False) as pipe:
                for call in batch:
                    pipe.execute_command("EVALSHA", call.script.sha, 0, *call.args)
                if wait:
                    pipe.incr(self._fence)
                    pipe.execute_command("WAIT", self.min_replicas, REPLICATION_WAIT_MS)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for call in batch:
                if not call.fut.done():
                    call.fut.set_exception(exc if isinstance(exc, Exception) else RedisError("batch cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        confirmed = True
        if wait:
            acked = replies[-1]
            confirmed = isinstance(acked, int) and acked >= self.min_replicas
            if not confirmed:
                log.warning("redis.not_replicated", replicas=acked if isinstance(acked, int) else None,
                            wanted=self.min_replicas, calls=len(batch))
        again: list[_Call] = []
        for call, reply in zip(batch, replies[:len(batch)], strict=True):
            if isinstance(reply, NoScriptError) and not reloaded:
                again.append(call)  # nothing ran: load it, then send it again (with its own WAIT)
            elif call.fut.done():
                continue  # its caller gave up (cancelled); the step ran all the same
            elif isinstance(reply, Exception):
                call.fut.set_exception(reply)
            elif not confirmed and call.name in REPLICATED:
                call.fut.set_exception(NotReplicated(
                    f"{acked} of {self.min_replicas} replicas confirmed within {REPLICATION_WAIT_MS} ms"))
            else:
                call.fut.set_result(reply)
        if again:
            await self._reload_and_send(again)

    async def _reload_and_send(self, calls: list[_Call]) -> None:
        """Load the scripts the server did not know, then send those calls once more."""
        try:
            async with asyncio.timeout(BATCH_TIMEOUT_S):
                for script in {id(c.script): c.script for c in calls}.values():
                    await self.redis.script_load(script.script)
        except Exception as exc:
            for call in calls:
                if not call.fut.done():
                    call.fut.set_exception(exc)
            return
        await self._send(calls, reloaded=True)


async def _settle(fut: asyncio.Future[Any], call: Awaitable[Any]) -> None:
    try:
        result = await call
    except Exception as exc:
        if not fut.done():
            fut.set_exception(exc)
    else:
        if not fut.done():
            fut.set_result(result)


async def _within(call: Awaitable[Any], timeout_s: float) -> Any:
    """``call``'s result, or TimeoutError after ``timeout_s``. Not ``asyncio.wait_for``: before
    Python 3.12 it runs the awaitable in a task of its own, a task and a loop turn per call."""
    async with asyncio.timeout(timeout_s):
        return await call
