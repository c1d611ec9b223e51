"""Wire messages: typed, parsed and validated at the edge.

Every frame a client sends becomes one of the frozen dataclasses below, or a :class:`WireError`
carrying the contract's error code. Nothing past this module touches a raw dict from a socket,
so an object where a string belongs (the Rocket.Chat ``$regex`` token attack) stops here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config import jsoncodec
from config.textrules import NOT_TEXT, find_unencodable, is_blank

MAX_TEXT = 4000
MAX_CLIENT_ID = 64
MAX_NOTE = 4000
_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_TAG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}\Z")
_USER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")


class WireError(Exception):
    """A frame the contract does not allow; ``code`` goes back to the client in an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- seeker -> server ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hello:
    lang: str = "en"
    resume: str | None = None
    last_seq: int = 0


@dataclass(frozen=True, slots=True)
class SeekerMessage:
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Typing:
    pass


@dataclass(frozen=True, slots=True)
class SeekerEnd:
    pass


@dataclass(frozen=True, slots=True)
class Survey:
    """The end survey: the contract's ``rating`` (1..5), and, an addition, ``feeling`` (1..7, the
    check-in's question asked again); either may be left out, not both."""

    rating: int | None
    feeling: int | None = None


SAFE_ANSWERS = ("yes", "no", "not_sure")


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The optional check-in (an addition): ``feeling`` 1..7, ``safe`` yes | no | not_sure."""

    feeling: int | None
    safe: str | None


@dataclass(frozen=True, slots=True)
class Forget:
    pass


# --- peer -> server --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Shift:
    action: str
    capacity: int = 1


@dataclass(frozen=True, slots=True)
class Accept:
    offer: str


@dataclass(frozen=True, slots=True)
class Decline:
    offer: str


@dataclass(frozen=True, slots=True)
class PeerMessage:
    conversation: str
    client_id: str
    text: str


@dataclass(frozen=True, slots=True)
class PeerTyping:
    conversation: str


@dataclass(frozen=True, slots=True)
class PeerEnd:
    conversation: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Escalate:
    conversation: str


@dataclass(frozen=True, slots=True)
class Transfer:
    conversation: str
    to: str | None


@dataclass(frozen=True, slots=True)
class Note:
    conversation: str
    text: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """(addition) The peer sets the conversation's language (for SMS: the texts the service sends)."""

    conversation: str
    lang: str


@dataclass(frozen=True, slots=True)
class Monitor:
    conversation: str


@dataclass(frozen=True, slots=True)
class Whisper:
    conversation: str
    text: str


SeekerFrame = Hello | SeekerMessage | Typing | SeekerEnd | Survey | CheckIn | Forget
PeerFrame = (Shift | Accept | Decline | PeerMessage | PeerTyping | PeerEnd | Escalate | Transfer | Note
             | SetLanguage | Monitor | Whisper)


