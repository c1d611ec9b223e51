"""Versioned schema migrations, one SQL file per version and database dialect.

Files are ``records/migrations/<dialect>/NNNN_name.sql`` (dialect ``sqlite`` or ``postgresql``),
numbered from 0001 without gaps; both dialects have the same versions, so a version number
names the same records whichever database holds them. A database records the versions applied
to it in its ``schema_migrations`` table. Version 1 is the schema chatd created before
migrations existed, written with ``IF NOT EXISTS``, so such a database is taken up unchanged.

Why not a migration tool: the well-kept ones (Alembic, yoyo) bring SQLAlchemy or their own
connection layer beside aiosqlite and the PostgreSQL driver, for a schema of a few tables whose
changes are plain DDL. A numbered file per change and one table of applied versions is all
this needs, and each backend applies a file inside one transaction of its own driver.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from records.errors import SchemaMismatch

Dialect = Literal["sqlite", "postgresql"]
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql\Z")

# Every backend creates this table (same shape on both) before it applies anything.
TABLE = "schema_migrations"


@dataclass(frozen=True)
class Migration:
    """One schema change: its ``version`` (1, 2, ...), ``name`` (from the file name) and SQL."""

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """``0002_languages``: how ``chatd migrate`` names it."""
        return f"{self.version:04d}_{self.name}"


@cache
def migrations(dialect: Dialect) -> tuple[Migration, ...]:
    """Every migration of ``dialect``, in version order.

    Raises RuntimeError when the package's files are not numbered 1..n without a gap (a
    packaging fault, found by the tests rather than by a database)."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath(dialect).iterdir():
        match = _FILE.match(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{dialect} migrations are not numbered 1..n: {[m.label for m in found]}")
    return tuple(found)


def latest(dialect: Dialect) -> int:
    """The schema version this chatd's code speaks."""
    return len(migrations(dialect))


def pending(dialect: Dialect, current: int) -> tuple[Migration, ...]:
    """The migrations to apply to a database at version ``current`` (0: no schema yet).

    Raises SchemaMismatch when ``current`` is newer than this code knows: an older chatd must
    not write to records whose meaning it does not know."""
    if current > latest(dialect):
        raise SchemaMismatch(f"the database schema is version {current}, newer than this chatd knows "
                             f"({latest(dialect)}): run a chatd at least as new as the one that migrated it")
    return migrations(dialect)[current:]


def require_current(dialect: Dialect, current: int) -> None:
    """Raise SchemaMismatch unless a database at version ``current`` is exactly this code's."""
    pending(dialect, current)
    if current < latest(dialect):
        raise SchemaMismatch(f"the database schema is version {current} and this chatd needs version "
                             f"{latest(dialect)}: run 'chatd migrate' first")


def sqlite_statements(sql: str) -> list[str]:
    """The statements of a SQLite script, split where SQLite itself says a statement is complete
    (``sqlite3.complete_statement``: semicolons inside strings or triggers do not split)."""
    statements: list[str] = []
    pending_text = ""
    for line in sql.splitlines(keepends=True):
        pending_text += line
        if sqlite3.complete_statement(pending_text):
            if pending_text.strip(" \t\r\n;"):
                statements.append(pending_text.strip())
            pending_text = ""
    if pending_text.strip() and not all(
            not ln.strip() or ln.lstrip().startswith("--") for ln in pending_text.splitlines()):
        raise RuntimeError(f"incomplete SQL statement at the end of a migration: {pending_text.strip()[:60]!r}")
    return statements
