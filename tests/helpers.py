"""Test helpers: a frame-buffering websocket client, and timing that scales with the machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import structlog
import websockets
from websockets.asyncio.client import ClientConnection

from records import ConversationRecord, Records

if TYPE_CHECKING:
    from tests.conftest import Harness

# Timing constants in tests scale with this factor (a slow CI machine sets it above 1).
TIME_FACTOR = float(os.environ.get("CHATD_TEST_TIME_FACTOR", "1"))


def t(seconds: float) -> float:
    return seconds * TIME_FACTOR


@contextlib.contextmanager
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event of every level while the block runs, whatever the suite's logging
    configuration filters out (structlog's ``capture_logs``)."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET))
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**saved)


class WS:
    """A real websocket client that keeps frames it skipped, so no frame is lost to a test."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.buffer: list[dict[str, Any]] = []
        self.seen: list[dict[str, Any]] = []

    async def send(self, **obj: Any) -> None:
        await self.conn.send(json.dumps(obj))

    async def send_raw(self, data: str | bytes) -> None:
        await self.conn.send(data)

    def _match(self, frame: dict[str, Any], kind: str, fields: dict[str, Any]) -> bool:
        return frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items())

    async def _read(self) -> dict[str, Any]:
        frame = json.loads(await self.conn.recv())
        self.seen.append(frame)
        return frame

    async def next(self, kind: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        """The next frame of this type with these fields (earlier ones are kept for later calls)."""
        for i, frame in enumerate(self.buffer):
            if self._match(frame, kind, fields):
                return self.buffer.pop(i)
        try:
            async with asyncio.timeout(t(timeout)):
                while True:
                    frame = await self._read()
                    if self._match(frame, kind, fields):
                        return frame
                    self.buffer.append(frame)
        except TimeoutError:
            raise AssertionError(f"no {kind} frame with {fields} within {timeout}s; got {self.buffer[-10:]}") from None

    async def next_of(self, kinds: tuple[str, ...], timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of any of these types (earlier frames of other types are kept)."""
        for i, frame in enumerate(self.buffer):
            if frame.get("type") in kinds:
                return self.buffer.pop(i)
        try:
            async with asyncio.timeout(t(timeout)):
                while True:
                    frame = await self._read()
                    if frame.get("type") in kinds:
                        return frame
                    self.buffer.append(frame)
        except TimeoutError:
            raise AssertionError(f"no frame of {kinds} within {timeout}s; got {self.buffer[-10:]}") from None

    async def none(self, kind: str, within: float = 0.5, **fields: Any) -> None:
        """Assert that no such frame arrives within the time (and none is buffered)."""
        assert not any(self._match(f, kind, fields) for f in self.buffer), self.buffer
        try:
            async with asyncio.timeout(t(within)):
                while True:
                    frame = await self._read()
                    assert not self._match(frame, kind, fields), f"unexpected {frame}"
                    self.buffer.append(frame)
        except TimeoutError:
            pass

    async def drain(self, within: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives within the time, plus the buffer."""
        with_buffer = list(self.buffer)
        self.buffer.clear()
        try:
            async with asyncio.timeout(t(within)):
                while True:
                    with_buffer.append(await self._read())
        except TimeoutError:
            pass
        return with_buffer

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close the socket; its close code."""
        try:
            async with asyncio.timeout(t(timeout)):
                while True:
                    self.seen.append(json.loads(await self.conn.recv()))
        except websockets.ConnectionClosed as exc:
            return exc.rcvd.code if exc.rcvd else None
        except TimeoutError:
            raise AssertionError("the socket was not closed") from None

    async def close(self) -> None:
        await self.conn.close()


async def chat_to_the_end(harness: Harness, peer_name: str = "alice", text: str = "hello, is anyone there?",
                          rating: int | None = 4) -> str:
    """A whole web conversation through the running service: a trained peer goes on shift, a
    seeker writes, the peer accepts, answers and writes a note, the peer ends it, the seeker
    rates it; the conversation's id (the worker archives it)."""
    await harness.add_peer(peer_name)
    peer = await harness.peer(peer_name, capacity=1)
    seeker, welcome = await harness.seeker()
    conv = str(welcome["conversation"])
    await seeker.send(type="message", client_id="s1", text=text)
    await seeker.next("ack", client_id="s1")
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=conv)
    await peer.send(type="message", conversation=conv, client_id="p1", text="I'm here. Take your time.")
    await peer.next("ack", client_id="p1")
    await peer.send(type="note", conversation=conv, text="calmer now")
    await peer.next("note", conversation=conv)
    await peer.send(type="end", conversation=conv, outcome="resolved")
    await seeker.next("ended")
    if rating is not None:
        await seeker.send(type="survey", rating=rating)
        await asyncio.sleep(t(0.2))
    await peer.send(type="shift", action="end")
    await peer.next("shift", state="off")
    return conv


async def archived(store: Records, conv: str, timeout_s: float = 10.0) -> ConversationRecord:
    """The conversation's row once the worker has archived it (its end time is there)."""
    deadline = asyncio.get_running_loop().time() + t(timeout_s)
    while asyncio.get_running_loop().time() < deadline:
        row = await store.conversation(conv)
        if row is not None and row.get("ended_ms"):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"conversation {conv} was not archived within {timeout_s}s")
