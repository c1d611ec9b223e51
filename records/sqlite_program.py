"""Program operations in SQLite (contract section 9): the roster's audit trail, the program's
settings, live conversations' rows, and the statistics, as a mixin of :class:`SqliteRecords`.

Every statement here is plain SQL that PostgreSQL runs too, apart from the placeholders (``?``
here, ``$n`` there) and ``INSERT … ON CONFLICT`` spelled the same on both. SQLite has no time
zones, so day boundaries are computed in Python (``CHATD_TIMEZONE``, zoneinfo) and handed in as
a ``days`` table of ``VALUES``; percentiles use ``ROW_NUMBER()``, which both databases have.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite

from records.interface import (
    ESCALATION_REASONS,
    AccountAuditEntry,
    ConversationRecord,
    DayBounds,
    DayFigures,
    StatsFigures,
)

CHANNELS = ("web", "sms")
LANGS = ("en", "fr")

# The columns a live conversation's row may set: never texts, a label or a number hash (the
# archive writes those once the conversation has ended).
LIVE_COLUMNS = ("id", "channel", "lang", "created_ms", "queued_ms", "accepted_ms", "ended_ms", "ended_by",
                "wait_s", "escalations", "risk")


def _escalated(reason: str | None = None) -> str:
    """A condition on ``c.escalations``, the JSON text the archive writes with json.dumps'
    default separators (``[{"reason": "risk", "at_ms": …}]``). A LIKE on that text works the
    same on SQLite's TEXT and PostgreSQL's JSONB cast to text, whose output uses the same
    ``"key": "value"`` spacing; no JSON functions, which the two spell differently."""
    if reason is None:
        return "c.escalations LIKE '%\"reason\"%'"
    if reason not in ESCALATION_REASONS:  # the reasons are constants; never caller text
        raise ValueError(reason)
    return f"c.escalations LIKE '%\"reason\": \"{reason}\"%'"


def _days_cte(days: Sequence[DayBounds]) -> tuple[str, list[Any]]:
    """``WITH days(day, start_ms, end_ms) AS (VALUES …)`` and its parameters."""
    values = ", ".join("(?, ?, ?)" for _ in days)
    params: list[Any] = [v for d in days for v in (d.date, d.start_ms, d.end_ms)]
    return f"WITH days(day, start_ms, end_ms) AS (VALUES {values})", params


def nearest_rank(p: int, n: int) -> int:
    """The 1-based rank of the p-th percentile among n sorted values (nearest-rank method:
    the smallest value with at least p% of the values at or below it): ceil(p * n / 100)."""
    return max(1, -(-p * n // 100))


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
            values.append([record.get(c) for c in LIVE_COLUMNS])
        updates = ", ".join(f"{c} = excluded.{c}" for c in LIVE_COLUMNS[1:])
        async with self._write() as db:
            # The WHERE keeps an archived (ended) row: archive may have written it between our
            # read of Redis and this write, and its copy is the newer one.
            await db.executemany(
                f"INSERT INTO conversations ({', '.join(LIVE_COLUMNS)})"  # noqa: S608
                f" VALUES ({', '.join('?' * len(LIVE_COLUMNS))})"
                f" ON CONFLICT (id) DO UPDATE SET {updates} WHERE conversations.ended_ms IS NULL", values)

    # --- statistics -------------------------------------------------------------------------
    async def stats(self, days: Sequence[DayBounds]) -> StatsFigures:
        cte, params = _days_cte(days)
        reasons = ", ".join(
            f"SUM(CASE WHEN {_escalated(r)} THEN 1 ELSE 0 END) AS esc_{r}" for r in ESCALATION_REASONS)
        # One row per day: conversations created that day and queued at least once (a seeker
        # who opened the window and wrote nothing is not a contact). wait = accepted - queued.
        # Only columns of the index conversations_created are read (COUNT of created_ms, not
        # id), so SQLite never looks up the table's rows.
        per_day = await self._all(
            f"""{cte}
            SELECT days.day,
                   COUNT(c.created_ms) AS conversations,
                   SUM(CASE WHEN c.channel = 'web' THEN 1 ELSE 0 END) AS web,
                   SUM(CASE WHEN c.channel = 'sms' THEN 1 ELSE 0 END) AS sms,
                   SUM(CASE WHEN c.lang = 'en' THEN 1 ELSE 0 END) AS en,
                   SUM(CASE WHEN c.lang = 'fr' THEN 1 ELSE 0 END) AS fr,
                   SUM(CASE WHEN c.accepted_ms IS NOT NULL THEN 1 ELSE 0 END) AS paired,
                   SUM(CASE WHEN c.accepted_ms IS NULL AND c.ended_ms IS NOT NULL THEN 1 ELSE 0 END) AS abandoned,
                   SUM(CASE WHEN {_escalated()} THEN 1 ELSE 0 END) AS escalated,
                   SUM(CASE WHEN c.accepted_ms - c.queued_ms <= 60000 THEN 1 ELSE 0 END) AS within_60,
                   SUM(CASE WHEN c.accepted_ms - c.queued_ms <= 120000 THEN 1 ELSE 0 END) AS within_120,
                   SUM(CASE WHEN c.survey IS NOT NULL THEN 1 ELSE 0 END) AS survey_n,
                   SUM(CASE WHEN c.survey IS NOT NULL THEN c.survey ELSE 0 END) AS survey_sum,
                   {reasons}
            FROM days
            LEFT JOIN conversations c
              ON c.created_ms >= days.start_ms AND c.created_ms < days.end_ms AND c.queued_ms IS NOT NULL
            GROUP BY days.day
            ORDER BY days.day""", params)  # noqa: S608 (no caller text in the SQL)
        total: dict[str, int] = {}
        out_days = []
        names = ("conversations", "web", "sms", "en", "fr", "paired", "abandoned", "escalated", "within_60",
                 "within_120", "survey_n", "survey_sum", *(f"esc_{r}" for r in ESCALATION_REASONS))
        for row in per_day:
            counts = {k: int(v or 0) for k, v in zip(names, row[1:], strict=True)}
            for k, v in counts.items():
                total[k] = total.get(k, 0) + v
            out_days.append(DayFigures(str(row[0]), counts["conversations"], counts["paired"],
                                       counts["abandoned"], counts["escalated"],
                                       {ch: counts[ch] for ch in CHANNELS}, {lang: counts[lang] for lang in LANGS}))
        p50, p90 = await self._wait_percentiles(days[0].start_ms, days[-1].end_ms, total.get("paired", 0))
        n = total.get("conversations", 0)
        survey_n = total.get("survey_n", 0)
        return StatsFigures(
            conversations=n,
            by_channel={ch: total.get(ch, 0) for ch in CHANNELS},
            by_lang={lang: total.get(lang, 0) for lang in LANGS},
            paired=total.get("paired", 0),
            abandoned=total.get("abandoned", 0),
            escalations={r: total.get(f"esc_{r}", 0) for r in ESCALATION_REASONS},
            wait_p50_s=p50, wait_p90_s=p90,
            answered_60=total.get("within_60", 0) / n if n else None,
            answered_120=total.get("within_120", 0) / n if n else None,
            survey_responses=survey_n,
            survey_mean=round(total.get("survey_sum", 0) / survey_n, 2) if survey_n else None,
            days=out_days,
        )

    async def _wait_percentiles(self, start_ms: int, end_ms: int, paired: int) -> tuple[float | None, float | None]:
        """The nearest-rank 50th and 90th percentile waits (seconds) of the paired conversations
        created in ``[start_ms, end_ms)``; ``paired`` is their number, counted already."""
        if paired == 0:
            return None, None
        r50, r90 = nearest_rank(50, paired), nearest_rank(90, paired)
        rows = await self._all(
            """SELECT rn, wait_ms FROM (
                   SELECT c.accepted_ms - c.queued_ms AS wait_ms,
                          ROW_NUMBER() OVER (ORDER BY c.accepted_ms - c.queued_ms) AS rn
                   FROM conversations c
                   WHERE c.created_ms >= ? AND c.created_ms < ?
                     AND c.queued_ms IS NOT NULL AND c.accepted_ms IS NOT NULL
               ) ranked
               WHERE rn IN (?, ?)""", (start_ms, end_ms, r50, r90))
        by_rank = {int(r[0]): int(r[1]) / 1000 for r in rows}
        return by_rank.get(r50), by_rank.get(r90)

    async def peer_hours(self, days: Sequence[DayBounds], now_ms: int) -> list[float]:
        # Each day clipped to now, so an open shift counts up to now and a future day is empty.
        clipped = [DayBounds(d.date, d.start_ms, max(d.start_ms, min(d.end_ms, now_ms))) for d in days]
        cte, params = _days_cte(clipped)
        # The overlap of each shift with each day: min(shift end, day end) - max(shift
        # start, day start), written with CASE (SQLite's MIN/MAX are PostgreSQL's LEAST/GREATEST);
        # a day without any shift joins one row of NULLs, which counts 0.
        rows = await self._all(
            f"""{cte}
            SELECT days.day, SUM(CASE WHEN s.id IS NULL THEN 0 ELSE
                   (CASE WHEN COALESCE(s.ended_ms, days.end_ms) < days.end_ms
                         THEN COALESCE(s.ended_ms, days.end_ms) ELSE days.end_ms END)
                 - (CASE WHEN s.started_ms > days.start_ms THEN s.started_ms ELSE days.start_ms END) END)
            FROM days
            LEFT JOIN shifts s
              ON s.started_ms < days.end_ms AND COALESCE(s.ended_ms, days.end_ms) > days.start_ms
            GROUP BY days.day
            ORDER BY days.day""", params)  # noqa: S608
        return [round(int(r[1] or 0) / 3_600_000, 2) for r in rows]
