"""The peer console's socket, ``/ws/peer`` (CONTRACT.md section 3).

The handshake is refused with HTTP 403 unless the ``Origin`` equals the public URL's origin and
the ``chatd_session`` cookie names a live session of an enabled account. A logged-out session
or a disabled account closes the socket with 4401: at once through a kick event, and within
``SESSION_CHECK_S`` through a periodic check should that event be missed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, TypeVar

from redis.exceptions import RedisError
from starlette.websockets import WebSocket

from chatd import wire
from chatd.connection import Connection, parse_json
from chatd.services import Services
from config.logging import get_logger
from peers.sessions import COOKIE_NAME
from records import RecordsError, Supporter
from routing import frames
from routing.engine import now_ms
from routing.errors import RoutingError
from routing.states import ConvState, ShiftAction, ShiftState

log = get_logger(__name__)
T = TypeVar("T")
SESSION_CHECK_S = 2.0
TYPING_EVERY_S = 1.0


class PeerConnection(Connection):
    kind = "peer"

    def __init__(self, ws: WebSocket, services: Services, supporter: Supporter, session_hash: str) -> None:
        super().__init__(ws, services)
        self.supporter = supporter
        self.user = supporter.username
        self.session_hash = session_hash
        self.shift_state = ShiftState.OFF
        self.monitoring: set[str] = set()
        self.last_queue: tuple[int, int] | None = None
        self._typing_at: dict[str, float] = {}

    # --- lifecycle ----------------------------------------------------------------------------
    async def opened(self) -> None:
        s = self.services
        s.peers.add(self)
        await s.hub.subscribe(s.keys.ch_peer(self.user), self)
        await s.engine.attach("peer", self.user, self.id, s.proc_id)
        await self._send_state()
        self.spawn(self._session_watch(), "session-watch")
        log.info("peer.connected", peer=self.user)

    async def _send_state(self) -> None:
        """shift, then assigned (with history) for each active conversation, then pending offers,
        the queue, and ``synced`` naming the conversations that are still this peer's: a console
        that was away learns which of its open ones ended or went to another peer meanwhile."""
        engine = self.services.engine
        shift = await engine.shift_frame(self.user)
        self.shift_state = ShiftState(shift.state)
        convs = await engine.peer_conversations(self.user)
        # A console that comes back to a shift gets its state; a fresh one starts off, and its
        # first shift frame is the answer to its first shift command.
        if self.shift_state != ShiftState.OFF or convs:
            self.send(frames.encode(shift))
        for conv in convs:
            frame = await engine.assigned_frame(conv)
            if frame is not None:
                assigned = self._mark_history(conv, frame)
                self.send(frame)
                await self._replay_deliveries(conv, assigned)
        for offer in await engine.peer_offers(self.user):
            self.send(offer)
        waiting, on = await engine.queue_counts()
        self.last_queue = (waiting, on)
        self.send(frames.encode(frames.Queue(waiting=waiting, peers_on_shift=on)))
        self.send(frames.encode(frames.Synced(conversations=convs)))

    def _mark_history(self, conv: str, frame: str) -> dict[str, Any]:
        """Mark an assigned/monitoring frame's history as seen; returns the parsed frame."""
        obj = parse_json(frame)
        for message in obj.get("history") or []:
            self.mark_seen(conv, int(message["seq"]))
        return obj

    async def _replay_deliveries(self, conv: str, assigned: dict[str, Any]) -> None:
        """After the history of an SMS conversation, where each of its peer messages stands
        (the live ``delivery`` frames went to whoever held the conversation then).
        """
        sms = self.services.sms
        if sms is None or assigned.get("channel") != "sms":
            return
        seqs = [int(m["seq"]) for m in assigned.get("history") or [] if m.get("from") == "peer"]
        for frame in await sms.delivery_frames(conv, seqs):
            self.send(frame)

    async def _replay_deliveries_safely(self, conv: str, assigned: dict[str, Any]) -> None:
        try:
            await self._replay_deliveries(conv, assigned)
        except (RedisError, OSError):
            # Redis is away: the transcript shows no delivery state until the next live one.
            log.warning("peer.delivery_replay_failed", peer=self.user, conversation=conv)

    async def _session_watch(self) -> None:
        while True:
            await asyncio.sleep(SESSION_CHECK_S)
            try:
                alive = await self.services.sessions.alive(self.session_hash)
            except (RedisError, OSError):
                # Redis is away: the session is not known to be over, so the console stays
                # open (its frames are answered 'unavailable') and the check runs again.
                continue
            if not alive:
                self.close(4401, "session ended")
                return

    async def closed(self) -> None:
        s = self.services
        s.peers.discard(self)
        for conv in list(self.monitoring):
            await s.hub.unsubscribe(s.keys.ch_monitor(conv), self)
        await s.hub.unsubscribe(s.keys.ch_peer(self.user), self)
        await s.engine.detach("peer", self.user, self.id, s.proc_id)
        log.info("peer.disconnected", peer=self.user)

    # --- frames from the hub ------------------------------------------------------------------
    def on_frame(self, channel: str, conv: str, frame: str) -> None:
        # Inside a JSON string a quote is escaped, so these substrings only match a frame's type.
        if '"type":"assigned"' in frame:
            assigned = self._mark_history(conv, frame)
            if assigned.get("channel") == "sms":
                self.spawn(self._replay_deliveries_safely(conv, assigned), "delivery-replay")
        elif '"type":"shift"' in frame:
            obj = parse_json(frame)
            if obj.get("type") == "shift":
                self.shift_state = ShiftState(obj.get("state", ShiftState.OFF))
        elif ('"type":"ended"' in frame or '"type":"released"' in frame) and conv not in self.monitoring:
            self.forget_seqs(conv)
        self.send(frame)

    def on_control(self, kind: str, arg: str) -> None:
        if kind == "kick" and arg in ("*", self.session_hash):
            self.close(4401, "session ended")

    async def catch_up(self) -> None:
        await self._send_state()
        # Events of monitored conversations were lost too; the console merges a history it
        # has partly shown by seq, and sees from its state when one ended meanwhile.
        for conv in list(self.monitoring):
            await self._send_monitoring(conv)

    def alert(self, frame: str) -> None:
        """A supervisor alert; only supervisors on shift get them (contract)."""
        if self.supporter.is_supervisor and self.shift_state == ShiftState.ON:
            self.send(frame)

    # --- frames from the client ---------------------------------------------------------------
    async def handle(self, text: str) -> None:
        msg = wire.parse_peer(text)
        await self.HANDLERS[type(msg)](self, msg)

    async def _audit(self, actor: str, action: str, conv: str | None, detail: str, at_ms: int) -> None:
        await self._record(action, self.services.store.audit(actor, action, conv, detail, at_ms), conv)

    async def _record(self, what: str, write: Awaitable[None], conv: str | None = None) -> None:
        """Write the record of an action that has already happened in Redis (the live state). A
        database locked past its busy timeout costs the record (logged as an error), never the
        peer's answer: the action is done, and "unavailable" (nothing stored) would be false."""
        try:
            await write
        except (RecordsError, OSError) as exc:
            log.error("record.write_failed", what=what, conversation=conv, error=type(exc).__name__)

    async def _with_offer_id(self, offer: str, step: Awaitable[T]) -> T:
        """Run an offer step; an ``offer_gone`` error names the offer (addition), so a console
        with several offers knows which one went."""
        try:
            return await step
        except RoutingError as exc:
            if exc.code != "offer_gone":
                raise
            raise RoutingError(exc.code, exc.message, offer=offer) from None

    async def _require_assigned(self, conv: str) -> None:
        info = await self.services.engine.info(conv)
        if info is None or info.state != ConvState.ACTIVE or info.peer != self.user:
            raise RoutingError("not_allowed", "that conversation is not assigned to you")

    def _require_supervisor(self) -> None:
        if not self.supporter.is_supervisor:
            raise RoutingError("not_allowed", "supervisors only")

    async def _shift(self, msg: wire.Shift) -> None:
        s = self.services
        # Trained and enabled are read from the database now, not from login time.
        current = await s.store.get_supporter(self.user)
        if current is None or current.disabled:
            self.close(4401, "account disabled")
            return
        if not current.trained:
            raise RoutingError("not_allowed", "only trained accounts may go on shift")
        action = ShiftAction(msg.action)
        # An action the shift machine does not have from the current state is refused by the
        # script, atomically: IllegalTransition (not_allowed) names that state and the action.
        before, after = await s.engine.shift(self.user, action, capacity=msg.capacity,
                                             display=current.display_name, role=current.role,
                                             languages=current.languages)
        log.info("shift.changed", peer=self.user, before=before.value, after=after.value, capacity=msg.capacity)
        if action == ShiftAction.START:
            await self._record("shift_started", s.store.shift_started(self.user, msg.capacity, now_ms()))
        elif action == ShiftAction.END:
            await self._record("shift_ended", s.store.shift_ended(self.user, now_ms()))

    async def _accept(self, msg: wire.Accept) -> None:
        conv = await self._with_offer_id(msg.offer, self.services.engine.accept(msg.offer, self.user))
        log.info("offer.accepted", conversation=conv, peer=self.user)
        await self._audit(self.user, "accept", conv, "", now_ms())

    async def _decline(self, msg: wire.Decline) -> None:
        await self._with_offer_id(msg.offer, self.services.engine.decline(msg.offer, self.user))
        log.info("offer.declined", peer=self.user)

    async def _message(self, msg: wire.PeerMessage) -> None:
        started = time.perf_counter()
        result = await self.services.engine.append(msg.conversation, "peer", msg.text, client_id=msg.client_id,
                                                   actor=self.user)
        self.services.process_metrics.relay.observe(time.perf_counter() - started)
        self.mark_seen(msg.conversation, result.seq)
        self.send(frames.encode(frames.PeerAck(conversation=msg.conversation, client_id=msg.client_id,
                                               seq=result.seq)))

    async def _typing(self, msg: wire.PeerTyping) -> None:
        await self._require_assigned(msg.conversation)
        now = time.monotonic()
        if now - self._typing_at.get(msg.conversation, 0.0) >= TYPING_EVERY_S:
            self._typing_at[msg.conversation] = now
            await self.services.engine.peer_typing(msg.conversation)

    async def _end(self, msg: wire.PeerEnd) -> None:
        if not await self.services.engine.end(msg.conversation, "peer", actor=self.user, outcome=msg.outcome):
            raise RoutingError("not_allowed", "the conversation has already ended")
        log.info("conversation.ended", conversation=msg.conversation, by="peer", outcome=msg.outcome)
        await self._audit(self.user, "end", msg.conversation, msg.outcome, now_ms())

    async def _escalate(self, msg: wire.Escalate) -> None:
        await self._require_assigned(msg.conversation)
        await self.services.engine.escalate(msg.conversation, "peer", actor=self.user)
        log.info("conversation.escalated", conversation=msg.conversation, reason="peer")
        await self._audit(self.user, "escalate", msg.conversation, "", now_ms())

    async def _transfer(self, msg: wire.Transfer) -> None:
        s = self.services
        await self._require_assigned(msg.conversation)
        if msg.to is not None:
            target = await s.store.get_supporter(msg.to)
            if target is None or target.disabled:
                raise RoutingError("not_available", "that peer is not on shift with a free slot")
        await s.engine.release(msg.conversation, self.user, msg.to)
        log.info("conversation.transferred", conversation=msg.conversation, peer=self.user,
                 to_queue=msg.to is None)
        await self._audit(self.user, "transfer", msg.conversation, msg.to or "queue", now_ms())

    async def _note(self, msg: wire.Note) -> None:
        await self._require_assigned(msg.conversation)
        await self.services.engine.add_note(msg.conversation, self.supporter.display_name, msg.text, whisper=False,
                                            to_peer=self.user)
        await self._audit(self.user, "note", msg.conversation, "", now_ms())

    async def _set_language(self, msg: wire.SetLanguage) -> None:
        await self._require_assigned(msg.conversation)
        await self.services.engine.set_language(msg.conversation, msg.lang)
        self.send(frames.encode(frames.Language(conversation=msg.conversation, lang=msg.lang)))

    async def _monitor(self, msg: wire.Monitor) -> None:
        self._require_supervisor()
        s, conv = self.services, msg.conversation
        info = await s.engine.info(conv)
        if info is None or info.state == ConvState.ENDED:
            # Which conversation (addition): a reconnecting console asks again for each of its
            # monitored ones at once, and must tell which of them ended meanwhile.
            raise RoutingError("not_available", "no live conversation with that id", conversation=conv)
        if conv not in self.monitoring:
            self.monitoring.add(conv)
            await s.hub.subscribe(s.keys.ch_monitor(conv), self)
        await self._send_monitoring(conv)
        await self._audit(self.user, "monitor", conv, "", now_ms())

    async def _send_monitoring(self, conv: str) -> None:
        """The monitoring frame (state, notes, history), then an SMS conversation's delivery states."""
        frame = await self.services.engine.assigned_frame(conv, "monitoring")
        if frame is not None:
            monitoring = self._mark_history(conv, frame)
            self.send(frame)
            await self._replay_deliveries(conv, monitoring)

    async def _whisper(self, msg: wire.Whisper) -> None:
        self._require_supervisor()
        info = await self.services.engine.info(msg.conversation)
        if info is None or info.state != ConvState.ACTIVE or not info.peer:
            raise RoutingError("not_available", "that conversation has no assigned peer")
        # A monitoring supervisor gets the whisper on the monitor channel; a copy on its own
        # channel too would show it twice.
        copy_to = "" if msg.conversation in self.monitoring else self.user
        await self.services.engine.add_note(msg.conversation, self.supporter.display_name, msg.text, whisper=True,
                                            to_peer=info.peer, copy_to=copy_to)
        await self._audit(self.user, "whisper", msg.conversation, "", now_ms())

    # Each client frame's handler, by the frame's class (chatd/wire.py parses and checks it).
    HANDLERS: ClassVar[dict[type[wire.PeerFrame], Callable[[PeerConnection, Any], Awaitable[None]]]] = {
        wire.Shift: _shift,
        wire.Accept: _accept,
        wire.Decline: _decline,
        wire.PeerMessage: _message,
        wire.PeerTyping: _typing,
        wire.PeerEnd: _end,
        wire.Escalate: _escalate,
        wire.Transfer: _transfer,
        wire.Note: _note,
        wire.SetLanguage: _set_language,
        wire.Monitor: _monitor,
        wire.Whisper: _whisper,
    }


async def peer_endpoint(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    origin = ws.headers.get("origin")
    session_hash = services.sessions.parse(ws.cookies.get(COOKIE_NAME))
    user = await services.sessions.lookup(session_hash) if session_hash else None
    supporter = await services.store.get_supporter(user) if user else None
    if origin != services.settings.public_origin or supporter is None or supporter.disabled or not session_hash:
        log.info("peer.refused", origin_ok=origin == services.settings.public_origin, session_ok=user is not None)
        await ws.close(code=1008)  # before accept: the server answers the handshake with HTTP 403
        return
    await ws.accept()
    await PeerConnection(ws, services, supporter, session_hash).run()
