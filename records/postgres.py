"""The durable records in PostgreSQL (13 or later) through asyncpg: the backend for processes on
several machines.

A pool of at most ``pool_size`` connections is shared by a process's tasks. Every method is one
transaction on one pooled connection, and is tried again (``ATTEMPTS`` in all, with backoff)
when PostgreSQL aborted it for a serialization failure or a deadlock, or when the connection
dropped (a restart, a failover, a network cut): the whole transaction is run again, so every
method is written to be safe to repeat (upserts, ``ON CONFLICT DO NOTHING``). One exception:
``audit`` appends, so a connection lost after its commit but before the reply writes its row
twice; a duplicate audit line is the better failure than a lost one. asyncpg's errors are
turned into the package's own (records/errors.py) at this edge, as sqlite.py does with sqlite3's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Literal, TypeAlias, TypeVar, cast

import asyncpg

from records import migrations
from records.copy import require_known
from records.errors import RecordExists, RecordsError, RecordsUnavailable
from records.interface import (
    DEFAULT_LANGUAGES,
    ArchivedMessage,
    ArchivedNote,
    AuditEntry,
    ConversationRecord,
    SchemaMode,
    Supporter,
    TableBatch,
    supporter_changes,
)
from records.migrations import Dialect, Migration
from records.postgres_program import PostgresProgram

POOL_SIZE = 5
CONNECT_TIMEOUT_S = 5.0  # opening a connection, or waiting for a free one of the pool
COMMAND_TIMEOUT_S = 10.0  # one statement; the worker gives an archive 15 s in all
ATTEMPTS = 3
BACKOFF_S = 0.1  # before the 2nd attempt; tripled for each further one, with jitter

# Advisory lock keys (two int4: a namespace, then a key): migrations, and one peer's shift rows.
_LOCK_NAMESPACE = 0x63686174  # "chat"
_MIGRATE_LOCK = 1
_SHIFT_LOCK = 2

CONVERSATION_COLUMNS = ("id", "channel", "lang", "created_ms", "queued_ms", "accepted_ms", "ended_ms", "ended_by",
                        "outcome", "wait_s", "peer", "escalations", "risk", "survey", "label", "number_hash",
                        "forgotten", "checkin_feeling", "checkin_safe", "end_feeling")

# Errors after which the same transaction may well succeed if run again at once.
_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.TransactionRollbackError,  # serialization failure, deadlock
    asyncpg.PostgresConnectionError,  # the connection dropped or could not be made
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,  # a fast shutdown or pg_terminate_backend
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a standby, before a proxy moved to the new primary
    ConnectionError,
)
# Errors that mean "not now" without being worth an immediate retry.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    *_TRANSIENT,
    asyncpg.exceptions.OperatorInterventionError,  # statement timeout, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # disk full, out of memory
    asyncpg.exceptions.LockNotAvailableError,
    OSError,
    TimeoutError,
)
_DROPPED: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError, asyncpg.exceptions.AdminShutdownError, asyncpg.exceptions.CrashShutdownError,
    ConnectionError)


def _closed(exc: BaseException | None) -> bool:
    """asyncpg's InterfaceError for a connection (or pool) found closed, as the server cut it
    mid-call; its other InterfaceErrors are mistakes in the call (a bug, not an outage)."""
    return isinstance(exc, asyncpg.InterfaceError) and ("closed" in str(exc) or "closing" in str(exc))


def _transient(exc: BaseException | None) -> bool:
    """Whether the same transaction may well succeed if run again at once."""
    return isinstance(exc, _TRANSIENT) or _closed(exc)


T = TypeVar("T")
# What the pool lends; generic only in asyncpg's stubs, hence the string.
Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
Work = Callable[[Conn], Awaitable[T]]
IsolationLevel = Literal["serializable", "repeatable_read", "read_uncommitted", "read_committed"]


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """asyncpg's errors as the package's: a taken key; a database that cannot do it now
    (unreachable, shutting down, out of space, a timeout, a serialization failure); anything else."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise RecordExists(str(exc)) from exc
    except _UNAVAILABLE as exc:
        raise RecordsUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except asyncpg.InterfaceError as exc:
        raise (RecordsUnavailable if _closed(exc) else RecordsError)(f"InterfaceError: {exc}") from exc
    except (asyncpg.PostgresError, asyncpg.InternalClientError) as exc:
        raise RecordsError(f"{type(exc).__name__}: {exc}") from exc


