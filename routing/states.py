"""The two state machines of routing, as enums and tables of their transitions.

The transitions are carried out atomically by the Lua scripts beside this module; these tables
are what they implement, and the one place a reader can check it. ``tests/test_states.py``
drives every (state, action) pair of both machines through the real scripts in a real Redis
and compares what they do with these tables: a change to one is made in the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ConvState(StrEnum):
    """A conversation: new (hello, no message yet) -> waiting -> offered -> active -> ended.

    Escalation is not a state: it is recorded on the conversation, which stays where it is.
    """

    NEW = "new"
    WAITING = "waiting"
    OFFERED = "offered"
    ACTIVE = "active"
    ENDED = "ended"


class ConvAction(StrEnum):
    """Everything that changes a conversation (or may be asked to), and the script doing it."""

    MESSAGE = "message"  # a seeker's message (append.lua); the first one queues the conversation
    MATCH = "match"  # the matcher's pass (match.lua; append.lua runs one when it queues)
    ACCEPT = "accept"  # the peer it is offered to takes it (accept.lua)
    DECLINE = "decline"  # that peer declines (release_offer.lua)
    EXPIRE = "expire"  # the offer's timer fires (release_offer.lua)
    PEER_BREAK = "peer_break"  # the peer it is offered or assigned to goes on break (shift.lua; end alike)
    TRANSFER = "transfer"  # the assigned peer transfers it to another peer (release.lua)
    REQUEUE = "requeue"  # transfer to null, or the peer's grace ran out (release.lua)
    END_SEEKER = "end_seeker"  # end.lua, by the seeker (an SMS opt-out alike)
    END_PEER = "end_peer"  # end.lua, by the assigned peer
    END_SYSTEM = "end_system"  # end.lua, by the service (seeker grace, SMS idle time)
    ESCALATE = "escalate"  # the assigned peer escalates it (escalate.lua)
    WAIT_TIMEOUT = "wait_timeout"  # the wait timer escalates it (escalate.lua)
    FORGET = "forget"  # the seeker deletes its texts (forget.lua)
    CHECKIN = "checkin"  # the seeker's optional check-in, before a peer has it (checkin.lua)
    CHECKIN_NOT_SAFE = "checkin_not_safe"  # one that says "not safe" (or "not sure"): queued at the front


@dataclass(frozen=True, slots=True)
class Refused:
    """The action is not legal from that state: the script changes nothing and answers ``code``."""

    code: str


ConvOutcome = ConvState | Refused

_NEW, _WAITING, _OFFERED, _ACTIVE, _ENDED = ConvState
OFFER_GONE = Refused("offer_gone")  # an offer that is not (or no longer) there: expired, revoked...
NOT_ALLOWED = Refused("not_allowed")  # the conversation is not assigned to the acting peer
NOT_QUEUED = Refused("not_queued")  # not waiting for a peer
NOT_ENDED = Refused("not_ended")
ENDED = Refused("ended")

# What each action does from each state: the state it leads to, or its refusal. An action that
# leaves the state as it was still does its work (a message is stored, an escalation recorded);
# the matcher and a peer's break pass over a conversation that is not theirs to change. The first
# message queues (new -> waiting) and, in the same step, makes MATCH's offer when a peer has room.
#                            new          waiting      offered      active       ended
CONV_TABLE: dict[ConvAction, tuple[ConvOutcome, ConvOutcome, ConvOutcome, ConvOutcome, ConvOutcome]] = {
    ConvAction.MESSAGE:      (_WAITING,    _WAITING,    _OFFERED,    _ACTIVE,     ENDED),
    ConvAction.MATCH:        (_NEW,        _OFFERED,    _OFFERED,    _ACTIVE,     _ENDED),
    ConvAction.ACCEPT:       (OFFER_GONE,  OFFER_GONE,  _ACTIVE,     OFFER_GONE,  OFFER_GONE),
    ConvAction.DECLINE:      (OFFER_GONE,  OFFER_GONE,  _WAITING,    OFFER_GONE,  OFFER_GONE),
    ConvAction.EXPIRE:       (OFFER_GONE,  OFFER_GONE,  _WAITING,    OFFER_GONE,  OFFER_GONE),
    ConvAction.PEER_BREAK:   (_NEW,        _WAITING,    _WAITING,    _ACTIVE,     _ENDED),
    ConvAction.TRANSFER:     (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, _OFFERED,    NOT_ALLOWED),
    ConvAction.REQUEUE:      (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, _WAITING,    NOT_ALLOWED),
    ConvAction.END_SEEKER:   (_ENDED,      _ENDED,      _ENDED,      _ENDED,      ENDED),
    ConvAction.END_PEER:     (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, _ENDED,      ENDED),
    ConvAction.END_SYSTEM:   (_ENDED,      _ENDED,      _ENDED,      _ENDED,      ENDED),
    ConvAction.ESCALATE:     (NOT_ALLOWED, NOT_ALLOWED, NOT_ALLOWED, _ACTIVE,     ENDED),
    ConvAction.WAIT_TIMEOUT: (NOT_QUEUED,  _WAITING,    _OFFERED,    NOT_QUEUED,  ENDED),
    ConvAction.FORGET:       (NOT_ENDED,   NOT_ENDED,   NOT_ENDED,   NOT_ENDED,   _ENDED),
    ConvAction.CHECKIN:      (_NEW,        _WAITING,    _OFFERED,    NOT_ALLOWED, ENDED),
    ConvAction.CHECKIN_NOT_SAFE: (_WAITING, _WAITING,    _OFFERED,    NOT_ALLOWED, ENDED),
}  # fmt: skip

CONV_TRANSITIONS: dict[tuple[ConvState, ConvAction], ConvOutcome] = {
    (state, action): row[i] for action, row in CONV_TABLE.items() for i, state in enumerate(ConvState)}


def conv_outcome(current: ConvState, action: ConvAction) -> ConvOutcome:
    """The state ``action`` leads to from ``current``, or how it is refused."""
    return CONV_TRANSITIONS[(current, action)]


class ShiftState(StrEnum):
    """A peer's shift: off -> on <-> break -> off."""

    OFF = "off"
    ON = "on"
    BREAK = "break"


class ShiftAction(StrEnum):
    START = "start"
    BREAK = "break"
    END = "end"


# Every legal shift transition (shift.lua); any other pair is refused with 'bad_transition'.
# Two offers in a row let expire also put a peer on break (release_offer.lua): on -> break.
SHIFT_TRANSITIONS: dict[tuple[ShiftState, ShiftAction], ShiftState] = {
    (ShiftState.OFF, ShiftAction.START): ShiftState.ON,
    (ShiftState.ON, ShiftAction.START): ShiftState.ON,  # a new capacity, or the end of a debrief
    (ShiftState.BREAK, ShiftAction.START): ShiftState.ON,
    (ShiftState.ON, ShiftAction.BREAK): ShiftState.BREAK,
    (ShiftState.ON, ShiftAction.END): ShiftState.OFF,
    (ShiftState.BREAK, ShiftAction.END): ShiftState.OFF,
}


def next_shift_state(current: ShiftState, action: ShiftAction) -> ShiftState | None:
    """The state a shift action leads to, or None when it is not legal from ``current``."""
    return SHIFT_TRANSITIONS.get((current, action))
