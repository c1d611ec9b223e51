"""The state machines' tables (routing/states.py) against the Lua scripts that carry them out.

Every (state, action) pair of both machines is driven through the real scripts, by the routing
Engine, in a real Redis: the conversation (or the shift) is brought into the state by the same
steps the service takes, the action is taken, and what the script did (the state it left, or
the refusal it answered) is compared with the table. A refusal must change nothing.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from config.settings import Settings
from routing.engine import Engine, new_id, script_constants
from routing.errors import IllegalTransition, RoutingError
from routing.scripts import Scripts
from routing.states import (
    CONV_TRANSITIONS,
    ConvAction,
    ConvOutcome,
    ConvState,
    Refused,
    ShiftAction,
    ShiftState,
    conv_outcome,
    next_shift_state,
)
from tests.conftest import RedisServer


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RecordedScripts(Scripts):
    """The real scripts, each reply kept: the test reads the refusal code a script answered,
    which the Engine turns into an error of the contract's or a False."""

    def __init__(self, redis: Redis, prefix: str, constants: dict[str, Any]) -> None:
        super().__init__(redis, prefix, constants)
        self.replies: list[tuple[str, Any]] = []

    async def call(self, name: str, *args: Any) -> Any:
        reply = await super().call(name, *args)
        self.replies.append((name, reply))
        return reply


@pytest.fixture
async def engine(redis_server: RedisServer) -> AsyncIterator[Engine]:
    """An Engine on the session's Redis, under a key prefix of this test's own."""
    redis = Redis.from_url(redis_server.url, decode_responses=True)  # as chatd builds its clients
    settings = Settings(key_prefix=f"states-{uuid.uuid4().hex[:8]}", debrief_s=0)
    engine = Engine(redis, settings)
    engine.scripts = RecordedScripts(redis, settings.key_prefix, script_constants(settings))
    try:
        yield engine
    finally:
        await engine.scripts.aclose()
        await redis.aclose()


def _recorded(engine: Engine) -> RecordedScripts:
    assert isinstance(engine.scripts, RecordedScripts)
    return engine.scripts


# --- conversations: reaching each state -----------------------------------------------------
@dataclass
class Conv:
    engine: Engine
    id: str
    peer: str = "alice"  # the peer it is, or was last, offered or assigned to
    offer: str = "never-made"  # its offer, or its last one

    async def state(self) -> ConvState:
        info = await self.engine.info(self.id)
        assert info is not None
        return info.state


async def _on_shift(engine: Engine, peer: str) -> None:
    await engine.shift(peer, ShiftAction.START, capacity=3, display=peer.title())


async def _new(engine: Engine) -> Conv:
    conv, _ = await engine.create_conversation("web", "en")
    return Conv(engine, conv)


async def _waiting(engine: Engine) -> Conv:
    c = await _new(engine)
    await engine.append(c.id, "seeker", "hello", client_id="first")  # no peer on shift: it waits
    return c


async def _offered(engine: Engine) -> Conv:
    c = await _waiting(engine)
    await _on_shift(engine, "alice")
    assert await engine.match() == 1
    c.offer = _s(await engine.redis.hget(engine.keys.conv(c.id), "offer"))
    return c


async def _active(engine: Engine) -> Conv:
    c = await _offered(engine)
    await engine.accept(c.offer, "alice")
    return c


async def _waiting_declined(engine: Engine) -> Conv:
    c = await _offered(engine)
    await engine.decline(c.offer, "alice")
    return c


async def _waiting_requeued(engine: Engine) -> Conv:
    c = await _active(engine)
    await engine.release(c.id, "alice", None)
    return c


async def _offered_transferred(engine: Engine) -> Conv:
    c = await _active(engine)
    await _on_shift(engine, "bob")
    await engine.release(c.id, "alice", "bob")
    c.peer, c.offer = "bob", _s(await engine.redis.hget(engine.keys.conv(c.id), "offer"))
    return c


async def _ended_by_peer(engine: Engine) -> Conv:
    c = await _active(engine)
    assert await engine.end(c.id, "peer", actor="alice")
    return c


