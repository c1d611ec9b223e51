"""Program statistics (contract section 9): a scripted day checked figure by figure, days in
Toronto time (midnight boundaries, a daylight-saving day), live conversations, roles, CSV."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chatd.stats import day_bounds, parse_range
from records import ConversationRecord, Records
from records.program_sql import nearest_rank
from tests.conftest import Harness, Running

TORONTO = ZoneInfo("America/Toronto")
# 2026-03-08: clocks go forward at 02:00 in Toronto, so the day is 23 hours long.
DST_DAY = date(2026, 3, 8)


def ms(day: date, hh: int, mm: int = 0, ss: float = 0) -> int:
    return int(datetime(day.year, day.month, day.day, hh, mm, tzinfo=TORONTO).timestamp() * 1000 + ss * 1000)


def conv(cid: str, created: int, *, channel: str = "web", lang: str = "en", wait_s: float | None = None,
         accepted: bool = True, ended: bool = True, escalations: tuple[str, ...] = (), survey: int | None = None,
         queued: bool = True, feelings: tuple[int | None, int | None] = (None, None)) -> ConversationRecord:
    queued_ms = created + 1000 if queued else None
    accepted_ms = queued_ms + int(wait_s * 1000) if accepted and queued_ms and wait_s is not None else None
    end_at = (accepted_ms or queued_ms or created) + 600_000
    return {"id": cid, "channel": channel, "lang": lang, "created_ms": created, "queued_ms": queued_ms,
            "accepted_ms": accepted_ms, "ended_ms": end_at if ended else None, "ended_by": "seeker" if ended else None,
            "outcome": None, "wait_s": wait_s, "peer": "pat" if accepted_ms else None,
            "escalations": [{"reason": r, "at_ms": created + 2000} for r in escalations], "risk": "risk" in escalations,
            "survey": survey, "label": "Texter 4F2A" if channel == "sms" else None,
            "number_hash": "h" * 64 if channel == "sms" else None, "forgotten": False,
            "checkin_feeling": feelings[0], "end_feeling": feelings[1]}


SCRIPT = [
    # the evening before: not in the day
    conv("c-prev-day", ms(date(2026, 3, 7), 23, 59, 59.999), wait_s=5, feelings=(1, 7)),
    conv("c-midnight", ms(DST_DAY, 0), wait_s=30, feelings=(4, None)),  # exactly midnight: in the day
    conv("c-sms-fr", ms(DST_DAY, 23, 59, 59.999), channel="sms", lang="fr", wait_s=90, survey=4, feelings=(2, 5)),
    conv("c-left", ms(DST_DAY, 12), lang="fr", accepted=False, escalations=("no_peer_on_shift",)),
    conv("c-risk", ms(DST_DAY, 3, 30), wait_s=130, escalations=("risk", "peer"), survey=2, feelings=(3, 2)),
    conv("c-silent", ms(DST_DAY, 9), queued=False, accepted=False),  # opened the window, never wrote
    conv("c-next-day", ms(date(2026, 3, 9), 0), wait_s=10),  # next midnight: the next day
]


async def _seed(store: Records) -> None:
    for row in SCRIPT:
        await store.archive_conversation(row, [])


async def _get(srv: Running, path: str, cookie: str | None) -> httpx.Response:
    headers = {"Cookie": f"chatd_session={cookie}"} if cookie else {}
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return await http.get(path, headers=headers)


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql")])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The settings' database, once per backend: the figures are SQL aggregates, and both
    backends must give the same numbers (empty: the harness's SQLite file)."""
    if request.param == "postgresql":
        return {"database": str(request.getfixturevalue("postgres_url"))}
    return {}


@pytest.fixture
async def program(harness: Harness, database: dict[str, str]) -> tuple[Running, dict[str, str]]:
    """The service with three accounts (admin, supervisor, peer) and the scripted day."""
    srv = await harness.start(timezone="America/Toronto", **database)
    cookies = {}
    for name, role in (("ada", "admin"), ("sue", "supervisor"), ("pat", "peer")):
        await harness.add_peer(name, role=role)
        cookies[name] = await harness.login(name)
    await _seed(srv.services.store)
    return srv, cookies


