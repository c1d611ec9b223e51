"""The routing policy: plan_offers states it without Redis; match.lua, which applies it,
is checked against it on random cases in a real Redis."""

from __future__ import annotations

import random
import uuid

import pytest
from redis.asyncio import Redis

from records.keyspace import Keys
from routing.policy import BAND_HEAD, BAND_NORMAL, BAND_RISK, PeerLoad, Waiting, plan_offers, queue_score
from routing.scripts import Scripts
from routing.states import ShiftAction, ShiftState, next_shift_state
from tests.conftest import RedisServer


def test_oldest_waiting_goes_to_least_loaded_peer() -> None:
    plan = plan_offers(
        [Waiting("late", queue_score(BAND_NORMAL, 200)), Waiting("early", queue_score(BAND_NORMAL, 100))],
        [PeerLoad("busy", capacity=3, active=2), PeerLoad("free", capacity=3, active=0)], now_ms=1000)
    assert plan[0] == ("early", "free")


def test_risk_band_is_offered_before_older_normal_ones() -> None:
    plan = plan_offers([Waiting("old", queue_score(BAND_NORMAL, 1)), Waiting("risky", queue_score(BAND_RISK, 999)),
                        Waiting("head", queue_score(BAND_HEAD, 5))],
                       [PeerLoad("p", capacity=1)], now_ms=1000)
    assert plan == [("risky", "p")]


def test_equal_load_goes_to_peer_idle_longest() -> None:
    plan = plan_offers([Waiting("c", 1)], [PeerLoad("recent", 2, idle_since_ms=900),
                                          PeerLoad("longest", 2, idle_since_ms=100)], now_ms=1000)
    assert plan == [("c", "longest")]


def test_decliner_gets_it_only_when_no_other_peer_can() -> None:
    waiting = [Waiting("c", 1, declined=frozenset({"a"}))]
    assert plan_offers(waiting, [PeerLoad("a", 2), PeerLoad("b", 2, active=1)], 0) == [("c", "b")]
    assert plan_offers(waiting, [PeerLoad("a", 2), PeerLoad("b", 1, active=1)], 0) == [("c", "a")]


def test_pending_offers_count_against_capacity() -> None:
    plan = plan_offers([Waiting(f"c{i}", i) for i in range(5)], [PeerLoad("p", capacity=3, active=1)], 0)
    assert plan == [("c0", "p"), ("c1", "p")]


def test_peer_in_debrief_gets_nothing() -> None:
    assert plan_offers([Waiting("c", 1)], [PeerLoad("p", 3, debrief_until_ms=2000)], now_ms=1000) == []
    assert plan_offers([Waiting("c", 1)], [PeerLoad("p", 3, debrief_until_ms=2000)], now_ms=2000) == [("c", "p")]


def test_load_spreads_across_peers() -> None:
    plan = plan_offers([Waiting(f"c{i}", i) for i in range(4)],
                       [PeerLoad("a", 5, idle_since_ms=1), PeerLoad("b", 5, idle_since_ms=2)], 0)
    assert [p for _, p in plan] == ["a", "b", "a", "b"]


FR_ONLY, EN_ONLY = frozenset({"fr"}), frozenset({"en"})


def test_french_conversation_goes_to_the_french_speaker_over_a_less_loaded_english_one() -> None:
    plan = plan_offers([Waiting("c", 1, lang="fr", queued_ms=1000)],
                       [PeerLoad("en", 3, idle_since_ms=1, languages=EN_ONLY),
                        PeerLoad("fr", 3, active=2, idle_since_ms=9, languages=FR_ONLY)],
                       now_ms=1000, fallback_ms=60_000)
    assert plan == [("c", "fr")]


def test_only_an_english_speaker_gets_a_french_conversation_after_the_fallback_time_not_before() -> None:
    waiting = [Waiting("c", 1, lang="fr", queued_ms=1000)]
    assert plan_offers(waiting, [PeerLoad("en", 3, languages=EN_ONLY)], now_ms=60_999, fallback_ms=60_000) == []
    assert plan_offers(waiting, [PeerLoad("en", 3, languages=EN_ONLY)], now_ms=61_000,
                       fallback_ms=60_000) == [("c", "en")]


