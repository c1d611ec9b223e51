"""The durable records in SQLite (aiosqlite, WAL): the one backend of :class:`records.Records`
today, and every SQL statement of chatd.

Several processes on one machine share the file: WAL lets readers run beside the one writer,
and busy_timeout makes a writer wait for the lock instead of failing. sqlite3's errors are
turned into the package's own (records/errors.py) at this edge.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import aiosqlite

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
from records.sqlite_program import SqliteProgram

BUSY_TIMEOUT_S = 30.0


_UNIQUE = ("SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE")
CONVERSATION_COLUMNS = ("id", "channel", "lang", "created_ms", "queued_ms", "accepted_ms", "ended_ms", "ended_by",
                        "outcome", "wait_s", "peer", "escalations", "risk", "survey", "label", "number_hash",
                        "forgotten", "checkin_feeling", "checkin_safe", "end_feeling")


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    """sqlite3's errors as the package's: a taken key, a database that cannot do it now (locked
    past the busy timeout, disk full, I/O error), anything else."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname in _UNIQUE:
            raise RecordExists(str(exc)) from exc
        raise RecordsError(str(exc)) from exc
    except sqlite3.OperationalError as exc:
        raise RecordsUnavailable(str(exc)) from exc
    except sqlite3.Error as exc:
        raise RecordsError(str(exc)) from exc


