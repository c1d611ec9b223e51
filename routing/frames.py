"""Server frames: every frame the server sends a client, typed (CONTRACT.md sections 2 and 3,
docs/protocol.md).

Each frame is a frozen dataclass whose ``type`` is a class variable. Python builds frames with
:func:`encode`; the Lua scripts build theirs with cjson, and tests/test_frames.py decodes every
frame a whole conversation produces with :func:`decode`, which refuses an unknown or missing
field, so a Lua frame and its type here cannot drift apart.

Two kinds of optional field, kept apart because clients see the difference: a field marked
:func:`omitted` is left out of the frame when it is None (``code`` on ``delivery``, the extra
``offer`` on an ``error``); any other field that is None is sent as ``null``
(``shift.debrief_until``). A field whose wire name is a Python keyword (``from``) is spelled
with a trailing underscore and mapped by :func:`wire_name`.

Some types share a ``type``: the seeker's ``typing`` has no ``conversation``, the console's
has one. :func:`decode` tells them apart by their fields.
"""

from __future__ import annotations

import types
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from functools import cache
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from config import jsoncodec

_OMIT = "omit_none"
_NAME = "wire_name"


def omitted() -> Any:
    """A field left out of the frame when None (not sent as null)."""
    return field(default=None, metadata={_OMIT: True})


def renamed(name: str) -> Any:
    """A required field whose wire name is not a Python name (``from``)."""
    return field(metadata={_NAME: name})


# --- stored shapes, carried inside frames -------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage:
    """One message as the log keeps it (append_msg in _lib.lua), and as history items carry it."""

    seq: int
    from_: str = renamed("from")
    text: str
    at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredNote:
    """A note or whisper as kept with the conversation (Engine.add_note), as ``notes`` carry it."""

    from_: str = renamed("from")
    text: str
    at: str
    whisper: bool


# --- to the seeker ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    """Service hours as the seeker sees them (routing/hours.py): peers available now or not,
    and if not, when next (ISO 8601 with offset; None: not scheduled) in the program's zone."""

    open: bool
    next_open: str | None
    timezone: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Welcome:
    type: ClassVar[str] = "welcome"
    conversation: str
    resume: str
    crisis_line: str
    crisis_email: str
    lang: str
    service: Service | None = omitted()  # noqa: RUF009 (None, or a frozen Service)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekerAck:
    type: ClassVar[str] = "ack"
    client_id: str
    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekerMessage:
    """Built in Lua (append_msg); Python re-sends stored ones on resume."""

    type: ClassVar[str] = "message"
    seq: int
    from_: str = renamed("from")
    text: str
    at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusWaiting:
    type: ClassVar[str] = "status"
    state: Literal["waiting"] = "waiting"
    position: int
    peers_on_shift: int
    # An addition (routing/estimate.py): left out when there is not enough recent data.
    estimate: WaitEstimate | None = omitted()  # noqa: RUF009  (a field() spec)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusActive:
    type: ClassVar[str] = "status"
    state: Literal["active"] = "active"
    peer: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekerEscalation:
    type: ClassVar[str] = "escalation"
    reason: str
    crisis_line: str
    crisis_email: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekerTyping:
    type: ClassVar[str] = "typing"


@dataclass(frozen=True, slots=True, kw_only=True)
class SeekerEnded:
    type: ClassVar[str] = "ended"
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Forgotten:
    type: ClassVar[str] = "forgotten"


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    """To seekers and consoles. ``offer`` (on ``offer_gone``) and ``conversation`` (on a refused
    ``monitor``) are additions, present only there."""

    type: ClassVar[str] = "error"
    code: str
    message: str
    offer: str | None = omitted()
    conversation: str | None = omitted()


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckIn:
    """The seeker's optional check-in answers, as offers and assigned frames carry them (an
    addition): ``feeling`` 1..7, ``safe`` yes | no | not_sure; null when not answered."""

    feeling: int | None
    safe: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class WaitEstimate:
    """A waiting seeker's estimated wait, rounded up: about ``minutes``, or more than that."""

    minutes: int
    more_than: bool


