"""Honest wait estimates: plain functions, driven by tests on scripted arrivals.

The data: each time a peer accepts a waiting conversation, accept.lua records when, and how
many peers were on shift then (``P:accepts``, the last :data:`MAX_SAMPLES`). The estimate for
a conversation at place ``position`` in line, with ``peers_on_shift`` peers on shift now:

- Only accepts of the last :data:`WINDOW_MS` (30 minutes) count; with fewer than
  :data:`MIN_ACCEPTS` of them, or no peer on shift, there is no estimate (nothing is said).
- The recent rate is their number over the time they span, taken as at least
  :data:`MIN_SPAN_MS` (10 minutes), so a burst of accepts does not promise a short wait.
- It is scaled by the peers on shift now over the mean number on shift at those accepts
  (twice the peers, about twice the rate).
- The estimate is ``position / rate``, rounded *up* to 1, 2, 3, 4, 5, 10 or 15 minutes
  ("about 5 minutes"), or "more than 15 minutes" beyond: it may say longer than the wait
  turns out to be, rarely shorter.

A waiting conversation whose estimate passes ``CHATD_WAIT_ESCALATE_S`` is escalated at once
with reason ``wait_estimate`` (an addition): the crisis line now, not after the long wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WINDOW_MS = 30 * 60_000
MIN_ACCEPTS = 5
MIN_SPAN_MS = 10 * 60_000
MAX_SAMPLES = 100  # accept.lua keeps this many (LTRIM)
STEPS_MIN = (1, 2, 3, 4, 5, 10, 15)


@dataclass(frozen=True, slots=True)
class Accepted:
    """One recent accept: when (Unix ms), and the peers on shift then."""

    at_ms: int
    peers: int


@dataclass(frozen=True, slots=True)
class Estimate:
    """A rounded wait: ``minutes``, or more than that when ``more_than``."""

    minutes: int
    more_than: bool = False


def parse_accepts(raw: list[str]) -> list[Accepted]:
    """``P:accepts`` entries ("ms|peers") as :class:`Accepted`; malformed ones are skipped."""
    out = []
    for item in raw:
        at, _, peers = item.partition("|")
        if at.isdigit() and peers.isdigit():
            out.append(Accepted(int(at), int(peers)))
    return out


def wait_s(position: int, peers_on_shift: int, accepts: list[Accepted], now_ms: int) -> float | None:
    """Expected seconds until a conversation at ``position`` is accepted, or None (not enough data)."""
    recent = [a for a in accepts if 0 <= now_ms - a.at_ms <= WINDOW_MS]
    if position < 1 or peers_on_shift < 1 or len(recent) < MIN_ACCEPTS:
        return None
    span_ms = max(now_ms - min(a.at_ms for a in recent), MIN_SPAN_MS)
    mean_peers = sum(max(1, a.peers) for a in recent) / len(recent)
    rate_per_s = len(recent) / (span_ms / 1000) * (peers_on_shift / mean_peers)
    return position / rate_per_s


def rounded(seconds: float) -> Estimate:
    """Rounded up to a step people can hold on to (see the module docstring)."""
    minutes = max(1, math.ceil(seconds / 60))
    for step in STEPS_MIN:
        if minutes <= step:
            return Estimate(step)
    return Estimate(STEPS_MIN[-1], more_than=True)


def estimate(position: int, peers_on_shift: int, accepts: list[Accepted], now_ms: int) -> Estimate | None:
    """The rounded estimate to show, or None."""
    seconds = wait_s(position, peers_on_shift, accepts, now_ms)
    return None if seconds is None else rounded(seconds)
