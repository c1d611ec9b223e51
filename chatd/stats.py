"""Program statistics (contract section 9): ``GET /api/stats``, ``GET /api/stats.csv`` and the
figures ``chatd stats`` prints.

Days are calendar days of ``CHATD_TIMEZONE``, computed here with zoneinfo (a day is 23 or 25
hours long on a daylight-saving change) and handed to the records as millisecond bounds.
Conversations still in Redis count too: their rows (no texts) are upserted into the records
first (routing.archive.live_rows), so one SQL query sees every conversation.

Only aggregates leave this module: counts, shares, percentiles and a mean; never a text, a
conversation id, a label, a number hash or a username.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatd.adminauth import STATS_READERS, Caller, Refused, guarded
from chatd.services import Services
from records import DayBounds, Records, StatsFigures
from records.keyspace import Keys
from routing.archive import live_rows

MAX_DAYS = 366
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # ASCII digits only (\d takes any script's)
CSV_COLUMNS = ("date", "conversations", "paired", "abandoned", "escalated")


class BadRange(ValueError):
    """The dates asked for are not a valid range; the message says why."""


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """``from`` and ``to`` as dates: both ``YYYY-MM-DD``, from ≤ to, at most MAX_DAYS days."""
    days: list[date] = []
    for name, value in (("from", start), ("to", end)):
        if value is None or not _DATE.match(value):
            raise BadRange(f"{name}: a date YYYY-MM-DD")
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise BadRange(f"{name}: {value} is not a date") from None
        # The day after the last one bounds it: 9999-12-31 has none in Python's calendar.
        if not date(1970, 1, 1) <= day < date.max:
            raise BadRange(f"{name}: a date from 1970-01-01 to 9999-12-30")
        days.append(day)
    first, last = days
    if first > last:
        raise BadRange("from is after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"at most {MAX_DAYS} days at a time")
    return first, last


def day_bounds(first: date, last: date, tz: ZoneInfo) -> list[DayBounds]:
    """Each day from ``first`` to ``last`` inclusive as ``[midnight, next midnight)`` in ``tz``."""
    def midnight_ms(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)

    out = []
    d = first
    while d <= last:
        nxt = d + timedelta(days=1)
        out.append(DayBounds(d.isoformat(), midnight_ms(d), midnight_ms(nxt)))
        d = nxt
    return out


async def figures(store: Records, redis: Redis | None, keys: Keys, first: date, last: date,
                  tz: ZoneInfo) -> dict[str, Any]:
    """The statistics of contract section 9 (plus ``peer_hours``), live conversations included
    when ``redis`` is given."""
    if redis is not None:
        await store.record_live_conversations(await live_rows(redis, keys))
    days = day_bounds(first, last, tz)
    stats = await store.stats(days)
    hours = await store.peer_hours(days, int(time.time() * 1000))
    return to_json(first, last, stats, [(d.date, h) for d, h in zip(days, hours, strict=True)])


def _share(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def to_json(first: date, last: date, s: StatsFigures, peer_hours: list[tuple[str, float]]) -> dict[str, Any]:
    return {
        "from": first.isoformat(), "to": last.isoformat(),
        "conversations": s.conversations, "by_channel": s.by_channel, "by_lang": s.by_lang,
        "paired": s.paired, "abandoned": s.abandoned, "escalations": s.escalations,
        "wait_s": {"p50": s.wait_p50_s, "p90": s.wait_p90_s},
        "answered_within": {"60": _share(s.answered_60), "120": _share(s.answered_120)},
        "survey": {"responses": s.survey_responses, "mean": s.survey_mean},
        "feeling": {"pairs": s.feeling_pairs, "mean_change": s.feeling_change_mean},
        "days": [{"date": d.date, "conversations": d.conversations, "paired": d.paired,
                  "abandoned": d.abandoned, "escalated": d.escalated,
                  "by_channel": d.by_channel, "by_lang": d.by_lang} for d in s.days],
        "peer_hours": [{"date": day, "hours": h} for day, h in peer_hours],
    }


def to_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for day in result["days"]:
        writer.writerow([day[c] for c in CSV_COLUMNS])
    return out.getvalue()


def to_table(result: dict[str, Any]) -> str:
    """What ``chatd stats`` prints: the totals, then one line per day."""
    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    share = result["answered_within"]
    lines = [
        f"statistics {result['from']} to {result['to']}",
        f"  conversations      {result['conversations']} (web {result['by_channel']['web']}, "
        f"sms {result['by_channel']['sms']}; en {result['by_lang']['en']}, fr {result['by_lang']['fr']})",
        f"  paired             {result['paired']}",
        f"  abandoned          {result['abandoned']}",
        "  escalations        " + ", ".join(f"{k} {v}" for k, v in result["escalations"].items()),
        f"  wait (s)           p50 {show(result['wait_s']['p50'])}, p90 {show(result['wait_s']['p90'])}",
        f"  answered within    60 s {show(share['60'])}, 120 s {show(share['120'])}",
        f"  survey             {result['survey']['responses']} responses, mean {show(result['survey']['mean'])}",
        f"  feeling (1-7)      {result['feeling']['pairs']} answered at check-in and end, "
        f"mean change {show(result['feeling']['mean_change'])}",
        "",
        f"  {'date':<10}  {'conversations':>13}  {'paired':>6}  {'abandoned':>9}  {'escalated':>9}  {'peer-hours':>10}",
    ]
    hours = {row["date"]: row["hours"] for row in result["peer_hours"]}
    for day in result["days"]:
        lines.append(f"  {day['date']:<10}  {day['conversations']:>13}  {day['paired']:>6}  {day['abandoned']:>9}"
                     f"  {day['escalated']:>9}  {hours.get(day['date'], 0):>10}")
    return "\n".join(lines) + "\n"


async def _result(request: Request) -> dict[str, Any]:
    services: Services = request.app.state.services
    try:
        first, last = parse_range(request.query_params.get("from"), request.query_params.get("to"))
    except BadRange as exc:
        raise Refused(400, "bad_request", str(exc)) from None
    return await figures(services.store, services.redis, services.keys, first, last,
                         ZoneInfo(services.settings.timezone))


@guarded(STATS_READERS)
async def stats_json(request: Request, caller: Caller) -> Response:
    """``GET /api/stats?from=&to=``."""
    return JSONResponse(await _result(request), headers={"Cache-Control": "no-store"})


@guarded(STATS_READERS)
async def stats_csv(request: Request, caller: Caller) -> Response:
    """``GET /api/stats.csv?from=&to=``: the ``days`` rows with a header line."""
    result = await _result(request)
    name = f"chatd-stats-{result['from']}-{result['to']}.csv"
    return Response(to_csv(result), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def stats_routes() -> list[BaseRoute]:
    return [
        Route("/api/stats", stats_json, methods=["GET"]),
        Route("/api/stats.csv", stats_csv, methods=["GET"]),
    ]
