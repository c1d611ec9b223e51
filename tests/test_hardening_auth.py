"""Hardening: the console's logins, sessions and handshake against a hostile visitor or insider (issue 6).

test_peer.py already proves the basics (403 without Origin or cookie, forged cookies, 401 for
a wrong password, throttling after five failures, logout and disable closing sockets, acting
on someone else's conversation); this file covers the variants an attacker would try next.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from typing import Any

import httpx
import pytest
import websockets

from peers import accounts
from tests.conftest import PASSWORD, Harness, Running
from tests.helpers import WS, t

ARGON2_OWASP_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


async def _login(srv: Running, username: str, password: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return await http.post("/api/login", json={"username": username, "password": password}, **kwargs)


async def _refused(srv: Running, cookie: str, origin: str | None = None) -> int:
    """The HTTP status of a refused /ws/peer handshake (fails if the handshake is accepted)."""
    with pytest.raises(websockets.InvalidStatus) as info:
        conn = await websockets.connect(srv.ws_url + "/ws/peer", origin=origin or srv.url,  # type: ignore[arg-type]
                                        additional_headers={"Cookie": f"chatd_session={cookie}"})
        await conn.close()
    return int(info.value.response.status_code)


async def _me(srv: Running, cookie: str) -> int:
    async with httpx.AsyncClient(base_url=srv.url) as http:
        return (await http.get("/api/me", headers={"Cookie": f"chatd_session={cookie}"})).status_code


# --- handshake -------------------------------------------------------------------------------
@pytest.mark.parametrize("origin", [
    pytest.param("null", id="null"),
    pytest.param("https://{host}", id="other-scheme"),
    pytest.param("http://localhost:{port}", id="other-host-name"),
    pytest.param("http://{host}.evil.example", id="suffix"),
    pytest.param("http://evil.example/{host}", id="path"),
    pytest.param("http://{host}/", id="trailing-slash"),
    pytest.param("http://127.0.0.1:1", id="other-port"),
])
async def test_peer_handshake_refuses_near_miss_origins(harness: Harness, origin: str) -> None:
    """Only the exact public origin opens a console socket, even with a valid cookie."""
    srv = await harness.start()
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    host = srv.url.removeprefix("http://")
    bad = origin.format(host=host, port=srv.settings.port)
    assert await _refused(srv, cookie, origin=bad) == 403
    ok = await harness.peer("alice", cookie=cookie)  # the same cookie with the right origin works
    await ok.next("queue")


async def test_an_expired_session_closes_its_socket_and_is_refused(harness: Harness) -> None:
    srv = await harness.start(session_ttl_s=t(1.5))
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    ws = await harness.peer("alice", cookie=cookie)
    assert await ws.closed(timeout=6) == 4401
    assert await _refused(srv, cookie) == 403
    assert await _me(srv, cookie) == 401


async def test_a_session_ended_behind_the_servers_back_closes_its_socket_within_seconds(harness: Harness) -> None:
    """Even when the kick event is missed (session deleted straight from Redis), the socket closes."""
    srv = await harness.start()
    await harness.add_peer("alice")
    ws = await harness.peer("alice")
    await srv.services.sessions.delete_all("alice")
    assert await ws.closed(timeout=5) == 4401


async def test_logout_and_disable_close_sockets_on_every_web_process(harness: Harness) -> None:
    web1 = await harness.start()
    web2 = await harness.start(worker=False)
    await harness.add_peer("alice")
    cookie_a = await harness.login("alice", web1)
    cookie_b = await harness.login("alice", web2)
    on_1 = await harness.peer("alice", cookie=cookie_a, server=web1)
    on_2 = await harness.peer("alice", cookie=cookie_a, server=web2)
    other_session = await harness.peer("alice", cookie=cookie_b, server=web2)
    async with httpx.AsyncClient(base_url=web1.url) as http:
        r = await http.post("/api/logout", headers={"Origin": web1.url, "Cookie": f"chatd_session={cookie_a}"})
        assert r.status_code == 200
    assert await on_1.closed(timeout=5) == 4401
    assert await on_2.closed(timeout=5) == 4401
    await other_session.none("error", within=0.2)
    await accounts.set_flags(web1.services.store, "alice", disabled=True)
    await web1.services.sessions.delete_all("alice")  # what `chatd supporters disable` does besides the flag
    assert await other_session.closed(timeout=5) == 4401
    assert await _refused(web2, cookie_b) == 403


async def test_login_and_logout_from_a_foreign_origin_are_refused(harness: Harness) -> None:
    """A web attacker's page cannot log a peer in or out (CSRF)."""
    srv = await harness.start()
    await harness.add_peer("alice")
    r = await _login(srv, "alice", PASSWORD, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403 and "chatd_session" not in r.cookies
    cookie = await harness.login("alice")
    ws = await harness.peer("alice", cookie=cookie)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/api/logout", headers={"Origin": "http://evil.example",
                                                    "Cookie": f"chatd_session={cookie}"})
        assert r.status_code == 403
    await ws.none("error", within=0.5)
    assert await _me(srv, cookie) == 200


