"""The SQL of program operations (contract section 9), written once for both backends.

Each builder takes ``mark``, the backend's placeholder for the n-th parameter (SQLite ``?``,
PostgreSQL ``$n``), and returns plain SQL both databases run: SQLite has no time zones, so day
boundaries are computed in Python (``CHATD_TIMEZONE``, zoneinfo) and handed in as a ``days``
table of ``VALUES``; percentiles use ``ROW_NUMBER()``; SQLite's two-argument MIN/MAX (which are
PostgreSQL's LEAST/GREATEST) are written as CASE. :func:`figures` turns the per-day rows into
:class:`~records.interface.StatsFigures` the same way for both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from records.interface import ESCALATION_REASONS, DayBounds, DayFigures, StatsFigures

Mark = Callable[[int], str]  # 1-based parameter index -> placeholder text

CHANNELS = ("web", "sms")
LANGS = ("en", "fr")

# The columns a live conversation's row may set: never texts, a label or a number hash (the
# archive writes those once the conversation has ended).
LIVE_COLUMNS = ("id", "channel", "lang", "created_ms", "queued_ms", "accepted_ms", "ended_ms", "ended_by",
                "wait_s", "escalations", "risk")

# The per-day row's figures after its date, in order.
DAY_FIGURES = ("conversations", "web", "sms", "en", "fr", "paired", "abandoned", "escalated", "within_60",
               "within_120", "survey_n", "survey_sum", "feeling_n", "feeling_change_sum",
               *(f"esc_{r}" for r in ESCALATION_REASONS))


def sqlite_mark(_: int) -> str:
    """SQLite's placeholder: ``?`` whatever the index."""
    return "?"


def postgres_mark(i: int) -> str:
    """PostgreSQL's placeholder for the i-th parameter: ``$i``."""
    return f"${i}"


def escalated(reason: str | None = None, *, column: str = "c.escalations") -> str:
    """A condition on the escalations' JSON text: any escalation, or one for ``reason``.

    The archive writes ``[{"reason": "risk", "at_ms": …}]`` with json.dumps' default separators,
    and PostgreSQL prints a JSONB value (``column::text``) with the same ``"key": "value"``
    spacing, so one LIKE works on both; no JSON functions, which the two spell differently.
    ValueError for a reason that is not one of ESCALATION_REASONS (never caller text)."""
    if reason is None:
        return f"{column} LIKE '%\"reason\"%'"
    if reason not in ESCALATION_REASONS:
        raise ValueError(reason)
    return f"{column} LIKE '%\"reason\": \"{reason}\"%'"


def days_cte(days: Sequence[DayBounds], mark: Mark, *, first: int = 1,
             casts: tuple[str, str, str] = ("", "", "")) -> tuple[str, list[Any]]:
    """``WITH days(day, start_ms, end_ms) AS (VALUES …)`` and its parameters, numbered from
    ``first``; ``casts`` are appended to the first row's placeholders (PostgreSQL must be told
    the types of a VALUES list's parameters)."""
    rows = []
    for n in range(len(days)):
        i = first + 3 * n
        c = casts if n == 0 else ("", "", "")
        rows.append(f"({mark(i)}{c[0]}, {mark(i + 1)}{c[1]}, {mark(i + 2)}{c[2]})")
    params: list[Any] = [v for d in days for v in (d.date, d.start_ms, d.end_ms)]
    return f"WITH days(day, start_ms, end_ms) AS (VALUES {', '.join(rows)})", params


def per_day_sql(cte: str, escalations: str = "c.escalations") -> str:
    """One row per day of ``cte``: its date and DAY_FIGURES, over the conversations created that
    day and queued at least once (a seeker who opened the window and wrote nothing is not a
    contact). ``escalations``: the escalations column as text. Only columns of the index
    conversations_created are read (COUNT of created_ms, not id): SQLite never reads the rows."""
    reasons = ", ".join(
        f"SUM(CASE WHEN {escalated(r, column=escalations)} THEN 1 ELSE 0 END) AS esc_{r}" for r in ESCALATION_REASONS)
    return f"""{cte}
        SELECT days.day,
               COUNT(c.created_ms) AS conversations,
               SUM(CASE WHEN c.channel = 'web' THEN 1 ELSE 0 END) AS web,
               SUM(CASE WHEN c.channel = 'sms' THEN 1 ELSE 0 END) AS sms,
               SUM(CASE WHEN c.lang = 'en' THEN 1 ELSE 0 END) AS en,
               SUM(CASE WHEN c.lang = 'fr' THEN 1 ELSE 0 END) AS fr,
               SUM(CASE WHEN c.accepted_ms IS NOT NULL THEN 1 ELSE 0 END) AS paired,
               SUM(CASE WHEN c.accepted_ms IS NULL AND c.ended_ms IS NOT NULL THEN 1 ELSE 0 END) AS abandoned,
               SUM(CASE WHEN {escalated(column=escalations)} THEN 1 ELSE 0 END) AS escalated,
               SUM(CASE WHEN c.accepted_ms - c.queued_ms <= 60000 THEN 1 ELSE 0 END) AS within_60,
               SUM(CASE WHEN c.accepted_ms - c.queued_ms <= 120000 THEN 1 ELSE 0 END) AS within_120,
               SUM(CASE WHEN c.survey IS NOT NULL THEN 1 ELSE 0 END) AS survey_n,
               SUM(CASE WHEN c.survey IS NOT NULL THEN c.survey ELSE 0 END) AS survey_sum,
               SUM(CASE WHEN c.checkin_feeling IS NOT NULL AND c.end_feeling IS NOT NULL
                        THEN 1 ELSE 0 END) AS feeling_n,
               SUM(CASE WHEN c.checkin_feeling IS NOT NULL AND c.end_feeling IS NOT NULL
                        THEN c.end_feeling - c.checkin_feeling ELSE 0 END) AS feeling_change_sum,
               {reasons}
        FROM days
        LEFT JOIN conversations c
          ON c.created_ms >= days.start_ms AND c.created_ms < days.end_ms AND c.queued_ms IS NOT NULL
        GROUP BY days.day
        ORDER BY days.day"""  # noqa: S608 (no caller text in the SQL)


