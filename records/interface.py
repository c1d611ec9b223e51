"""What the service keeps for good, and the narrow interface any database behind it implements.

Live state is in Redis (``records.keyspace``); these are the records that must outlast it:
supporter accounts, shifts, one row per conversation, archived messages and notes (subject to
retention), texters' opt-outs by number hash, and an audit log of peer and supervisor actions.

Units: times are epoch milliseconds in ``*_ms`` fields and arguments, durations seconds in
``*_s``, message times (``at``) the ISO 8601 UTC text the seeker and peer saw. A phone number is
never given to the records, only its HMAC (``number_hash``, sms/hashing.py).

Errors: every method may raise :class:`~records.errors.RecordsUnavailable` (the database
cannot do it now; a write is rolled back whole) or another
:class:`~records.errors.RecordsError`; nothing else escapes a backend. Each method is one
transaction: it happens whole or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, Required, TypedDict

from records.migrations import Migration

# What ``open_records`` does with the database's schema: apply pending migrations ("migrate",
# ``chatd serve`` and the commands), refuse a schema that is not this code's ("check", ``chatd
# web`` and ``chatd worker``: raises SchemaMismatch), or leave it as it is ("any", ``chatd migrate``).
SchemaMode = Literal["migrate", "check", "any"]

# A supporter speaks these unless told otherwise (contract section 3: "default both").
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "fr")


@dataclass(frozen=True, slots=True)
class Supporter:
    """A peer supporter's account. ``role`` is ``peer``, ``supervisor`` or ``admin``; only a
    ``trained`` account may go on shift; a ``disabled`` one may not log in."""

    username: str
    display_name: str
    role: str
    trained: bool
    disabled: bool
    password_hash: str  # argon2id (peers/accounts.py); the password itself is never stored
    languages: tuple[str, ...] = DEFAULT_LANGUAGES  # "en", "fr": the languages it takes chats in

    @property
    def is_supervisor(self) -> bool:
        return self.role in ("supervisor", "admin")


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """One message of a conversation, as both sides saw it: ``sender`` is ``seeker``, ``peer``
    or ``system``; ``seq`` its number in the conversation (from 1)."""

    seq: int
    sender: str
    text: str
    at: str


@dataclass(frozen=True, slots=True)
class ArchivedNote:
    """A private note (or a supervisor's whisper) on a conversation; never seen by the seeker."""

    author: str
    text: str
    at: str
    whisper: bool


class Escalation(TypedDict):
    """One escalation of a conversation: ``reason`` is ``no_peer_on_shift``, ``wait_timeout``,
    ``risk`` or ``peer``."""

    reason: str
    at_ms: int


class ConversationRecord(TypedDict, total=False):
    """One conversation's row. Only ``id`` is always there; a rating can arrive before the
    conversation is archived, so a row may hold only ``id`` and ``survey`` for a while.

    Read back, every field is present (``None`` when unknown) and ``escalations`` is a list.
    """

    id: Required[str]
    channel: str | None  # "web" | "sms"
    lang: str | None  # "en" | "fr"
    created_ms: int | None
    queued_ms: int | None  # first queued: the seeker's first message
    accepted_ms: int | None  # first accept by a peer
    ended_ms: int | None
    ended_by: str | None  # "seeker" | "peer" | "system"
    outcome: str | None  # the peer's short tag, or the service's ("idle", "opted_out", ...)
    wait_s: float | None  # seconds from first queued to the first accept (or the end)
    peer: str | None  # username of the (last) assigned peer
    escalations: list[Escalation]
    risk: bool | None  # a message matched the risk list
    survey: int | None  # the seeker's rating, 1..5
    checkin_feeling: int | None  # the check-in's "how are you feeling right now?", 1..7
    checkin_safe: str | None  # the check-in's "are you safe right now?": yes | no | not_sure
    end_feeling: int | None  # the same 1..7 question in the end survey
    label: str | None  # what peers saw instead of a number ("Texter 4F2A")
    number_hash: str | None  # SMS only: HMAC of the texter's number
    forgotten: bool  # the seeker asked for its texts to be deleted


class AuditEntry(NamedTuple):
    """One peer or supervisor action: ``accept``, ``end``, ``escalate``, ``transfer``, ``note``,
    ``monitor``, ``whisper`` (``detail`` is free text, never a message)."""

    actor: str
    action: str
    conversation: str | None
    detail: str


class Records(Protocol):
    """The durable records of one process (one connection or pool, shared by its tasks).

    Made by :func:`records.open_records`; closed once by its owner (the app's lifespan or a
    command). Methods may be called from any number of tasks at once.
    """

    async def close(self) -> None:
        """Close the connection; no method may be called after."""

    async def ping(self) -> None:
        """Return when the database answers (readiness); raises ``RecordsUnavailable`` if not."""

    # --- schema -----------------------------------------------------------------------------
    async def schema_version(self) -> int:
        """The version of the newest migration applied (records/migrations); 0: no schema yet."""

    async def migrate(self) -> list[Migration]:
        """Apply the pending migrations, each whole or not at all, and return them (empty: the
        schema was current). Safe when several processes migrate at once. Raises
        ``SchemaMismatch`` when the database is newer than this code."""

    # --- supporters -------------------------------------------------------------------------
    async def add_supporter(self, username: str, display_name: str, role: str, trained: bool,
                            password_hash: str, now_ms: int,
                            languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        """Create an account (enabled) speaking ``languages`` (validated by the caller, in
        ``DEFAULT_LANGUAGES`` order). Raises ``RecordExists`` when the username is taken."""

    async def get_supporter(self, username: str) -> Supporter | None:
        """The account, disabled or not; None when there is none."""

    async def list_supporters(self) -> list[Supporter]:
        """Every account, by username."""

    async def update_supporter(self, username: str, *, display_name: str | None = None, role: str | None = None,
                               trained: bool | None = None, disabled: bool | None = None,
                               password_hash: str | None = None, languages: Sequence[str] | None = None) -> bool:
        """Change the fields given (None: unchanged), validated by the caller; False when there
        is no such account."""

    # --- shifts and audit -------------------------------------------------------------------
    async def shift_started(self, username: str, capacity: int, now_ms: int) -> None:
        """Open a shift row for the peer, or set the capacity of the one open already."""

    async def shift_ended(self, username: str, now_ms: int) -> None:
        """Close the peer's open shift row, if any."""

    async def audit(self, actor: str, action: str, conversation: str | None, detail: str, now_ms: int) -> None:
        """Append an action to the audit log."""

    async def audit_log(self, conversation: str | None = None) -> list[AuditEntry]:
        """The audit log in the order written, of one conversation or of all."""

    # --- conversations ----------------------------------------------------------------------
    async def archive_conversation(self, conversation: ConversationRecord, messages: Sequence[ArchivedMessage],
                                   notes: Sequence[ArchivedNote] = ()) -> None:
        """Upsert the conversation's row and add its messages and notes; safe to repeat.

        A repeat replaces the row's fields except ``survey`` (a rating already stored stays
        unless a new one is given) and ``forgotten`` (once true, true for good); messages
        (by ``seq``) and notes (by position) already stored are kept as they are.
        """

    async def conversation(self, conversation_id: str) -> ConversationRecord | None:
        """The conversation's row, every field present; None when there is none."""

    async def messages(self, conversation_id: str) -> list[ArchivedMessage]:
        """Its archived messages by ``seq``; empty once forgotten or purged."""

    async def notes(self, conversation_id: str) -> list[ArchivedNote]:
        """Its archived notes and whispers in the order written; empty once forgotten or purged."""

    async def set_survey(self, conversation_id: str, rating: int) -> None:
        """Record a rating (1..5), whether or not the conversation is archived yet."""

    async def set_end_feeling(self, conversation_id: str, feeling: int) -> None:
        """Record the end survey's feeling (1..7), whether or not the conversation is archived yet."""

    async def forget(self, conversation_id: str) -> None:
        """Delete every stored text (messages, notes) of the conversation, scrub the copies the
        database's files may still hold (best effort while another process reads), and mark it
        forgotten (a later archive of it keeps ``forgotten`` true). Safe to repeat."""

    async def forget_number(self, number_hash: str) -> list[str]:
        """``forget`` every conversation of a texter's number; their ids."""

    async def purge(self, ended_before_ms: int) -> int:
        """Retention: delete the texts (messages and notes) of conversations that ended before
        the cutoff; their rows stay. Returns how many messages were deleted."""

    # --- SMS opt-outs -----------------------------------------------------------------------
    async def set_opt_out(self, number_hash: str, opted_out: bool, now_ms: int) -> None:
        """Remember that a number opted out of texts (STOP), or forget it (START)."""

    async def is_opted_out(self, number_hash: str) -> bool:
        """Whether the number has opted out."""