# --- passwords -------------------------------------------------------------------------------
WRONG_PASSWORDS = [
    pytest.param("wrong-password-123", id="plain-wrong"),
    pytest.param(PASSWORD[:-1], id="one-char-short"),
    pytest.param(PASSWORD + "x", id="one-char-long"),
    pytest.param(PASSWORD.upper(), id="case-changed"),
    pytest.param(" " + PASSWORD, id="leading-space"),
    pytest.param(PASSWORD + "\x00", id="trailing-nul"),
    pytest.param(PASSWORD.replace("o", "\u043e"), id="cyrillic-homoglyph"),
    pytest.param("\uff43" + PASSWORD[1:], id="fullwidth-letter"),
    pytest.param("\U0001f510" * 20, id="emoji"),
    pytest.param("x" * 1024, id="longest-allowed"),
    pytest.param(PASSWORD + "x" * 1100, id="over-maximum"),
    pytest.param(PASSWORD * 100, id="repeated"),
]


@pytest.mark.parametrize("password", WRONG_PASSWORDS)
async def test_a_wrong_password_always_fails_for_every_kind_of_account(harness: Harness, password: str) -> None:
    """Enabled, supervisor, untrained and disabled accounts, and an unknown name: never a session."""
    srv = await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sup", role="supervisor")
    await harness.add_peer("newbie", trained=False)
    await harness.add_peer("gone")
    await accounts.set_flags(srv.services.store, "gone", disabled=True)
    for username in ("alice", "sup", "newbie", "gone", "nobody"):
        r = await _login(srv, username, password, headers={"Origin": srv.url})
        assert r.status_code in (401, 413), (username, r.status_code)
        assert "chatd_session" not in r.cookies and "set-cookie" not in r.headers
    # The right password still works (the failures were per account, below the throttle).
    assert (await _login(srv, "alice", PASSWORD)).status_code == 200
    assert (await _login(srv, "newbie", PASSWORD)).status_code == 200  # untrained may log in
    assert (await _login(srv, "gone", PASSWORD)).status_code == 401  # disabled never


async def test_unicode_and_longest_passwords_work_only_exactly(harness: Harness) -> None:
    srv = await harness.start()
    unicode_pw = "mot-de-passe-\u00e9t\u00e9-\U0001f510-\u65e5\u672c"
    long_pw = ("\u00e9" + PASSWORD) * 46  # 1,012 characters, over 2,000 bytes
    await accounts.create(srv.services.store, "uni", "Uni", "peer", True, unicode_pw)
    await accounts.create(srv.services.store, "long", "Long", "peer", True, long_pw)
    assert (await _login(srv, "uni", unicode_pw)).status_code == 200
    assert (await _login(srv, "long", long_pw)).status_code == 200
    for username, wrong in (("uni", unicode_pw[:-1]), ("uni", unicode_pw.encode().decode("latin-1")),
                            ("long", long_pw[:-1]), ("long", long_pw[:72]), ("long", long_pw + "x")):
        r = await _login(srv, username, wrong)
        assert r.status_code == 401 and "chatd_session" not in r.cookies, (username, len(wrong))


