"""Honest wait estimates (routing/estimate.py) on scripted arrivals, and end to end."""

from __future__ import annotations

import time

import pytest

from routing.estimate import MIN_ACCEPTS, WINDOW_MS, Accepted, Estimate, estimate, parse_accepts, rounded, wait_s
from tests.conftest import Harness

MIN = 60_000
NOW = 100 * MIN


def steady(per_minute: float, minutes: int, peers: int) -> list[Accepted]:
    """Accepts at a steady rate over the last ``minutes``, with ``peers`` on shift each time."""
    n = int(per_minute * minutes)
    return [Accepted(NOW - int((i + 1) * minutes * MIN / n), peers) for i in range(n)]


def test_no_estimate_without_enough_recent_accepts() -> None:
    assert estimate(1, 2, steady(1, MIN_ACCEPTS - 1, 2), NOW) is None
    old = [Accepted(NOW - WINDOW_MS - 1 - i, 2) for i in range(20)]  # plenty, but too long ago
    assert estimate(1, 2, old, NOW) is None


def test_no_estimate_with_no_peer_on_shift() -> None:
    assert estimate(1, 0, steady(1, 20, 2), NOW) is None


def test_one_accept_a_minute_puts_third_in_line_at_about_three_minutes() -> None:
    accepts = steady(1, 20, 2)
    assert wait_s(3, 2, accepts, NOW) == pytest.approx(180, rel=0.01)
    assert estimate(3, 2, accepts, NOW) == Estimate(3)


def test_twice_the_peers_on_shift_halves_the_estimate() -> None:
    accepts = steady(1, 20, 2)
    assert wait_s(4, 4, accepts, NOW) == pytest.approx(wait_s(4, 2, accepts, NOW) / 2)  # type: ignore[operator]


def test_a_burst_of_accepts_does_not_promise_a_short_wait() -> None:
    """Six accepts in the last minute count as if spread over ten: not six a minute."""
    burst = [Accepted(NOW - i * 10_000, 1) for i in range(6)]
    assert wait_s(6, 1, burst, NOW) == pytest.approx(600)


@pytest.mark.parametrize(("seconds", "expected"), [
    pytest.param(10, Estimate(1), id="seconds-about-a-minute"),
    pytest.param(61, Estimate(2), id="rounded-up"),
    pytest.param(4.5 * 60, Estimate(5), id="four-and-a-half"),
    pytest.param(5.2 * 60, Estimate(10), id="past-five-to-ten"),
    pytest.param(15 * 60, Estimate(15), id="fifteen"),
    pytest.param(15 * 60 + 1, Estimate(15, more_than=True), id="more-than-fifteen"),
])
def test_estimates_are_rounded_up_to_steps(seconds: float, expected: Estimate) -> None:
    assert rounded(seconds) == expected


def test_scripted_arrivals_one_every_two_minutes_with_one_peer() -> None:
    """A quiet evening: 10 accepts over 20 minutes with one peer; the second in line waits
    about four minutes, the tenth more than fifteen (malformed entries are skipped)."""
    accepts = parse_accepts([f"{NOW - i * 2 * MIN}|1" for i in range(10)] + ["garbage", "12|x"])
    assert len(accepts) == 10
    assert estimate(2, 1, accepts, NOW) == Estimate(4)  # 10 over 18 minutes: 3.6 minutes, rounded up
    assert estimate(10, 1, accepts, NOW) == Estimate(15, more_than=True)


async def test_web_status_carries_the_estimate_once_there_is_enough_data(harness: Harness) -> None:
    srv = await harness.start()
    now = int(time.time() * 1000)
    await srv.services.redis.rpush(srv.services.keys.accepts, *[f"{now - i * MIN}|1" for i in range(10)])
    await harness.add_peer("alice")
    await harness.peer("alice", capacity=1)
    first, _ = await harness.seeker()
    await first.send(type="message", client_id="a", text="first")  # offered to alice: still in line
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="second")
    # Ten accepts over nine minutes (taken as ten): one a minute, so second in line is two minutes.
    status = await seeker.next("status", state="waiting", timeout=5, estimate={"minutes": 2, "more_than": False})
    assert status["position"] == 2


async def test_no_estimate_is_given_without_data(harness: Harness) -> None:
    await harness.start()
    await harness.add_peer("alice")
    await harness.peer("alice", capacity=1)
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hello")
    status = await seeker.next("status", state="waiting")
    assert "estimate" not in status
    for frame in await seeker.drain(1.5):
        assert "estimate" not in frame


async def test_an_estimate_past_the_escalation_time_escalates_at_once(harness: Harness) -> None:
    srv = await harness.start(wait_escalate_s=300)
    now = int(time.time() * 1000)
    # Nine accepts over 24 minutes with one peer: the third in line is estimated at eight
    # minutes, past the five of CHATD_WAIT_ESCALATE_S; the first (under three) is not.
    await srv.services.redis.rpush(srv.services.keys.accepts, *[f"{now - i * 3 * MIN}|1" for i in range(9)])
    await harness.add_peer("sup", role="supervisor")
    sup = await harness.peer("sup", capacity=1)
    seekers = []
    for i in range(3):
        ws, _ = await harness.seeker("fr" if i == 2 else "en")
        await ws.send(type="message", client_id="a", text=f"seeker {i}")
        await ws.next("ack")
        seekers.append(ws)
    esc = await seekers[2].next("escalation", timeout=10)
    assert esc["reason"] == "wait_estimate" and "1-844-750-1648" in esc["text"] and "attente" in esc["text"]
    assert (await sup.next("alert", reason="wait_estimate", timeout=5))["state"] == "waiting"
    await seekers[0].none("escalation", within=0.2)
