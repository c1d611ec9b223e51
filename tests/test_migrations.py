"""Schema migrations: a new database gets the whole schema, an old one is upgraded keeping its
records, ``chatd migrate`` says what it did, and ``web``/``worker`` refuse a schema not theirs;
on SQLite and on a real PostgreSQL (tests/postgres.py)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from records import SchemaMismatch, open_records
from records.migrations import TABLE, latest, migrations, sqlite_statements

BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")]

# The schema chatd created before versioned migrations (the old SCHEMA constant, abridged to the
# table the later migrations change and one more), with a row in each.
LEGACY = """
CREATE TABLE supporters (username TEXT PRIMARY KEY, display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('peer', 'supervisor', 'admin')), trained INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0, password_hash TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE sms_optouts (number_hash TEXT PRIMARY KEY, at_ms INTEGER NOT NULL);
INSERT INTO supporters VALUES ('alice', 'Alice', 'peer', 1, 0, 'hash', 1);
INSERT INTO sms_optouts VALUES ('abc', 2);
"""


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """A new database, once per backend: a SQLite file, or a new PostgreSQL database."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return tmp_path / "db.sqlite3"


async def _at_version_one(database: str | Path) -> int:
    """Make ``database`` an old one holding a record: SQLite from before migrations (version 0),
    PostgreSQL at version 1 (it had no schema before migrations). Its version."""
    if isinstance(database, Path):
        with sqlite3.connect(database) as db:
            db.executescript(LEGACY)
        return 0
    conn = await asyncpg.connect(database)
    try:
        async with conn.transaction():
            await conn.execute(migrations("postgresql")[0].sql)
            await conn.execute(f"CREATE TABLE {TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                               " applied_ms BIGINT NOT NULL)")
            await conn.execute(f"INSERT INTO {TABLE} VALUES (1, 'initial', 0)")
            await conn.execute("INSERT INTO supporters VALUES ('alice', 'Alice', 'peer', TRUE, FALSE, 'hash', 1)")
            await conn.execute("INSERT INTO sms_optouts VALUES ('abc', 2)")
    finally:
        await conn.close()
    return 1


async def _insert_version(database: str | Path, version: int) -> None:
    if isinstance(database, Path):
        with sqlite3.connect(database) as db:
            db.execute(f"INSERT INTO {TABLE} VALUES (?, 'from_the_future', 0)", (version,))
        return
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(f"INSERT INTO {TABLE} VALUES ($1, 'from_the_future', 0)", version)
    finally:
        await conn.close()


async def _has_migrations_table(database: str | Path) -> bool:
    if isinstance(database, Path):
        with sqlite3.connect(database) as db:
            return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone() is not None
    conn = await asyncpg.connect(database)
    try:
        return bool(await conn.fetchval(f"SELECT to_regclass('{TABLE}') IS NOT NULL"))
    finally:
        await conn.close()


