"""The program's settings kept in the records: service hours and canned responses (issue 12).

``GET/PUT /api/admin/hours`` (admin), ``GET /api/canned`` (any console session),
``PUT /api/admin/canned`` (admin). A change is stored, audited, and announced on
``P:ev:program``; every web process drops its cached copy on that event and, for canned
responses, tells its consoles (``canned_changed``), which fetch them again without a reload.
The canned responses are seeded from the shipped file (chatd/static/canned.json) on first use.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatd.adminauth import ADMIN, Caller, Refused, authorize, guarded, read_object
from chatd.services import Services
from config.logging import get_logger
from config.textrules import is_blank
from records import Records
from routing import frames, hours

log = get_logger(__name__)
CANNED_FILE = Path(__file__).parent / "static" / "canned.json"
HOURS, CANNED = "service_hours", "canned_responses"
MAX_CANNED = 100
MAX_LABEL, MAX_TEXT = 60, 2000
ALL_ROLES = ("peer", "supervisor", "admin")


class ProgramCache:
    """This process's copy of the hours and canned responses, read from the records on first
    use and dropped when any process announces a change (``ProgramListener``)."""

    def __init__(self, store: Records) -> None:
        self.store = store
        self._hours: hours.ServiceHours | None = None
        self._canned: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self, what: str) -> None:
        if what == "hours":
            self._hours = None
        elif what == "canned":
            self._canned = None

    async def hours(self) -> hours.ServiceHours:
        current = self._hours
        if current is None:
            current = hours.load(await self.store.program_setting(HOURS))
            self._hours = current
        return current

    async def canned(self) -> dict[str, Any]:
        current = self._canned
        if current is not None:
            return current
        async with self._lock:  # one seeding per process; two processes seed the same file
            stored = await self.store.program_setting(CANNED)
            if stored is None:
                stored = CANNED_FILE.read_text(encoding="utf-8")
                parsed = validate_canned(json.loads(stored))
                await self.store.set_program_setting(CANNED, json.dumps(parsed, ensure_ascii=False), "system",
                                                     int(time.time() * 1000))
                log.info("canned.seeded")
            loaded: dict[str, Any] = json.loads(stored)
            self._canned = loaded
            return loaded


class ProgramListener:
    """Subscriber on ``P:ev:program``: drops the cached setting; tells consoles of new canned
    responses."""

    def __init__(self, services: Services, cache: ProgramCache) -> None:
        self.services = services
        self.cache = cache

    def deliver(self, channel: str, data: str) -> None:
        self.cache.invalidate(data)
        if data == "canned":
            frame = frames.encode(frames.CannedChanged())
            for peer in list(self.services.peers):
                peer.send(frame)

    def resync(self) -> None:
        # Events may have been missed while the pub/sub connection was down.
        self.cache.invalidate("hours")
        self.cache.invalidate("canned")


def cache_of(services: Services) -> ProgramCache:
    cache: ProgramCache = services.program
    return cache


async def seeker_service(services: Services) -> frames.Service:
    """The ``service`` field of a seeker's ``welcome``."""
    tz = ZoneInfo(services.settings.timezone)
    view = hours.seeker_view(await cache_of(services).hours(), datetime.now(UTC), tz)
    return frames.Service(open=view["open"], next_open=view["next_open"], timezone=view["timezone"])


def validate_canned(data: Any) -> dict[str, list[dict[str, str]]]:
    """``{"en": [{label, text}…], "fr": […]}`` checked and trimmed; raises Refused (400)."""
    if not isinstance(data, dict) or set(data) != {"en", "fr"}:
        raise Refused(400, "bad_request", "canned responses: an object with the lists en and fr")
    out: dict[str, list[dict[str, str]]] = {}
    for lang in ("en", "fr"):
        items = data[lang]
        if not isinstance(items, list) or len(items) > MAX_CANNED:
            raise Refused(400, "bad_request", f"{lang}: a list of at most {MAX_CANNED} responses")
        out[lang] = []
        for i, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != {"label", "text"}:
                raise Refused(400, "bad_request", f"{lang}[{i}]: an object with label and text")
            label, text = item["label"], item["text"]
            if not isinstance(label, str) or is_blank(label) or len(label) > MAX_LABEL:
                raise Refused(400, "bad_request", f"{lang}[{i}].label: 1 to {MAX_LABEL} characters")
            if not isinstance(text, str) or is_blank(text) or len(text) > MAX_TEXT:
                raise Refused(400, "bad_request", f"{lang}[{i}].text: 1 to {MAX_TEXT} characters")
            out[lang].append({"label": label.strip(), "text": text.strip()})
    return out


async def _announce(services: Services, what: str) -> None:
    await services.redis.publish(services.keys.ch_program, what)


async def _hours_response(services: Services) -> Response:
    current = await cache_of(services).hours()
    tz = ZoneInfo(services.settings.timezone)
    return JSONResponse({**current.to_json(), "timezone": tz.key,
                         "now": hours.seeker_view(current, datetime.now(UTC), tz)},
                        headers={"Cache-Control": "no-store"})


@guarded(ADMIN)
async def get_hours(request: Request, caller: Caller) -> Response:
    """The hours, the program's zone, and whether it is open now."""
    return await _hours_response(request.app.state.services)


@guarded(ADMIN)
async def put_hours(request: Request, caller: Caller) -> Response:
    """Replace the hours: ``{"weekly": {…} | null, "holidays": […]}`` (routing/hours.py)."""
    services: Services = request.app.state.services
    data = await read_object(request)
    try:
        parsed = hours.parse(data)
    except hours.HoursError as exc:
        raise Refused(400, "bad_request", str(exc)) from None
    value = json.dumps(parsed.to_json(), ensure_ascii=False)
    now_ms = int(time.time() * 1000)
    await services.store.set_program_setting(HOURS, value, caller.username, now_ms)
    await services.store.audit_account(caller.username, "hours.update", None, value, now_ms)
    cache_of(services).invalidate("hours")
    await _announce(services, "hours")
    log.info("program.hours_updated", admin=caller.username)
    return await _hours_response(services)


async def get_canned(request: Request) -> Response:
    """The canned responses, for any console session."""
    try:
        await authorize(request, ALL_ROLES)
    except Refused as refused:
        return refused.response
    services: Services = request.app.state.services
    return JSONResponse(await cache_of(services).canned(), headers={"Cache-Control": "no-store"})


@guarded(ADMIN)
async def put_canned(request: Request, caller: Caller) -> Response:
    """Replace the canned responses of both languages."""
    services: Services = request.app.state.services
    parsed = validate_canned(await read_object(request))
    now_ms = int(time.time() * 1000)
    await services.store.set_program_setting(CANNED, json.dumps(parsed, ensure_ascii=False), caller.username, now_ms)
    await services.store.audit_account(caller.username, "canned.update", None,
                                       json.dumps({"en": len(parsed["en"]), "fr": len(parsed["fr"])}), now_ms)
    cache_of(services).invalidate("canned")
    await _announce(services, "canned")
    log.info("program.canned_updated", admin=caller.username)
    return JSONResponse(parsed)


def program_routes() -> list[BaseRoute]:
    return [
        Route("/api/admin/hours", get_hours, methods=["GET"]),
        Route("/api/admin/hours", put_hours, methods=["PUT"]),
        Route("/api/canned", get_canned, methods=["GET"]),
        Route("/api/admin/canned", put_canned, methods=["PUT"]),
    ]
