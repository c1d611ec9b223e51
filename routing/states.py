"""The two state machines of routing, as enums with their legal transitions.

The transitions are carried out atomically by the Lua scripts beside this module; this table
is what they implement, and the single place a reader (or a test) can check it.
"""

from __future__ import annotations

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


CONV_TRANSITIONS: dict[ConvState, frozenset[ConvState]] = {
    ConvState.NEW: frozenset({ConvState.WAITING, ConvState.ENDED}),
    ConvState.WAITING: frozenset({ConvState.OFFERED, ConvState.ENDED}),
    # Offered -> waiting: declined, expired, or the peer went on break; -> active: accepted.
    ConvState.OFFERED: frozenset({ConvState.WAITING, ConvState.ACTIVE, ConvState.ENDED}),
    # Active -> waiting: transfer back to the queue or peer grace expired; -> offered: transfer
    # to a named peer (through waiting, in the same atomic step).
    ConvState.ACTIVE: frozenset({ConvState.WAITING, ConvState.OFFERED, ConvState.ENDED}),
    ConvState.ENDED: frozenset(),
}


class ShiftState(StrEnum):
    """A peer's shift: off -> on <-> break -> off."""

    OFF = "off"
    ON = "on"
    BREAK = "break"


class ShiftAction(StrEnum):
    START = "start"
    BREAK = "break"
    END = "end"


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
