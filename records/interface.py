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

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, Required, TypedDict

from records.migrations import Dialect, Migration

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


class TableBatch(NamedTuple):
    """Rows of one table as ``copy-db`` moves them: ``columns`` names the values of each row, in
    order. Values are portable: None, int, float, str (JSON as its text) or bool (SQLite gives
    its 0/1); the loading backend converts them to its column types."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


# The reasons a conversation is escalated for, in the order figures list them: the contract's four
# (section 5) and wait_estimate (an addition: the estimated wait passed CHATD_WAIT_ESCALATE_S,
# routing/estimate.py), which /api/stats therefore lists as a fifth key.
ESCALATION_REASONS: tuple[str, ...] = ("no_peer_on_shift", "wait_timeout", "risk", "peer", "wait_estimate")


class AccountAuditEntry(NamedTuple):
    """One audit log entry as the admin page lists it: ``account`` is the account a roster
    change was made to (None for a peer's action on a conversation)."""

    at_ms: int
    actor: str
    action: str
    account: str | None
    conversation: str | None
    detail: str


class DayBounds(NamedTuple):
    """One calendar day of the program's time zone as epoch milliseconds ``[start_ms, end_ms)``
    (23 or 25 hours long on a daylight-saving change); ``date`` is ``YYYY-MM-DD``."""

    date: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One day's counts of conversations created that day (statistics, contract section 9)."""

    date: str
    conversations: int
    paired: int
    abandoned: int
    escalated: int
    by_channel: dict[str, int]
    by_lang: dict[str, int]


@dataclass(frozen=True, slots=True)
class StatsFigures:
    """Aggregates over the conversations created in a range of days; nothing in them names a
    conversation, a person or a text. ``wait_p50_s``/``wait_p90_s`` are nearest-rank
    percentiles of the waits of paired conversations; ``answered_60``/``answered_120`` the
    share of queued conversations a peer accepted within that many seconds (None: none queued)."""

    conversations: int
    by_channel: dict[str, int]
    by_lang: dict[str, int]
    paired: int
    abandoned: int
    escalations: dict[str, int]
    wait_p50_s: float | None
    wait_p90_s: float | None
    answered_60: float | None
    answered_120: float | None
    survey_responses: int
    survey_mean: float | None
    # The check-in's 1-7 "how are you feeling" asked again in the end survey: conversations with
    # both answers, and the mean of (end - check-in) over them (None: none).
    feeling_pairs: int
    feeling_change_mean: float | None
    days: list[DayFigures]


def supporter_changes(*, display_name: str | None = None, role: str | None = None, trained: bool | None = None,
                      disabled: bool | None = None, password_hash: str | None = None,
                      languages: Sequence[str] | None = None) -> list[tuple[str, Any]]:
    """The ``(column, value)`` pairs an ``update_supporter`` call sets, None meaning unchanged;
    languages as the column stores them (``"en,fr"``). Each backend spells only the SQL."""
    changes: tuple[tuple[str, Any], ...] = (
        ("display_name", display_name), ("role", role), ("trained", trained), ("disabled", disabled),
        ("password_hash", password_hash), ("languages", None if languages is None else ",".join(languages)))
    return [(column, value) for column, value in changes if value is not None]


class Records(Protocol):
    """The durable records of one process (one connection or pool, shared by its tasks).

    Made by :func:`records.open_records`; closed once by its owner (the app's lifespan or a
    command). Methods may be called from any number of tasks at once.
    """

    dialect: Dialect  # which SQL it speaks: "sqlite" or "postgresql" (its migrations' folder)

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

    # --- copying a whole database (records/copy.py) -------------------------------------------
    async def count_rows(self, table: str) -> int:
        """How many rows ``table`` (one of ``records.copy.TABLES``; ValueError otherwise) holds."""

    def dump_table(self, table: str, batch_rows: int) -> AsyncIterator[TableBatch]:
        """Every row of ``table``, ``batch_rows`` at a time, read from one snapshot of the database
        in a stable order (SQLite: as inserted; PostgreSQL: by primary key). ValueError for a
        table not in ``records.copy.TABLES``."""

    async def load_rows(self, table: str, batch: TableBatch) -> int:
        """Insert the batch in one transaction, keeping a row already there with the same primary
        key (so a repeated batch adds nothing), ids included (a generated id's sequence is moved
        past them); the number of rows inserted."""

    # --- program operations (contract section 9; records/program_sql.py and each backend) ------
    async def audit_account(self, actor: str, action: str, account: str | None, detail: str,
                            now_ms: int) -> None:
        """Append a change made by an admin (``actor``) to the audit log: to ``account``, or to
        the program's settings (None). ``detail`` never holds a password or its hash."""

    async def account_audit(self, account: str | None = None, limit: int = 500) -> list[AccountAuditEntry]:
        """The audit log newest first (at most ``limit`` entries): all of it, or the entries
        made by or to ``account``."""

    async def program_setting(self, name: str) -> str | None:
        """The JSON text stored under ``name`` ('service_hours', 'canned_responses'); None: unset."""

    async def set_program_setting(self, name: str, value_json: str, actor: str, now_ms: int) -> None:
        """Store the JSON text ``value_json`` under ``name``, replacing what was there."""

    async def record_live_conversations(self, rows: Sequence[ConversationRecord]) -> None:
        """Upsert the rows of conversations still live in Redis (no texts, no label, no number
        hash), so statistics count them. A row already archived as ended is left as it is (the
        archive is newer than any live copy); ``survey`` and ``forgotten`` are kept."""

    async def stats(self, days: Sequence[DayBounds]) -> StatsFigures:
        """Aggregates over the conversations queued at least once and created within ``days``
        (consecutive, oldest first)."""

    async def peer_hours(self, days: Sequence[DayBounds], now_ms: int) -> list[float]:
        """Hours spent on shift by all peers together within each day (open shifts up to
        ``now_ms``), one figure per day."""