def wait_ranks_sql(mark: Mark) -> str:
    """The waits (ms) at two ranks (parameters 3 and 4) among the paired conversations created
    in ``[start_ms, end_ms)`` (parameters 1 and 2), sorted: rows of (rank, wait_ms)."""
    return f"""SELECT rn, wait_ms FROM (
               SELECT c.accepted_ms - c.queued_ms AS wait_ms,
                      ROW_NUMBER() OVER (ORDER BY c.accepted_ms - c.queued_ms) AS rn
               FROM conversations c
               WHERE c.created_ms >= {mark(1)} AND c.created_ms < {mark(2)}
                 AND c.queued_ms IS NOT NULL AND c.accepted_ms IS NOT NULL
           ) ranked
           WHERE rn IN ({mark(3)}, {mark(4)})"""  # noqa: S608


def peer_hours_sql(cte: str) -> str:
    """Milliseconds on shift by all peers together within each day of ``cte``: rows of (date, ms).

    The overlap of each shift with each day is min(shift end, day end) - max(shift start, day
    start); a day without any shift joins one row of NULLs, which counts 0."""
    return f"""{cte}
        SELECT days.day, SUM(CASE WHEN s.id IS NULL THEN 0 ELSE
               (CASE WHEN COALESCE(s.ended_ms, days.end_ms) < days.end_ms
                     THEN COALESCE(s.ended_ms, days.end_ms) ELSE days.end_ms END)
             - (CASE WHEN s.started_ms > days.start_ms THEN s.started_ms ELSE days.start_ms END) END)
        FROM days
        LEFT JOIN shifts s
          ON s.started_ms < days.end_ms AND COALESCE(s.ended_ms, days.end_ms) > days.start_ms
        GROUP BY days.day
        ORDER BY days.day"""  # noqa: S608


def clip_to_now(days: Sequence[DayBounds], now_ms: int) -> list[DayBounds]:
    """Each day cut at ``now_ms``: an open shift counts up to now, a future day is empty."""
    return [DayBounds(d.date, d.start_ms, max(d.start_ms, min(d.end_ms, now_ms))) for d in days]


def nearest_rank(p: int, n: int) -> int:
    """The 1-based rank of the p-th percentile among n sorted values (nearest-rank method:
    the smallest value with at least p% of the values at or below it): ceil(p * n / 100)."""
    return max(1, -(-p * n // 100))


def paired_total(rows: Sequence[Sequence[Any]]) -> int:
    """The number of paired conversations in the per-day rows (their ranks are asked next)."""
    return sum(int(r[1 + DAY_FIGURES.index("paired")] or 0) for r in rows)


def figures(rows: Sequence[Sequence[Any]], wait_p50_s: float | None, wait_p90_s: float | None) -> StatsFigures:
    """The figures of a range from its per-day rows (date, then DAY_FIGURES) and its waits."""
    total: dict[str, int] = {}
    out_days = []
    for row in rows:
        counts = {k: int(v or 0) for k, v in zip(DAY_FIGURES, row[1:], strict=True)}
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        out_days.append(DayFigures(str(row[0]), counts["conversations"], counts["paired"], counts["abandoned"],
                                   counts["escalated"], {ch: counts[ch] for ch in CHANNELS},
                                   {lang: counts[lang] for lang in LANGS}))
    n = total.get("conversations", 0)
    survey_n = total.get("survey_n", 0)
    feeling_n = total.get("feeling_n", 0)
    return StatsFigures(
        conversations=n,
        by_channel={ch: total.get(ch, 0) for ch in CHANNELS},
        by_lang={lang: total.get(lang, 0) for lang in LANGS},
        paired=total.get("paired", 0),
        abandoned=total.get("abandoned", 0),
        escalations={r: total.get(f"esc_{r}", 0) for r in ESCALATION_REASONS},
        wait_p50_s=wait_p50_s, wait_p90_s=wait_p90_s,
        answered_60=total.get("within_60", 0) / n if n else None,
        answered_120=total.get("within_120", 0) / n if n else None,
        survey_responses=survey_n,
        survey_mean=round(total.get("survey_sum", 0) / survey_n, 2) if survey_n else None,
        feeling_pairs=feeling_n,
        feeling_change_mean=round(total.get("feeling_change_sum", 0) / feeling_n, 2) if feeling_n else None,
        days=out_days,
    )
