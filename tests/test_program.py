"""Service hours and canned responses (issue 12): the rules, the API, the seeker's welcome and
the consoles' refetch."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from chatd.program import CANNED_FILE
from routing import frames, hours
from tests.conftest import Harness, Running

TORONTO = ZoneInfo("America/Toronto")
WEEKDAYS_9_TO_5 = {"weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
                   "holidays": [{"date": "2026-12-25", "note": "Christmas"}]}
CLOSED = {"weekly": {}, "holidays": []}


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=TORONTO)  # type: ignore[misc]


def test_default_hours_are_always_open() -> None:
    default = hours.load(None)
    assert default.always_open and default.is_open(at(2026, 12, 25, 3))


def test_weekly_hours_and_holidays() -> None:
    h = hours.parse(WEEKDAYS_9_TO_5)
    assert h.is_open(at(2026, 12, 24, 9)) and not h.is_open(at(2026, 12, 24, 17))
    assert not h.is_open(at(2026, 12, 25, 12))  # a Friday, but a holiday
    # Thursday 24 December at 17:00: Friday is a holiday, then the weekend: Monday 09:00.
    assert h.next_open(at(2026, 12, 24, 17)) == at(2026, 12, 28, 9)
    assert h.next_open(at(2026, 12, 24, 10)) == at(2026, 12, 24, 10)


def test_next_open_across_a_dst_change_keeps_local_time() -> None:
    h = hours.parse(WEEKDAYS_9_TO_5)
    nxt = h.next_open(at(2026, 3, 6, 18))  # Friday evening; clocks change on Sunday the 8th
    assert nxt == at(2026, 3, 9, 9) and nxt is not None and nxt.utcoffset() is not None
    assert nxt.isoformat() == "2026-03-09T09:00:00-04:00"


def test_closed_every_day_is_never_open() -> None:
    h = hours.parse(CLOSED)
    assert not h.is_open(at(2026, 1, 5, 12)) and h.next_open(at(2026, 1, 5, 12)) is None
    assert hours.seeker_view(h, at(2026, 1, 5, 12), TORONTO) == {"open": False, "next_open": None,
                                                                 "timezone": "America/Toronto"}


@pytest.mark.parametrize("bad", [
    pytest.param({"weekly": {"mon": [["17:00", "09:00"]]}}, id="closes-before-opening"),
    pytest.param({"weekly": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}}, id="overlap"),
    pytest.param({"weekly": {"mon": [["9:00", "12:00"]]}}, id="unpadded"),
    pytest.param({"weekly": {"mon": [["09:00", "24:01"]]}}, id="past-midnight"),
    pytest.param({"weekly": {"monday": []}}, id="day-name"),
    pytest.param({"holidays": [{"date": "2026-02-30"}]}, id="no-such-date"),
    pytest.param({"holidays": [{"date": "20261225"}]}, id="basic-iso-date"),
    pytest.param({"holidays": [{"date": "2026-W52-5"}]}, id="week-date"),
    pytest.param({"holidays": [{"date": "2026-12-25", "note": "a"}, {"date": "2026-12-25", "note": "b"}]},
                 id="a-date-twice"),
    pytest.param({"holidays": "2026-12-25"}, id="holidays-not-list"),
    pytest.param({"open": True}, id="unknown-field"),
    pytest.param([], id="not-an-object"),
])
def test_bad_hours_are_refused(bad: Any) -> None:
    with pytest.raises(hours.HoursError):
        hours.parse(bad)


async def _call(srv: Running, method: str, path: str, cookie: str | None, body: Any = None) -> httpx.Response:
    headers = {"Origin": srv.url}
    if cookie:
        headers["Cookie"] = f"chatd_session={cookie}"
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return await http.request(method, path, headers=headers, json=body)


@pytest.fixture
async def program(harness: Harness) -> tuple[Running, dict[str, str]]:
    srv = await harness.start()
    cookies = {}
    for name, role in (("ada", "admin"), ("sue", "supervisor"), ("pat", "peer")):
        await harness.add_peer(name, role=role)
        cookies[name] = await harness.login(name)
    return srv, cookies


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/admin/hours", None), ("PUT", "/api/admin/hours", CLOSED),
    ("PUT", "/api/admin/canned", {"en": [], "fr": []}),
])
async def test_only_admins_edit_the_program(program: tuple[Running, dict[str, str]], method: str, path: str,
                                            body: Any) -> None:
    srv, cookies = program
    assert (await _call(srv, method, path, None, body)).status_code == 401
    assert (await _call(srv, method, path, cookies["pat"], body)).status_code == 403
    assert (await _call(srv, method, path, cookies["sue"], body)).status_code == 403
    assert await srv.services.store.program_setting("service_hours") is None


async def test_hours_outside_change_the_welcome_and_are_audited(harness: Harness,
                                                                program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    _, welcome = await harness.seeker()
    assert welcome["service"] == {"open": True, "next_open": None, "timezone": "America/Toronto"}
    assert (await _call(srv, "GET", "/api/admin/hours", cookies["ada"])).json()["weekly"] is None
    bad = await _call(srv, "PUT", "/api/admin/hours", cookies["ada"], {"weekly": {"mon": [["10:00", "09:00"]]}})
    assert bad.status_code == 400 and "closes before it opens" in bad.json()["message"]
    assert await srv.services.store.program_setting("service_hours") is None
    done = await _call(srv, "PUT", "/api/admin/hours", cookies["ada"], CLOSED)
    assert done.status_code == 200 and done.json()["now"]["open"] is False
    _, welcome = await harness.seeker()
    assert welcome["service"] == {"open": False, "next_open": None, "timezone": "America/Toronto"}
    frames.decode(json.dumps(welcome))  # the frame is one of the protocol's
    entry = (await srv.services.store.account_audit())[0]
    assert (entry.actor, entry.action, entry.account) == ("ada", "hours.update", None)


async def test_closed_hours_with_nobody_on_shift_escalate_at_once(harness: Harness,
                                                                  program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    assert (await _call(srv, "PUT", "/api/admin/hours", cookies["ada"], CLOSED)).status_code == 200
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="m1", text="is anyone there")
    escalation = await seeker.next("escalation")
    assert escalation["reason"] == "no_peer_on_shift" and escalation["crisis_line"]


async def test_canned_responses_are_seeded_edited_and_pushed_to_consoles(
        harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    assert (await _call(srv, "GET", "/api/canned", None)).status_code == 401
    seeded = (await _call(srv, "GET", "/api/canned", cookies["pat"])).json()
    assert seeded == json.loads(CANNED_FILE.read_text(encoding="utf-8"))
    console = await harness.peer("pat", cookie=cookies["pat"])
    payload = '<img src=x onerror="alert(1)">'
    new = {"en": [{"label": "Hi", "text": "Hello " + payload}], "fr": [{"label": payload, "text": "Bonjour"}]}
    for bad in ({"en": []}, {"en": [{"label": " ", "text": "x"}], "fr": []},
                {"en": [{"label": "x", "text": "y", "extra": 1}], "fr": []}):
        assert (await _call(srv, "PUT", "/api/admin/canned", cookies["ada"], bad)).status_code == 400
    assert (await _call(srv, "GET", "/api/canned", cookies["pat"])).json() == seeded
    done = await _call(srv, "PUT", "/api/admin/canned", cookies["ada"], new)
    assert done.status_code == 200, done.text
    changed = await console.next("canned_changed")
    assert isinstance(frames.decode(json.dumps(changed)), frames.CannedChanged)
    assert (await _call(srv, "GET", "/api/canned", cookies["pat"])).json() == new  # stored verbatim, never HTML


async def test_another_process_sees_new_hours_without_restart(harness: Harness,
                                                              program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    other = await harness.start(worker=False)
    _, welcome = await harness.seeker(server=other)
    assert welcome["service"]["open"] is True
    assert (await _call(srv, "PUT", "/api/admin/hours", cookies["ada"], CLOSED)).status_code == 200
    for _ in range(50):  # the event reaches the other process's hub shortly
        _, welcome = await harness.seeker(server=other)
        if welcome["service"]["open"] is False:
            break
    assert welcome["service"]["open"] is False


def test_the_closed_text_puts_the_crisis_line_first_in_both_languages() -> None:
    from sms.texts import Language, SmsTexts
    texts = SmsTexts(crisis_line="1-844-750-1648", crisis_email="x@example.org")
    en = texts.queued_closed(Language.EN, 2, at(2026, 12, 28, 9))
    assert en.index("1-844-750-1648") < en.index("Peers are back") and "Mon Dec 28, 9:00" in en
    assert "(number 2)" in en
    fr = texts.queued_closed(Language.FR, 2, at(2026, 12, 28, 9))
    assert "lundi 28 décembre, 9 h 00" in fr and fr.index("1-844-750-1648") < fr.index("Retour des pairs")
    both = texts.queued_closed(None, 1, None)
    assert "back later" in both and "plus tard" in both


async def test_a_texter_outside_hours_is_told_by_text(harness: Harness) -> None:
    from sms.twilio_server import LocalTwilio
    from tests.test_sms_bridge import FROM, SID, TOKEN, _bodies, text
    twilio = LocalTwilio(SID, TOKEN, status_callbacks=True, callback_delay_s=0.05)
    await twilio.start()
    try:
        srv = await harness.start(twilio_account_sid=SID, twilio_auth_token=TOKEN, twilio_from_number=FROM,
                                  twilio_api_base=twilio.base_url)
        await harness.add_peer("ada", role="admin")
        cookie = await harness.login("ada")
        assert (await _call(srv, "PUT", "/api/admin/hours", cookie, CLOSED)).status_code == 200
        assert (await text(srv, "hello")).status_code == 200
        first = (await _bodies(twilio, 1))[0]
        assert first.startswith("Peers are not available right now. To talk now, call the 24/7 line: 1-844-750-1648")
        assert "Les pairs aidants ne sont pas disponibles" in first
    finally:
        await twilio.aclose()
