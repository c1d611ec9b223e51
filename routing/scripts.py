"""Loads the routing Lua scripts, each with the shared ``_lib.lua`` prepended."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, RedisError

MAX_BATCH = 256  # calls in one pipeline at most
# A caller gives up sooner (its own timeout); this bounds the sending task on a Redis that hangs.
BATCH_TIMEOUT_S = 30.0

SCRIPT_NAMES = ("append", "offers", "accept", "release_offer", "end", "release", "escalate",
                "shift", "presence", "forget", "debrief_end", "assigned", "match", "lease",
                "noreply", "checkin")


def script_source(name: str, constants: dict[str, Any] | None = None) -> str:
    """The full source of one script: the constants, the shared helpers, then the script itself.

    ``constants`` (JSON-able: the service's own texts and settings a script needs, such as the
    escalation texts) become the Lua table ``CONST``. They are part of the source, so they cost
    no argument per call; processes with the same settings load the same script (same SHA).
    """
    pkg = resources.files("routing")
    lib = pkg.joinpath("_lib.lua").read_text(encoding="utf-8")
    # ASCII-only JSON, then escaped as a Lua string literal: no byte of the texts can end it.
    literal = json.dumps(constants or {}, ensure_ascii=True).replace("\\", "\\\\").replace('"', '\\"')
    preamble = f'local CONST = cjson.decode("{literal}")\n'
    return preamble + lib + "\n" + pkg.joinpath(f"{name}.lua").read_text(encoding="utf-8")


class Scripts:
    """The registered scripts; calling one reloads it by itself after a Redis restart (NOSCRIPT).

    Calls are pipelined by one sender task: a call made while a batch is on its way joins the
    next one, and a batch is one write and one read for Redis instead of one of each per call.
    At low load a batch is one call; under load (hundreds of sockets writing at once) batches
    grow by themselves, so a backlog drains in a few round trips instead of one per call.
    Measured in bench figure 2 (docs/performance.md): the same CPU, and ~1 s stalls gone.
    Redis runs scripts one at a time anyway, so one pipeline in flight costs no parallelism.
    Each call gets its own reply or error; calls of one task stay in order; a call whose
    arguments cannot be encoded never joins a batch, so it fails alone.
    """

    def __init__(self, redis: Redis, prefix: str, constants: dict[str, Any] | None = None) -> None:
        self.prefix = prefix
        self.redis = redis
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name, constants)) for name in SCRIPT_NAMES}
        self._batch: list[tuple[AsyncScript, list[Any], asyncio.Future[Any]]] = []
        self._sender: asyncio.Task[None] | None = None
        self._encoder = redis.get_encoder()  # type: ignore[no-untyped-call]  # unannotated in redis-py

    async def call(self, name: str, *args: Any) -> Any:
        """Run script ``name`` with ARGV = (prefix, *args).

        Arguments redis-py cannot pack (a string holding a lone surrogate: UnicodeEncodeError;
        a None or a dict: DataError) fail this call at once, before it joins a batch: a pipeline
        is packed whole, so one such call in it would fail every other caller's step as well.
        """
        argv = [self.prefix, *args]
        for arg in argv:
            self._encoder.encode(arg)  # what packing the pipeline would do with it, and raise
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._batch.append((self._scripts[name], argv, fut))
        if self._sender is None:
            self._sender = asyncio.create_task(self._drain(), name="scripts-sender")
        return await fut

    async def aclose(self) -> None:
        """Stop the sender (at shutdown, before the Redis pool closes): calls on their way or
        waiting fail with ``RedisError`` instead of hanging; a later call starts a new sender.
        """
        sender = self._sender
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)

    async def _drain(self) -> None:
        """The one sender: sends what is waiting as one pipeline, then what came meanwhile."""
        batch: list[tuple[AsyncScript, list[Any], asyncio.Future[Any]]] = []
        try:
            while self._batch:
                batch, self._batch = self._batch[:MAX_BATCH], self._batch[MAX_BATCH:]
                await self._send(batch)
        finally:
            self._sender = None
            # Cancelled (shutdown): nobody is left to send these, nor to read the batch's replies.
            leftover, self._batch = [*batch, *self._batch], []
            for _, _, fut in leftover:
                if not fut.done():
                    fut.set_exception(RedisError("shutting down"))

    async def _send(self, batch: list[tuple[AsyncScript, list[Any], asyncio.Future[Any]]]) -> None:
        if len(batch) == 1:
            script, args, fut = batch[0]
            await _settle(fut, asyncio.wait_for(script(keys=[], args=args), BATCH_TIMEOUT_S))
            return
        try:
            async with asyncio.timeout(BATCH_TIMEOUT_S), self.redis.pipeline(transaction=False) as pipe:
                for script, args, _ in batch:
                    pipe.execute_command("EVALSHA", script.sha, 0, *args)
                replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc if isinstance(exc, Exception) else RedisError("batch cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        for (script, args, fut), reply in zip(batch, replies, strict=True):
            if isinstance(reply, NoScriptError):
                await _settle(fut, script(keys=[], args=args))  # loads it again, then runs it
            elif fut.done():
                continue  # its caller gave up (cancelled); the step ran all the same
            elif isinstance(reply, Exception):
                fut.set_exception(reply)
            else:
                fut.set_result(reply)


async def _settle(fut: asyncio.Future[Any], call: Awaitable[Any]) -> None:
    try:
        result = await call
    except Exception as exc:
        if not fut.done():
            fut.set_exception(exc)
    else:
        if not fut.done():
            fut.set_result(result)
