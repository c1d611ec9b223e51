"""Per-socket delivery: duplicates dropped by seq, never a message that arrived late."""

from __future__ import annotations

from typing import Any, cast

from chatd.connection import Connection, SeqTracker


def test_seq_tracker_keeps_exact_set() -> None:
    tracker = SeqTracker()
    assert tracker.add(1) and tracker.add(3) and tracker.add(2)
    assert tracker.contiguous == 3 and not tracker.above
    assert not tracker.add(2) and tracker.add(6) and tracker.add(5)
    assert tracker.contiguous == 3 and tracker.above == {5, 6}


def test_a_lower_seq_arriving_after_an_ack_is_still_delivered() -> None:
    """Own message acked as seq 6 before the peer's seq 5 comes through pub/sub: 5 is delivered."""
    conn = Connection(cast(Any, None), cast(Any, None))
    conn.mark_seen("c", 1)
    conn.mark_seen("c", 6)  # the ack of our own message
    conn.deliver("chan", '5\tc\t{"type":"message","seq":5}')
    conn.deliver("chan", '5\tc\t{"type":"message","seq":5}')  # a replayed duplicate
    conn.deliver("chan", '0\tc\t{"type":"typing"}')  # not a message: never deduplicated
    queued = [conn._out.get_nowait() for _ in range(conn._out.qsize())]
    assert queued == ['{"type":"message","seq":5}', '{"type":"typing"}']