def test_a_conversation_waiting_for_its_language_does_not_hold_back_the_ones_behind_it() -> None:
    waiting = [Waiting("fr", queue_score(BAND_RISK, 5), lang="fr", queued_ms=5),
               Waiting("en", queue_score(BAND_NORMAL, 1), lang="en", queued_ms=1)]
    assert plan_offers(waiting, [PeerLoad("p", 1, languages=EN_ONLY)], now_ms=10, fallback_ms=60_000) == [("en", "p")]


def test_risk_order_is_kept_among_conversations_of_one_language() -> None:
    waiting = [Waiting("old", queue_score(BAND_NORMAL, 1), lang="fr", queued_ms=1),
               Waiting("risky", queue_score(BAND_RISK, 9), lang="fr", queued_ms=9)]
    plan = plan_offers(waiting, [PeerLoad("p", 1, languages=FR_ONLY)], now_ms=10, fallback_ms=60_000)
    assert plan == [("risky", "p")]


def test_after_the_fallback_a_speaker_is_still_preferred_and_a_decliner_still_comes_last() -> None:
    conv = Waiting("c", 1, lang="fr", queued_ms=0, declined=frozenset({"fr1"}))
    peers = [PeerLoad("en", 3, languages=EN_ONLY), PeerLoad("fr1", 3, languages=FR_ONLY),
             PeerLoad("fr2", 3, active=2, languages=FR_ONLY)]
    assert plan_offers([conv], peers, now_ms=100_000, fallback_ms=60_000) == [("c", "fr2")]
    assert plan_offers([conv], peers[:2], now_ms=100_000, fallback_ms=60_000) == [("c", "en")]
    assert plan_offers([conv], peers[:2], now_ms=1, fallback_ms=60_000) == [("c", "fr1")]


def test_a_texter_whose_language_is_not_known_goes_to_any_peer_at_once() -> None:
    assert plan_offers([Waiting("c", 1, lang="", queued_ms=0)], [PeerLoad("fr", 1, languages=FR_ONLY)],
                       now_ms=1, fallback_ms=60_000) == [("c", "fr")]


def test_shift_state_machine() -> None:
    assert next_shift_state(ShiftState.OFF, ShiftAction.START) == ShiftState.ON
    assert next_shift_state(ShiftState.ON, ShiftAction.BREAK) == ShiftState.BREAK
    assert next_shift_state(ShiftState.BREAK, ShiftAction.START) == ShiftState.ON
    assert next_shift_state(ShiftState.BREAK, ShiftAction.END) == ShiftState.OFF
    assert next_shift_state(ShiftState.OFF, ShiftAction.BREAK) is None
    assert next_shift_state(ShiftState.OFF, ShiftAction.END) is None


