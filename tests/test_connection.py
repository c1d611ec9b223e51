"""Per-socket delivery: duplicates dropped by seq, never a message that arrived late."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from chatd.connection import SEND_QUEUE_MAX, Connection, SeqTracker


def test_seq_tracker_keeps_exact_set() -> None:
    tracker = SeqTracker()
    assert tracker.add(1) and tracker.add(3) and tracker.add(2)
    assert tracker.contiguous == 3 and not tracker.above
    assert not tracker.add(2) and tracker.add(6) and tracker.add(5)
    assert tracker.contiguous == 3 and tracker.above == {5, 6}


class _Written:
    """Stands in for the Starlette socket: what the connection's writer wrote, in order."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_text(self, text: str) -> None:
        self.texts.append(text)


async def test_a_lower_seq_arriving_after_an_ack_is_still_delivered() -> None:
    """Own message acked as seq 6 before the peer's seq 5 comes through pub/sub: 5 is delivered."""
    written = _Written()
    conn = Connection(cast(Any, written), cast(Any, None))
    conn.mark_seen("c", 1)
    conn.mark_seen("c", 6)  # the ack of our own message
    conn.deliver("chan", '5\tc\t{"type":"message","seq":5}')
    conn.deliver("chan", '5\tc\t{"type":"message","seq":5}')  # a replayed duplicate
    conn.deliver("chan", '0\tc\t{"type":"typing"}')  # not a message: never deduplicated
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert written.texts == ['{"type":"message","seq":5}', '{"type":"typing"}']
    assert conn._writer_task is None  # nothing pending: no writer task held


async def test_frames_go_out_in_order_and_an_overflow_closes_the_socket() -> None:
    written = _Written()
    conn = Connection(cast(Any, written), cast(Any, None))
    for i in range(3):
        conn.send(str(i))
    await asyncio.sleep(0)
    conn.send("3")
    for _ in range(5):
        await asyncio.sleep(0)
    assert written.texts == ["0", "1", "2", "3"]
    # A client that stops reading: the writer blocks, the queue fills, the socket is closed (1013).
    stuck = asyncio.Event()

    async def blocked(text: str) -> None:
        await stuck.wait()

    written.send_text = blocked  # type: ignore[method-assign]
    for i in range(SEND_QUEUE_MAX + 2):
        conn.send(f"f{i}")
    assert conn.close_code == 1013
    for task in list(conn._tasks):
        task.cancel()
    await asyncio.gather(*conn._tasks, return_exceptions=True)


async def test_a_frame_is_written_at_once_and_one_that_must_wait_keeps_the_order() -> None:
    """On a socket with nothing pending a frame is written in the sender's own step (no writer
    task); a write that has to wait (the client reads slowly) goes on in a writer task, and the
    frames sent meanwhile follow it, in order."""
    written = _Written()
    conn = Connection(cast(Any, written), cast(Any, None))
    conn.send("a")
    assert written.texts == ["a"] and conn._writer_task is None and conn._out is None
    gate = asyncio.Event()

    async def slow(text: str) -> None:
        await gate.wait()
        written.texts.append(text)

    written.send_text = slow  # type: ignore[method-assign]
    conn.send("b")
    conn.send("c")
    await asyncio.sleep(0)
    assert written.texts == ["a"] and conn._writer_task is not None
    gate.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert written.texts == ["a", "b", "c"] and conn._writer_task is None
    conn.send("d")  # nothing pending again: at once
    assert written.texts == ["a", "b", "c", "d"]


async def test_a_write_that_fails_at_once_closes_the_socket() -> None:
    """A socket gone under the writer (the write raises before it could wait) is closed, as a
    failed writer task's is."""
    written = _Written()

    async def gone(text: str) -> None:
        raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'")

    written.send_text = gone  # type: ignore[method-assign]
    conn = Connection(cast(Any, written), cast(Any, None))
    conn.send("a")
    assert conn.close_code == 1011
    for task in list(conn._tasks):
        task.cancel()
    await asyncio.gather(*conn._tasks, return_exceptions=True)


class _Unencodable(Connection):
    """A handler that fails the way a string with a lone surrogate fails on its way to Redis."""

    async def handle(self, text: str) -> None:
        "\ud800".encode()


async def test_an_unexpected_unicode_encode_error_answers_bad_request_and_keeps_the_socket() -> None:
    """Defence in depth: the edge (wire.decode) refuses such strings; should one get past it, that
    frame is refused with bad_request instead of the socket being closed with 1011."""
    written = _Written()
    conn = _Unencodable(cast(Any, written), cast(Any, None))
    await conn.dispatch('{"type":"message"}')
    for _ in range(3):
        await asyncio.sleep(0)
    assert conn.close_code is None
    assert [json.loads(t)["code"] for t in written.texts] == ["bad_request"]
