"""Durable records: what must outlast Redis, behind one narrow interface, and the Redis keyspace.

The ground floor of chatd: it imports nothing of the project (not even ``config``), so every
other package may use it. :class:`Records` is the interface (records/interface.py), with the
record types it speaks in; :func:`open_records` picks the backend for a database setting.
``records.keyspace`` builds every Redis key and channel name.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from records.errors import RecordExists, RecordsError, RecordsUnavailable, SchemaMismatch
from records.interface import (
    ESCALATION_REASONS,
    AccountAuditEntry,
    ArchivedMessage,
    ArchivedNote,
    AuditEntry,
    ConversationRecord,
    DayBounds,
    DayFigures,
    Escalation,
    Records,
    SchemaMode,
    StatsFigures,
    Supporter,
    TableBatch,
)
from records.migrations import Migration
from records.postgres import POOL_SIZE, PostgresRecords
from records.sqlite import BUSY_TIMEOUT_S, SqliteRecords

__all__ = [
    "ESCALATION_REASONS",
    "AccountAuditEntry",
    "ArchivedMessage",
    "ArchivedNote",
    "AuditEntry",
    "ConversationRecord",
    "DayBounds",
    "DayFigures",
    "Escalation",
    "Migration",
    "RecordExists",
    "Records",
    "RecordsError",
    "RecordsUnavailable",
    "SchemaMismatch",
    "SchemaMode",
    "StatsFigures",
    "Supporter",
    "TableBatch",
    "open_records",
]

POSTGRESQL_SCHEMES = ("postgresql", "postgres")


async def open_records(database: str | Path, *, busy_timeout_s: float = BUSY_TIMEOUT_S,
                       pool_size: int = POOL_SIZE, schema: SchemaMode = "migrate") -> Records:
    """The records at ``database``: a file path is a SQLite database (created if need be), whose
    statements wait up to ``busy_timeout_s`` for another writer's lock; a ``postgresql://`` (or
    ``postgres://``) URL a PostgreSQL database, reached through a pool of at most ``pool_size``
    connections. ``schema`` says what to do with the database's schema version
    (records.interface.SchemaMode); "check" raises SchemaMismatch with one line naming ``chatd
    migrate``. Any other URL scheme raises ValueError; a database that cannot be reached,
    RecordsUnavailable.
    """
    if isinstance(database, str) and "://" in database:
        scheme = urlsplit(database).scheme.lower()
        if scheme in POSTGRESQL_SCHEMES:
            return await PostgresRecords.open(database, pool_size=pool_size, schema=schema)
        raise ValueError(f"unknown database URL scheme {scheme!r}: give the path of a SQLite file "
                         "or a postgresql:// URL")
    return await SqliteRecords.open(Path(database), busy_timeout_s=busy_timeout_s, schema=schema)