# --- field readers ---------------------------------------------------------------------------
def _str(d: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    value = d.get(name)
    if value is None:
        if required:
            raise WireError("bad_request", f"missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise WireError("bad_request", f"field {name!r} must be a string")
    if len(value) > max_len:
        raise WireError("bad_request", f"field {name!r} is longer than {max_len} characters")
    return value


def _required(d: dict[str, Any], name: str, max_len: int) -> str:
    value = _str(d, name, max_len)
    if value is None:  # _str raises for a missing required field; this is for the type checker
        raise WireError("bad_request", f"missing field {name!r}")
    return value


def _id(d: dict[str, Any], name: str) -> str:
    value = _required(d, name, 64)
    if not _ID_RE.match(value):
        raise WireError("bad_request", f"field {name!r} is not a valid id")
    return value


def _int(d: dict[str, Any], name: str, lo: int, hi: int, *, default: int | None = None) -> int:
    value = d.get(name)
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError("bad_request", f"field {name!r} must be a whole number")
    if not lo <= value <= hi:
        raise WireError("bad_request", f"field {name!r} must be between {lo} and {hi}")
    return value


def _text(d: dict[str, Any], name: str = "text", max_len: int = MAX_TEXT) -> str:
    value = d.get(name)
    if not isinstance(value, str):
        raise WireError("bad_request", f"field {name!r} must be a string" if value is not None
                        else f"missing field {name!r}")
    if len(value) > max_len:
        raise WireError("too_large", f"text is longer than {max_len} characters")
    if is_blank(value):  # nothing visible: spaces, zero-width and other invisible characters
        raise WireError("bad_request", "text is empty")
    return value


def _client_id(d: dict[str, Any]) -> str:
    value = _required(d, "client_id", MAX_CLIENT_ID)
    if not value:
        raise WireError("bad_request", "field 'client_id' is empty")
    return value


# --- parsers ---------------------------------------------------------------------------------
def _hello(d: dict[str, Any]) -> Hello:
    resume = _str(d, "resume", 128, required=False)
    if resume is not None:
        return Hello(lang="en", resume=resume, last_seq=_int(d, "last_seq", 0, 10**9, default=0))
    lang = _str(d, "lang", 8, required=False) or "en"
    if lang not in ("en", "fr"):
        raise WireError("bad_request", "field 'lang' must be 'en' or 'fr'")
    return Hello(lang=lang)


def _optional_int(d: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    return None if d.get(name) is None else _int(d, name, lo, hi)


def _survey(d: dict[str, Any]) -> Survey:
    feeling = _optional_int(d, "feeling", 1, 7)
    # The contract's survey: a rating, checked as before; with a feeling, the rating may be left out.
    rating = _int(d, "rating", 1, 5) if feeling is None or d.get("rating") is not None else None
    return Survey(rating, feeling)


def _checkin(d: dict[str, Any]) -> CheckIn:
    feeling = _optional_int(d, "feeling", 1, 7)
    safe = _str(d, "safe", 16, required=False)
    if safe is not None and safe not in SAFE_ANSWERS:
        raise WireError("bad_request", "field 'safe' must be yes, no or not_sure")
    if feeling is None and safe is None:
        raise WireError("bad_request", "a check-in needs 'feeling' (1..7) or 'safe'")
    return CheckIn(feeling, safe)


SEEKER_PARSERS: dict[str, Callable[[dict[str, Any]], SeekerFrame]] = {
    "hello": _hello,
    "message": lambda d: SeekerMessage(_client_id(d), _text(d)),
    "typing": lambda d: Typing(),
    "end": lambda d: SeekerEnd(),
    "survey": _survey,
    "checkin": _checkin,
    "forget": lambda d: Forget(),
}


def _shift(d: dict[str, Any]) -> Shift:
    action = _str(d, "action", 16)
    if action not in ("start", "break", "end"):
        raise WireError("bad_request", "field 'action' must be start, break or end")
    capacity = _int(d, "capacity", 1, 5) if action == "start" else 1
    return Shift(action, capacity)


def _transfer(d: dict[str, Any]) -> Transfer:
    if "to" not in d:
        raise WireError("bad_request", "missing field 'to' (a username, or null for the queue)")
    to = _str(d, "to", 64, required=False)
    if to is not None and not _USER_RE.match(to):
        raise WireError("not_available", "no such peer")
    return Transfer(_id(d, "conversation"), to)


def _language(d: dict[str, Any]) -> SetLanguage:
    lang = _str(d, "lang", 8)
    if lang not in ("en", "fr"):
        raise WireError("bad_request", "field 'lang' must be 'en' or 'fr'")
    return SetLanguage(_id(d, "conversation"), lang)


def _end(d: dict[str, Any]) -> PeerEnd:
    outcome = _str(d, "outcome", 40, required=False) or "unspecified"
    if not _TAG_RE.match(outcome):
        raise WireError("bad_request", "field 'outcome' must be a short tag (letters, digits, . _ -)")
    return PeerEnd(_id(d, "conversation"), outcome)


PEER_PARSERS: dict[str, Callable[[dict[str, Any]], PeerFrame]] = {
    "shift": _shift,
    "accept": lambda d: Accept(_id(d, "offer")),
    "decline": lambda d: Decline(_id(d, "offer")),
    "message": lambda d: PeerMessage(_id(d, "conversation"), _client_id(d), _text(d)),
    "typing": lambda d: PeerTyping(_id(d, "conversation")),
    "end": _end,
    "escalate": lambda d: Escalate(_id(d, "conversation")),
    "transfer": _transfer,
    "note": lambda d: Note(_id(d, "conversation"), _text(d, max_len=MAX_NOTE)),
    "language": _language,
    "monitor": lambda d: Monitor(_id(d, "conversation")),
    "whisper": lambda d: Whisper(_id(d, "conversation"), _text(d, max_len=MAX_NOTE)),
}


def decode(raw: str) -> tuple[str, dict[str, Any]]:
    """JSON text to ``(type, object)``; any malformation is a ``bad_request``.

    Every string of the frame, keys and values at any depth, known fields or not, must be
    encodable as UTF-8: JSON may spell a lone surrogate (``"\\ud800"``), which no socket,
    Redis or SQLite can take, so such a frame is refused here, whatever field it is in.
    """
    try:
        obj = jsoncodec.loads(raw)
    except (ValueError, RecursionError):
        raise WireError("bad_request", "the frame is not valid JSON") from None
    where = find_unencodable(obj)
    if where is not None:
        raise WireError("bad_request", f"{where} is {NOT_TEXT}")
    if not isinstance(obj, dict):
        raise WireError("bad_request", "a frame must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise WireError("bad_request", "missing or non-string field 'type'")
    return kind, obj


def parse_seeker(raw: str) -> SeekerFrame:
    kind, obj = decode(raw)
    parser = SEEKER_PARSERS.get(kind)
    if parser is None:
        raise WireError("bad_request", f"unknown type {kind[:32]!r}")
    return parser(obj)


def parse_peer(raw: str) -> PeerFrame:
    kind, obj = decode(raw)
    parser = PEER_PARSERS.get(kind)
    if parser is None:
        raise WireError("bad_request", f"unknown type {kind[:32]!r}")
    return parser(obj)
