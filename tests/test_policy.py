"""The routing policy, driven without Redis."""

from __future__ import annotations

from routing.keys import BAND_HEAD, BAND_NORMAL, BAND_RISK, queue_score
from routing.policy import PeerLoad, Waiting, plan_offers
from routing.states import ShiftAction, ShiftState, next_shift_state


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


def test_shift_state_machine() -> None:
    assert next_shift_state(ShiftState.OFF, ShiftAction.START) == ShiftState.ON
    assert next_shift_state(ShiftState.ON, ShiftAction.BREAK) == ShiftState.BREAK
    assert next_shift_state(ShiftState.BREAK, ShiftAction.START) == ShiftState.ON
    assert next_shift_state(ShiftState.BREAK, ShiftAction.END) == ShiftState.OFF
    assert next_shift_state(ShiftState.OFF, ShiftAction.BREAK) is None
    assert next_shift_state(ShiftState.OFF, ShiftAction.END) is None
