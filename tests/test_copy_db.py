"""``chatd copy-db``: every record of a SQLite file written by the service reads back the same from
PostgreSQL; a second copy is refused, a resumed one adds nothing twice; the list of copied
tables is every table the migrations make."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from peers import accounts
from records import Records, open_records
from records.copy import TABLES, copy_records
from records.migrations import TABLE as MIGRATIONS_TABLE
from tests.conftest import PASSWORD, Harness
from tests.helpers import archived, chat_to_the_end


async def _populate(harness: Harness) -> list[str]:
    """Records of every kind, written through the service's own paths; the conversation ids."""
    srv = await harness.start()
    store = srv.services.store
    conv = await chat_to_the_end(harness, "alice")
    await archived(store, conv)
    await accounts.create(store, "sam", "Sam Lévesque", "supervisor", True, PASSWORD, ("fr",))
    await accounts.set_flags(store, "sam", disabled=True)
    await accounts.create(store, "dan", "Dan", "peer", False, PASSWORD)
    await store.set_opt_out("hash-stopped", True, 1_700_000_000_000)
    await store.archive_conversation({"id": "sms-1", "channel": "sms", "lang": "fr", "ended_ms": 5, "wait_s": 2.0,
                                      "escalations": [{"reason": "risk", "at_ms": 3}], "risk": True,
                                      "number_hash": "hash-stopped", "label": "Texter 4F2A"}, [])
    await store.set_survey("rated-before-archive", 5)
    await store.archive_conversation({"id": "forgotten-1", "ended_ms": 7}, [])
    await store.forget("forgotten-1")
    await store.audit("sam", "monitor", conv, "", 9)
    await store.audit_account("sam", "supporter.update", "sam", "trained", 10)
    await store.set_program_setting("service_hours", json.dumps({"weekly": {"mon": [["09:00", "17:00"]]},
                                                                 "holidays": ["2026-12-25"]}), "sam", 11)
    return [conv, "sms-1", "rated-before-archive", "forgotten-1"]


async def _snapshot(store: Records, convs: list[str]) -> dict[str, Any]:
    """Every record, read through the interface (shifts, which it has no reader for, dumped)."""
    shifts = [row async for batch in store.dump_table("shifts", 100) for row in batch.rows]
    return {
        "supporters": await store.list_supporters(),
        "conversations": {c: (await store.conversation(c), await store.messages(c), await store.notes(c))
                          for c in convs},
        "audit": await store.audit_log(),
        "account_audit": await store.account_audit(),
        "service_hours": json.loads(await store.program_setting("service_hours") or "null"),
        "opted_out": await store.is_opted_out("hash-stopped"),
        "shifts": sorted(shifts),
        "counts": {table: await store.count_rows(table) for table in TABLES},
    }


def _copy_db(source: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATD_DATABASE": str(source), "CHATD_DATA_DIR": str(source.parent),
           "CHATD_SECRET_KEY": "k" * 32, "CHATD_LOG_FORMAT": "console"}
    return subprocess.run([sys.executable, "-m", "chatd", "copy-db", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


async def test_copy_db_moves_every_record_of_sqlite_to_postgresql_once(harness: Harness, postgres_url: str) -> None:
    """A copy reads back the same through the interface; copying again is refused, and a resumed
    copy adds nothing; ids copied from SQLite are followed by new ones, not reused."""
    convs = await _populate(harness)
    source_path = Path(harness.settings.database)
    source = await open_records(source_path)
    try:
        expected = await _snapshot(source, convs)
    finally:
        await source.close()
    assert all(expected["counts"].values())  # every table has something to copy
    assert expected["conversations"][convs[0]][1] and expected["conversations"][convs[0]][2]

    done = _copy_db(source_path, "--to", postgres_url)
    assert done.returncode == 0, done.stderr
    for table in TABLES:
        n = expected["counts"][table]
        assert f"{table}: {n} in the source, {n} copied, {n} in the target" in done.stdout, done.stdout
    target = await open_records(postgres_url, schema="check")
    try:
        assert await _snapshot(target, convs) == expected
        again = _copy_db(source_path, "--to", postgres_url)
        assert again.returncode == 2 and "already holds records" in again.stderr and "--resume" in again.stderr
        resumed = _copy_db(source_path, "--to", postgres_url, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert f"audit: {expected['counts']['audit']} in the source, 0 copied" in resumed.stdout
        assert await _snapshot(target, convs) == expected
        await target.shift_started("newcomer", 1, 10)
        await target.audit("newcomer", "accept", None, "", 11)
        assert await target.count_rows("shifts") == expected["counts"]["shifts"] + 1
        assert (await target.audit_log())[-1].actor == "newcomer"
    finally:
        await target.close()


async def test_an_interrupted_copy_is_finished_by_resuming_it(harness: Harness, postgres_url: str,
                                                              tmp_path: Path) -> None:
    """Some batches landed before the copy stopped: --resume copies the rest, nothing twice; and
    the same records copied back from PostgreSQL into a new SQLite file read the same again."""
    convs = await _populate(harness)
    source_path = Path(harness.settings.database)
    source = await open_records(source_path)
    target = await open_records(postgres_url)
    try:
        expected = await _snapshot(source, convs)
        for table in TABLES[:3]:
            async for batch in source.dump_table(table, 1):
                await target.load_rows(table, batch)
                break  # the copy stopped after one row of each of these tables
        resumed = _copy_db(source_path, "--to", postgres_url, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert await _snapshot(target, convs) == expected
        back = await open_records(tmp_path / "back.sqlite3")
        try:
            copied = await copy_records(target, back, batch_rows=2)
            assert [(c.table, c.source, c.inserted, c.target) for c in copied] == [
                (t, n, n, n) for t, n in expected["counts"].items()]
            assert await _snapshot(back, convs) == expected
        finally:
            await back.close()
    finally:
        await target.close()
        await source.close()


async def test_copy_db_refuses_a_source_that_is_missing_or_whose_schema_is_not_current(
        tmp_path: Path, postgres_url: str) -> None:
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE sms_optouts (number_hash TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)")
    refused = _copy_db(old, "--to", postgres_url)
    assert refused.returncode == 2 and "chatd migrate" in refused.stderr
    missing = _copy_db(tmp_path / "missing.sqlite3", "--to", postgres_url)
    assert missing.returncode == 2 and "no SQLite database at" in missing.stderr
    assert not (tmp_path / "missing.sqlite3").exists()
    conn = await asyncpg.connect(postgres_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('supporters')") is None  # nothing written to the target
    finally:
        await conn.close()


async def test_the_copied_tables_are_every_table_the_migrations_make(tmp_path: Path, postgres_url: str) -> None:
    """A migration that adds a table must add it to records.copy.TABLES, or copy-db would drop it."""
    for database in (tmp_path / "db.sqlite3", postgres_url):
        await (await open_records(database)).close()
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        sqlite_tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn = await asyncpg.connect(postgres_url)
    try:
        pg_tables = {r[0] for r in await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
    finally:
        await conn.close()
    assert sqlite_tables - {MIGRATIONS_TABLE} == set(TABLES)
    assert pg_tables - {MIGRATIONS_TABLE} == set(TABLES)
