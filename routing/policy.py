"""Who is offered what: the routing policy stated as plain functions, driven by tests without Redis.

``match_pass`` in routing/_lib.lua applies it inside Redis, atomically (match.lua, and append.lua
when a conversation is queued); tests/test_policy.py checks on random cases that the two make
the same decisions, so a change of policy is made in both.

Waiting conversations go by queue score (risk first, then requeued-to-head, then arrival).
Each is offered to the on-shift peer with room who has the fewest active conversations and
pending offers, then the one idle longest. A peer who declined it or let it expire is chosen
only when no other peer with room can take it. One offer at a time per conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

QUEUE_BAND_SCALE = 10**13
BAND_RISK, BAND_HEAD, BAND_NORMAL = 0, 1, 2


def queue_score(band: int, queued_ms: int) -> int:
    """A conversation's score in ``P:queue``: band first (risk, then requeued-to-head, then
    normal), then arrival. ``score`` in routing/_lib.lua computes the same."""
    return band * QUEUE_BAND_SCALE + queued_ms


@dataclass(frozen=True, slots=True)
class Waiting:
    """A conversation in the queue with no offer out."""

    conv: str
    score: float
    declined: frozenset[str] = frozenset()


@dataclass(slots=True)
class PeerLoad:
    """A peer in shift state ``on``, as the matcher sees it."""

    username: str
    capacity: int
    active: int = 0
    offers: int = 0
    idle_since_ms: int = 0
    debrief_until_ms: int = 0

    @property
    def load(self) -> int:
        return self.active + self.offers

    def has_room(self, now_ms: int) -> bool:
        return self.load < self.capacity and self.debrief_until_ms <= now_ms


def plan_offers(waiting: list[Waiting], peers: list[PeerLoad], now_ms: int) -> list[tuple[str, str]]:
    """The offers to make now, as ``(conversation, peer)`` pairs, best-placed conversation first."""
    plan: list[tuple[str, str]] = []
    pool = [p for p in peers if p.has_room(now_ms)]
    for conv in sorted(waiting, key=lambda w: (w.score, w.conv)):
        if not pool:
            break
        fresh = [p for p in pool if p.username not in conv.declined]
        best = min(fresh or pool, key=lambda p: (p.load, p.idle_since_ms, p.username))
        plan.append((conv.conv, best.username))
        best.offers += 1
        if not best.has_room(now_ms):
            pool.remove(best)
    return plan
