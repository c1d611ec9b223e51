"""Program operations in SQLite (contract section 9): the roster's audit trail, the program's
settings, live conversations' rows, and the statistics, as a mixin of :class:`SqliteRecords`.

The statistics' SQL is shared with PostgreSQL (records/program_sql.py); what is here is how
SQLite runs it and the few statements whose types differ.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite

from records import program_sql as q
from records.interface import AccountAuditEntry, ConversationRecord, DayBounds, StatsFigures


class SqliteProgram:
    """The program-operations methods of :class:`records.sqlite.SqliteRecords`.

    Uses the connection helpers of the class it is mixed into (declared here for the type
    checker): ``_write`` (one write transaction) and ``_all`` (one read)."""

    _write: Callable[[], AbstractAsyncContextManager[aiosqlite.Connection]]
    _all: Callable[..., Awaitable[list[sqlite3.Row]]]

    # --- audit of roster changes ------------------------------------------------------------
    async def audit_account(self, actor: str, action: str, account: str | None, detail: str,
                            now_ms: int) -> None:
        async with self._write() as db:
            await db.execute("INSERT INTO audit (at_ms, actor, action, conversation, detail, account)"
                             " VALUES (?, ?, ?, NULL, ?, ?)", (now_ms, actor, action, detail, account))

    async def account_audit(self, account: str | None = None, limit: int = 500) -> list[AccountAuditEntry]:
        sql = "SELECT at_ms, actor, action, account, conversation, detail FROM audit"
        params: list[Any] = []
        if account is not None:
            sql += " WHERE account = ? OR actor = ?"
            params += [account, account]
        rows = await self._all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [AccountAuditEntry(int(r[0]), r[1], r[2], r[3], r[4], r[5] or "") for r in rows]

    # --- the program's settings -------------------------------------------------------------
    async def program_setting(self, name: str) -> str | None:
        rows = await self._all("SELECT value FROM program_settings WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    async def set_program_setting(self, name: str, value_json: str, actor: str, now_ms: int) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO program_settings (name, value, updated_ms, updated_by) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms,"
                " updated_by = excluded.updated_by", (name, value_json, now_ms, actor))

    # --- live conversations -----------------------------------------------------------------
    async def record_live_conversations(self, rows: Sequence[ConversationRecord]) -> None:
        if not rows:
            return
        values = []
        for row in rows:
            record: dict[str, Any] = dict(row)
            record["escalations"] = json.dumps(record.get("escalations") or [])
            record["risk"] = None if record.get("risk") is None else int(bool(record["risk"]))
            values.append([record.get(c) for c in q.LIVE_COLUMNS])
        updates = ", ".join(f"{c} = excluded.{c}" for c in q.LIVE_COLUMNS[1:])
        async with self._write() as db:
            # The WHERE keeps an archived (ended) row: archive may have written it between our
            # read of Redis and this write, and its copy is the newer one.
            await db.executemany(
                f"INSERT INTO conversations ({', '.join(q.LIVE_COLUMNS)})"  # noqa: S608
                f" VALUES ({', '.join('?' * len(q.LIVE_COLUMNS))})"
                f" ON CONFLICT (id) DO UPDATE SET {updates} WHERE conversations.ended_ms IS NULL", values)

    # --- statistics (records/program_sql.py) -----------------------------------------------
    async def stats(self, days: Sequence[DayBounds]) -> StatsFigures:
        cte, params = q.days_cte(days, q.sqlite_mark)
        rows = await self._all(q.per_day_sql(cte), params)
        paired = q.paired_total(rows)
        p50 = p90 = None
        if paired:
            r50, r90 = q.nearest_rank(50, paired), q.nearest_rank(90, paired)
            ranked = await self._all(q.wait_ranks_sql(q.sqlite_mark), (days[0].start_ms, days[-1].end_ms, r50, r90))
            by_rank = {int(r[0]): int(r[1]) / 1000 for r in ranked}
            p50, p90 = by_rank.get(r50), by_rank.get(r90)
        return q.figures(rows, p50, p90)

    async def peer_hours(self, days: Sequence[DayBounds], now_ms: int) -> list[float]:
        cte, params = q.days_cte(q.clip_to_now(days, now_ms), q.sqlite_mark)
        rows = await self._all(q.peer_hours_sql(cte), params)
        return [round(int(r[1] or 0) / 3_600_000, 2) for r in rows]
