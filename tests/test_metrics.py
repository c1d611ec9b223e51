"""/metrics on prometheus-client: the documented names kept, and the histograms and gauges an
on-call operator alerts on, one truth across web processes."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Harness, Running

DOCUMENTED = ("chatd_seeker_sockets", "chatd_peer_sockets", "chatd_hub_reconnects", "chatd_redis_up",
              "chatd_queue_waiting", "chatd_peers_on_shift", "chatd_conversations_live", "chatd_messages",
              "chatd_escalations", "chatd_conversations")


async def scrape(srv: Running) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics: family name -> {labels (with the sample's name): value}."""
    async with httpx.AsyncClient(base_url=srv.url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        samples = out.setdefault(family.name, {})
        for sample in family.samples:
            samples[(("__name__", sample.name), *sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]], family: str, name: str | None = None,
          **labels: str) -> float:
    key = (("__name__", name or family), *sorted(labels.items()))
    return metrics[family][key]


async def test_documented_names_and_the_operators_figures(harness: Harness) -> None:
    srv = await harness.start()
    other = await harness.start(worker=False)  # a second web process reports the same service figures
    await harness.add_peer("pat")
    await harness.peer("pat")  # signed in, not on shift
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hello")
    await seeker.next("ack")
    m = await scrape(srv)
    for family in DOCUMENTED:
        assert family in m, family
    assert value(m, "chatd_queue_waiting") == 1 and value(m, "chatd_peers_on_shift") == 0
    assert value(m, "chatd_messages", "chatd_messages_total", sender="seeker") == 1
    assert value(m, "chatd_escalations", "chatd_escalations_total", reason="no_peer_on_shift") == 1
    assert value(m, "chatd_conversations", "chatd_conversations_total", event="created") == 1
    assert value(m, "chatd_longest_wait_seconds") >= 0
    assert value(m, "chatd_service_open") == 1 and value(m, "chatd_database_up") == 1
    assert value(m, "chatd_relay_seconds", "chatd_relay_seconds_count") == 1  # this process's own
    assert value(m, "chatd_peers_on_shift_by_language", lang="fr") == 0

    peer = await harness.peer("pat", capacity=1)
    offer = await peer.next("offer")
    await peer.send(type="accept", offer=offer["offer"])
    await peer.next("assigned")
    await peer.send(type="message", conversation=offer["conversation"], client_id="p1", text="hi there")
    await peer.next("ack")
    await peer.send(type="message", conversation=offer["conversation"], client_id="p2", text="again")
    await peer.next("ack")
    mine, theirs = await scrape(srv), await scrape(other)
    for m in (mine, theirs):
        assert value(m, "chatd_queue_wait_seconds", "chatd_queue_wait_seconds_count") == 1
        assert value(m, "chatd_queue_wait_seconds", "chatd_queue_wait_seconds_bucket", le="+Inf") == 1
        assert value(m, "chatd_first_reply_seconds", "chatd_first_reply_seconds_count") == 1  # once, not twice
        assert value(m, "chatd_peers_on_shift_by_language", lang="en") == 1
        assert value(m, "chatd_longest_wait_seconds") == 0
    assert value(theirs, "chatd_seeker_sockets") == 0 and value(mine, "chatd_seeker_sockets") == 1


async def test_abandonments_are_counted_by_who_ended(harness: Harness) -> None:
    srv = await harness.start()
    seeker, _ = await harness.seeker()
    await seeker.send(type="message", client_id="a", text="hello")
    await seeker.next("ack")
    await seeker.send(type="end")
    await seeker.next("ended")
    m = await scrape(srv)
    assert value(m, "chatd_abandoned", "chatd_abandoned_total", by="seeker") == 1
