"""The envelope every published frame travels in, and the SMS events list's items.

The Python mirror of ``envelope()`` and ``to_seeker()`` in ``routing/_lib.lua``: a published
payload is ``seq<TAB>conv<TAB>frame``, where ``frame`` is the JSON text sent to the client as
is and ``seq`` is the message's number (0 when the frame is not a message), which lets a socket
drop a replayed duplicate. ``conv`` is ``-`` when the frame belongs to no conversation (a
peer's ``shift`` frame). A control envelope, ``!<TAB>kind<TAB>arg``, is for the sockets
themselves and never reaches a client (``kick``: a console session ended).

An SMS conversation's seeker-facing frames are also pushed onto its channel's events list as
``conv<TAB>frame``, built only in Lua and read with :func:`unpack_event`.

Neither ids nor a seq ever hold a tab, and JSON text escapes one, so splitting at the first two
tabs is exact. Everything that builds or reads these strings in Python goes through here.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_CONV = "-"
_CONTROL = "!"


@dataclass(frozen=True, slots=True)
class Envelope:
    """One published payload. For a control envelope (``control``), ``seq`` is 0, ``conv`` is
    the control's kind and ``frame`` its argument."""

    seq: int
    conv: str
    frame: str
    control: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One item of an events list: a seeker-facing frame of conversation ``conv``."""

    conv: str
    frame: str


def pack(seq: int, conv: str, frame: str) -> str:
    """The envelope of ``frame`` (JSON text) of ``conv``; ``seq`` 0 when it is not a message."""
    return f"{seq}\t{conv}\t{frame}"


def pack_control(kind: str, arg: str) -> str:
    """A control envelope for the sockets subscribed to the channel, e.g. ``kick``."""
    return f"{_CONTROL}\t{kind}\t{arg}"


def unpack(data: str) -> Envelope:
    """Split a published payload; raises ValueError when it is not an envelope."""
    parts = data.split("\t", 2)
    if len(parts) != 3:
        raise ValueError("not an envelope")
    seq, conv, frame = parts
    if seq == _CONTROL:
        return Envelope(0, conv, frame, control=True)
    return Envelope(int(seq), conv, frame)


def unpack_event(data: str) -> Event:
    """Split an events list item; raises ValueError when it is not one."""
    conv, sep, frame = data.partition("\t")
    if not sep:
        raise ValueError("not an event")
    return Event(conv, frame)