async def _ended_while_waiting(engine: Engine) -> Conv:
    c = await _waiting(engine)
    assert await engine.end(c.id, "seeker")
    return c


# Each state, reached by each of the usual ways there.
CONV_SETUPS: dict[str, tuple[ConvState, Callable[[Engine], Awaitable[Conv]]]] = {
    "new": (ConvState.NEW, _new),
    "waiting": (ConvState.WAITING, _waiting),
    "waiting-declined": (ConvState.WAITING, _waiting_declined),
    "waiting-requeued": (ConvState.WAITING, _waiting_requeued),
    "offered": (ConvState.OFFERED, _offered),
    "offered-transferred": (ConvState.OFFERED, _offered_transferred),
    "active": (ConvState.ACTIVE, _active),
    "ended": (ConvState.ENDED, _ended_by_peer),
    "ended-while-waiting": (ConvState.ENDED, _ended_while_waiting),
}


# --- conversations: the actions -------------------------------------------------------------
async def _peer_break(c: Conv) -> None:
    if await c.engine.peer_state(c.peer) != ShiftState.ON:
        await _on_shift(c.engine, c.peer)
    await c.engine.shift(c.peer, ShiftAction.BREAK)


async def _match(c: Conv) -> None:
    await _on_shift(c.engine, "dave")  # a peer with room
    await c.engine.match()


async def _transfer(c: Conv) -> None:
    await _on_shift(c.engine, "carol")  # on shift with a free slot
    await c.engine.release(c.id, c.peer, "carol")


async def _expire(c: Conv) -> None:
    await c.engine.expire_offer(c.offer)


async def _end(c: Conv, by: str) -> None:
    await c.engine.end(c.id, by, actor=c.peer if by == "peer" else "")


async def _escalate(c: Conv) -> None:
    await c.engine.escalate(c.id, "peer", actor=c.peer)


async def _wait_timeout(c: Conv) -> None:
    await c.engine.escalate(c.id, "wait_timeout", only_if_queued=True)


# Each action as the service takes it, and the script that answers it (its last script call).
CONV_ACTIONS: dict[ConvAction, tuple[str, Callable[[Conv], Awaitable[Any]]]] = {
    ConvAction.MESSAGE: ("append", lambda c: c.engine.append(c.id, "seeker", "more", client_id=new_id())),
    ConvAction.MATCH: ("match", _match),
    ConvAction.ACCEPT: ("accept", lambda c: c.engine.accept(c.offer, c.peer)),
    ConvAction.DECLINE: ("release_offer", lambda c: c.engine.decline(c.offer, c.peer)),
    ConvAction.EXPIRE: ("release_offer", _expire),
    ConvAction.PEER_BREAK: ("shift", _peer_break),
    ConvAction.TRANSFER: ("release", _transfer),
    ConvAction.REQUEUE: ("release", lambda c: c.engine.release(c.id, c.peer, None)),
    ConvAction.END_SEEKER: ("end", lambda c: _end(c, "seeker")),
    ConvAction.END_PEER: ("end", lambda c: _end(c, "peer")),
    ConvAction.END_SYSTEM: ("end", lambda c: _end(c, "system")),
    ConvAction.ESCALATE: ("escalate", _escalate),
    ConvAction.WAIT_TIMEOUT: ("escalate", _wait_timeout),
    ConvAction.FORGET: ("forget", lambda c: c.engine.forget(c.id)),
    ConvAction.CHECKIN: ("checkin", lambda c: c.engine.check_in(c.id, 4, "yes")),
    ConvAction.CHECKIN_NOT_SAFE: ("checkin", lambda c: c.engine.check_in(c.id, None, "not_sure")),
}


def test_the_tables_cover_every_pair_and_the_test_every_state_and_action() -> None:
    assert set(CONV_TRANSITIONS) == {(s, a) for s in ConvState for a in ConvAction}
    assert {state for state, _ in CONV_SETUPS.values()} == set(ConvState)
    assert set(CONV_ACTIONS) == set(ConvAction)


