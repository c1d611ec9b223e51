"""Who may call the program-operations API (contract section 9), and reading its JSON bodies.

Every call needs a live console session (401 without one); every method but GET an ``Origin``
equal to the public URL's origin (403 otherwise: unlike login, a browser-less caller without
``Origin`` is refused too, as the contract says "for anything but GET"); then a role: ``admin``
for the roster, hours, canned responses and audit log, ``admin`` or ``supervisor`` for the
statistics (403 otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatd.services import Services
from config.textrules import NOT_TEXT, find_unencodable
from peers.sessions import COOKIE_NAME
from records import Supporter

ADMIN = ("admin",)
STATS_READERS = ("admin", "supervisor")
MAX_BODY = 64 * 1024  # canned responses in two languages are the largest body


class Refused(Exception):
    """The request is answered with ``response`` and nothing is changed."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = error(status, code, message)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})


class Caller:
    """The account behind a request and its session (``session_hash``)."""

    def __init__(self, supporter: Supporter, session_hash: str) -> None:
        self.supporter = supporter
        self.session_hash = session_hash

    @property
    def username(self) -> str:
        return self.supporter.username


async def authorize(request: Request, roles: tuple[str, ...]) -> Caller:
    """The caller, or Refused: 401 without a live session of an enabled account, 403 for a
    foreign (or missing) Origin on a write or a role not in ``roles``."""
    services: Services = request.app.state.services
    session_hash = services.sessions.parse(request.cookies.get(COOKIE_NAME))
    user = await services.sessions.lookup(session_hash) if session_hash else None
    supporter = await services.store.get_supporter(user) if user else None
    if session_hash is None or supporter is None or supporter.disabled:
        raise Refused(401, "unauthorized", "log in first")
    if request.method != "GET" and request.headers.get("origin") != services.settings.public_origin:
        raise Refused(403, "forbidden", "cross-origin request")
    if supporter.role not in roles:
        raise Refused(403, "forbidden", f"this needs the role {' or '.join(roles)}")
    return Caller(supporter, session_hash)


async def read_object(request: Request) -> dict[str, Any]:
    """The request's JSON object, or Refused (400, 413): not JSON, not an object, or holding
    text that is not valid Unicode (a lone surrogate would fail later, in the database)."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Refused(413, "too_large", "request too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "bad_request", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise Refused(400, "bad_request", "the body must be a JSON object")
    bad = find_unencodable(data)
    if bad is not None:
        raise Refused(400, "bad_request", f"{bad} is {NOT_TEXT}")
    return data


Handler = Callable[[Request, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(roles: tuple[str, ...]) -> Callable[[Handler], Endpoint]:
    """Decorate an endpoint ``(request, caller) -> Response``: authorize first, and answer a
    Refused raised anywhere inside with its response."""
    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                caller = await authorize(request, roles)
                response: Response = await handler(request, caller)
            except Refused as refused:
                return refused.response
            return response
        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint
    return wrap
