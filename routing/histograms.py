"""Histograms kept in Redis, so every process reports one truth for events any process sees.

``P:hist:{name}`` is a hash: ``b{i}`` the number of observations in bucket i (not cumulative;
the last bucket is +Inf), ``sum`` the sum of the values in milliseconds, ``count``. One
pipeline of three HINCRBYs per observation; chatd/metrics.py turns the hash into a Prometheus
histogram (cumulative buckets, seconds).
"""

from __future__ import annotations

import bisect

from redis.asyncio import Redis

from records.keyspace import Keys

# Upper bounds in seconds, shared by the histograms of waits (seconds to many minutes).
WAIT_BUCKETS_S: tuple[float, ...] = (5, 15, 30, 60, 120, 180, 300, 600, 1200, 3600)
HISTOGRAMS: dict[str, tuple[float, ...]] = {
    "queue_wait": WAIT_BUCKETS_S,  # queued -> accepted by a peer (each time it is accepted)
    "first_reply": WAIT_BUCKETS_S,  # accepted -> the peer's first message
}


def bucket_index(bounds: tuple[float, ...], value_s: float) -> int:
    """The bucket of ``value_s``: the first bound at or above it, or len(bounds) for +Inf."""
    return bisect.bisect_left(bounds, value_s)


async def observe(redis: Redis, keys: Keys, name: str, value_s: float) -> None:
    """Record one observation of histogram ``name`` (one of HISTOGRAMS)."""
    key = keys.hist(name)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hincrby(key, f"b{bucket_index(HISTOGRAMS[name], value_s)}", 1)
        pipe.hincrby(key, "sum", int(value_s * 1000))
        pipe.hincrby(key, "count", 1)
        await pipe.execute()
