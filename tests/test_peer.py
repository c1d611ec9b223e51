"""The peer console: handshake, shifts, offers, transfers, notes, supervisors."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
import websockets

from tests.conftest import PASSWORD, Harness
from tests.helpers import WS, t


async def _waiting_seeker(harness: Harness, text: str = "hello") -> tuple[WS, str]:
    seeker, welcome = await harness.seeker()
    await seeker.send(type="message", client_id="first", text=text)
    await seeker.next("ack", client_id="first")
    return seeker, welcome["conversation"]


async def _assigned(harness: Harness, peer: WS) -> tuple[WS, str]:
    seeker, conv = await _waiting_seeker(harness)
    offer = await peer.next("offer", conversation=conv)
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned", conversation=conv)
    await seeker.next("status", state="active")
    await seeker.next("message", **{"from": "system"})  # "a peer has joined"
    return seeker, conv


# --- handshake and sessions ---------------------------------------------------------------
@pytest.mark.parametrize("origin,with_cookie", [
    pytest.param(None, True, id="no-origin"),
    pytest.param("http://evil.example", True, id="foreign-origin"),
    pytest.param("SAME", False, id="no-cookie"),
])
async def test_peer_handshake_refused_with_403(harness: Harness, origin: str | None, with_cookie: bool) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    headers = {"Cookie": f"chatd_session={cookie}"} if with_cookie else {}
    with pytest.raises(websockets.InvalidStatus) as info:
        await websockets.connect(srv.ws_url + "/ws/peer", origin=(srv.url if origin == "SAME" else origin),  # type: ignore[arg-type]
                                 additional_headers=headers)
    assert info.value.response.status_code == 403


async def test_forged_cookie_is_refused(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    sid, _, sig = cookie.rpartition(".")
    other_first = "y" if cookie[0] == "x" else "x"  # "x" + cookie[1:] is no forgery when it starts with x
    for forged in (sid + ".0" * 16, other_first + cookie[1:], "nonsense", sid):
        with pytest.raises(websockets.InvalidStatus) as info:
            await websockets.connect(srv.ws_url + "/ws/peer", origin=srv.url,  # type: ignore[arg-type]
                                     additional_headers={"Cookie": f"chatd_session={forged}"})
        assert info.value.response.status_code == 403


async def test_login_answers_cookie_flags_and_401_for_wrong_password(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice", role="supervisor")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        for wrong in ("wrong-password", PASSWORD + " ", PASSWORD.upper(), ""):
            r = await http.post("/api/login", json={"username": "alice", "password": wrong})
            assert r.status_code in (400, 401) and "chatd_session" not in r.cookies
        r = await http.post("/api/login", json={"username": "nobody", "password": PASSWORD})
        assert r.status_code == 401
        r = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 200 and r.json()["role"] == "supervisor"
        set_cookie = r.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "secure" not in set_cookie
        r = await http.post("/api/login", json={"username": ["alice"], "password": {"$ne": ""}})
        assert r.status_code == 400


async def test_login_gives_a_new_session_each_time(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    assert await harness.login("alice") != await harness.login("alice")


async def test_repeated_failures_are_throttled(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    async with httpx.AsyncClient(base_url=srv.url) as http:
        codes = [(await http.post("/api/login", json={"username": "alice", "password": f"bad-{i}"})).status_code
                 for i in range(7)]
        assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]
        # Even the right password waits out the window.
        r = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 429


async def test_logout_closes_that_sessions_sockets_with_4401(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    other_cookie = await harness.login("alice")
    ws = await harness.peer("alice", cookie=cookie)
    other = await harness.peer("alice", cookie=other_cookie)
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/api/logout", headers={"Origin": srv.url, "Cookie": f"chatd_session={cookie}"})
        assert r.status_code == 200
    assert await ws.closed(timeout=5) == 4401
    await other.send(type="shift", action="start", capacity=1)
    await other.next("shift", state="on")  # the other session lives on
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(srv.ws_url + "/ws/peer", origin=srv.url,  # type: ignore[arg-type]
                                 additional_headers={"Cookie": f"chatd_session={cookie}"})


async def test_disabling_an_account_closes_its_sockets_and_ends_sessions(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice")
    ws = await harness.peer("alice")
    cookie = await harness.login("alice")
    env = {"CHATD_REDIS_URL": harness.redis_server.url, "CHATD_DATABASE": str(srv.settings.database),
           "CHATD_KEY_PREFIX": srv.settings.key_prefix, "CHATD_SECRET_KEY": srv.settings.secret_key,
           "CHATD_DATA_DIR": str(srv.settings.data_dir), "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "chatd", "supporters", "disable", "alice",
                                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    assert await ws.closed(timeout=5) == 4401
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(srv.ws_url + "/ws/peer", origin=srv.url,  # type: ignore[arg-type]
                                 additional_headers={"Cookie": f"chatd_session={cookie}"})
    async with httpx.AsyncClient(base_url=srv.url) as http:
        r = await http.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert r.status_code == 401


# --- shifts -------------------------------------------------------------------------------
async def test_untrained_account_cannot_go_on_shift(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("newbie", trained=False)
    ws = await harness.peer("newbie")
    await ws.send(type="shift", action="start", capacity=2)
    assert (await ws.next("error"))["code"] == "not_allowed"
    seeker, conv = await _waiting_seeker(harness)
    await ws.none("offer", within=0.5)


@pytest.mark.parametrize("frame", [
    pytest.param({"type": "shift", "action": "start", "capacity": 0}, id="capacity-0"),
    pytest.param({"type": "shift", "action": "start", "capacity": 6}, id="capacity-6"),
    pytest.param({"type": "shift", "action": "start", "capacity": "3"}, id="capacity-string"),
    pytest.param({"type": "shift", "action": "nap"}, id="unknown-action"),
])
async def test_bad_shift_frames_are_bad_request(harness: Harness, frame: dict[str, object]) -> None:
    await harness.start()
    await harness.add_peer("alice")
    ws = await harness.peer("alice")
    await ws.send(**frame)
    assert (await ws.next("error"))["code"] == "bad_request"


async def test_illegal_shift_transition_is_an_error_with_states(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    ws = await harness.peer("alice")
    await ws.send(type="shift", action="break")
    err = await ws.next("error")
    assert err["code"] == "not_allowed" and "off" in err["message"]


async def test_break_stops_offers_but_keeps_conversations(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=2)
    seeker, conv = await _assigned(harness, peer)
    await peer.send(type="shift", action="break")
    shift = await peer.next("shift", state="break")
    assert shift["active"] == 1 and shift["capacity"] == 2
    s2, conv2 = await _waiting_seeker(harness)
    await peer.none("offer", within=0.5)
    await s2.next("status", state="waiting", peers_on_shift=0)
    # Still talks on its active conversation.
    await peer.send(type="message", conversation=conv, client_id="m", text="still with you")
    await peer.next("ack", client_id="m")
    await peer.send(type="shift", action="start", capacity=2)
    await peer.next("shift", state="on")
    await peer.next("offer", conversation=conv2)


async def test_capacity_is_never_exceeded(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    peer = await harness.peer("alice", capacity=2)
    convs = [await _waiting_seeker(harness) for _ in range(4)]
    offers = [await peer.next("offer") for _ in range(2)]
    await peer.none("offer", within=0.5)
    for offer in offers:
        await peer.send(type="accept", offer=offer["offer"])
        await peer.next("assigned", conversation=offer["conversation"])
    await peer.none("offer", within=0.5)
    assert (await peer.next("shift", active=2))["capacity"] == 2
    assert {o["conversation"] for o in offers} == {c for _, c in convs[:2]}


# --- offers -------------------------------------------------------------------------------
async def test_offer_expires_and_goes_to_next_peer(harness: Harness) -> None:
    await harness.start(offer_timeout_s=t(0.6))
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1)
    await asyncio.sleep(0.05)
    bob = await harness.peer("bob", capacity=1)
    seeker, conv = await _waiting_seeker(harness)
    first = await alice.next("offer", conversation=conv)  # alice has idled longer
    assert (await alice.next("revoked", timeout=3))["offer"] == first["offer"]
    second = await bob.next("offer", conversation=conv, timeout=3)
    await alice.send(type="accept", offer=first["offer"])
    assert (await alice.next("error"))["code"] == "offer_gone"
    await bob.send(type="accept", offer=second["offer"])
    await bob.next("assigned", conversation=conv)


async def test_declined_offer_goes_to_another_peer_and_back_only_when_nobody_else(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1)
    await asyncio.sleep(0.05)
    bob = await harness.peer("bob", capacity=1)
    seeker, conv = await _waiting_seeker(harness)
    offer = await alice.next("offer", conversation=conv)
    await alice.send(type="decline", offer=offer["offer"])
    offer_b = await bob.next("offer", conversation=conv)
    await alice.send(type="accept", offer=offer["offer"])
    assert (await alice.next("error"))["code"] == "offer_gone"
    await bob.send(type="decline", offer=offer_b["offer"])
    # Both declined: it goes back to one of them rather than waiting forever.
    again = await alice.next("offer", conversation=conv, timeout=3)
    await alice.send(type="accept", offer=again["offer"])
    await alice.next("assigned", conversation=conv)


async def test_accepting_someone_elses_offer_is_offer_gone(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("mallory")
    alice = await harness.peer("alice", capacity=1)
    mallory = await harness.peer("mallory")
    seeker, conv = await _waiting_seeker(harness)
    offer = await alice.next("offer", conversation=conv)
    await mallory.send(type="accept", offer=offer["offer"])
    assert (await mallory.next("error"))["code"] == "offer_gone"
    await alice.send(type="accept", offer=offer["offer"])
    await alice.next("assigned", conversation=conv)


async def test_two_expired_offers_in_a_row_put_peer_on_break(harness: Harness) -> None:
    await harness.start(offer_timeout_s=t(0.4))
    await harness.add_peer("sleepy")
    peer = await harness.peer("sleepy", capacity=1)
    seeker, conv = await _waiting_seeker(harness)
    await peer.next("offer", conversation=conv)
    await peer.next("revoked", timeout=3)
    await peer.next("offer", conversation=conv, timeout=3)
    await peer.next("revoked", timeout=3)
    assert (await peer.next("shift", timeout=3, state="break"))["state"] == "break"
    await peer.none("offer", within=0.8)


# --- acting on conversations ----------------------------------------------------------------
async def test_acting_on_a_conversation_not_assigned_is_not_allowed(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("mallory")
    alice = await harness.peer("alice", capacity=1)
    mallory = await harness.peer("mallory", capacity=1)
    seeker, conv = await _assigned(harness, alice)
    for frame in ({"type": "message", "conversation": conv, "client_id": "x", "text": "hi"},
                  {"type": "typing", "conversation": conv},
                  {"type": "end", "conversation": conv, "outcome": "x"},
                  {"type": "escalate", "conversation": conv},
                  {"type": "transfer", "conversation": conv, "to": None},
                  {"type": "note", "conversation": conv, "text": "n"},
                  {"type": "monitor", "conversation": conv},
                  {"type": "whisper", "conversation": conv, "text": "w"}):
        await mallory.send(**frame)
        assert (await mallory.next("error"))["code"] == "not_allowed", frame
    await seeker.none("message", within=0.3)
    await seeker.none("escalation", within=0.1)
    await seeker.none("ended", within=0.1)
    await alice.send(type="message", conversation=conv, client_id="ok", text="all good")
    assert (await alice.next("ack", client_id="ok"))["seq"] == 3


async def test_transfer_to_named_peer(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("bob", display="Bob")
    alice = await harness.peer("alice", capacity=1)
    seeker, conv = await _assigned(harness, alice)
    await alice.send(type="transfer", conversation=conv, to="bob")
    assert (await alice.next("error"))["code"] == "not_available"  # bob is not on shift
    await alice.send(type="transfer", conversation=conv, to="nobody")
    assert (await alice.next("error"))["code"] == "not_available"
    bob = await harness.peer("bob", capacity=1)
    await alice.send(type="transfer", conversation=conv, to="bob")
    await alice.next("released", conversation=conv)
    offer = await bob.next("offer", conversation=conv)
    assert offer["transfer_from"] == "alice"
    await bob.send(type="accept", offer=offer["offer"])
    assigned = await bob.next("assigned", conversation=conv)
    assert [m["text"] for m in assigned["history"]][0] == "hello"
    assert (await seeker.next("status", state="active", peer="Bob"))["peer"] == "Bob"
    await alice.send(type="message", conversation=conv, client_id="late", text="still me?")
    assert (await alice.next("error"))["code"] == "not_allowed"


async def test_transfer_to_queue_offers_another_peer_first(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=2)
    seeker, conv = await _assigned(harness, alice)
    bob = await harness.peer("bob", capacity=1)
    await alice.send(type="transfer", conversation=conv, to=None)
    await alice.next("released", conversation=conv)
    await seeker.next("status", state="waiting")
    await bob.next("offer", conversation=conv)
    await alice.none("offer", within=0.3, conversation=conv)


async def test_notes_never_reach_the_seeker(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice", display="Alice")
    await harness.add_peer("sup", role="supervisor", display="Sue")
    alice = await harness.peer("alice", capacity=1)
    sup = await harness.peer("sup")
    seeker, conv = await _assigned(harness, alice)
    await sup.send(type="monitor", conversation=conv)
    await sup.next("monitoring", conversation=conv)
    await alice.send(type="note", conversation=conv, text="SECRET-NOTE seems calmer")
    note = await alice.next("note", conversation=conv)
    assert note["from"] == "Alice" and note["text"] == "SECRET-NOTE seems calmer" and "seq" not in note
    await sup.next("note", conversation=conv, text="SECRET-NOTE seems calmer")
    await sup.send(type="whisper", conversation=conv, text="SECRET-WHISPER ask about safety")
    whisper = await alice.next("note", conversation=conv, whisper=True)
    assert whisper["from"] == "Sue"
    await alice.send(type="message", conversation=conv, client_id="after", text="how are you now?")
    assert (await alice.next("ack", client_id="after"))["seq"] == 3  # notes take no seq
    frames = await seeker.drain(0.5)
    assert not any("SECRET" in str(f) for f in frames) and any(f.get("seq") == 3 for f in frames)
    again = await harness.connect("/ws/seeker")
    await again.send(type="hello", resume=(await _resume_token(seeker)), last_seq=0)
    assert not any("SECRET" in str(f) for f in await again.drain(0.5))


async def _resume_token(seeker: WS) -> str:
    return next(f["resume"] for f in seeker.seen if f["type"] == "welcome")


async def test_supervisor_only_commands_refused_for_peers(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, conv = await _assigned(harness, alice)
    await alice.send(type="monitor", conversation=conv)
    assert (await alice.next("error"))["code"] == "not_allowed"


async def test_supervisor_monitors_live_conversation_read_only(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sup", role="supervisor")
    alice = await harness.peer("alice", capacity=1)
    sup = await harness.peer("sup")  # off shift: monitoring still allowed
    seeker, conv = await _assigned(harness, alice)
    await sup.send(type="monitor", conversation=conv)
    mon = await sup.next("monitoring", conversation=conv)
    assert [m["seq"] for m in mon["history"]] == [1, 2]
    await seeker.send(type="message", client_id="s2", text="more")
    assert (await sup.next("message", conversation=conv))["seq"] == 3
    await alice.send(type="message", conversation=conv, client_id="p", text="reply")
    assert (await sup.next("message", conversation=conv))["seq"] == 4
    await sup.send(type="message", conversation=conv, client_id="x", text="I should not")
    assert (await sup.next("error"))["code"] == "not_allowed"
    await sup.send(type="monitor", conversation="0" * 32)
    refused = await sup.next("error")
    assert refused["code"] == "not_available" and refused["conversation"] == "0" * 32


async def test_a_whisper_reaches_the_whispering_supervisor_once_monitoring_or_not(harness: Harness) -> None:
    """The whisperer sees its own whisper exactly once: through the monitor channel while it
    monitors the conversation, through its own channel while it does not (it used to get both)."""
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sup", role="supervisor")
    alice = await harness.peer("alice", capacity=1)
    sup = await harness.peer("sup")
    _seeker, conv = await _assigned(harness, alice)
    await sup.send(type="whisper", conversation=conv, text="not monitoring yet")
    await alice.next("note", conversation=conv, text="not monitoring yet", whisper=True)
    await sup.next("note", conversation=conv, text="not monitoring yet", whisper=True)
    await sup.send(type="monitor", conversation=conv)
    await sup.next("monitoring", conversation=conv)
    await sup.send(type="whisper", conversation=conv, text="ask about safety")
    await alice.next("note", conversation=conv, text="ask about safety", whisper=True)
    await sup.next("note", conversation=conv, text="ask about safety", whisper=True)
    await sup.none("note", within=1.0, conversation=conv)


async def test_monitor_again_after_the_end_is_refused_naming_the_conversation(harness: Harness) -> None:
    """A reconnecting console asks again for each monitored conversation: the refusal of one
    that ended meanwhile says which (addition), so the console marks that tab alone."""
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sup", role="supervisor")
    alice = await harness.peer("alice", capacity=2)
    sup = await harness.peer("sup")
    _, live = await _assigned(harness, alice)
    _, gone = await _assigned(harness, alice)
    await alice.send(type="end", conversation=gone, outcome="resolved")
    await alice.next("ended", conversation=gone)
    await sup.send(type="monitor", conversation=gone)
    await sup.send(type="monitor", conversation=live)
    refused = await sup.next("error")
    assert refused["code"] == "not_available" and refused["conversation"] == gone
    await sup.next("monitoring", conversation=live)


async def test_events_lost_by_the_hub_come_back_to_a_monitoring_supervisor(harness: Harness) -> None:
    """After the hub lost events (its pub/sub link dropped), a supervisor's socket catches up on
    the conversations it monitors too, not only on its own: the monitoring frame again."""
    srv = await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("sup", role="supervisor")
    alice = await harness.peer("alice", capacity=1)
    sup = await harness.peer("sup")
    seeker, conv = await _assigned(harness, alice)
    await sup.send(type="monitor", conversation=conv)
    assert [m["seq"] for m in (await sup.next("monitoring", conversation=conv))["history"]] == [1, 2]
    services = srv.services
    (conn,) = [p for p in services.peers if p.user == "sup"]
    channel = services.keys.ch_monitor(conv)
    # What a pub/sub outage does to this socket: the message is stored, its event never comes.
    await services.hub.unsubscribe(channel, conn)
    await seeker.send(type="message", client_id="lost", text="said during the outage")
    await seeker.next("ack", client_id="lost")
    await services.hub.subscribe(channel, conn)
    conn.resync()
    again = await sup.next("monitoring", conversation=conv)
    assert [m["seq"] for m in again["history"]] == [1, 2, 3] and again["state"] == "active"
    await sup.none("message", conversation=conv)


async def test_peer_reconnect_within_grace_gets_shift_then_assigned(harness: Harness) -> None:
    await harness.start(peer_grace_s=t(5))
    await harness.add_peer("alice")
    cookie = await harness.login("alice")
    alice = await harness.peer("alice", capacity=2, cookie=cookie)
    seeker, conv = await _assigned(harness, alice)
    await alice.close()
    await seeker.send(type="message", client_id="while-away", text="are you there?")
    await seeker.next("ack", client_id="while-away")
    back = await harness.peer("alice", cookie=cookie)
    first = await back.next("shift")
    assert first["state"] == "on" and first["active"] == 1
    assigned = await back.next("assigned", conversation=conv)
    assert assigned["history"][-1]["text"] == "are you there?"
    assert back.seen.index(first) < back.seen.index(assigned)


async def test_peer_gone_past_grace_requeues_its_conversations(harness: Harness) -> None:
    await harness.start(peer_grace_s=t(0.5))
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1)
    seeker, conv = await _assigned(harness, alice)
    bob = await harness.peer("bob", capacity=1)
    await alice.close()
    await seeker.next("status", state="waiting", timeout=5)
    await bob.next("offer", conversation=conv, timeout=5)
    state = await harness.servers[0].services.engine.peer_state("alice")
    assert state.value == "off"


async def test_escalated_conversation_gives_a_debrief_pause(harness: Harness) -> None:
    await harness.start(debrief_s=t(60))
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=2)
    seeker, conv = await _assigned(harness, alice)
    await alice.send(type="escalate", conversation=conv)
    await alice.next("escalation", conversation=conv)
    await alice.send(type="end", conversation=conv, outcome="referred")
    shift = await alice.next("shift", active=0)
    assert shift["debrief_until"] is not None
    s2, conv2 = await _waiting_seeker(harness)
    await alice.none("offer", within=0.6)
    alice.buffer.clear()
    await alice.send(type="shift", action="start", capacity=2)  # ends the pause early
    assert (await alice.next("shift", state="on", debrief_until=None))["active"] == 0
    await alice.next("offer", conversation=conv2)


async def test_notes_are_kept_for_the_next_peer_and_archived(harness: Harness) -> None:
    srv = await harness.start()
    await harness.add_peer("alice", display="Alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1)
    seeker, conv = await _assigned(harness, alice)
    await alice.send(type="note", conversation=conv, text="prefers French later")
    await alice.next("note")
    bob = await harness.peer("bob", capacity=1)
    await alice.send(type="transfer", conversation=conv, to="bob")
    offer = await bob.next("offer", conversation=conv)
    await bob.send(type="accept", offer=offer["offer"])
    assigned = await bob.next("assigned", conversation=conv)
    assert [(n["from"], n["text"], n["whisper"]) for n in assigned["notes"]] == [
        ("Alice", "prefers French later", False)]
    await seeker.send(type="end")
    await seeker.next("ended")
    for _ in range(100):
        if await srv.services.store.notes(conv):
            break
        await asyncio.sleep(0.05)
    assert [n.text for n in await srv.services.store.notes(conv)] == ["prefers French later"]
    await seeker.send(type="forget")
    await seeker.next("forgotten")
    assert await srv.services.store.notes(conv) == []


async def test_offer_gone_names_the_offer(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    await alice.send(type="accept", offer="f" * 32)
    err = await alice.next("error")
    assert err["code"] == "offer_gone" and err["offer"] == "f" * 32


async def test_a_reconnecting_console_is_told_which_conversations_are_still_its(harness: Harness) -> None:
    """After the state on connect, `synced` names the peer's conversations now: one that ended
    while the console was away is not among them."""
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=2)
    assert (await alice.next("synced"))["conversations"] == []
    seeker1, conv1 = await _assigned(harness, alice)
    _, conv2 = await _assigned(harness, alice)
    await alice.close()
    await seeker1.send(type="end")
    await seeker1.next("ended")
    again = await harness.peer("alice")
    assert (await again.next("synced"))["conversations"] == [conv2]
    assert conv1 != conv2


async def test_an_offer_sent_again_to_a_reconnecting_console_is_the_same_offer(harness: Harness) -> None:
    """The offer frame is built in one place: a console that reconnects while an offer of a
    transfer is pending gets it again with every field, `transfer_from` included."""
    await harness.start()
    await harness.add_peer("alice")
    await harness.add_peer("bob")
    alice = await harness.peer("alice", capacity=1)
    bob = await harness.peer("bob", capacity=1)
    _, conv = await _assigned(harness, alice)
    await alice.send(type="transfer", conversation=conv, to="bob")
    first = await bob.next("offer", conversation=conv)
    await bob.close()
    again = await (await harness.peer("bob")).next("offer", conversation=conv)
    assert again.keys() == first.keys() and again["transfer_from"] == "alice"
    assert {k: v for k, v in again.items() if k not in ("waited_s", "expires_in_s")} == \
        {k: v for k, v in first.items() if k not in ("waited_s", "expires_in_s")}


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_an_offer_says_the_conversation_s_language(harness: Harness, lang: str) -> None:
    """CONTRACT.md section 3: the offer frame carries the conversation's lang."""
    await harness.start()
    await harness.add_peer("alice")
    alice = await harness.peer("alice", capacity=1)
    seeker, welcome = await harness.seeker(lang=lang)
    await seeker.send(type="message", client_id="m1", text="bonjour" if lang == "fr" else "hello")
    offer = await alice.next("offer", conversation=welcome["conversation"])
    assert offer["lang"] == lang