async def test_throttle_refuses_even_the_right_password_and_counts_usernames_case_insensitively(
        harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    for i, name in enumerate(("alice", "ALICE", "Alice", "aLiCe", "alice")):
        assert (await _login(srv, name, f"guess-number-{i}")).status_code == 401
    r = await _login(srv, "alice", PASSWORD)
    assert r.status_code == 429 and "chatd_session" not in r.cookies


async def test_throttle_per_address_across_usernames(harness: Harness) -> None:
    """Fifty failures from one address, spread over many usernames, block that address."""
    srv = await harness.start()
    await harness.add_peer("alice")
    codes = [(await _login(srv, f"user{i}", "wrong-password-0")).status_code for i in range(50)]
    assert set(codes) == {401}
    r = await _login(srv, "alice", PASSWORD)
    assert r.status_code == 429 and "chatd_session" not in r.cookies


async def test_passwords_are_stored_as_argon2id_with_owasp_parameters(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    env = {"CHATD_DATABASE": str(srv.settings.database), "CHATD_DATA_DIR": str(srv.settings.data_dir),
           "CHATD_REDIS_URL": harness.redis_server.url, "CHATD_KEY_PREFIX": srv.settings.key_prefix,
           "CHATD_SECRET_KEY": srv.settings.secret_key, "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatd", "supporters", "add", "bob", "--display-name", "Bob", "--trained",
        "--password-stdin", env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = await proc.communicate((PASSWORD + "\n").encode())
    assert proc.returncode == 0, err
    with sqlite3.connect(srv.settings.database) as db:
        rows = dict(db.execute("SELECT username, password_hash FROM supporters").fetchall())
    assert set(rows) == {"alice", "bob"}
    for username, hashed in rows.items():
        assert hashed.startswith(ARGON2_OWASP_PREFIX), (username, hashed[:40])
        assert PASSWORD not in hashed
    assert rows["alice"] != rows["bob"]  # salted
    assert PASSWORD.encode() not in srv.settings.database.read_bytes()


# --- session fixation ------------------------------------------------------------------------
async def test_login_never_keeps_a_cookie_sent_before_it(harness: Harness) -> None:
    """A cookie set before login (the attacker's own valid session, or one they made up) is not the
    one after; the old session ends, and a socket open on it closes."""
    srv = await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("mallory")
    planted = await harness.login("mallory")  # the attacker plants their own session cookie
    planted_ws = await harness.peer("mallory", cookie=planted)
    r = await _login(srv, "alice", PASSWORD, headers={"Origin": srv.url, "Cookie": f"chatd_session={planted}"})
    assert r.status_code == 200
    fresh = r.cookies["chatd_session"]
    assert fresh != planted
    assert await planted_ws.closed(timeout=5) == 4401
    assert await _refused(srv, planted) == 403 and await _me(srv, planted) == 401
    assert (await _me(srv, fresh)) == 200
    made_up = "attacker-chosen-session-id.0123456789abcdef0123456789abcdef"
    r = await _login(srv, "alice", PASSWORD, headers={"Cookie": f"chatd_session={made_up}"})
    assert r.status_code == 200 and r.cookies["chatd_session"] not in (made_up, fresh)
    assert await _me(srv, made_up) == 401


# --- acting on someone else's conversation ---------------------------------------------------
async def _assigned(harness: Harness, peer: WS) -> tuple[WS, str]:
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="first", text="hello")
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=conv)
    await seeker.next("status", state="active")
    return seeker, conv


async def test_an_insider_cannot_take_decline_or_relabel_anothers_conversation(harness: Harness) -> None:
    """Declining someone else's offer, setting the language or transferring another's conversation
    to oneself, and acting on an ended conversation: refused, and nothing changes."""
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("mallory")
    alice = await harness.peer("alice", capacity=2)
    mallory = await harness.peer("mallory")
    seeker, welcome = await harness.seeker()
    conv = welcome["conversation"]
    await seeker.send(type="message", client_id="first", text="hello")
    offer = await alice.next("offer", conversation=conv)
    await mallory.send(type="decline", offer=offer["offer"])
    assert (await mallory.next("error"))["code"] == "offer_gone"
    await alice.send(type="accept", offer=offer["offer"])  # still alice's to take
    await alice.next("assigned", conversation=conv)
    for frame in ({"type": "language", "conversation": conv, "lang": "fr"},
                  {"type": "transfer", "conversation": conv, "to": "mallory"},
                  {"type": "message", "conversation": "f" * 32, "client_id": "x", "text": "hi"},
                  {"type": "end", "conversation": "f" * 32}):
        await mallory.send(**frame)
        assert (await mallory.next("error"))["code"] == "not_allowed", frame
    await mallory.none("offer", within=0.3)
    await alice.send(type="end", conversation=conv, outcome="resolved")
    await alice.next("ended", conversation=conv)
    await alice.send(type="message", conversation=conv, client_id="late", text="after the end")
    assert (await alice.next("error"))["code"] == "not_allowed"
    frames = await seeker.drain(0.3)
    assert not any(f["type"] == "message" and f.get("text") == "after the end" for f in frames)
    assert not any(f.get("lang") == "fr" for f in frames)