# --- match.lua makes exactly the decisions plan_offers states -------------------------------
@pytest.mark.parametrize("seed", range(40))
async def test_match_lua_makes_the_offers_plan_offers_states(redis_server: RedisServer, seed: int) -> None:
    """Random queues and peers (loads, idle times, debriefs, declines, languages spoken and
    waited for, a peer not 'on', an offered conversation) written into a real Redis: one
    match.lua pass offers exactly the pairs of plan_offers, in its order."""
    rng = random.Random(seed)
    prefix = f"policy-{seed}-{uuid.uuid4().hex[:6]}"
    k = Keys(prefix)
    now = 1_000_000
    peers = [PeerLoad(f"p{i:02d}", capacity=rng.randint(1, 5), active=rng.randint(0, 2), offers=rng.randint(0, 1),
                      idle_since_ms=rng.choice([0, 10, 10, 500, 900]),
                      debrief_until_ms=rng.choice([0, 0, 0, now - 1, now + 5000]),
                      languages=rng.choice([frozenset({"en"}), frozenset({"fr"}), frozenset({"en", "fr"})]))
             for i in range(rng.randint(1, 8))]
    names = [p.username for p in peers]
    fallback_ms = 60_000
    waiting = [Waiting(f"c{i:03d}", queue_score(rng.choice([BAND_RISK, BAND_HEAD, BAND_NORMAL]),
                                                rng.choice([100, 100, 200, 300 + i])),
                       frozenset(rng.sample(names, rng.randint(0, min(2, len(names))))),
                       lang=rng.choice(["en", "fr", "fr", ""]),
                       # Either side of the language wait's end, and on it.
                       queued_ms=rng.choice([now, now - fallback_ms + 1, now - fallback_ms, now - 10 * fallback_ms]))
               for i in range(rng.randint(1, 25))]
    redis = Redis.from_url(redis_server.url)
    try:
        for p in peers:
            await redis.hset(k.peer(p.username), mapping={
                "state": "on", "capacity": p.capacity, "active": p.active, "offers": p.offers,
                "idle_since": p.idle_since_ms, "debrief_until": p.debrief_until_ms,
                "langs": ",".join(sorted(p.languages))})
            await redis.sadd(k.on_shift, p.username)
        await redis.hset(k.peer("onbreak"), mapping={"state": "break", "capacity": 5})
        await redis.sadd(k.on_shift, "onbreak")  # listed but not 'on': never chosen
        for w in waiting:
            # An SMS texter whose language is not known yet: lang "en", sms_lang "" (sms/bridge.py).
            conv_lang = {"lang": w.lang, "channel": "web"} if w.lang else {"lang": "en", "sms_lang": "",
                                                                           "channel": "sms"}
            await redis.hset(k.conv(w.conv), mapping={"state": "waiting", "queued": w.queued_ms, **conv_lang})
            await redis.zadd(k.queue, {w.conv: w.score})
            if w.declined:
                await redis.sadd(k.declined(w.conv), *w.declined)
        await redis.hset(k.conv("c000offered"), mapping={"state": "offered"})
        await redis.zadd(k.queue, {"c000offered": 0})  # at the head, but has an offer out
        offers_before = {p.username: p.offers for p in peers}
        expected = plan_offers(waiting, peers, now, fallback_ms)  # (counts its offers into the PeerLoads)
        reply = await Scripts(redis, prefix, {"lang_fallback_ms": fallback_ms}).call("match", now, 30_000, 500,
                                                  *(f"o{i:03d}" for i in range(len(waiting))))
        assert [int(reply[0]), int(reply[1])] == [len(expected), 0]
        made = []
        for i in range(len(expected)):
            offer = await redis.hgetall(k.offer(f"o{i:03d}"))
            made.append((offer[b"conv"].decode(), offer[b"peer"].decode()))
        assert made == expected
        for conv, _ in expected:
            assert await redis.hget(k.conv(conv), "state") == b"offered"
        for p in peers:
            n = sum(1 for _, peer in expected if peer == p.username)
            assert int(await redis.hget(k.peer(p.username), "offers") or 0) == offers_before[p.username] + n
    finally:
        await redis.aclose()


async def test_match_lua_stops_when_out_of_ids_and_says_so(redis_server: RedisServer) -> None:
    prefix = f"policy-ids-{uuid.uuid4().hex[:6]}"
    k = Keys(prefix)
    redis = Redis.from_url(redis_server.url)
    try:
        await redis.hset(k.peer("p"), mapping={"state": "on", "capacity": 5})
        await redis.sadd(k.on_shift, "p")
        for i in range(4):
            await redis.hset(k.conv(f"c{i}"), mapping={"state": "waiting", "channel": "web", "queued": 1})
            await redis.zadd(k.queue, {f"c{i}": i})
        scripts = Scripts(redis, prefix)
        assert [int(x) for x in await scripts.call("match", 1000, 30_000, 500, "a", "b")] == [2, 1]
        assert [int(x) for x in await scripts.call("match", 1000, 30_000, 500, "c", "d", "e")] == [2, 0]
        assert [int(x) for x in await scripts.call("match", 1000, 30_000, 500, "f")] == [0, 0]
    finally:
        await redis.aclose()
