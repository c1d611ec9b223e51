"""Whether a relay delivered what it was given: every message once, to its own conversation.

The load generators count, per conversation, the messages their senders sent (and those chatd
refused with an error frame: not stored, so not relayed) and the messages their receivers got,
and count apart a message that reached a socket outside its conversation (``misrouted``). Those
tallies (``op_tally`` in ``bench/loadgen.py``) are added up here, the same way for chatd, B2 and
the peers. I/O-free, so tests can drive it with made-up tallies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    sent: int
    refused: int
    received: int
    lost: int  # sent, not refused, and never received in its conversation
    extra: int  # received more often than sent: a duplicate
    misrouted: int  # received by a socket of another conversation
    examples: tuple[str, ...] = ()
    stragglers: int = 0  # sent before this period, received in it: late, not a duplicate

    @property
    def expected(self) -> int:
        return self.sent - self.refused

    def problems(self, what: str) -> list[str]:
        """What went wrong, one line each; empty when everything arrived once, where it belongs."""
        found = []
        if self.lost:
            found.append(f"{what}: {self.lost} of {self.expected} messages lost")
        if self.extra:
            found.append(f"{what}: {self.extra} messages delivered twice")
        if self.misrouted:
            found.append(f"{what}: {self.misrouted} messages reached the wrong conversation "
                         f"({'; '.join(self.examples)})")
        return found

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples)}


def _add(into: dict[str, int], counts: dict[str, int]) -> None:
    for conv, n in counts.items():
        into[conv] = into.get(conv, 0) + n


def delivery(tallies: Iterable[dict[str, Any]]) -> Delivery:
    """Add up the load generators' tallies (senders' and receivers' alike) into one account."""
    sent: dict[str, int] = {}
    refused: dict[str, int] = {}
    received: dict[str, int] = {}
    misrouted = stragglers = 0
    examples: list[str] = []
    for t in tallies:
        stragglers += t.get("stragglers", 0)
        _add(sent, t["sent"])
        _add(refused, t["refused"])
        _add(received, t["received"])
        misrouted += t["misrouted"]
        examples += t["misrouted_examples"]
    # A refused message may still have been stored (chatd's ``unavailable``: "may or may not"),
    # so a refused one that arrives is neither lost nor extra.
    lost = sum(max(0, n - refused.get(c, 0) - received.get(c, 0)) for c, n in sent.items())
    extra = sum(max(0, n - sent.get(c, 0)) for c, n in received.items())
    return Delivery(sum(sent.values()), sum(refused.values()), sum(received.values()), lost, extra, misrouted,
                    tuple(examples[:3]), stragglers)

