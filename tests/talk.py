"""Chat clients that behave as the pages do when the service has a bad moment (a Redis failover):
one message in flight at a time, sent again with the same client_id after ``unavailable`` or
silence, the socket reopened and the conversation resumed when it closes (contract section 2
for the seeker, the console's reconnect for the peer). They record what was acknowledged and
what they saw, and when, so a test can check that nothing acknowledged was lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.helpers import t

ANSWER_TIMEOUT_S = 12.0  # the server answers every frame within its dispatch timeout (10 s)
RESEND_AFTER_S = 0.5


class Talker:
    """One side of one conversation. Subclasses say how to open a socket and word a message."""

    role = ""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.url = url
        self.conv = ""
        self.acked: dict[str, int] = {}  # client_id -> seq
        self.acked_at: dict[str, float] = {}  # client_id -> monotonic time of its ack
        self.seen: set[int] = set()  # seqs this side was shown
        self.heard_at: dict[str, float] = {}  # text -> monotonic time this side first saw it
        self.refusals = 0
        self.reconnects = 0
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    # --- what subclasses say ---------------------------------------------------------------------
    async def _open(self) -> ClientConnection:
        raise NotImplementedError

    def _message(self, client_id: str, text: str) -> dict[str, Any]:
        raise NotImplementedError

    def _on_frame(self, frame: dict[str, Any]) -> None:
        """Frames other than answers (messages, history)."""

    # --- talking -----------------------------------------------------------------------------------
    @staticmethod
    def text(name: str, i: int) -> str:
        return f"{name} says {i}"

    async def say(self, i: int, stop: asyncio.Event | None = None) -> int | None:
        """Send message ``i`` until it is acknowledged (its seq), or ``stop`` is set (None)."""
        client_id, text = f"{self.name}-{i}", self.text(self.name, i)
        while stop is None or not stop.is_set():
            try:
                ws = await self._socket()
                await ws.send(json.dumps(self._message(client_id, text)))
                answer = await self._answer(client_id)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError):
                await self._drop()
                await asyncio.sleep(RESEND_AFTER_S)
                continue
            if answer["type"] == "ack":
                self.acked[client_id] = int(answer["seq"])
                self.acked_at[client_id] = time.monotonic()
                return int(answer["seq"])
            if answer.get("code") not in ("unavailable", "rate_limited"):
                raise AssertionError(f"{self.name}: {answer}")
            self.refusals += 1
            await asyncio.sleep(RESEND_AFTER_S)
        return None

    async def talk(self, stop: asyncio.Event, every_s: float = 0.2) -> int:
        """Messages 1, 2, … until ``stop`` is set (the one in flight is then given up); how many."""
        i = 0
        while not stop.is_set():
            i += 1
            await self.say(i, stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
        return i

    def first_ack_after(self, moment: float) -> tuple[str, float] | None:
        """The first message acknowledged after ``moment``: (its text, when)."""
        after = sorted((at, cid) for cid, at in self.acked_at.items() if at > moment)
        if not after:
            return None
        at, cid = after[0]
        return self.text(self.name, int(cid.rsplit("-", 1)[1])), at

    async def close(self) -> None:
        await self._drop()

    # --- the socket --------------------------------------------------------------------------------
    async def _socket(self) -> ClientConnection:
        if self._ws is None:
            self._ws = await asyncio.wait_for(self._open(), t(10))
            self._answers = asyncio.Queue()
            self._reader = asyncio.create_task(self._read(self._ws))
        return self._ws

    async def _drop(self) -> None:
        ws, reader, self._ws, self._reader = self._ws, self._reader, None, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if ws is not None:
            self.reconnects += 1
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") in ("ack", "error"):
                    self._answers.put_nowait(frame)
                else:
                    self._on_frame(frame)
        self._answers.put_nowait({"type": "closed"})

    async def _answer(self, client_id: str) -> dict[str, Any]:
        """This message's ack, or an error (errors name no client_id: one message is in flight)."""
        async with asyncio.timeout(t(ANSWER_TIMEOUT_S)):
            while True:
                frame = await self._answers.get()
                if frame["type"] == "closed":
                    raise websockets.ConnectionClosedError(None, None)
                if frame["type"] == "error" or frame.get("client_id") == client_id:
                    return frame

    def _saw(self, seq: int, text: str) -> None:
        self.seen.add(seq)
        self.heard_at.setdefault(text, time.monotonic())


