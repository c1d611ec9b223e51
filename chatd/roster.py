"""The roster API (contract section 9): ``GET/POST /api/admin/supporters``,
``PATCH /api/admin/supporters/<username>``, ``GET /api/admin/audit``; and ending an account's
sessions, which the ``chatd supporters disable`` command shares.

Each change is validated whole before anything is written (400: nothing changed) and written
to the audit log with the admin who made it; a password or its hash never reaches the log.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from chatd.adminauth import ADMIN, Caller, Refused, guarded, read_object
from chatd.services import Services
from config.logging import get_logger
from config.textrules import is_blank
from peers import accounts
from peers.errors import AccountExists, InvalidAccount
from peers.sessions import Sessions
from records import Supporter, replies
from records.keyspace import Keys
from routing import envelope

log = get_logger(__name__)
MIN_API_PASSWORD = 12  # the API asks more than the CLI's 10: a password typed by someone else
AUDIT_LIMIT = 500
EDITABLE = ("display_name", "role", "trained", "disabled", "languages", "password")


async def end_sessions(redis: Redis, keys: Keys, sessions: Sessions, username: str,
                       keep: str | None = None) -> None:
    """End the account's sessions and close their sockets with 4401 (contract section 3), all
    of them, or all but the session ``keep`` (a password changed by its own owner)."""
    if keep is None:
        await sessions.delete_all(username)
        await redis.publish(keys.ch_peer(username), envelope.pack_control("kick", "*"))
        return
    for session_hash in replies.texts(await redis.smembers(keys.user_sessions(username))):
        if session_hash != keep:
            await sessions.delete(session_hash)
            await redis.publish(keys.ch_peer(username), envelope.pack_control("kick", session_hash))


def account_json(s: Supporter) -> dict[str, Any]:
    return {"username": s.username, "display_name": s.display_name, "role": s.role, "trained": s.trained,
            "disabled": s.disabled, "languages": list(s.languages)}


def _bool(data: dict[str, Any], name: str) -> bool:
    value = data[name]
    if not isinstance(value, bool):
        raise Refused(400, "bad_request", f"{name}: true or false")
    return value


def _text(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise Refused(400, "bad_request", f"{name}: a string")
    return value


def _display_name(value: str) -> str:
    if is_blank(value) or len(value) > 80:
        raise Refused(400, "bad_request", "display_name: 1-80 characters, not all invisible")
    return value.strip()


def _password(value: str) -> str:
    if not MIN_API_PASSWORD <= len(value) <= accounts.MAX_PASSWORD:
        raise Refused(400, "bad_request", f"password: {MIN_API_PASSWORD} to {accounts.MAX_PASSWORD} characters")
    return value


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Refused(400, "bad_request", "languages: a list such as [\"en\", \"fr\"]")
    try:
        return accounts.parse_languages(value)
    except InvalidAccount as exc:
        raise Refused(400, "bad_request", str(exc)) from None


def _role(value: str) -> str:
    if value not in accounts.ROLES:
        raise Refused(400, "bad_request", f"role: one of {', '.join(accounts.ROLES)}")
    return value


async def _audit(services: Services, caller: Caller, action: str, account: str, detail: dict[str, Any]) -> None:
    await services.store.audit_account(caller.username, action, account, json.dumps(detail, ensure_ascii=False),
                                       int(time.time() * 1000))


@guarded(ADMIN)
async def list_supporters(request: Request, caller: Caller) -> Response:
    """Every account, by username."""
    services: Services = request.app.state.services
    return JSONResponse([account_json(s) for s in await services.store.list_supporters()])


@guarded(ADMIN)
async def add_supporter(request: Request, caller: Caller) -> Response:
    """Create an account: 201, 409 when the username is taken, 400 for an invalid field."""
    services: Services = request.app.state.services
    data = await read_object(request)
    missing = [f for f in ("username", "display_name", "role", "password") if f not in data]
    unknown = sorted(set(data) - {"username", "display_name", "role", "trained", "languages", "password"})
    if missing or unknown:
        raise Refused(400, "bad_request", f"missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}")
    username = _text(data, "username")
    if not accounts.USERNAME_RE.match(username):
        raise Refused(400, "bad_request", "username: 1-64 characters, lower-case letters, digits, '.', '_' or '-'")
    display_name = _display_name(_text(data, "display_name"))
    role = _role(_text(data, "role"))
    trained = _bool(data, "trained") if "trained" in data else False
    languages = _languages(data["languages"]) if "languages" in data else accounts.LANGUAGES
    password = _password(_text(data, "password"))
    try:
        await accounts.create(services.store, username, display_name, role, trained, password, languages)
    except AccountExists as exc:
        raise Refused(409, "exists", str(exc)) from None
    except InvalidAccount as exc:
        raise Refused(400, "bad_request", str(exc)) from None
    await _audit(services, caller, "account.create", username,
                 {"display_name": display_name, "role": role, "trained": trained, "languages": list(languages)})
    log.info("roster.account_created", admin=caller.username, peer=username)
    created = await services.store.get_supporter(username)
    if created is None:  # deleted in between: there is no delete, so this is the database failing
        raise Refused(500, "internal", "the account was not stored")
    return JSONResponse(account_json(created), status_code=201)


@guarded(ADMIN)
async def update_supporter(request: Request, caller: Caller) -> Response:
    """Change any of EDITABLE: 200 with the account, 404 when unknown, 400 for an invalid field."""
    services: Services = request.app.state.services
    username = request.path_params["username"]
    data = await read_object(request)
    if not accounts.USERNAME_RE.match(username):  # no such account can exist (nor reach SQL)
        raise Refused(404, "not_found", "no account has that name")
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown or not data:
        raise Refused(400, "bad_request", f"give any of {', '.join(EDITABLE)}"
                      + (f"; unknown: {', '.join(unknown)}" if unknown else ""))
    changes: dict[str, Any] = {}
    if "display_name" in data:
        changes["display_name"] = _display_name(_text(data, "display_name"))
    if "role" in data:
        changes["role"] = _role(_text(data, "role"))
    for flag in ("trained", "disabled"):
        if flag in data:
            changes[flag] = _bool(data, flag)
    if "languages" in data:
        changes["languages"] = _languages(data["languages"])
    password = _password(_text(data, "password")) if "password" in data else None
    # An admin cannot lock itself out: the program would be left without anyone to undo it.
    if username == caller.username and (changes.get("disabled") or changes.get("role", "admin") != "admin"):
        raise Refused(400, "bad_request", "you cannot disable your own account or give up its admin role")
    before = await services.store.get_supporter(username)
    if before is None:
        raise Refused(404, "not_found", f"no account named {username!r}")
    password_hash = await asyncio.to_thread(accounts.HASHER.hash, password) if password is not None else None
    if not await services.store.update_supporter(username, password_hash=password_hash, **changes):
        raise Refused(404, "not_found", f"no account named {username!r}")
    detail = {k: list(v) if isinstance(v, tuple) else v for k, v in changes.items()}
    if password is not None:
        detail["password"] = "reset"  # noqa: S105 (that it changed; never the password or its hash)
    await _audit(services, caller, "account.update", username, detail)
    # A console holds its account's role from sign-in: a changed role ends the sessions, so a
    # demoted supervisor loses monitoring and whispers at once, not at the next sign-in.
    if changes.get("disabled") or changes.get("role", before.role) != before.role:
        await end_sessions(services.redis, services.keys, services.sessions, username)
    elif password is not None:
        keep = caller.session_hash if username == caller.username else None
        await end_sessions(services.redis, services.keys, services.sessions, username, keep=keep)
    log.info("roster.account_updated", admin=caller.username, peer=username, fields=sorted(detail))
    updated = await services.store.get_supporter(username)
    if updated is None:
        raise Refused(404, "not_found", f"no account named {username!r}")
    return JSONResponse(account_json(updated))


@guarded(ADMIN)
async def audit_log(request: Request, caller: Caller) -> Response:
    """The audit log newest first, optionally only entries by or about ``?account=``."""
    services: Services = request.app.state.services
    account = request.query_params.get("account") or None
    if account is not None and not accounts.USERNAME_RE.match(account):
        raise Refused(400, "bad_request", "account: a username (lower-case letters, digits, '.', '_' or '-')")
    entries = await services.store.account_audit(account, AUDIT_LIMIT)
    return JSONResponse([{"at_ms": e.at_ms, "actor": e.actor, "action": e.action, "account": e.account,
                          "conversation": e.conversation, "detail": e.detail} for e in entries],
                        headers={"Cache-Control": "no-store"})


def roster_routes() -> list[BaseRoute]:
    return [
        Route("/api/admin/supporters", list_supporters, methods=["GET"]),
        Route("/api/admin/supporters", add_supporter, methods=["POST"]),
        Route("/api/admin/supporters/{username}", update_supporter, methods=["PATCH"]),
        Route("/api/admin/audit", audit_log, methods=["GET"]),
    ]