class SqliteRecords(SqliteProgram):
    """One SQLite connection (aiosqlite runs it on its own thread), shared by a process's tasks.

    Every method holds ``_lock`` from its first statement to its last, so the statements of two
    tasks never interleave on the connection. Interleaving is what made a write fail at once
    with "database is locked" despite busy_timeout: a write issued while another task's SELECT
    still held an older WAL snapshot cannot be upgraded, and SQLite refuses it without waiting.
    Writes start with BEGIN IMMEDIATE, so they wait (busy_timeout) for the write lock up front
    instead of failing half way.
    """

    dialect: Dialect = "sqlite"

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S,
                   schema: SchemaMode = "migrate") -> SqliteRecords:
        """Open (creating the file and its directory if need be) the database at ``path``.

        ``schema``: "migrate" applies pending migrations, "check" raises SchemaMismatch unless
        the schema is this code's, "any" leaves it as it is (``chatd migrate`` reads it first).
        A statement waits up to ``busy_timeout_s`` for another writer's lock, then raises
        :class:`RecordsUnavailable`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with _translated():
            # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
            db = await aiosqlite.connect(str(path), timeout=busy_timeout_s, isolation_level=None)
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            # Deleted texts are overwritten, not left in free pages (forget, DELETE, retention).
            await db.execute("PRAGMA secure_delete = ON")
        records = cls(db)
        try:
            if schema == "migrate":
                await records.migrate()
            elif schema == "check":
                migrations.require_current("sqlite", await records.schema_version())
        except BaseException:
            await records.close()
            raise
        return records

    async def schema_version(self) -> int:
        if await self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           (migrations.TABLE,)) is None:
            return 0
        row = await self._one(f"SELECT COALESCE(MAX(version), 0) FROM {migrations.TABLE}")  # noqa: S608
        return int(row[0]) if row is not None else 0

    async def migrate(self) -> list[Migration]:
        """Apply the pending migrations in one write transaction: BEGIN IMMEDIATE makes a second
        process that migrates at the same time wait, then find nothing left to do."""
        applied: list[Migration] = []
        async with self._write() as db:
            await db.execute(f"CREATE TABLE IF NOT EXISTS {migrations.TABLE} (version INTEGER PRIMARY KEY,"
                             " name TEXT NOT NULL, applied_ms INTEGER NOT NULL)")
            async with db.execute(f"SELECT COALESCE(MAX(version), 0) FROM {migrations.TABLE}") as cur:  # noqa: S608
                row = await cur.fetchone()
            for migration in migrations.pending("sqlite", int(row[0]) if row is not None else 0):
                for statement in migrations.sqlite_statements(migration.sql):
                    await db.execute(statement)
                await db.execute(f"INSERT INTO {migrations.TABLE} (version, name, applied_ms)"  # noqa: S608
                                 " VALUES (?, ?, ?)", (migration.version, migration.name, int(time.time() * 1000)))
                applied.append(migration)
        return applied

    async def close(self) -> None:
        async with self._lock:
            with _translated():
                await self.db.close()

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, alone on the connection: committed, or rolled back on error."""
        async with self._lock:
            with _translated():
                await self.db.execute("BEGIN IMMEDIATE")
                try:
                    yield self.db
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        await asyncio.shield(self.db.execute("ROLLBACK"))
                    raise
                await self.db.execute("COMMIT")

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self._lock:
            with _translated():
                async with self.db.execute(sql, params) as cur:
                    row: sqlite3.Row | None = await cur.fetchone()
                    return row

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            with _translated():
                async with self.db.execute(sql, params) as cur:
                    return list(await cur.fetchall())

    async def ping(self) -> None:
        await self._one("SELECT 1")

    # --- supporters -------------------------------------------------------------------------
    async def add_supporter(self, username: str, display_name: str, role: str, trained: bool,
                            password_hash: str, now_ms: int,
                            languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO supporters (username, display_name, role, trained, disabled, password_hash,"
                " created_ms, languages) VALUES (?, ?, ?, ?, 0, ?, ?, ?)",
                (username, display_name, role, int(trained), password_hash, now_ms, ",".join(languages)))

    _SUPPORTER = "SELECT username, display_name, role, trained, disabled, password_hash, languages FROM supporters"

    @staticmethod
    def _supporter(row: sqlite3.Row) -> Supporter:
        return Supporter(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5], tuple(row[6].split(",")))

    async def get_supporter(self, username: str) -> Supporter | None:
        row = await self._one(f"{self._SUPPORTER} WHERE username = ?", (username,))
        return None if row is None else self._supporter(row)

    async def list_supporters(self) -> list[Supporter]:
        return [self._supporter(r) for r in await self._all(f"{self._SUPPORTER} ORDER BY username")]

    async def update_supporter(self, username: str, *, display_name: str | None = None, role: str | None = None,
                               trained: bool | None = None, disabled: bool | None = None,
                               password_hash: str | None = None, languages: Sequence[str] | None = None) -> bool:
        sets: list[str] = []
        params: list[Any] = []
        for column, value in supporter_changes(display_name=display_name, role=role, trained=trained,
                                               disabled=disabled, password_hash=password_hash, languages=languages):
            sets.append(f"{column} = ?")
            params.append(int(value) if isinstance(value, bool) else value)
        if not sets:
            return await self.get_supporter(username) is not None
        async with self._write() as db:
            cur = await db.execute(f"UPDATE supporters SET {', '.join(sets)} WHERE username = ?",  # noqa: S608
                                   (*params, username))
            return cur.rowcount > 0

    # --- shifts and audit -------------------------------------------------------------------
    async def shift_started(self, username: str, capacity: int, now_ms: int) -> None:
        async with self._write() as db:
            async with db.execute("SELECT id FROM shifts WHERE username = ? AND ended_ms IS NULL",
                                  (username,)) as cur:
                open_row = await cur.fetchone()
            if open_row is None:
                await db.execute("INSERT INTO shifts (username, started_ms, capacity) VALUES (?, ?, ?)",
                                 (username, now_ms, capacity))
            else:
                await db.execute("UPDATE shifts SET capacity = ? WHERE id = ?", (capacity, open_row[0]))

    async def shift_ended(self, username: str, now_ms: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE shifts SET ended_ms = ? WHERE username = ? AND ended_ms IS NULL",
                             (now_ms, username))

    async def audit(self, actor: str, action: str, conversation: str | None, detail: str, now_ms: int) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO audit (at_ms, actor, action, conversation, detail) VALUES (?, ?, ?, ?, ?)",
                (now_ms, actor, action, conversation, detail))

    async def audit_log(self, conversation: str | None = None) -> list[AuditEntry]:
        sql = "SELECT actor, action, conversation, detail FROM audit"
        params: tuple[Any, ...] = ()
        if conversation is not None:
            sql += " WHERE conversation = ?"
            params = (conversation,)
        return [AuditEntry(r[0], r[1], r[2], r[3]) for r in await self._all(sql + " ORDER BY id", params)]

    # --- conversations ----------------------------------------------------------------------
    async def archive_conversation(self, conversation: ConversationRecord, messages: Sequence[ArchivedMessage],
                                   notes: Sequence[ArchivedNote] = ()) -> None:
        record: dict[str, Any] = dict(conversation)
        if record.get("escalations") is not None:
            record["escalations"] = json.dumps(record["escalations"])
        for flag in ("risk", "forgotten"):
            if record.get(flag) is not None:
                record[flag] = int(record[flag])
        columns = CONVERSATION_COLUMNS
        values = [record.get(c, 0 if c == "forgotten" else None) for c in columns]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:]
                            if c not in ("survey", "forgotten", "end_feeling"))
        conv = conversation["id"]
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO conversations ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
                f" ON CONFLICT(id) DO UPDATE SET {updates},"
                " survey = COALESCE(excluded.survey, conversations.survey),"
                " end_feeling = COALESCE(excluded.end_feeling, conversations.end_feeling),"
                " forgotten = MAX(excluded.forgotten, conversations.forgotten)", values)
            await db.executemany(
                "INSERT OR IGNORE INTO messages (conversation, seq, sender, text, at) VALUES (?, ?, ?, ?, ?)",
                [(conv, m.seq, m.sender, m.text, m.at) for m in messages])
            await db.executemany(
                "INSERT OR IGNORE INTO notes (conversation, n, author, text, at, whisper) VALUES (?, ?, ?, ?, ?, ?)",
                [(conv, i, n.author, n.text, n.at, int(n.whisper)) for i, n in enumerate(notes)])

    async def conversation(self, conversation_id: str) -> ConversationRecord | None:
        columns = ", ".join(CONVERSATION_COLUMNS)
        row = await self._one(f"SELECT {columns} FROM conversations WHERE id = ?", (conversation_id,))  # noqa: S608
        if row is None:
            return None
        record: dict[str, Any] = dict(zip(CONVERSATION_COLUMNS, row, strict=True))
        record["escalations"] = json.loads(record["escalations"] or "[]")
        record["risk"] = None if record["risk"] is None else bool(record["risk"])
        record["forgotten"] = bool(record["forgotten"])
        return cast(ConversationRecord, record)

    async def messages(self, conversation_id: str) -> list[ArchivedMessage]:
        rows = await self._all("SELECT seq, sender, text, at FROM messages WHERE conversation = ? ORDER BY seq",
                               (conversation_id,))
        return [ArchivedMessage(r[0], r[1], r[2], r[3]) for r in rows]

    async def notes(self, conversation_id: str) -> list[ArchivedNote]:
        rows = await self._all("SELECT author, text, at, whisper FROM notes WHERE conversation = ? ORDER BY n",
                               (conversation_id,))
        return [ArchivedNote(r[0], r[1], r[2], bool(r[3])) for r in rows]

    async def set_survey(self, conversation_id: str, rating: int) -> None:
        async with self._write() as db:
            await db.execute("INSERT INTO conversations (id, survey) VALUES (?, ?)"
                             " ON CONFLICT(id) DO UPDATE SET survey = excluded.survey", (conversation_id, rating))

    async def set_end_feeling(self, conversation_id: str, feeling: int) -> None:
        async with self._write() as db:
            await db.execute("INSERT INTO conversations (id, end_feeling) VALUES (?, ?)"
                             " ON CONFLICT(id) DO UPDATE SET end_feeling = excluded.end_feeling",
                             (conversation_id, feeling))

    async def forget(self, conversation_id: str) -> None:
        await self._forget([conversation_id])

    async def _forget(self, convs: Sequence[str]) -> None:
        async with self._write() as db:
            for conv in convs:
                await db.execute("DELETE FROM messages WHERE conversation = ?", (conv,))
                await db.execute("DELETE FROM notes WHERE conversation = ?", (conv,))
                await db.execute("INSERT INTO conversations (id, forgotten) VALUES (?, 1)"
                                 " ON CONFLICT(id) DO UPDATE SET forgotten = 1", (conv,))
        await self._scrub_wal()

    async def _scrub_wal(self) -> None:
        """Fold the WAL into the database and empty it: the WAL still holds copies of pages
        with the deleted texts until a checkpoint (best effort while another process reads)."""
        await self._all("PRAGMA wal_checkpoint(TRUNCATE)")

    async def forget_number(self, number_hash: str) -> list[str]:
        ids = [r[0] for r in await self._all("SELECT id FROM conversations WHERE number_hash = ?", (number_hash,))]
        if ids:
            await self._forget(ids)
        return ids

    async def purge(self, ended_before_ms: int) -> int:
        old = "SELECT id FROM conversations WHERE ended_ms IS NOT NULL AND ended_ms < ?"
        async with self._write() as db:
            cur = await db.execute(f"DELETE FROM messages WHERE conversation IN ({old})",  # noqa: S608
                                   (ended_before_ms,))
            await db.execute(f"DELETE FROM notes WHERE conversation IN ({old})", (ended_before_ms,))  # noqa: S608
            deleted = cur.rowcount
        if deleted:
            await self._scrub_wal()
        return deleted

    # --- SMS opt-outs -----------------------------------------------------------------------
    async def set_opt_out(self, number_hash: str, opted_out: bool, now_ms: int) -> None:
        async with self._write() as db:
            if opted_out:
                await db.execute("INSERT OR REPLACE INTO sms_optouts (number_hash, at_ms) VALUES (?, ?)",
                                 (number_hash, now_ms))
            else:
                await db.execute("DELETE FROM sms_optouts WHERE number_hash = ?", (number_hash,))

    async def is_opted_out(self, number_hash: str) -> bool:
        return await self._one("SELECT 1 FROM sms_optouts WHERE number_hash = ?", (number_hash,)) is not None

    # --- copying a whole database -----------------------------------------------------------
    async def count_rows(self, table: str) -> int:
        row = await self._one(f"SELECT COUNT(*) FROM {require_known(table)}")  # noqa: S608
        return int(row[0]) if row is not None else 0

    async def dump_table(self, table: str, batch_rows: int) -> AsyncIterator[TableBatch]:
        """One SELECT read to its end (one WAL snapshot), holding the connection's lock between
        batches: meant for ``copy-db``'s own handle, not a serving process's."""
        columns = tuple(str(r[1]) for r in await self._all(f"PRAGMA table_info({require_known(table)})"))
        async with self._lock:
            with _translated():
                async with self.db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid") as cur:  # noqa: S608
                    while rows := await cur.fetchmany(batch_rows):
                        yield TableBatch(columns, [tuple(r) for r in rows])

    async def load_rows(self, table: str, batch: TableBatch) -> int:
        marks = ", ".join("?" * len(batch.columns))
        async with self._write() as db:
            before = db.total_changes
            # Booleans arrive as bool from PostgreSQL: sqlite3 stores them as 1/0, as chatd does.
            await db.executemany(f"INSERT OR IGNORE INTO {require_known(table)} ({', '.join(batch.columns)})"  # noqa: S608
                                 f" VALUES ({marks})", batch.rows)
            return db.total_changes - before
