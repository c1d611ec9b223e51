"""``POST /api/login``, ``POST /api/logout``, ``GET /api/me``."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatd.services import Services
from config.logging import get_logger
from config.textrules import NOT_TEXT, find_unencodable, is_utf8
from peers import accounts
from peers.sessions import COOKIE_NAME
from routing import envelope

log = get_logger(__name__)
MAX_BODY = 4096


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _origin_ok(request: Request, services: Services) -> bool:
    # Browsers send Origin on POST; a different one is a cross-site request. Tools without a
    # browser (curl, the smoke test) may send none, which SameSite=Strict cookies make harmless.
    origin = request.headers.get("origin")
    return origin is None or origin == services.settings.public_origin


async def login(request: Request) -> Response:
    services: Services = request.app.state.services
    if not _origin_ok(request, services):
        return _error(403, "forbidden", "cross-origin request")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "too_large", "request too large")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return _error(400, "bad_request", "expected JSON {username, password}")
    if not isinstance(data, dict):
        return _error(400, "bad_request", "expected JSON {username, password}")
    # json.loads takes "\ud800" escapes, and raw bytes with surrogatepass: a lone surrogate
    # would fail later, in hashing or Redis, as a 500; a NUL in the username, in the database.
    # The password is only ever hashed, never stored: any UTF-8 text may be tried (and fail).
    password_field = data.get("password")
    if (find_unencodable({k: v for k, v in data.items() if k != "password"}) is not None
            or (isinstance(password_field, str) and not is_utf8(password_field))):
        return _error(400, "bad_request", f"the username or password is {NOT_TEXT}")
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        return _error(400, "bad_request", "username and password must be non-empty strings")
    address = request.client.host if request.client else "-"
    if await services.sessions.throttled(username, address):
        log.warning("login.throttled")
        return _error(429, "too_many_attempts", "too many failed attempts: wait 15 minutes")
    supporter = await accounts.check_login(services.store, username, password)
    if supporter is None:
        await services.sessions.record_failure(username, address)
        log.info("login.failed")
        return _error(401, "unauthorized", "wrong username or password, or the account is disabled")
    await services.sessions.clear_failures(username, address)
    # Always a new session id: a cookie the client already had is never reused (no fixation).
    old = services.sessions.parse(request.cookies.get(COOKIE_NAME))
    if old is not None:
        await services.sessions.delete(old)
    cookie, _ = await services.sessions.create(supporter.username)
    log.info("login.succeeded", peer=supporter.username)
    response = JSONResponse({"username": supporter.username, "display_name": supporter.display_name,
                             "role": supporter.role, "trained": supporter.trained})
    response.set_cookie(COOKIE_NAME, cookie, max_age=int(services.settings.session_ttl_s), path="/",
                        httponly=True, samesite="strict", secure=services.settings.secure_cookies)
    return response


async def logout(request: Request) -> Response:
    services: Services = request.app.state.services
    if not _origin_ok(request, services):
        return _error(403, "forbidden", "cross-origin request")
    session_hash = services.sessions.parse(request.cookies.get(COOKIE_NAME))
    if session_hash is not None:
        user = await services.sessions.delete(session_hash)
        if user:
            await services.redis.publish(services.keys.ch_peer(user), envelope.pack_control("kick", session_hash))
            log.info("logout", peer=user)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=services.settings.secure_cookies)
    return response


async def me(request: Request) -> Response:
    services: Services = request.app.state.services
    session_hash = services.sessions.parse(request.cookies.get(COOKIE_NAME))
    user = await services.sessions.lookup(session_hash) if session_hash else None
    supporter = await services.store.get_supporter(user) if user else None
    if supporter is None or supporter.disabled:
        return _error(401, "unauthorized", "not logged in")
    return JSONResponse({"username": supporter.username, "display_name": supporter.display_name,
                         "role": supporter.role, "trained": supporter.trained})