# --- to consoles ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Shift:
    """Built in Python (a connecting console) and in Lua (publish_shift)."""

    type: ClassVar[str] = "shift"
    state: str
    capacity: int
    active: int
    debrief_until: float | None  # sent as null when there is no debrief pause


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    type: ClassVar[str] = "offer"
    offer: str
    conversation: str
    channel: str
    lang: str  # the conversation's language (CONTRACT.md section 3)
    waited_s: int
    risk: bool
    expires_in_s: int
    transfer_from: str | None = omitted()
    checkin: CheckIn | None = omitted()  # noqa: RUF009  (a field() spec, as transfer_from)


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoked:
    type: ClassVar[str] = "revoked"
    offer: str
    conversation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Released:
    type: ClassVar[str] = "released"
    conversation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _ConversationView:
    """What a console needs to show a whole conversation (assigned_frame in _lib.lua)."""

    conversation: str
    channel: str
    risk: bool
    label: str | None
    lang: str
    escalated: list[str]
    notes: list[StoredNote]
    history: list[StoredMessage]
    checkin: CheckIn | None = omitted()  # noqa: RUF009  (a field() spec, as transfer_from)


@dataclass(frozen=True, slots=True, kw_only=True)
class Assigned(_ConversationView):
    type: ClassVar[str] = "assigned"


@dataclass(frozen=True, slots=True, kw_only=True)
class Monitoring(_ConversationView):
    """A supervisor's view: the assigned frame's fields plus the state and the peer's name."""

    type: ClassVar[str] = "monitoring"
    state: str
    peer_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerAck:
    type: ClassVar[str] = "ack"
    conversation: str
    client_id: str
    seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerMessage:
    type: ClassVar[str] = "message"
    conversation: str
    seq: int
    from_: str = renamed("from")
    text: str
    at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerTyping:
    type: ClassVar[str] = "typing"
    conversation: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerEnded:
    type: ClassVar[str] = "ended"
    conversation: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """An SMS text's state. ``code`` only with ``failed``; ``replay`` only on a replayed state."""

    type: ClassVar[str] = "delivery"
    conversation: str
    seq: int
    state: str
    code: str | None = omitted()
    replay: bool | None = omitted()


@dataclass(frozen=True, slots=True, kw_only=True)
class CannedChanged:
    """The canned responses were edited: the console fetches them again (GET /api/canned)."""

    type: ClassVar[str] = "canned_changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue:
    type: ClassVar[str] = "queue"
    waiting: int
    peers_on_shift: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Synced:
    type: ClassVar[str] = "synced"
    conversations: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    type: ClassVar[str] = "note"
    conversation: str
    from_: str = renamed("from")
    text: str
    at: str
    whisper: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerEscalation:
    type: ClassVar[str] = "escalation"
    conversation: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    type: ClassVar[str] = "alert"
    conversation: str
    reason: str
    channel: str
    state: str
    peer: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Nudge:
    """To the peer who took a conversation and has not written in it for CHATD_FIRST_REPLY_S
    (noreply.lua); an addition to the contract (docs/protocol.md)."""

    type: ClassVar[str] = "nudge"
    conversation: str
    waited_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Language:
    type: ClassVar[str] = "language"
    conversation: str
    lang: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OverviewPeer:
    username: str
    state: str
    capacity: int
    active: int
    display_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OverviewConversation:
    conversation: str
    state: str
    channel: str
    peer: str | None
    waited_s: int
    risk: bool
    escalated: list[str]
    label: str | None
    # Additions: how long the seeker's last message has gone unanswered by the assigned peer (null:
    # answered, or no peer), and whether that passed CHATD_UNANSWERED_S (the supervisor view shows it).
    unanswered_s: int | None = None
    overdue: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    type: ClassVar[str] = "overview"
    peers: list[OverviewPeer]
    waiting: int
    conversations: list[OverviewConversation]


SeekerFrame = (Welcome | SeekerAck | SeekerMessage | StatusWaiting | StatusActive | SeekerEscalation
               | SeekerTyping | SeekerEnded | Forgotten | Error)
ConsoleFrame = (Shift | Offer | Revoked | Released | Assigned | Monitoring | PeerAck | PeerMessage | PeerTyping
                | PeerEnded | Delivery | Queue | Synced | Note | PeerEscalation | Alert | Nudge | Language | Overview
                | Error)
