"""One client socket: a bounded outbound queue drained by a writer task while frames are pending,
a rate limit, and cleanup.

Overflow policy: a socket whose outbound queue is full (the client stopped reading) is closed
with 1013 rather than slowing anyone else; the client resumes and replays what it missed.
Every task a connection starts is owned by it, and cancelled and awaited when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import deque
from collections.abc import Awaitable, Coroutine, Generator
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from chatd.wire import WireError
from config import jsoncodec
from config.cancellation import raise_if_cancelling
from config.logging import get_logger
from records import RecordsUnavailable
from routing import envelope, frames
from routing.engine import new_id
from routing.errors import RoutingError

if TYPE_CHECKING:
    from chatd.services import Services

log = get_logger(__name__)

SEND_QUEUE_MAX = 1024
CLOSE_TIMEOUT_S = 5.0
# A token bucket that never refuses 5 frames a second (contract), with room for short bursts.
RATE_PER_S = 8.0
RATE_BURST = 20.0
MAX_REFUSED_IN_A_ROW = 200
DISPATCH_TIMEOUT_S = 10.0
CLEANUP_ATTEMPTS = 8  # about 10 s of retries


class SeqTracker:
    """Which seqs of one conversation this socket has delivered, exactly.

    Not a single maximum: a socket's own message is acked with seq 6 by a script reply while
    the other side's seq 5, published just before, may still be on its way through pub/sub
    (another Redis connection). A maximum would drop 5 as a duplicate; this keeps the
    contiguous prefix as a number and only the few seqs above it as a set.
    """

    __slots__ = ("above", "contiguous")

    def __init__(self) -> None:
        self.contiguous = 0
        self.above: set[int] = set()

    def add(self, seq: int) -> bool:
        """Record ``seq``; False when it was delivered before."""
        if seq <= self.contiguous or seq in self.above:
            return False
        self.above.add(seq)
        while self.contiguous + 1 in self.above:
            self.contiguous += 1
            self.above.discard(self.contiguous)
        return True


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate, self.burst = rate_per_s, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Connection:
    """Base of seeker and peer sockets."""

    kind = "socket"

    def __init__(self, ws: WebSocket, services: Services) -> None:
        self.ws = ws
        self.services = services
        self.id = new_id()[:16]
        # Outbound frames wait here (created when a write has to wait) for a writer task that
        # runs only while frames are pending: an idle socket holds neither a queue nor a task.
        self._out: deque[str] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._seen: dict[str, SeqTracker] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[Any] | None = None  # the task reading frames, while it does
        self._reader_stopped = False  # our own close cancelled the reader
        self._close_task: asyncio.Task[None] | None = None
        self._cleanup_task: asyncio.Future[None] | None = None  # held here: it outlives a cancelled run()
        self.close_code: int | None = None
        self._finished = False
        self._done: asyncio.Event | None = None  # created only if someone waits for the end
        self.bucket = TokenBucket(RATE_PER_S, RATE_BURST)
        self._refused = 0

    # --- outbound ---------------------------------------------------------------------------
    def send(self, text: str) -> None:
        """Queue a frame; a full queue closes the socket (overflow policy above)."""
        if self.close_code is not None:
            return
        out = self._out
        if self._writer_task is None and not out:
            # Nothing pending: write it now. A socket that can take it (nearly always) takes it
            # without a writer task and the loop turn that task would wait for, and without a
            # queue; one that cannot (its client is slow to read) goes on in a writer task, and
            # later frames queue behind it. The first step runs in the caller's task (the hub's
            # listener, another socket's reader): nothing on the way to the transport may depend
            # on which task it is (uvicorn's websockets-sansio protocol, Starlette's WebSocket).
            try:
                rest = start_eagerly(self.ws.send_text(text))
            except Exception as exc:
                self._write_failed(exc)
                return
            if rest is not None:
                if out is None:
                    out = self._out = deque()
                self._writer_task = self.spawn(self._writer(out, rest), "writer")
            return
        if out is None:
            out = self._out = deque()
        elif len(out) >= SEND_QUEUE_MAX:
            log.warning("socket.overflow", kind=self.kind)
            self.close(1013, "too slow: reconnect to resume")
            return
        out.append(text)
        if self._writer_task is None:
            self._writer_task = self.spawn(self._writer(out), "writer")

    def send_error(self, code: str, message: str) -> None:
        self.send(frames.encode(frames.Error(code=code, message=message)))

    def deliver(self, channel: str, data: str) -> None:
        """An envelope from the hub: drop replayed duplicates by seq, then handle the frame."""
        env = envelope.unpack(data)
        if env.control:
            self.on_control(env.conv, env.frame)
            return
        if env.seq and not self.mark_seen(env.conv, env.seq):
            return
        self.on_frame(channel, env.conv, env.frame)

    def mark_seen(self, conv: str, seq: int) -> bool:
        """Record a delivered (or acked) seq; False when it was delivered before."""
        tracker = self._seen.get(conv)
        if tracker is None:
            tracker = self._seen[conv] = SeqTracker()
        return tracker.add(seq)

    def forget_seqs(self, conv: str) -> None:
        """The conversation left this socket (ended, released): its tracker goes too."""
        self._seen.pop(conv, None)

    def on_frame(self, channel: str, conv: str, frame: str) -> None:
        self.send(frame)

    def on_control(self, kind: str, arg: str) -> None:
        """A control envelope (``!<TAB>kind<TAB>arg``), e.g. a session kick."""

    def resync(self) -> None:
        """The hub lost events: catch up from Redis, retrying while Redis is still away."""
        self.spawn(self._resync_until_done(), "resync")

    async def _resync_until_done(self) -> None:
        backoff_s = 0.2
        while True:
            try:
                await self.catch_up()
                return
            except (RedisError, OSError) as exc:
                raise_if_cancelling()
                log.info("socket.resync_retry", kind=self.kind, error=type(exc).__name__)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 5.0)

    async def catch_up(self) -> None:
        """Send what may have been missed (subclasses)."""

    async def _writer(self, out: deque[str], first: Awaitable[None] | None = None) -> None:
        """Write pending frames in order (after ``first``, a write under way), then end; ``send``
        starts a new one when needed."""
        try:
            if first is not None:
                await first
            while out:
                await self.ws.send_text(out.popleft())
        finally:
            self._writer_task = None

    async def wait_done(self) -> None:
        """Until cleanup has finished."""
        if self._finished:
            return
        if self._done is None:
            self._done = asyncio.Event()
        await self._done.wait()

    # --- lifecycle --------------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Start a task this connection owns (cancelled and awaited when it ends)."""
        task = asyncio.create_task(coro, name=f"{self.kind}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed(exc, task.get_name())

    def _write_failed(self, exc: Exception) -> None:
        self._failed(exc, f"{self.kind}-writer")

    def _failed(self, exc: BaseException, task: str) -> None:
        """A task of this socket (or a write) failed: a socket gone is expected, anything else
        logged; either way the socket is closed (1011), and the client resumes."""
        if not isinstance(exc, (WebSocketDisconnect, OSError, RuntimeError)):
            log.error("socket.task_failed", kind=self.kind, task=task, error=type(exc).__name__)
        self.close(1011, "internal error")

    def close(self, code: int, reason: str = "") -> None:
        """Close from the server side (idempotent); the reader ends once the close completes."""
        if self.close_code is not None:
            return
        self.close_code = code
        self._close_task = self.spawn(self._close(code, reason), "close")

    async def _close(self, code: int, reason: str) -> None:
        # Let frames already queued (an error, an 'ended') go out first, briefly.
        if self._writer_task is not None:
            await asyncio.wait([self._writer_task], timeout=1.0)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                if self.ws.application_state == WebSocketState.CONNECTED:
                    await self.ws.close(code, reason)
        # A client that never answers the close does not hold the reader forever.
        if self._reader is not None:
            self._reader_stopped = True
            self._reader.cancel()

    async def run(self) -> None:
        """Serve the socket until it closes, then clean up (always). Frames are read in the
        calling task itself: no second task per socket."""
        reader = self._reader = asyncio.current_task()
        self.services.connections.add(self)
        try:
            await self._read_loop()
        except asyncio.CancelledError:
            if not self._reader_stopped or reader is None:
                raise  # cancelled from outside (the server stops): clean up, then propagate
            reader.uncancel()  # our close gave up on a client that never answered it
        except Exception as exc:
            log.error("socket.reader_failed", kind=self.kind, error=type(exc).__name__)
            # The client gets a close frame (1011) and resumes, not a dropped TCP connection.
            self._reader = None
            self.close(1011, "internal error")
            if self._close_task is not None:
                await asyncio.wait([self._close_task], timeout=CLOSE_TIMEOUT_S + 2)
        finally:
            self._reader = None  # from here on, a close must not cancel this task
            # The cleanup finishes even when this task is cancelled (the server stopping): its
            # detach must land before shutdown closes Redis, which waits for it through
            # services.connections (chatd/app.py, _close_sockets).
            cleanup = self._cleanup_task = asyncio.ensure_future(self._cleanup())
            cleanup.add_done_callback(lambda _: self.services.connections.discard(self))
            await asyncio.shield(cleanup)

    async def _read_loop(self) -> None:
        try:
            await self.opened()
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    self.send_error("bad_request", "only text frames are accepted")
                    continue
                if not self.bucket.take():
                    self._refused += 1
                    if self._refused > MAX_REFUSED_IN_A_ROW:
                        self.close(1008, "rate limit")
                    else:
                        self.send_error("rate_limited", "too many frames: slow down")
                    continue
                self._refused = 0
                await self.dispatch(text)
        except WebSocketDisconnect:
            return

    async def dispatch(self, text: str) -> None:
        try:
            async with asyncio.timeout(DISPATCH_TIMEOUT_S):
                await self.handle(text)
        except WireError as exc:
            self.send_error(exc.code, exc.message)
        except RoutingError as exc:
            self.send(frames.encode(frames.Error(code=exc.code, message=exc.message, offer=exc.offer,
                                                 conversation=exc.conversation)))
        except UnicodeEncodeError:
            # A string that cannot be UTF-8 got past wire.decode (which refuses them all) and
            # failed on its way to Redis or SQLite: a bug at the edge, logged as one, but it
            # was this frame's fault alone, so the frame is refused and the socket stays.
            log.error("socket.unencodable_text", kind=self.kind)
            self.send_error("bad_request", "the frame holds text that is not valid Unicode")
        except (RedisError, OSError, TimeoutError, RecordsUnavailable) as exc:
            # Redis (or the database) is away or late: nothing was acknowledged (the step may
            # still land), the socket stays, and the client retries with the same client_id,
            # which stores the message once with every step it triggers (append.lua).
            log.warning("socket.backend_unavailable", kind=self.kind, error=type(exc).__name__)
            self.send_error("unavailable", "briefly unavailable: nothing was acknowledged, send it again")

    async def _cleanup(self) -> None:
        # Detaching must happen, or a closed socket stays "attached" and its grace timer never
        # starts: retried through a Redis hiccup, shielded from the handler's cancellation.
        delay_s = 0.1
        for attempt in range(CLEANUP_ATTEMPTS):
            try:
                await asyncio.shield(self.closed())
                break
            except (RedisError, OSError) as exc:
                if attempt == CLEANUP_ATTEMPTS - 1:
                    log.error("socket.cleanup_failed", kind=self.kind, error=type(exc).__name__)
                else:
                    await asyncio.sleep(delay_s)
                    delay_s = min(delay_s * 2, 2.0)
            except Exception:
                log.exception("socket.cleanup_failed", kind=self.kind)
                break
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._finished = True
        if self._done is not None:
            self._done.set()

    # --- hooks ------------------------------------------------------------------------------
    async def opened(self) -> None:
        """After accept, before the first frame is read."""

    async def handle(self, text: str) -> None:
        raise NotImplementedError

    async def closed(self) -> None:
        """After the socket closed: release presence and subscriptions."""


def parse_json(frame: str) -> dict[str, Any]:
    value = jsoncodec.loads(frame)
    return value if isinstance(value, dict) else {}


def start_eagerly(coro: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run ``coro`` in the calling code until it first waits: None when it finished without
    waiting, else an awaitable that finishes it (await it in a task). Raises what ``coro``
    raises before it waits.

    What Python 3.12's ``asyncio.eager_task_factory`` does for a whole loop, for one call: a
    websocket write that the transport takes at once never waits, so it needs no task, and the
    frame goes out without a loop turn (docs/performance.md).
    """
    try:
        blocked = coro.send(None)
    except StopIteration:
        return None
    return _Rest(coro, blocked)


class _Rest:
    """The rest of a coroutine that :func:`start_eagerly` ran until it yielded ``blocked`` (the
    future it waits for); awaiting this hands that future to the awaiting task and goes on."""

    __slots__ = ("_blocked", "_coro")

    def __init__(self, coro: Coroutine[Any, Any, None], blocked: Any) -> None:
        self._coro, self._blocked = coro, blocked

    def __await__(self) -> Generator[Any, Any, None]:
        blocked = self._blocked
        while True:
            try:
                value = yield blocked
            except BaseException as exc:  # cancelled (or closed): the coroutine decides what follows
                step = functools.partial(self._coro.throw, exc)
            else:
                step = functools.partial(self._coro.send, value)
            try:
                blocked = step()
            except StopIteration:
                return