def _chatd(*args: str, database: Path | str, tmp_path: Path, extra: dict[str, str] | None = None,
           stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATD_DATA_DIR": str(tmp_path / "var"), "CHATD_DATABASE": str(database),
           "CHATD_SECRET_KEY": "k" * 32, **(extra or {})}
    return subprocess.run([sys.executable, "-m", "chatd", *args], env=env, cwd=tmp_path, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_dialects_have_the_same_versions_numbered_without_gaps(dialect: str) -> None:
    found = migrations(dialect)  # type: ignore[arg-type]
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert [m.name for m in found] == [m.name for m in migrations("sqlite")]


def test_sqlite_statements_split_where_sqlite_says_a_statement_ends() -> None:
    script = "-- a comment; with a semicolon\nCREATE TABLE t (x TEXT DEFAULT 'a;b');\n\nINSERT INTO t VALUES ('c;');\n"
    assert sqlite_statements(script) == ["-- a comment; with a semicolon\nCREATE TABLE t (x TEXT DEFAULT 'a;b');",
                                         "INSERT INTO t VALUES ('c;');"]
    with pytest.raises(RuntimeError, match="incomplete"):
        sqlite_statements("CREATE TABLE t (x TEXT")


async def test_a_new_database_gets_every_migration_and_a_second_migrate_does_nothing(database: str | Path) -> None:
    store = await open_records(database)
    try:
        assert await store.schema_version() == latest(store.dialect)
        assert await store.migrate() == []
        await store.add_supporter("bob", "Bob", "peer", True, "hash", 0, ("fr",))
        bob = await store.get_supporter("bob")
        assert bob is not None and bob.languages == ("fr",)
    finally:
        await store.close()


async def test_migrating_at_once_from_several_processes_applies_each_migration_once(database: str | Path) -> None:
    """Four handles (as four processes starting together) migrate a new database at once."""
    stores = await asyncio.gather(*(open_records(database, schema="any") for _ in range(4)))
    try:
        applied = await asyncio.gather(*(store.migrate() for store in stores))
        assert sorted(m.version for batch in applied for m in batch) == list(range(1, latest("sqlite") + 1))
        assert {await store.schema_version() for store in stores} == {latest("sqlite")}
    finally:
        for store in stores:
            await store.close()


async def test_an_old_database_is_upgraded_with_its_records(database: str | Path) -> None:
    """SQLite: a file from before migrations; PostgreSQL: a database at version 1."""
    start = await _at_version_one(database)
    with pytest.raises(SchemaMismatch, match=rf"version {start} .* needs version .*chatd migrate"):
        await open_records(database, schema="check")
    store = await open_records(database, schema="any")
    try:
        assert await store.schema_version() == start
        applied = await store.migrate()
        assert [m.version for m in applied] == list(range(start + 1, latest("sqlite") + 1))
        alice = await store.get_supporter("alice")
        assert alice is not None and alice.trained and alice.languages == ("en", "fr")
        assert await store.is_opted_out("abc")
    finally:
        await store.close()
    checked = await open_records(database, schema="check")
    await checked.close()


async def test_a_schema_newer_than_the_code_is_refused_even_by_migrate(database: str | Path) -> None:
    store = await open_records(database)
    await store.close()
    await _insert_version(database, latest("sqlite") + 1)
    for mode in ("migrate", "check"):
        with pytest.raises(SchemaMismatch, match="newer than this chatd"):
            await open_records(database, schema=mode)  # type: ignore[arg-type]


async def test_chatd_migrate_says_what_it_did_and_web_and_worker_refuse_an_old_schema(
        database: str | Path, tmp_path: Path) -> None:
    start = await _at_version_one(database)
    # A Redis URL nobody listens on: the schema is checked before anything else is started.
    redis = {"CHATD_REDIS_URL": "redis://127.0.0.1:9/0"}
    for command in ("web", "worker"):
        refused = await asyncio.to_thread(_chatd, command, database=database, tmp_path=tmp_path, extra=redis)
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "chatd migrate" in lines[0], refused.stderr
    assert await _has_migrations_table(database) == (start > 0)  # the refusal wrote nothing
    done = await asyncio.to_thread(_chatd, "migrate", database=database, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"from version {start} to {latest('sqlite')}" in done.stdout and "0002_languages" in done.stdout
    again = await asyncio.to_thread(_chatd, "migrate", database=database, tmp_path=tmp_path)
    assert again.stdout.strip() == f"database schema is up to date (version {latest('sqlite')})"


def test_cli_languages_are_stored_listed_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    added = _chatd("supporters", "add", "claire", "--display-name", "Claire", "--trained", "--languages", "FR",
                   "--password-stdin", database=path, tmp_path=tmp_path, stdin="a long enough password\n")
    assert added.returncode == 0, added.stderr
    default = _chatd("supporters", "add", "dan", "--display-name", "Dan", "--password-stdin",
                     database=path, tmp_path=tmp_path, stdin="a long enough password\n")
    assert default.returncode == 0, default.stderr
    listed = _chatd("supporters", "list", database=path, tmp_path=tmp_path).stdout.splitlines()
    assert listed[0].split("\t")[:4] == ["claire", "Claire", "peer", "fr"]
    assert listed[1].split("\t")[:4] == ["dan", "Dan", "peer", "en,fr"]
    for bad in ("de", "", "en,en", "en;fr"):
        refused = _chatd("supporters", "add", "erin", "--display-name", "Erin", "--languages", bad,
                         "--password-stdin", database=path, tmp_path=tmp_path, stdin="a long enough password\n")
        assert refused.returncode == 2 and "languages" in refused.stderr, (bad, refused.stderr)
    assert len(_chatd("supporters", "list", database=path, tmp_path=tmp_path).stdout.splitlines()) == 2


def test_a_database_url_chatd_does_not_speak_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    for args, database in ((("migrate",), "mysql://db/chatd"),
                           (("copy-db", "--to", "mysql://db/chatd"), str(tmp_path / "source.sqlite3"))):
        if database.endswith(".sqlite3"):
            assert _chatd("migrate", database=database, tmp_path=tmp_path).returncode == 0
        done = _chatd(*args, database=database, tmp_path=tmp_path)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and "postgresql://" in lines[0], done.stderr
