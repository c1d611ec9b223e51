"""Program operations in PostgreSQL (contract section 9), as a mixin of
:class:`records.postgres.PostgresRecords`: the roster's audit trail, the program's settings,
live conversations' rows, and the statistics, whose SQL is shared with SQLite
(records/program_sql.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

import asyncpg

from records import program_sql as q
from records.interface import AccountAuditEntry, ConversationRecord, DayBounds, StatsFigures

Conn: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"

# The days table's first row tells PostgreSQL the types of its columns.
_DAY_CASTS = ("::text", "::bigint", "::bigint")


class PostgresProgram:
    """The program-operations methods of :class:`records.postgres.PostgresRecords`.

    Uses the helpers of the class it is mixed into (declared here for the type checker):
    ``_run`` (one transaction, retried when transient), ``_all`` (one read), ``_execute``."""

    _run: Callable[..., Awaitable[Any]]
    _all: Callable[..., Awaitable[list[Any]]]
    _execute: Callable[..., Awaitable[str]]

    # --- audit of roster changes ------------------------------------------------------------
    async def audit_account(self, actor: str, action: str, account: str | None, detail: str,
                            now_ms: int) -> None:
        await self._execute("INSERT INTO audit (at_ms, actor, action, conversation, detail, account)"
                            " VALUES ($1, $2, $3, NULL, $4, $5)", now_ms, actor, action, detail, account)

    async def account_audit(self, account: str | None = None, limit: int = 500) -> list[AccountAuditEntry]:
        if account is None:
            rows = await self._all("SELECT at_ms, actor, action, account, conversation, detail FROM audit"
                                   " ORDER BY id DESC LIMIT $1", limit)
        else:
            rows = await self._all("SELECT at_ms, actor, action, account, conversation, detail FROM audit"
                                   " WHERE account = $1 OR actor = $1 ORDER BY id DESC LIMIT $2", account, limit)
        return [AccountAuditEntry(int(r[0]), r[1], r[2], r[3], r[4], r[5] or "") for r in rows]

    # --- the program's settings -------------------------------------------------------------
    async def program_setting(self, name: str) -> str | None:
        rows = await self._all("SELECT value::text FROM program_settings WHERE name = $1", name)
        return str(rows[0][0]) if rows else None

    async def set_program_setting(self, name: str, value_json: str, actor: str, now_ms: int) -> None:
        await self._execute(
            "INSERT INTO program_settings (name, value, updated_ms, updated_by) VALUES ($1, $2::jsonb, $3, $4)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms,"
            " updated_by = excluded.updated_by", name, value_json, now_ms, actor)

    # --- live conversations -----------------------------------------------------------------
    async def record_live_conversations(self, rows: Sequence[ConversationRecord]) -> None:
        if not rows:
            return
        values = []
        for row in rows:
            record: dict[str, Any] = dict(row)
            record["escalations"] = json.dumps(record.get("escalations") or [])
            record["risk"] = None if record.get("risk") is None else bool(record["risk"])
            values.append([record.get(c) for c in q.LIVE_COLUMNS])
        marks = ", ".join(f"${i}::jsonb" if c == "escalations" else f"${i}" for i, c in enumerate(q.LIVE_COLUMNS, 1))
        updates = ", ".join(f"{c} = excluded.{c}" for c in q.LIVE_COLUMNS[1:])
        # The WHERE keeps an archived (ended) row: archive may have written it between our read
        # of Redis and this write, and its copy is the newer one.
        sql = (f"INSERT INTO conversations ({', '.join(q.LIVE_COLUMNS)}) VALUES ({marks})"  # noqa: S608
               f" ON CONFLICT (id) DO UPDATE SET {updates} WHERE conversations.ended_ms IS NULL")

        async def work(conn: Conn) -> None:
            await conn.executemany(sql, values)
        await self._run(work)

    # --- statistics (records/program_sql.py) -----------------------------------------------
    async def stats(self, days: Sequence[DayBounds]) -> StatsFigures:
        cte, params = q.days_cte(days, q.postgres_mark, casts=_DAY_CASTS)
        sql = q.per_day_sql(cte, escalations="c.escalations::text")

        async def work(conn: Conn) -> tuple[list[Any], list[Any]]:
            # One snapshot for the day counts and the wait ranks, so the ranks fit the count.
            rows: list[Any] = list(await conn.fetch(sql, *params))
            paired = q.paired_total(rows)
            if not paired:
                return rows, []
            ranks = (q.nearest_rank(50, paired), q.nearest_rank(90, paired))
            ranked = list(await conn.fetch(q.wait_ranks_sql(q.postgres_mark), days[0].start_ms, days[-1].end_ms,
                                           *ranks))
            return rows, [ranks, ranked]

        rows, waits = await self._run(work, isolation="repeatable_read")
        p50 = p90 = None
        if waits:
            (r50, r90), ranked = waits
            by_rank = {int(r[0]): int(r[1]) / 1000 for r in ranked}
            p50, p90 = by_rank.get(r50), by_rank.get(r90)
        return q.figures(rows, p50, p90)

    async def peer_hours(self, days: Sequence[DayBounds], now_ms: int) -> list[float]:
        cte, params = q.days_cte(q.clip_to_now(days, now_ms), q.postgres_mark, casts=_DAY_CASTS)
        rows = await self._all(q.peer_hours_sql(cte), *params)
        return [round(int(r[1] or 0) / 3_600_000, 2) for r in rows]