class SeekerTalker(Talker):
    """A seeker on ``/ws/seeker``: a new conversation, resumed with its token after a drop."""

    role = "seeker"

    def __init__(self, name: str, url: str) -> None:
        super().__init__(name, url)
        self.resume = ""

    async def start(self) -> None:
        """Say hello: a new conversation (its id and resume token come with the welcome)."""
        await self._socket()
        async with asyncio.timeout(t(10)):
            while not self.conv:
                await asyncio.sleep(0.01)

    async def _open(self) -> ClientConnection:
        ws = await websockets.connect("ws" + self.url[4:] + "/ws/seeker")
        if self.resume:
            last = max((s for s in self.seen if all(k in self.seen for k in range(1, s + 1))), default=0)
            await ws.send(json.dumps({"type": "hello", "resume": self.resume, "last_seq": last}))
        else:
            await ws.send(json.dumps({"type": "hello", "lang": "en"}))
        return ws

    def _message(self, client_id: str, text: str) -> dict[str, Any]:
        return {"type": "message", "client_id": client_id, "text": text}

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "welcome":
            self.conv, self.resume = frame["conversation"], frame["resume"]
        elif frame["type"] == "message":
            self._saw(int(frame["seq"]), frame["text"])


class PeerTalker(Talker):
    """A peer's console on ``/ws/peer`` with a session cookie, writing in one conversation."""

    role = "peer"

    def __init__(self, name: str, url: str, cookie: str, conv: str) -> None:
        super().__init__(name, url)
        self.cookie = cookie
        self.conv = conv

    async def _open(self) -> ClientConnection:
        return await websockets.connect("ws" + self.url[4:] + "/ws/peer", origin=self.url,  # type: ignore[arg-type]
                                        additional_headers={"Cookie": f"chatd_session={self.cookie}"})

    def _message(self, client_id: str, text: str) -> dict[str, Any]:
        return {"type": "message", "conversation": self.conv, "client_id": client_id, "text": text}

    def _on_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("conversation") != self.conv:
            return
        if frame["type"] == "message":
            self._saw(int(frame["seq"]), frame["text"])
        elif frame["type"] in ("assigned", "monitoring"):
            for m in frame.get("history") or []:
                self._saw(int(m["seq"]), m["text"])


def check_transcript(history: list[dict[str, Any]], talkers: list[Talker]) -> None:
    """The stored conversation (every message, as a resume from seq 0 gets it) against what each
    side was told: seqs 1, 2, … with no gap; each acknowledged message at its acknowledged seq,
    and stored once; each side's messages in the order it sent them.

    Not checked: that each side was shown only what is stored. A message the primary ran and
    published but had not yet passed to the replica when the replica was promoted is shown to the
    other side, then lost (its sender, never acknowledged, sends it again): a limit of
    asynchronous replication that docs/operations.md states."""
    assert [m["seq"] for m in history] == list(range(1, len(history) + 1)), "seqs are not contiguous"
    texts = [m["text"] for m in history]
    for talker in talkers:
        for client_id, seq in talker.acked.items():
            i = int(client_id.rsplit("-", 1)[1])
            stored = history[seq - 1]
            assert (stored["from"], stored["text"]) == (talker.role, talker.text(talker.name, i)), \
                f"{client_id} was acknowledged as seq {seq}, which holds {stored}"
        mine = [x for x in texts if x.startswith(f"{talker.name} says ")]
        assert len(mine) == len(set(mine)), f"{talker.name}: a message is stored twice"
        order = [int(x.rsplit(" ", 1)[1]) for x in mine]
        assert order == sorted(order), f"{talker.name}: messages out of order"
