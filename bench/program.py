"""``python -m bench stats``: how long the program statistics take on a year of a busy program.

Seeds a fresh SQLite database with N conversations (default 100,000) spread over the year
before today in the program's time zone, with realistic shares (web/SMS, en/fr, paired,
abandoned, escalations, survey ratings) and peers' shifts, then times the records' part of
``/api/stats`` (``chatd.stats.figures`` without Redis: the SQL) for the last month and for the
whole year, several runs each, and prints the medians. Separate from the main bench run.

``--postgresql URL`` (an empty database) times PostgreSQL too, beside SQLite: the seeded file is
copied there with ``chatd copy-db``'s code (records/copy.py), so both hold the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from chatd.stats import figures
from records import ConversationRecord, open_records
from records.copy import copy_records
from records.keyspace import Keys
from records.sqlite import CONVERSATION_COLUMNS

BATCH = 2000


def _rows(n: int, first: date, days: int, tz: ZoneInfo, rng: random.Random) -> list[ConversationRecord]:
    start_ms = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
    span_ms = days * 86_400_000
    rows: list[ConversationRecord] = []
    for i in range(n):
        created = start_ms + rng.randrange(span_ms)
        queued = created + rng.randrange(1000, 60_000)
        fate = rng.random()
        wait_ms = int(rng.expovariate(1 / 45_000))
        accepted = queued + wait_ms if fate < 0.85 else None
        ended = (accepted or queued + wait_ms) + rng.randrange(60_000, 3_600_000)
        reasons = []
        if rng.random() < 0.05:
            reasons.append("risk")
        if accepted is None and rng.random() < 0.5:
            reasons.append(rng.choice(("no_peer_on_shift", "wait_timeout")))
        if rng.random() < 0.02:
            reasons.append("peer")
        rows.append({
            "id": f"bench{i:08d}", "channel": "sms" if rng.random() < 0.3 else "web",
            "lang": "fr" if rng.random() < 0.25 else "en", "created_ms": created, "queued_ms": queued,
            "accepted_ms": accepted, "ended_ms": ended, "ended_by": "seeker", "outcome": None,
            "wait_s": ((accepted or ended) - queued) / 1000, "peer": "peer1" if accepted else None,
            "escalations": [{"reason": r, "at_ms": queued} for r in reasons], "risk": "risk" in reasons,
            "survey": rng.randint(1, 5) if accepted and rng.random() < 0.3 else None, "label": None,
            "number_hash": None, "forgotten": False,
            "checkin_feeling": rng.randint(1, 7) if rng.random() < 0.5 else None,
            "end_feeling": rng.randint(1, 7) if accepted and rng.random() < 0.25 else None,
        })
    return rows


def _column(row: ConversationRecord, column: str) -> object:
    value = row.get(column)
    if column == "escalations":
        return json.dumps(value)
    return int(value) if isinstance(value, bool) else value


async def _seed(path: Path, n: int, first: date, days: int, tz: ZoneInfo) -> None:
    rng = random.Random(12)
    store = await open_records(path)
    try:
        # Straight SQL in big transactions: archive_conversation (one transaction each) would
        # make seeding, not the statistics, the slow part.
        db = store.db  # type: ignore[attr-defined]
        values = [[_column(row, c) for c in CONVERSATION_COLUMNS] for row in _rows(n, first, days, tz, rng)]
        for i in range(0, len(values), BATCH):
            await db.execute("BEGIN")
            await db.executemany(f"INSERT INTO conversations ({', '.join(CONVERSATION_COLUMNS)}) VALUES "
                                 f"({', '.join('?' * len(CONVERSATION_COLUMNS))})", values[i:i + BATCH])
            await db.execute("COMMIT")
        start_ms = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
        await db.execute("BEGIN")
        for d in range(days):
            for peer in range(3):
                begin = start_ms + d * 86_400_000 + (8 + peer * 4) * 3_600_000
                await db.execute("INSERT INTO shifts (username, started_ms, ended_ms, capacity) VALUES (?, ?, ?, 2)",
                                 (f"peer{peer}", begin, begin + 4 * 3_600_000))
        await db.execute("COMMIT")
    finally:
        await store.close()


async def _time(path: Path | str, first: date, last: date, tz: ZoneInfo, runs: int) -> tuple[float, int]:
    store = await open_records(path)
    try:
        times = []
        result: dict[str, object] = {}
        for _ in range(runs):
            t0 = time.perf_counter()
            result = await figures(store, None, Keys("bench"), first, last, tz)
            times.append(time.perf_counter() - t0)
        return statistics.median(times), int(str(result["conversations"]))
    finally:
        await store.close()


async def _copy(path: Path, url: str) -> None:
    source, target = await open_records(path), await open_records(url)
    try:
        await copy_records(source, target)
    finally:
        await source.close()
        await target.close()


async def run(n: int, runs: int, timezone: str, postgresql: str | None = None) -> int:
    tz = ZoneInfo(timezone)
    today = datetime.now(tz).date()
    first = today - timedelta(days=364)
    with tempfile.TemporaryDirectory(prefix="chatd-bench-stats-") as tmp:
        path = Path(tmp) / "chatd.sqlite3"
        t0 = time.perf_counter()
        await _seed(path, n, first, 365, tz)
        print(f"seeded {n:,} conversations over 365 days in {time.perf_counter() - t0:.1f} s (SQLite)")
        databases: list[tuple[str, Path | str]] = [("SQLite", path)]
        if postgresql:
            t0 = time.perf_counter()
            await _copy(path, postgresql)
            print(f"copied to PostgreSQL in {time.perf_counter() - t0:.1f} s")
            databases.append(("PostgreSQL", postgresql))
        for label, database in databases:
            for name, start in (("month", today - timedelta(days=29)), ("year", first)):
                median_s, count = await _time(database, start, today, tz, runs)
                print(f"{label:<10} /api/stats for a {name:<5} ({count:>7,} conversations): "
                      f"median {median_s * 1000:7.1f} ms of {runs} runs")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench stats", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timezone", default="America/Toronto")
    parser.add_argument("--postgresql", metavar="URL", help="an empty PostgreSQL database to time as well")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.conversations, args.runs, args.timezone, args.postgresql))