def test_nearest_rank_is_the_smallest_rank_covering_the_share() -> None:
    assert [nearest_rank(50, n) for n in (1, 2, 3, 4, 10)] == [1, 1, 2, 2, 5]
    assert [nearest_rank(90, n) for n in (1, 3, 10, 11)] == [1, 3, 9, 10]


def test_days_are_toronto_midnights_and_a_dst_day_is_23_hours() -> None:
    days = day_bounds(date(2026, 3, 7), date(2026, 3, 9), TORONTO)
    assert [d.date for d in days] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert days[1].start_ms == int(datetime(2026, 3, 8, 5, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    assert [(d.end_ms - d.start_ms) / 3_600_000 for d in days] == [24, 23, 24]
    assert days[0].end_ms == days[1].start_ms and days[1].end_ms == days[2].start_ms


@pytest.mark.parametrize(("start", "end"), [
    pytest.param(None, "2026-03-08", id="missing-from"),
    pytest.param("2026-3-8", "2026-03-08", id="not-padded"),
    pytest.param("2026-02-30", "2026-03-08", id="no-such-day"),
    pytest.param("2026-03-09", "2026-03-08", id="from-after-to"),
    pytest.param("2025-01-01", "2026-01-02", id="over-366-days"),
    pytest.param("\uff12\uff10\uff12\uff16-03-08", "2026-03-08", id="other-digits"),
    pytest.param("9999-12-31", "9999-12-31", id="the-calendar-s-last-day"),
])
def test_bad_ranges_are_refused(start: str | None, end: str | None) -> None:
    with pytest.raises(ValueError):
        parse_range(start, end)


async def test_a_scripted_dst_day_figure_by_figure(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    response = await _get(srv, "/api/stats?from=2026-03-08&to=2026-03-08", cookies["ada"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "from": "2026-03-08", "to": "2026-03-08",
        "conversations": 4,  # midnight, sms-fr, left, risk; not the silent one, not the neighbours
        "by_channel": {"web": 3, "sms": 1}, "by_lang": {"en": 2, "fr": 2},
        "paired": 3, "abandoned": 1,
        "escalations": {"no_peer_on_shift": 1, "wait_timeout": 0, "risk": 1, "peer": 1, "wait_estimate": 0},
        "wait_s": {"p50": 90.0, "p90": 130.0},  # waits 30, 90, 130: ranks 2 and 3
        "answered_within": {"60": 0.25, "120": 0.5},  # of 4 queued: 1 within 60 s, 2 within 120 s
        "survey": {"responses": 2, "mean": 3.0},
        "feeling": {"pairs": 2, "mean_change": 1.0},  # sms-fr 2 -> 5, risk 3 -> 2; midnight gave no end
        "days": [{"date": "2026-03-08", "conversations": 4, "paired": 3, "abandoned": 1, "escalated": 2,
                  "by_channel": {"web": 3, "sms": 1}, "by_lang": {"en": 2, "fr": 2}}],
        "peer_hours": [{"date": "2026-03-08", "hours": 0.0}],
    }


async def test_the_days_around_split_at_toronto_midnight(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    body = (await _get(srv, "/api/stats?from=2026-03-07&to=2026-03-09", cookies["sue"])).json()
    assert [(d["date"], d["conversations"]) for d in body["days"]] == [
        ("2026-03-07", 1), ("2026-03-08", 4), ("2026-03-09", 1)]
    assert body["conversations"] == 6 and body["paired"] == 5
    assert body["wait_s"] == {"p50": 30.0, "p90": 130.0}  # 5, 10, 30, 90, 130: ranks 3 and 5


async def test_an_empty_range_has_null_shares(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    body = (await _get(srv, "/api/stats?from=2025-01-01&to=2025-01-02", cookies["ada"])).json()
    assert body["conversations"] == 0 and body["wait_s"] == {"p50": None, "p90": None}
    assert body["answered_within"] == {"60": None, "120": None} and body["survey"] == {"responses": 0, "mean": None}
    assert len(body["days"]) == 2


async def test_the_figures_name_no_conversation_label_hash_or_person(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    for path in ("/api/stats?from=2026-03-07&to=2026-03-09", "/api/stats.csv?from=2026-03-07&to=2026-03-09"):
        text = (await _get(srv, path, cookies["ada"])).text
        for secret in ("c-", "Texter", "h" * 16, "pat", "ada"):
            assert secret not in text, (path, secret)


async def test_csv_has_a_header_and_the_day_rows(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    response = await _get(srv, "/api/stats.csv?from=2026-03-07&to=2026-03-09", cookies["sue"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines() == ["date,conversations,paired,abandoned,escalated", "2026-03-07,1,1,0,0",
                                          "2026-03-08,4,3,1,2", "2026-03-09,1,1,0,0"]


@pytest.mark.parametrize("path", ["/api/stats", "/api/stats.csv"])
async def test_stats_roles(program: tuple[Running, dict[str, str]], path: str) -> None:
    """Admins and supervisors read; a peer gets 403; no session 401; bad dates 400."""
    srv, cookies = program
    query = "?from=2026-03-08&to=2026-03-08"
    assert (await _get(srv, path + query, None)).status_code == 401
    assert (await _get(srv, path + query, cookies["pat"])).status_code == 403
    assert (await _get(srv, path + query, cookies["sue"])).status_code == 200
    assert (await _get(srv, path + query, cookies["ada"])).status_code == 200
    for bad in ("", "?from=2026-03-09&to=2026-03-08", "?from=2025-01-01&to=2026-03-08", "?from=x&to=y"):
        response = await _get(srv, path + bad, cookies["ada"])
        assert response.status_code == 400 and response.json()["error"] == "bad_request", bad


async def test_peer_hours_split_a_shift_across_midnight(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    store = srv.services.store
    await store.shift_started("pat", 2, ms(DST_DAY, 22))
    await store.shift_ended("pat", ms(date(2026, 3, 9), 1, 30))
    body = (await _get(srv, "/api/stats?from=2026-03-08&to=2026-03-09", cookies["ada"])).json()
    assert body["peer_hours"] == [{"date": "2026-03-08", "hours": 2.0}, {"date": "2026-03-09", "hours": 1.5}]


async def test_live_conversations_count(harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    """A seeker who wrote while nobody was on shift counts today (queued, escalated, not yet
    paired nor abandoned), before anything was archived; once a peer accepts it is paired."""
    srv, cookies = program
    today = datetime.now(TORONTO).date().isoformat()
    query = f"/api/stats?from={today}&to={today}"
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="m1", text="hello")
    await seeker.next("ack")
    body = (await _get(srv, query, cookies["ada"])).json()
    assert (body["conversations"], body["paired"], body["abandoned"]) == (1, 0, 0)
    assert body["escalations"]["no_peer_on_shift"] == 1
    peer = await harness.peer("pat", capacity=1, cookie=cookies["pat"])
    offer = await peer.next("offer")
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    body = (await _get(srv, query, cookies["ada"])).json()
    assert (body["conversations"], body["paired"], body["abandoned"]) == (1, 1, 0)
    assert body["wait_s"]["p50"] is not None and body["answered_within"]["120"] is not None


def test_chatd_stats_prints_the_same_figures(tmp_path: Any) -> None:
    """``chatd stats`` reads the database (no service running: no live conversations)."""
    import asyncio

    from records import open_records

    async def seed() -> None:
        store = await open_records(tmp_path / "chatd.sqlite3")
        try:
            await _seed(store)
        finally:
            await store.close()

    asyncio.run(seed())
    env = {"CHATD_DATA_DIR": str(tmp_path), "CHATD_DATABASE": str(tmp_path / "chatd.sqlite3"),
           "CHATD_SECRET_KEY": "x" * 32, "CHATD_TIMEZONE": "America/Toronto", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "chatd", "stats", "--from", "2026-03-08", "--to", "2026-03-08"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "conversations      4 (web 3, sms 1; en 2, fr 2)" in done.stdout
    assert "p50 90.0, p90 130.0" in done.stdout and "60 s 0.25, 120 s 0.5" in done.stdout
    assert "2026-03-08              4       3          1          2" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "chatd", "stats", "--from", "2026-03-09", "--to", "2026-03-08"],
                         env=env, capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "from is after to" in bad.stderr