@pytest.mark.parametrize("action", list(ConvAction), ids=str)
@pytest.mark.parametrize("setup", list(CONV_SETUPS))
async def test_conversation_action_does_what_the_table_says(engine: Engine, setup: str, action: ConvAction) -> None:
    """From each state (reached each usual way), the script leads where CONV_TABLE says, or
    refuses with its code and changes nothing."""
    state, reach = CONV_SETUPS[setup]
    c = await reach(engine)
    assert await c.state() == state, f"setup {setup!r} did not reach {state}"
    before = await engine.redis.hgetall(engine.keys.conv(c.id))
    script, act = CONV_ACTIONS[action]
    scripts = _recorded(engine)
    scripts.replies.clear()
    with contextlib.suppress(RoutingError):  # the refusal is read from the script's reply below
        await act(c)
    name, reply = scripts.replies[-1]
    assert name == script
    observed: ConvOutcome
    if isinstance(reply, list) and reply and _s(reply[0]) == "err":
        observed = Refused(_s(reply[1]))
    else:
        observed = await c.state()
    expected = conv_outcome(state, action)
    assert observed == expected, \
        f"{action} from {state} ({setup}): the table says {expected}, {script}.lua did {observed}"
    if isinstance(expected, Refused):
        assert await engine.redis.hgetall(engine.keys.conv(c.id)) == before, "a refusal changed the conversation"


# --- shifts -------------------------------------------------------------------------------------
async def _missed_two_offers(engine: Engine) -> None:
    await engine.shift("alice", ShiftAction.START, capacity=2)
    for _ in range(2):
        conv, _ = await engine.create_conversation("web", "en")
        await engine.append(conv, "seeker", "hello", client_id="first")  # offered to alice at once
    for offer in await engine.redis.smembers(engine.keys.peer_offers("alice")):
        await engine.expire_offer(_s(offer))


def _steps(*actions: ShiftAction) -> Callable[[Engine], Awaitable[None]]:
    async def run(engine: Engine) -> None:
        for action in actions:
            await engine.shift("alice", action, capacity=2)
    return run


START, BREAK, END = ShiftAction
SHIFT_SETUPS: dict[str, tuple[ShiftState, Callable[[Engine], Awaitable[None]]]] = {
    "off-never-on": (ShiftState.OFF, _steps()),
    "off-shift-ended": (ShiftState.OFF, _steps(START, END)),
    "off-ended-on-break": (ShiftState.OFF, _steps(START, BREAK, END)),
    "on": (ShiftState.ON, _steps(START)),
    "on-back-from-break": (ShiftState.ON, _steps(START, BREAK, START)),
    "break": (ShiftState.BREAK, _steps(START, BREAK)),
    "break-two-offers-missed": (ShiftState.BREAK, _missed_two_offers),
}


@pytest.mark.parametrize("action", list(ShiftAction), ids=str)
@pytest.mark.parametrize("setup", list(SHIFT_SETUPS))
async def test_shift_action_does_what_the_table_says(engine: Engine, setup: str, action: ShiftAction) -> None:
    """From each shift state, shift.lua leads where SHIFT_TRANSITIONS says; a pair the table
    does not have is an IllegalTransition naming the state and the action, and changes nothing."""
    state, reach = SHIFT_SETUPS[setup]
    await reach(engine)
    assert await engine.peer_state("alice") == state, f"setup {setup!r} did not reach {state}"
    before = await engine.redis.hgetall(engine.keys.peer("alice"))
    expected = next_shift_state(state, action)
    try:
        was, now = await engine.shift("alice", action, capacity=2)
    except IllegalTransition as exc:
        assert expected is None, f"{action} from {state}: the table says {expected}, shift.lua refused it"
        assert exc.current == state.value
        assert exc.code == "not_allowed"
        assert repr(state.value) in exc.message and action.value in exc.message, exc.message
        assert await engine.redis.hgetall(engine.keys.peer("alice")) == before, "a refusal changed the shift"
        return
    assert expected is not None, f"{action} from {state}: the table has no such transition, shift.lua made it {now}"
    assert (was, now) == (state, expected), f"{action} from {state}: the table says {expected}, shift.lua made it {now}"
    assert await engine.peer_state("alice") == expected
