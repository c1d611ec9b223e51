"""The seeker's socket, ``/ws/seeker`` (CONTRACT.md section 2)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from chatd import wire
from chatd.connection import Connection, parse_json
from chatd.program import seeker_service
from chatd.services import Services
from config import jsoncodec
from config.logging import get_logger
from records import RecordsUnavailable
from routing import frames
from routing.errors import RoutingError
from routing.states import ConvState
from routing.texts import escalation_text

log = get_logger(__name__)
TYPING_EVERY_S = 1.0


def ack_text(client_id: str, seq: int) -> str:
    """The ``ack`` frame's text, as ``frames.encode(frames.SeekerAck(...))`` writes it.

    Written directly: one per seeker message, and building the dataclass and walking its
    fields cost ~3.4 us against ~0.2 us (docs/performance.md); tests/test_seeker.py checks
    the two agree.
    """
    return f'{{"type":"ack","client_id":{jsoncodec.dumps(client_id)},"seq":{seq}}}'


class SeekerConnection(Connection):
    kind = "seeker"

    def __init__(self, ws: WebSocket, services: Services) -> None:
        super().__init__(ws, services)
        self.conv: str | None = None
        self.token: str | None = None
        self.lang = "en"
        self.waiting = False
        # (position, peers on shift[, estimate]): the last waiting status sent, not sent again.
        self.last_status: tuple[Any, ...] | None = None
        self._typing_at = 0.0
        self._hello_timer: asyncio.TimerHandle | None = None

    async def opened(self) -> None:
        self.services.seekers.add(self)
        # A timer handle, not a task: this runs for every socket, and a task per socket costs memory.
        self._hello_timer = asyncio.get_running_loop().call_later(
            self.services.settings.hello_timeout_s, self._hello_deadline)

    def _hello_deadline(self) -> None:
        if self.conv is None:
            self.close(4408, "no hello")

    async def closed(self) -> None:
        self.services.seekers.discard(self)
        if self._hello_timer is not None:
            self._hello_timer.cancel()
        if self.conv is not None:
            await self.services.hub.unsubscribe(self.services.keys.ch_seeker(self.conv), self)
            await self.services.engine.detach("seeker", self.conv, self.id, self.services.proc_id)

    # --- frames from the hub ------------------------------------------------------------------
    def on_frame(self, channel: str, conv: str, frame: str) -> None:
        if '"status"' in frame or '"ended"' in frame:
            obj = parse_json(frame)
            if obj.get("type") == "status":
                self.waiting = obj.get("state") == "waiting"
                if self.waiting:
                    status = (int(obj.get("position", 0)), int(obj.get("peers_on_shift", 0)))
                    if status == self.last_status:
                        return
                    self.last_status = status
            elif obj.get("type") == "ended":
                self.waiting = False
        self.send(frame)

    async def catch_up(self) -> None:
        if self.conv is not None:
            await self._replay(self.conv, 0)

    # --- frames from the client ---------------------------------------------------------------
    async def handle(self, text: str) -> None:
        msg = wire.parse_seeker(text)
        if isinstance(msg, wire.Hello):
            await self._hello_or_close(msg)  # the socket's one change of state: it joins a conversation
        elif self.conv is None:  # before that, any other frame is refused and the socket stays
            raise wire.WireError("bad_request", "say hello first")
        else:
            await self.HANDLERS[type(msg)](self, self.conv, msg)

    async def _typing(self, conv: str, msg: wire.Typing) -> None:
        now = time.monotonic()
        if now - self._typing_at >= TYPING_EVERY_S:
            self._typing_at = now
            await self.services.engine.seeker_typing(conv)

    async def _end(self, conv: str, msg: wire.SeekerEnd) -> None:
        if not await self.services.engine.end(conv, "seeker"):
            raise RoutingError("not_allowed", "the conversation has already ended")
        log.info("conversation.ended", conversation=conv, by="seeker")

    async def _survey(self, conv: str, msg: wire.Survey) -> None:
        await self._require_ended(conv)
        if msg.rating is not None:
            await self.services.engine.set_survey(conv, msg.rating)
            await self.services.store.set_survey(conv, msg.rating)
        if msg.feeling is not None:
            await self.services.engine.set_end_feeling(conv, msg.feeling)
            await self.services.store.set_end_feeling(conv, msg.feeling)

    async def _checkin(self, conv: str, msg: wire.CheckIn) -> None:
        for reason in await self.services.engine.check_in(conv, msg.feeling, msg.safe):
            log.info("conversation.escalated", conversation=conv, reason=reason, why="checkin")

    async def _forget(self, conv: str, msg: wire.Forget) -> None:
        await self._require_ended(conv)
        await self.services.engine.forget(conv)
        await self.services.store.forget(conv)
        log.info("conversation.forgotten", conversation=conv)
        self.send(frames.encode(frames.Forgotten()))

    async def _require_ended(self, conv: str) -> None:
        info = await self.services.engine.info(conv)
        if info is None or info.state != ConvState.ENDED:
            raise RoutingError("not_allowed", "only after the conversation has ended")

    async def _hello_or_close(self, hello: wire.Hello) -> None:
        """Say hello; if Redis is away (a failover under way), close with 1013 (try again later).

        The chat window says hello once per socket and sends its pending messages only after a
        ``welcome``: a hello refused with ``unavailable`` would leave it waiting on an open socket.
        Closed, it reconnects with backoff and says hello again (resuming, if it had a token).
        """
        try:
            await self._hello(hello)
        except (RedisError, OSError, RecordsUnavailable) as exc:
            log.warning("socket.hello_unavailable", error=type(exc).__name__)
            self.close(1013, "briefly unavailable: reconnect")

    async def _hello(self, hello: wire.Hello) -> None:
        if self.conv is not None:
            raise wire.WireError("bad_request", "hello was already said on this socket")
        s, engine = self.services.settings, self.services.engine
        if hello.resume is not None:
            conv = await engine.resume(hello.resume)
            if conv is None:
                raise RoutingError("unknown_resume", "no conversation to resume with that token")
            token = hello.resume
        else:
            conv, token = await engine.create_conversation("web", hello.lang)
            log.info("conversation.created", conversation=conv, channel="web", lang=hello.lang)
        info = await engine.info(conv)
        if info is None:
            raise RoutingError("unknown_resume", "no conversation to resume with that token")
        self.conv, self.token, self.lang = conv, token, info.lang
        if self._hello_timer is not None:  # only a hello that succeeded stops the deadline
            self._hello_timer.cancel()
            self._hello_timer = None
        # Subscribe before reading history, so nothing published in between is missed.
        await self.services.hub.subscribe(self.services.keys.ch_seeker(conv), self)
        await engine.attach("seeker", conv, self.id, self.services.proc_id)
        self.send(frames.encode(frames.Welcome(conversation=conv, resume=token, crisis_line=s.crisis_line,
                                               crisis_email=s.crisis_email, lang=info.lang,
                                               service=await seeker_service(self.services))))
        if hello.resume is not None:
            log.info("conversation.resumed", conversation=conv)
            await self._replay(conv, hello.last_seq)

    async def _replay(self, conv: str, after_seq: int) -> None:
        """Messages after ``after_seq``, then the current status (resume and resync)."""
        engine = self.services.engine
        for stored in await engine.history(conv, after_seq):
            msg = frames.stored_message(stored)
            if self.mark_seen(conv, msg.seq):
                self.send(frames.encode(frames.SeekerMessage(seq=msg.seq, from_=msg.from_, text=msg.text, at=msg.at)))
        info = await engine.info(conv)
        if info is None:
            return
        if info.escalated:
            s = self.services.settings
            reason = info.escalated[-1]
            text = escalation_text(reason, info.lang, s.crisis_line, s.crisis_email)
            self.send(frames.encode(frames.SeekerEscalation(reason=reason, crisis_line=s.crisis_line,
                                                            crisis_email=s.crisis_email, text=text)))
        if info.state in (ConvState.WAITING, ConvState.OFFERED):
            self.waiting = True
            (position,), peers_on = await engine.positions([conv])
            (est,) = await engine.wait_estimates([position], peers_on)
            self.last_status = (position or 0, peers_on, est)
            self.send(frames.encode(frames.StatusWaiting(position=position or 0, peers_on_shift=peers_on,
                                                         estimate=est)))
        elif info.state == ConvState.ACTIVE:
            self.waiting = False
            self.send(frames.encode(frames.StatusActive(peer=info.peer_name)))
        elif info.state == ConvState.ENDED:
            self.waiting = False
            self.send(frames.encode(frames.SeekerEnded(by=info.ended_by or "system")))

    async def _message(self, conv: str, msg: wire.SeekerMessage) -> None:
        services = self.services
        risk = services.risk.matches(msg.text)
        started = time.perf_counter()
        try:
            result = await services.engine.append(conv, "seeker", msg.text, client_id=msg.client_id, risk=risk)
        except RoutingError as exc:
            if exc.message == "the conversation has ended":
                raise RoutingError("not_allowed", "the conversation has ended") from None
            raise
        services.process_metrics.relay.observe(time.perf_counter() - started)
        self.mark_seen(conv, result.seq)
        self.send(ack_text(msg.client_id, result.seq))
        if result.queued:
            log.info("conversation.queued", conversation=conv, risk=risk)
        for reason in result.escalated:
            log.info("conversation.escalated", conversation=conv, reason=reason)

    # Each client frame's handler after hello, by the frame's class (chatd/wire.py parses and checks it).
    HANDLERS: ClassVar[dict[type[wire.SeekerFrame], Callable[[SeekerConnection, str, Any], Awaitable[None]]]] = {
        wire.SeekerMessage: _message,
        wire.Typing: _typing,
        wire.SeekerEnd: _end,
        wire.Survey: _survey,
        wire.CheckIn: _checkin,
        wire.Forget: _forget,
    }


async def seeker_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    await ws.accept()
    await SeekerConnection(ws, services).run()