def _status_count(status: str) -> int:
    """The row count of a command status (``DELETE 3``, ``INSERT 0 2``)."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresRecords(PostgresProgram):
    """A bounded asyncpg pool, shared by a process's tasks; see the module's docstring."""

    dialect: Dialect = "postgresql"

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], *, connect_timeout_s: float) -> None:
        self._pool = pool
        self._connect_timeout_s = connect_timeout_s
        self._columns: dict[str, dict[str, str]] = {}  # table -> column -> data_type (copy-db)
        self._identity: dict[str, str | None] = {}  # table -> its identity column, if any

    @classmethod
    async def open(cls, url: str, *, pool_size: int = POOL_SIZE, connect_timeout_s: float = CONNECT_TIMEOUT_S,
                   command_timeout_s: float = COMMAND_TIMEOUT_S, schema: SchemaMode = "migrate") -> PostgresRecords:
        """Connect to the database at ``url`` (``postgresql://user:password@host:port/dbname``,
        with libpq's query options such as ``sslmode``) through a pool of up to ``pool_size``
        connections, each made when first needed. A connection is made within ``connect_timeout_s`` and a statement runs
        within ``command_timeout_s``, or the call raises RecordsUnavailable. ``schema`` as in
        SqliteRecords.open. Raises RecordsUnavailable when the database cannot be reached."""
        if pool_size < 1:
            raise ValueError("the pool needs at least one connection")
        with _translated():
            pool = await asyncpg.create_pool(
                # min_size=0: no connection is kept open for its own sake, and none is remade in
                # the background (with a warning a second) while the server is down.
                url, min_size=0, max_size=pool_size, timeout=connect_timeout_s, command_timeout=command_timeout_s,
                # A connection idle this long is closed: a pool after a burst does not hold
                # connections a busy server could give to another process.
                max_inactive_connection_lifetime=300.0, server_settings={"application_name": "chatd"})
        records = cls(pool, connect_timeout_s=connect_timeout_s)
        try:
            if schema == "migrate":
                await records.migrate()
            elif schema == "check":
                migrations.require_current("postgresql", await records.schema_version())
        except BaseException:
            await records.close()
            raise
        return records

    async def close(self) -> None:
        """Close the pool, waiting for calls under way to finish (a statement's timeout at most);
        past that, its connections are closed at once."""
        try:
            await asyncio.wait_for(self._pool.close(), self._connect_timeout_s + COMMAND_TIMEOUT_S)
        except (TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            self._pool.terminate()

    async def _run(self, work: Work[T], *, transaction: bool = True, isolation: IsolationLevel | None = None) -> T:
        """Run ``work`` on a pooled connection (in one transaction unless told otherwise, at
        ``isolation`` or the server's default), again after a transient failure, up to
        ``ATTEMPTS`` times; errors translated."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with _translated():
                    async with self._pool.acquire(timeout=self._connect_timeout_s) as conn:
                        if not transaction:
                            return await work(conn)
                        async with conn.transaction(isolation=isolation):
                            return await work(conn)
            except RecordsUnavailable as exc:
                if attempt == ATTEMPTS or not _transient(exc.__cause__):
                    raise
                if isinstance(exc.__cause__, _DROPPED) or _closed(exc.__cause__):
                    # The server went away: every idle connection of the pool is as dead as this one.
                    await self._pool.expire_connections()
                await asyncio.sleep(BACKOFF_S * 3 ** (attempt - 1) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    async def _one(self, sql: str, *args: Any) -> Any:
        return await self._run(lambda conn: conn.fetchrow(sql, *args), transaction=False)

    async def _all(self, sql: str, *args: Any) -> list[Any]:
        return cast(list[Any], await self._run(lambda conn: conn.fetch(sql, *args), transaction=False))

    async def _execute(self, sql: str, *args: Any) -> str:
        return cast(str, await self._run(lambda conn: conn.execute(sql, *args)))

    async def ping(self) -> None:
        await self._one("SELECT 1")

    # --- schema -----------------------------------------------------------------------------
    async def schema_version(self) -> int:
        row = await self._one(f"SELECT to_regclass('{migrations.TABLE}') IS NOT NULL")
        if not row[0]:
            return 0
        row = await self._one(f"SELECT COALESCE(MAX(version), 0) FROM {migrations.TABLE}")  # noqa: S608
        return int(row[0])

    async def migrate(self) -> list[Migration]:
        """Apply the pending migrations in one transaction (PostgreSQL's DDL is transactional)
        under an advisory lock: a second process migrating at once waits for the first to
        commit, then finds nothing left to do."""
        async def work(conn: Conn) -> list[Migration]:
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, _MIGRATE_LOCK)
            await conn.execute(f"CREATE TABLE IF NOT EXISTS {migrations.TABLE} (version INTEGER PRIMARY KEY,"
                               " name TEXT NOT NULL, applied_ms BIGINT NOT NULL)")
            current = await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) FROM {migrations.TABLE}")  # noqa: S608
            applied: list[Migration] = []
            for migration in migrations.pending("postgresql", int(current)):
                await conn.execute(migration.sql)  # no arguments: the simple protocol runs a script
                await conn.execute(f"INSERT INTO {migrations.TABLE} (version, name, applied_ms)"  # noqa: S608
                                   " VALUES ($1, $2, $3)", migration.version, migration.name, int(time.time() * 1000))
                applied.append(migration)
            return applied
        return await self._run(work)

    # --- supporters -------------------------------------------------------------------------
    async def add_supporter(self, username: str, display_name: str, role: str, trained: bool,
                            password_hash: str, now_ms: int,
                            languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        await self._execute(
            "INSERT INTO supporters (username, display_name, role, trained, disabled, password_hash, created_ms,"
            " languages) VALUES ($1, $2, $3, $4, FALSE, $5, $6, $7)",
            username, display_name, role, trained, password_hash, now_ms, ",".join(languages))

    _SUPPORTER = "SELECT username, display_name, role, trained, disabled, password_hash, languages FROM supporters"

    @staticmethod
    def _supporter(row: Any) -> Supporter:
        return Supporter(row[0], row[1], row[2], row[3], row[4], row[5], tuple(row[6].split(",")))

    async def get_supporter(self, username: str) -> Supporter | None:
        row = await self._one(f"{self._SUPPORTER} WHERE username = $1", username)
        return None if row is None else self._supporter(row)

    async def list_supporters(self) -> list[Supporter]:
        return [self._supporter(r) for r in await self._all(f"{self._SUPPORTER} ORDER BY username COLLATE \"C\"")]

    async def update_supporter(self, username: str, *, display_name: str | None = None, role: str | None = None,
                               trained: bool | None = None, disabled: bool | None = None,
                               password_hash: str | None = None, languages: Sequence[str] | None = None) -> bool:
        sets: list[str] = []
        params: list[Any] = []
        for column, value in supporter_changes(display_name=display_name, role=role, trained=trained,
                                               disabled=disabled, password_hash=password_hash, languages=languages):
            params.append(value)
            sets.append(f"{column} = ${len(params)}")
        if not sets:
            return await self.get_supporter(username) is not None
        status = await self._execute(f"UPDATE supporters SET {', '.join(sets)} WHERE username = ${len(params) + 1}",  # noqa: S608
                                     *params, username)
        return _status_count(status) > 0

    # --- shifts and audit -------------------------------------------------------------------
    async def shift_started(self, username: str, capacity: int, now_ms: int) -> None:
        async def work(conn: Conn) -> None:
            # Two consoles of one peer starting a shift at once would both find no open row and
            # open two: a lock per peer (held to the commit) makes the second see the first's row.
            await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _SHIFT_LOCK, username)
            open_id = await conn.fetchval("SELECT id FROM shifts WHERE username = $1 AND ended_ms IS NULL"
                                          " ORDER BY id LIMIT 1", username)
            if open_id is None:
                await conn.execute("INSERT INTO shifts (username, started_ms, capacity) VALUES ($1, $2, $3)",
                                   username, now_ms, capacity)
            else:
                await conn.execute("UPDATE shifts SET capacity = $1 WHERE id = $2", capacity, open_id)
        await self._run(work)

    async def shift_ended(self, username: str, now_ms: int) -> None:
        await self._execute("UPDATE shifts SET ended_ms = $1 WHERE username = $2 AND ended_ms IS NULL",
                            now_ms, username)

    async def audit(self, actor: str, action: str, conversation: str | None, detail: str, now_ms: int) -> None:
        await self._execute("INSERT INTO audit (at_ms, actor, action, conversation, detail)"
                            " VALUES ($1, $2, $3, $4, $5)", now_ms, actor, action, conversation, detail)

    async def audit_log(self, conversation: str | None = None) -> list[AuditEntry]:
        if conversation is None:
            rows = await self._all("SELECT actor, action, conversation, detail FROM audit ORDER BY id")
        else:
            rows = await self._all("SELECT actor, action, conversation, detail FROM audit WHERE conversation = $1"
                                   " ORDER BY id", conversation)
        return [AuditEntry(r[0], r[1], r[2], r[3]) for r in rows]

    # --- conversations ----------------------------------------------------------------------
    async def archive_conversation(self, conversation: ConversationRecord, messages: Sequence[ArchivedMessage],
                                   notes: Sequence[ArchivedNote] = ()) -> None:
        record: dict[str, Any] = dict(conversation)
        if record.get("escalations") is not None:
            record["escalations"] = json.dumps(record["escalations"])
        if record.get("forgotten") is None:
            record["forgotten"] = False
        columns = CONVERSATION_COLUMNS
        values = [record.get(c) for c in columns]
        marks = ", ".join(f"${i}::jsonb" if c == "escalations" else f"${i}" for i, c in enumerate(columns, 1))
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:]
                            if c not in ("survey", "forgotten", "end_feeling"))
        conv = conversation["id"]

        async def work(conn: Conn) -> None:
            await conn.execute(
                f"INSERT INTO conversations ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                f" ON CONFLICT (id) DO UPDATE SET {updates},"
                " survey = COALESCE(excluded.survey, conversations.survey),"
                " end_feeling = COALESCE(excluded.end_feeling, conversations.end_feeling),"
                " forgotten = excluded.forgotten OR conversations.forgotten", *values)
            if messages:
                await conn.execute(
                    "INSERT INTO messages (conversation, seq, sender, text, at)"
                    " SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[])"
                    " ON CONFLICT DO NOTHING", conv, [m.seq for m in messages], [m.sender for m in messages],
                    [_storable(m.text) for m in messages], [m.at for m in messages])
            if notes:
                await conn.execute(
                    "INSERT INTO notes (conversation, n, author, text, at, whisper)"
                    " SELECT $1, * FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::boolean[])"
                    " ON CONFLICT DO NOTHING", conv, list(range(len(notes))), [n.author for n in notes],
                    [_storable(n.text) for n in notes], [n.at for n in notes], [n.whisper for n in notes])
        await self._run(work)

    async def conversation(self, conversation_id: str) -> ConversationRecord | None:
        row = await self._one(f"SELECT {', '.join(CONVERSATION_COLUMNS)} FROM conversations WHERE id = $1",  # noqa: S608
                              conversation_id)
        if row is None:
            return None
        record: dict[str, Any] = dict(zip(CONVERSATION_COLUMNS, row, strict=True))
        record["escalations"] = json.loads(record["escalations"] or "[]")
        return cast(ConversationRecord, record)

    async def messages(self, conversation_id: str) -> list[ArchivedMessage]:
        rows = await self._all("SELECT seq, sender, text, at FROM messages WHERE conversation = $1 ORDER BY seq",
                               conversation_id)
        return [ArchivedMessage(r[0], r[1], r[2], r[3]) for r in rows]

    async def notes(self, conversation_id: str) -> list[ArchivedNote]:
        rows = await self._all("SELECT author, text, at, whisper FROM notes WHERE conversation = $1 ORDER BY n",
                               conversation_id)
        return [ArchivedNote(r[0], r[1], r[2], r[3]) for r in rows]

    async def set_survey(self, conversation_id: str, rating: int) -> None:
        await self._execute("INSERT INTO conversations (id, survey) VALUES ($1, $2)"
                            " ON CONFLICT (id) DO UPDATE SET survey = excluded.survey", conversation_id, rating)

    async def set_end_feeling(self, conversation_id: str, feeling: int) -> None:
        await self._execute("INSERT INTO conversations (id, end_feeling) VALUES ($1, $2)"
                            " ON CONFLICT (id) DO UPDATE SET end_feeling = excluded.end_feeling",
                            conversation_id, feeling)

    async def forget(self, conversation_id: str) -> None:
        await self._forget([conversation_id])

    async def _forget(self, convs: Sequence[str]) -> None:
        async def work(conn: Conn) -> None:
            await conn.execute("DELETE FROM messages WHERE conversation = ANY($1::text[])", list(convs))
            await conn.execute("DELETE FROM notes WHERE conversation = ANY($1::text[])", list(convs))
            await conn.execute("INSERT INTO conversations (id, forgotten) SELECT unnest($1::text[]), TRUE"
                               " ON CONFLICT (id) DO UPDATE SET forgotten = TRUE", list(convs))
        await self._run(work)
        await self._vacuum()

    async def _vacuum(self) -> None:
        """Remove the deleted rows' dead tuples from the tables' pages now rather than at the next
        autovacuum (docs/security.md says what this does and does not scrub). VACUUM cannot run
        in a transaction, so it runs after the commit; best effort: a failure leaves the tuples
        to autovacuum, and the texts are deleted either way."""
        with contextlib.suppress(RecordsError):
            await self._run(lambda conn: conn.execute("VACUUM messages, notes"), transaction=False)

    async def forget_number(self, number_hash: str) -> list[str]:
        ids = [r[0] for r in await self._all("SELECT id FROM conversations WHERE number_hash = $1 ORDER BY id",
                                             number_hash)]
        if ids:
            await self._forget(ids)
        return ids

    async def purge(self, ended_before_ms: int) -> int:
        old = "SELECT id FROM conversations WHERE ended_ms IS NOT NULL AND ended_ms < $1"

        async def work(conn: Conn) -> int:
            status = await conn.execute(f"DELETE FROM messages WHERE conversation IN ({old})", ended_before_ms)  # noqa: S608
            await conn.execute(f"DELETE FROM notes WHERE conversation IN ({old})", ended_before_ms)  # noqa: S608
            return _status_count(status)
        deleted = await self._run(work)
        if deleted:
            await self._vacuum()
        return deleted

    # --- SMS opt-outs -----------------------------------------------------------------------
    async def set_opt_out(self, number_hash: str, opted_out: bool, now_ms: int) -> None:
        if opted_out:
            await self._execute("INSERT INTO sms_optouts (number_hash, at_ms) VALUES ($1, $2)"
                                " ON CONFLICT (number_hash) DO UPDATE SET at_ms = excluded.at_ms", number_hash, now_ms)
        else:
            await self._execute("DELETE FROM sms_optouts WHERE number_hash = $1", number_hash)

    async def is_opted_out(self, number_hash: str) -> bool:
        return await self._one("SELECT 1 FROM sms_optouts WHERE number_hash = $1", number_hash) is not None

    # --- copying a whole database -----------------------------------------------------------
    async def count_rows(self, table: str) -> int:
        row = await self._one(f"SELECT COUNT(*) FROM {require_known(table)}")  # noqa: S608
        return int(row[0])

    async def _column_types(self, table: str) -> dict[str, str]:
        """Column name -> data_type (``boolean``, ``jsonb``, ...), in the table's order; cached."""
        if table not in self._columns:
            rows = await self._all("SELECT column_name, data_type, is_identity FROM information_schema.columns"
                                   " WHERE table_schema = current_schema() AND table_name = $1"
                                   " ORDER BY ordinal_position",
                                   require_known(table))
            self._columns[table] = {str(r[0]): str(r[1]) for r in rows}
            self._identity[table] = next((str(r[0]) for r in rows if r[2] == "YES"), None)
        return self._columns[table]

    async def dump_table(self, table: str, batch_rows: int) -> AsyncIterator[TableBatch]:
        """A server-side cursor in one read-only REPEATABLE READ transaction: one snapshot, rows
        in primary-key order, one pooled connection held until the last batch is taken. Not
        retried: a dropped connection raises RecordsUnavailable and the copy is resumed."""
        columns = tuple(await self._column_types(table))
        key = await self._all("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                              " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary"
                              " ORDER BY array_position(i.indkey, a.attnum)", table)
        order = ", ".join(str(r[0]) for r in key) or "1"
        sql = f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}"  # noqa: S608
        with _translated():
            async with self._pool.acquire(timeout=self._connect_timeout_s) as conn, \
                    conn.transaction(isolation="repeatable_read", readonly=True):
                batch: list[tuple[Any, ...]] = []
                async for row in conn.cursor(sql, prefetch=batch_rows):
                    batch.append(tuple(row))
                    if len(batch) == batch_rows:
                        yield TableBatch(columns, batch)
                        batch = []
                if batch:
                    yield TableBatch(columns, batch)

    async def load_rows(self, table: str, batch: TableBatch) -> int:
        types = await self._column_types(table)
        unknown = [c for c in batch.columns if c not in types]
        if unknown:
            raise RecordsError(f"table {table} has no column {unknown[0]!r} here: are both schemas the same version?")
        convert = [_CONVERT.get(types[c], _same) for c in batch.columns]
        arrays = [[None if v is None else f(v) for v in column] for f, column in
                  zip(convert, zip(*batch.rows, strict=True), strict=True)] if batch.rows else []
        unnest = ", ".join(f"${i}::{types[c]}[]" for i, c in enumerate(batch.columns, 1))
        identity = self._identity[table]
        overriding = " OVERRIDING SYSTEM VALUE" if identity else ""

        async def work(conn: Conn) -> int:
            if not batch.rows:
                return 0
            status = await conn.execute(
                f"INSERT INTO {table} ({', '.join(batch.columns)}){overriding}"  # noqa: S608
                f" SELECT * FROM unnest({unnest}) ON CONFLICT DO NOTHING", *arrays)
            if identity:
                # Ids were copied as they were: the next generated one must come after them.
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{identity}'),"  # noqa: S608
                                   f" (SELECT COALESCE(MAX({identity}), 0) + 1 FROM {table}), false)")
            return _status_count(status)
        return await self._run(work)


def _same(value: Any) -> Any:
    return value


def _storable(text: str) -> str:
    """``text`` with any NUL character (which PostgreSQL's text cannot hold) as U+FFFD. The
    edges refuse NUL (config/textrules.py); this keeps texts stored before that rule, or copied
    from SQLite, from failing an archive or a copy for good."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


# A value from another backend (SQLite gives booleans as 0/1, real numbers maybe as integers) as
# asyncpg takes it for the target column's type.
_CONVERT: dict[str, Callable[[Any], Any]] = {"boolean": bool, "double precision": float, "bigint": int,
                                             "integer": int, "text": lambda v: _storable(str(v)), "jsonb": str}
