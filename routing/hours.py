"""Service hours: when the program promises that peers are available (issue 12).

Weekly opening hours and holiday closures in the program's time zone (``CHATD_TIMEZONE``),
stored as one JSON document in the records (``program_settings`` 'service_hours'); none stored
means always open. The hours describe the promise, not a lock: peers may go on shift at any
time, and a seeker who writes outside hours while a peer is on shift is offered to that peer as
usual. Outside hours with nobody on shift, the seeker is escalated at once with reason
``no_peer_on_shift``, as at any time nobody is on shift.

Plain functions and a frozen value: no I/O, so tests drive them with any clock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # ASCII digits only
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z|^24:00\Z")
MAX_INTERVALS = 4  # per day
MAX_HOLIDAYS = 400
LOOKAHEAD_DAYS = 400  # next_open looks this far; a program closed longer is "not scheduled"


class HoursError(ValueError):
    """A service-hours document is not valid; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class ServiceHours:
    """``weekly``: for each day Monday first, its opening intervals as minutes since midnight
    ``(open, close)``, close > open, up to 24 * 60; None: open at all times (the default).
    ``holidays``: whole days closed, with a note for the admins."""

    weekly: tuple[tuple[tuple[int, int], ...], ...] | None = None
    holidays: tuple[tuple[str, str], ...] = ()

    @property
    def always_open(self) -> bool:
        return self.weekly is None and not self.holidays

    def to_json(self) -> dict[str, Any]:
        weekly = None if self.weekly is None else {
            DAYS[i]: [[_hhmm(a), _hhmm(b)] for a, b in day] for i, day in enumerate(self.weekly)}
        return {"weekly": weekly, "holidays": [{"date": d, "note": n} for d, n in self.holidays]}

    def is_open(self, now: datetime) -> bool:
        """Whether ``now`` (aware) is within the hours, in the zone of ``now``."""
        if any(d == now.date().isoformat() for d, _ in self.holidays):
            return False
        if self.weekly is None:
            return True
        minute = now.hour * 60 + now.minute
        return any(a <= minute < b for a, b in self.weekly[now.weekday()])

    def next_open(self, now: datetime) -> datetime | None:
        """The next moment at or after ``now`` when the program is open (``now`` itself when it
        is open); None when nothing within LOOKAHEAD_DAYS is open."""
        if self.is_open(now):
            return now
        tz = now.tzinfo
        closed = {d for d, _ in self.holidays}
        for offset in range(LOOKAHEAD_DAYS):
            day = now.date() + timedelta(days=offset)
            if day.isoformat() in closed:
                continue
            intervals = ((0, 24 * 60),) if self.weekly is None else self.weekly[day.weekday()]
            for a, _b in intervals:
                start = datetime.combine(day, time(a // 60, a % 60), tzinfo=tz)
                if start > now:
                    return start
        return None


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(text: Any, where: str) -> int:
    if not isinstance(text, str) or not _HHMM.match(text):
        raise HoursError(f"{where}: a time HH:MM between 00:00 and 24:00")
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def parse(data: Any) -> ServiceHours:
    """A ServiceHours from its JSON form ``{"weekly": {"mon": [["09:00", "17:00"]], …} | null,
    "holidays": [{"date": "YYYY-MM-DD", "note": "…"}]}``; raises HoursError."""
    if not isinstance(data, dict) or set(data) - {"weekly", "holidays"}:
        raise HoursError("service hours: an object with weekly and holidays")
    weekly_in = data.get("weekly")
    weekly: tuple[tuple[tuple[int, int], ...], ...] | None = None
    if weekly_in is not None:
        if not isinstance(weekly_in, dict) or set(weekly_in) - set(DAYS):
            raise HoursError(f"weekly: an object with the days {', '.join(DAYS)}")
        days = []
        for name in DAYS:
            intervals = weekly_in.get(name, [])
            if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
                raise HoursError(f"weekly.{name}: a list of at most {MAX_INTERVALS} [open, close] pairs")
            parsed = []
            for i, pair in enumerate(intervals):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise HoursError(f"weekly.{name}[{i}]: a pair [open, close]")
                a, b = _minutes(pair[0], f"weekly.{name}[{i}]"), _minutes(pair[1], f"weekly.{name}[{i}]")
                if b <= a:
                    raise HoursError(f"weekly.{name}[{i}]: closes before it opens")
                parsed.append((a, b))
            parsed.sort()
            if any(parsed[j][1] > parsed[j + 1][0] for j in range(len(parsed) - 1)):
                raise HoursError(f"weekly.{name}: intervals overlap")
            days.append(tuple(parsed))
        weekly = tuple(days)
    holidays_in = data.get("holidays", [])
    if not isinstance(holidays_in, list) or len(holidays_in) > MAX_HOLIDAYS:
        raise HoursError(f"holidays: a list of at most {MAX_HOLIDAYS}")
    holidays: list[tuple[str, str]] = []
    for i, item in enumerate(holidays_in):
        if not isinstance(item, dict) or not isinstance(item.get("date"), str) or set(item) - {"date", "note"}:
            raise HoursError(f"holidays[{i}]: an object with date and note")
        try:
            # fromisoformat also takes 20261225 and 2026-W52-5: only YYYY-MM-DD is the API's.
            if not _DATE.match(item["date"]):
                raise ValueError(item["date"])
            day = date.fromisoformat(item["date"])
        except ValueError:
            raise HoursError(f"holidays[{i}].date: a date YYYY-MM-DD") from None
        if any(d == day.isoformat() for d, _ in holidays):
            raise HoursError(f"holidays[{i}].date: {day.isoformat()} is listed twice")
        note = item.get("note", "")
        if not isinstance(note, str) or len(note) > 200:
            raise HoursError(f"holidays[{i}].note: text of at most 200 characters")
        holidays.append((day.isoformat(), note.strip()))
    return ServiceHours(weekly, tuple(sorted(set(holidays))))


def load(stored: str | None) -> ServiceHours:
    """The hours from the records' JSON text; the default (always open) when none is stored."""
    return ServiceHours() if stored is None else parse(json.loads(stored))


def seeker_view(hours: ServiceHours, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The ``service`` field of the seeker's ``welcome`` frame (docs/protocol.md): whether
    peers are available now, and if not, when next (ISO 8601 with the offset) and in what zone."""
    local = now.astimezone(tz)
    is_open = hours.is_open(local)
    nxt = None if is_open else hours.next_open(local)
    return {"open": is_open, "next_open": None if nxt is None else nxt.isoformat(timespec="minutes"),
            "timezone": tz.key}
