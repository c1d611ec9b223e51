"""Who is offered what: the routing policy stated as plain functions, driven by tests without Redis.

``match_pass`` in routing/_lib.lua applies it inside Redis, atomically (match.lua, and append.lua
when a conversation is queued); tests/test_policy.py checks on random cases that the two make
the same decisions, so a change of policy is made in both.

Waiting conversations go by queue score (risk first, then requeued-to-head, then arrival).
Each is offered to the on-shift peer with room who has the fewest active conversations and
pending offers, then the one idle longest. A peer who declined it or let it expire is chosen
only when no other peer with room can take it. One offer at a time per conversation.

Language first (CONTRACT.md section 3): a conversation is offered only to peers who speak its
language until ``fallback_ms`` (``CHATD_LANG_FALLBACK_S``) after it was queued; from then on to
any peer, a peer who speaks it still preferred over one who does not (after "has not declined
it", before load). A conversation whose language is not known yet (an SMS texter who has not
said, ``lang`` empty) goes to any peer at once. While it waits for its language, it takes no
other conversation's peer: the ones behind it are matched as if it were not there.
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
    lang: str = ""  # "en" | "fr"; "": not known yet, any peer
    queued_ms: int = 0


@dataclass(slots=True)
class PeerLoad:
    """A peer in shift state ``on``, as the matcher sees it."""

    username: str
    capacity: int
    active: int = 0
    offers: int = 0
    idle_since_ms: int = 0
    debrief_until_ms: int = 0
    languages: frozenset[str] = frozenset({"en", "fr"})

    @property
    def load(self) -> int:
        return self.active + self.offers

    def has_room(self, now_ms: int) -> bool:
        return self.load < self.capacity and self.debrief_until_ms <= now_ms


def speaks(peer: PeerLoad, lang: str) -> bool:
    """Whether ``peer`` takes chats in ``lang``; every peer does for a language not known yet."""
    return not lang or lang in peer.languages


def language_only(conv: Waiting, now_ms: int, fallback_ms: int) -> bool:
    """Whether ``conv`` may still be offered only to peers who speak its language."""
    return bool(conv.lang) and now_ms < conv.queued_ms + fallback_ms


def plan_offers(waiting: list[Waiting], peers: list[PeerLoad], now_ms: int,
                fallback_ms: int = 0) -> list[tuple[str, str]]:
    """The offers to make now, as ``(conversation, peer)`` pairs, best-placed conversation first."""
    plan: list[tuple[str, str]] = []
    pool = [p for p in peers if p.has_room(now_ms)]
    for conv in sorted(waiting, key=lambda w: (w.score, w.conv)):
        if not pool:
            break
        strict = language_only(conv, now_ms, fallback_ms)
        able = [p for p in pool if speaks(p, conv.lang)] if strict else pool
        if not able:
            continue
        best = min(able, key=lambda p: (p.username in conv.declined, not speaks(p, conv.lang), p.load,
                                        p.idle_since_ms, p.username))
        plan.append((conv.conv, best.username))
        best.offers += 1
        if not best.has_room(now_ms):
            pool.remove(best)
    return plan