Frame = SeekerFrame | ConsoleFrame

SEEKER_FRAMES: tuple[type[Any], ...] = (Welcome, SeekerAck, SeekerMessage, StatusWaiting, StatusActive,
                                        SeekerEscalation, SeekerTyping, SeekerEnded, Forgotten, Error)
CONSOLE_FRAMES: tuple[type[Any], ...] = (Shift, Offer, Revoked, Released, Assigned, Monitoring, PeerAck,
                                         PeerMessage, PeerTyping, PeerEnded, Delivery, Queue, Synced, Note,
                                         PeerEscalation, Alert, Nudge, Language, Overview, CannedChanged, Error)


class FrameError(ValueError):
    """A frame's JSON that matches none of the types (decode)."""


def wire_name(f: Any) -> str:
    name: str = f.metadata.get(_NAME, f.name)
    return name


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_dict(obj: Any) -> dict[str, Any]:
    """A frame (or a stored shape) as the JSON object it is sent as: ``type`` first, then the
    fields in order, omitted ones left out when None."""
    out: dict[str, Any] = {}
    kind = getattr(type(obj), "type", None)
    if isinstance(kind, str):
        out["type"] = kind
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get(_OMIT):
            continue
        out[wire_name(f)] = _plain(value)
    return out


def encode(obj: Any) -> str:
    """A frame's JSON text, as sent (UTF-8 text as is, not escaped)."""
    return jsoncodec.dumps(as_dict(obj))


def _by_type() -> dict[str, list[type[Any]]]:
    out: dict[str, list[type[Any]]] = {}
    for cls in dict.fromkeys(SEEKER_FRAMES + CONSOLE_FRAMES):
        out.setdefault(cls.type, []).append(cls)
    return out


_BY_TYPE = _by_type()


@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return get_type_hints(cls)


def _check(hint: Any, value: Any, where: str) -> Any:
    """``value`` as ``hint`` says (nested stored shapes become dataclasses), or FrameError."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check(inner, value, where)
    if origin is Literal:
        if value not in get_args(hint):
            raise FrameError(f"{where}: {value!r} is not one of {get_args(hint)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise FrameError(f"{where}: expected a list, got {value!r}")
        (item,) = get_args(hint)
        return [_check(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if is_dataclass(hint):
        if not isinstance(value, dict):
            raise FrameError(f"{where}: expected an object, got {value!r}")
        return _build(hint, value, where)
    ok = {bool: isinstance(value, bool),
          int: isinstance(value, int) and not isinstance(value, bool),
          float: isinstance(value, int | float) and not isinstance(value, bool),
          str: isinstance(value, str)}.get(hint)
    if not ok:
        raise FrameError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
    return value


def _build(cls: Any, obj: dict[str, Any], where: str) -> Any:
    hints = _hints(cls)
    known = {wire_name(f): f for f in fields(cls)}
    unknown = set(obj) - set(known) - {"type"}
    if unknown:
        raise FrameError(f"{where}: unknown field(s) {sorted(unknown)} for {cls.__name__}")
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in obj:
            if f.metadata.get(_OMIT) or (f.default is not MISSING and get_origin(hints[f.name]) is Literal):
                continue
            raise FrameError(f"{where}: missing field {name!r} for {cls.__name__}")
        values[f.name] = _check(hints[f.name], obj[name], f"{where}.{name}")
    return cls(**values)


def stored_message(text: str) -> StoredMessage:
    """A message as the log keeps it (its JSON text), checked like a frame."""
    message: StoredMessage = _build(StoredMessage, jsoncodec.loads(text), "message")
    return message


def decode(text: str) -> Any:
    """The typed frame of a frame's JSON text, strictly: the one type of its ``type`` whose
    fields it has, no more and none missing, each of the declared kind; else FrameError."""
    obj = jsoncodec.loads(text)
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise FrameError(f"not a frame: {text[:200]}")
    candidates = _BY_TYPE.get(obj["type"])
    if not candidates:
        raise FrameError(f"unknown frame type {obj['type']!r}")
    problems = []
    for cls in candidates:
        try:
            return _build(cls, obj, obj["type"])
        except FrameError as exc:
            problems.append(str(exc))
    raise FrameError("; ".join(problems))
