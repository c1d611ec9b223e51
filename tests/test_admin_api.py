"""The roster and audit API of contract section 9: roles, Origin, validation, sessions."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from records import Supporter
from tests.conftest import PASSWORD, Harness, Running

NEW_PASSWORD = "a-new-long-password-42"
PW = NEW_PASSWORD


async def _call(srv: Running, method: str, path: str, cookie: str | None = None, *, origin: str | None = "same",
                body: Any = None, raw: bytes | None = None) -> httpx.Response:
    headers = {}
    if origin is not None:
        headers["Origin"] = srv.url if origin == "same" else origin
    if cookie is not None:
        headers["Cookie"] = f"chatd_session={cookie}"
    async with httpx.AsyncClient(base_url=srv.url) as http:
        if raw is not None:
            return await http.request(method, path, headers={**headers, "Content-Type": "application/json"},
                                      content=raw)
        return await http.request(method, path, headers=headers, json=body)


async def _roster(srv: Running) -> list[Supporter]:
    return await srv.services.store.list_supporters()


@pytest.fixture
async def program(harness: Harness) -> tuple[Running, dict[str, str]]:
    """A server with an admin, a supervisor and a peer, each logged in (their cookies)."""
    srv = await harness.start()
    cookies = {}
    for name, role in (("ada", "admin"), ("sue", "supervisor"), ("pat", "peer")):
        await harness.add_peer(name, role=role)
        cookies[name] = await harness.login(name)
    return srv, cookies


ENDPOINTS = [
    pytest.param("GET", "/api/admin/supporters", None, id="list"),
    pytest.param("POST", "/api/admin/supporters", {"username": "new", "display_name": "New", "role": "peer",
                                                    "password": NEW_PASSWORD}, id="add"),
    pytest.param("PATCH", "/api/admin/supporters/pat", {"trained": False}, id="edit"),
    pytest.param("GET", "/api/admin/audit", None, id="audit"),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_roster_endpoints_refuse_no_session_peers_and_supervisors(
        program: tuple[Running, dict[str, str]], method: str, path: str, body: Any) -> None:
    """401 without a session, 403 for a peer and for a supervisor, and nothing changes."""
    srv, cookies = program
    before = await _roster(srv)
    assert (await _call(srv, method, path, None, body=body)).status_code == 401
    assert (await _call(srv, method, path, "forged.cookie", body=body)).status_code == 401
    assert (await _call(srv, method, path, cookies["pat"], body=body)).status_code == 403
    assert (await _call(srv, method, path, cookies["sue"], body=body)).status_code == 403
    assert await _roster(srv) == before
    assert await srv.services.store.account_audit() == []


@pytest.mark.parametrize(("method", "path", "body"), [p for p in ENDPOINTS if p.values[0] != "GET"])
async def test_writes_need_the_public_origin(program: tuple[Running, dict[str, str]], method: str, path: str,
                                             body: Any) -> None:
    srv, cookies = program
    before = await _roster(srv)
    for origin in ("https://evil.example", None):
        response = await _call(srv, method, path, cookies["ada"], origin=origin, body=body)
        assert response.status_code == 403, (origin, response.text)
    assert await _roster(srv) == before


async def test_admin_lists_adds_and_the_new_peer_logs_in_and_goes_on_shift(
        harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    listed = (await _call(srv, "GET", "/api/admin/supporters", cookies["ada"])).json()
    assert [a["username"] for a in listed] == ["ada", "pat", "sue"]
    assert listed[1] == {"username": "pat", "display_name": "Pat", "role": "peer", "trained": True,
                         "disabled": False, "languages": ["en", "fr"]}
    created = await _call(srv, "POST", "/api/admin/supporters", cookies["ada"], body={
        "username": "noor", "display_name": "Noor", "role": "peer", "trained": True, "languages": ["fr"],
        "password": NEW_PASSWORD})
    assert created.status_code == 201, created.text
    assert created.json() == {"username": "noor", "display_name": "Noor", "role": "peer", "trained": True,
                              "disabled": False, "languages": ["fr"]}
    cookie = await harness.login("noor", password=NEW_PASSWORD)
    ws = await harness.peer("noor", capacity=2, cookie=cookie)
    assert ws is not None
    again = await _call(srv, "POST", "/api/admin/supporters", cookies["ada"], body={
        "username": "noor", "display_name": "Other", "role": "peer", "password": NEW_PASSWORD})
    assert again.status_code == 409
    assert (await srv.services.store.get_supporter("noor")).display_name == "Noor"  # type: ignore[union-attr]


BAD_ADDS = [
    pytest.param({"username": "x", "display_name": "X", "role": "peer", "password": "x" * 11}, id="short-password"),
    pytest.param({"username": "Bad Name", "display_name": "X", "role": "peer", "password": PW}, id="username"),
    # "$" in a pattern also takes a final newline: "ada\n" would pass for "ada" in every list.
    pytest.param({"username": "ada\n", "display_name": "X", "role": "peer", "password": PW},
                 id="username-with-a-final-newline"),
    # A NUL is valid UTF-8 that PostgreSQL cannot store: refused on every backend.
    pytest.param({"username": "x", "display_name": "a\u0000b", "role": "peer", "password": PW}, id="nul-in-name"),
    pytest.param({"username": "x", "display_name": "\u200b ", "role": "peer", "password": PW}, id="blank-name"),
    pytest.param({"username": "x", "display_name": "X", "role": "root", "password": PW}, id="role"),
    pytest.param({"username": "x", "display_name": "X", "role": "peer", "trained": "yes", "password": PW},
                 id="trained-not-bool"),
    pytest.param({"username": "x", "display_name": "X", "role": "peer", "languages": ["de"], "password": PW},
                 id="language"),
    pytest.param({"username": "x", "display_name": "X", "role": "peer", "languages": "en", "password": PW},
                 id="languages-not-list"),
    pytest.param({"username": "x", "display_name": "X", "role": "peer"}, id="no-password"),
    pytest.param({"username": "x", "display_name": "X", "role": "peer", "password": PW, "admin": True},
                 id="unknown-field"),
    pytest.param([1, 2], id="not-an-object"),
]


@pytest.mark.parametrize("body", BAD_ADDS)
async def test_bad_additions_are_400_and_change_nothing(program: tuple[Running, dict[str, str]], body: Any) -> None:
    srv, cookies = program
    before = await _roster(srv)
    response = await _call(srv, "POST", "/api/admin/supporters", cookies["ada"], body=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "bad_request" and response.json()["message"]
    assert await _roster(srv) == before
    assert await srv.services.store.account_audit() == []


@pytest.mark.parametrize("raw", [
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b'{"display_name": "\\ud800"}', id="lone-surrogate"),
    pytest.param(b'{"display_name": "P\\u0000t"}', id="nul"),
    pytest.param(b'{"display_name": "Pat", "role": "root"}', id="one-bad-field-of-two"),
    pytest.param(b'{"password": "short"}', id="short-password"),
    pytest.param(b"{}", id="empty"),
])
async def test_bad_edits_are_400_and_change_nothing(program: tuple[Running, dict[str, str]], raw: bytes) -> None:
    srv, cookies = program
    before = await _roster(srv)
    response = await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"], raw=raw)
    assert response.status_code == 400, response.text
    assert await _roster(srv) == before
    assert await srv.services.store.account_audit() == []


async def test_editing_an_unknown_account_is_404(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    response = await _call(srv, "PATCH", "/api/admin/supporters/nobody", cookies["ada"], body={"trained": True})
    assert response.status_code == 404
    for name in ("pat%00x", "pat%0A"):  # no account can have such a name: 404, never a query
        response = await _call(srv, "PATCH", f"/api/admin/supporters/{name}", cookies["ada"], body={"trained": True})
        assert response.status_code == 404, (name, response.text)


async def test_names_no_account_can_have_are_refused_wherever_they_come_in(
        program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    for account in ("a%00", "ada%0A"):
        response = await _call(srv, "GET", f"/api/admin/audit?account={account}", cookies["ada"])
        assert response.status_code == 400, (account, response.text)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        login = await http.post("/api/login", json={"username": "ada\u0000", "password": "whatever"})
    assert login.status_code == 400 and login.json()["error"] == "bad_request"


async def test_edits_are_applied_and_audited_without_the_password(
        harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    response = await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"], body={
        "display_name": "Patricia", "role": "supervisor", "languages": ["fr", "en"], "trained": False,
        "password": NEW_PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json() == {"username": "pat", "display_name": "Patricia", "role": "supervisor",
                               "trained": False, "disabled": False, "languages": ["en", "fr"]}
    await harness.login("pat", password=NEW_PASSWORD)
    log = (await _call(srv, "GET", "/api/admin/audit?account=pat", cookies["ada"])).json()
    assert len(log) == 1
    entry = log[0]
    assert (entry["actor"], entry["action"], entry["account"]) == ("ada", "account.update", "pat")
    detail = json.loads(entry["detail"])
    assert detail == {"display_name": "Patricia", "role": "supervisor", "languages": ["en", "fr"],
                      "trained": False, "password": "reset"}
    stored = await srv.services.store.get_supporter("pat")
    assert stored is not None
    everything = json.dumps((await _call(srv, "GET", "/api/admin/audit", cookies["ada"])).json())
    assert NEW_PASSWORD not in everything and stored.password_hash not in everything


async def test_audit_is_newest_first_and_filtered_by_account(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    for body in ({"trained": False}, {"trained": True}):
        assert (await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"], body=body)).status_code == 200
    assert (await _call(srv, "PATCH", "/api/admin/supporters/sue", cookies["ada"],
                        body={"display_name": "Susan"})).status_code == 200
    everything = (await _call(srv, "GET", "/api/admin/audit", cookies["ada"])).json()
    assert [(e["account"], e["detail"]) for e in everything] == [
        ("sue", '{"display_name": "Susan"}'), ("pat", '{"trained": true}'), ("pat", '{"trained": false}')]
    only_pat = (await _call(srv, "GET", "/api/admin/audit?account=pat", cookies["ada"])).json()
    assert [e["detail"] for e in only_pat] == ['{"trained": true}', '{"trained": false}']


async def test_disabling_closes_sockets_ends_sessions_and_re_enabling_allows_login(
        harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    ws = await harness.peer("pat", capacity=1, cookie=cookies["pat"])
    response = await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"], body={"disabled": True})
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert await ws.closed(timeout=5) == 4401
    assert (await _call(srv, "GET", "/api/me", cookies["pat"])).status_code == 401
    async with httpx.AsyncClient(base_url=srv.url) as http:
        refused = await http.post("/api/login", json={"username": "pat", "password": PASSWORD},
                                  headers={"Origin": srv.url})
    assert refused.status_code == 401
    assert (await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"],
                        body={"disabled": False})).status_code == 200
    await harness.login("pat")


async def test_a_new_password_ends_the_accounts_other_sessions(
        harness: Harness, program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    other = await harness.login("ada")
    ws = await harness.peer("ada", cookie=other)
    response = await _call(srv, "PATCH", "/api/admin/supporters/ada", cookies["ada"], body={"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert await ws.closed(timeout=5) == 4401
    assert (await _call(srv, "GET", "/api/me", other)).status_code == 401
    assert (await _call(srv, "GET", "/api/me", cookies["ada"])).status_code == 200  # the one that changed it
    # Another account's new password ends all of its sessions.
    assert (await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"],
                        body={"password": NEW_PASSWORD})).status_code == 200
    assert (await _call(srv, "GET", "/api/me", cookies["pat"])).status_code == 401


async def test_an_admin_cannot_lock_itself_out(program: tuple[Running, dict[str, str]]) -> None:
    srv, cookies = program
    before = await _roster(srv)
    for body in ({"disabled": True}, {"role": "peer"}):
        response = await _call(srv, "PATCH", "/api/admin/supporters/ada", cookies["ada"], body=body)
        assert response.status_code == 400
    assert await _roster(srv) == before


async def test_a_role_change_ends_the_accounts_sessions(harness: Harness,
                                                        program: tuple[Running, dict[str, str]]) -> None:
    """A demoted supervisor's console closes at once (4401): its role was taken at sign-in."""
    srv, cookies = program
    ws = await harness.peer("sue", cookie=cookies["sue"])
    response = await _call(srv, "PATCH", "/api/admin/supporters/sue", cookies["ada"], body={"role": "peer"})
    assert response.status_code == 200 and response.json()["role"] == "peer"
    assert await ws.closed(timeout=5) == 4401
    assert (await _call(srv, "GET", "/api/me", cookies["sue"])).status_code == 401
    # Other edits leave the sessions alone.
    assert (await _call(srv, "PATCH", "/api/admin/supporters/pat", cookies["ada"],
                        body={"display_name": "Pat B"})).status_code == 200
    assert (await _call(srv, "GET", "/api/me", cookies["pat"])).status_code == 200
