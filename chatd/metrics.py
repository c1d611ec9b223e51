"""``GET /metrics`` on prometheus-client (Prometheus text format 0.0.4).

Two kinds of figures:

- this process's own: its sockets, its pub/sub reconnections, and the relay latency of the
  messages it received (a prometheus-client ``Histogram``, one per process);
- the service's, kept in Redis and read at each scrape by a custom collector: queue and shift
  gauges, the ``P:stats`` counters, the histograms of ``routing/histograms.py``. Every process
  reports the same values for these, so several web processes tell one truth (aggregate them
  with ``max``, not ``sum``).

Why prometheus-client rather than text written by hand: the exposition format's escaping,
``# TYPE`` lines and histogram buckets are its to get right, and operators' tools expect it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from chatd.services import Services
from records import replies
from routing.histograms import HISTOGRAMS

SCRAPE_TIMEOUT_S = 2.0
QUEUE_SCORE_BAND = 10**13  # P:queue score = band * 1e13 + queued ms (records/keyspace.py)
RELAY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

# P:stats field prefix -> (family, label); any other prefix becomes chatd_<prefix>_total{kind}.
_COUNTERS = {
    "messages": ("chatd_messages", "sender"),
    "escalations": ("chatd_escalations", "reason"),
    "conversations": ("chatd_conversations", "event"),
    "abandoned": ("chatd_abandoned", "by"),
}
_HISTOGRAM_HELP = {
    "queue_wait": "Seconds from queued to accepted by a peer, each time a conversation is accepted.",
    "first_reply": "Seconds from a peer's accept to that conversation's first peer message.",
}


class ProcessMetrics:
    """The metrics this process measures itself (created once per app)."""

    def __init__(self) -> None:
        self.relay = Histogram("chatd_relay_seconds", "Seconds from a message read on this process's socket "
                               "to its ack: stored in Redis and published to the other side.",
                               buckets=RELAY_BUCKETS_S, registry=None)


@dataclass
class Snapshot:
    """What one scrape read from Redis and the database (None: could not be read)."""

    waiting: int = 0
    on_shift: int = 0
    live: int = 0
    stats: dict[str, str] = field(default_factory=dict)
    histograms: dict[str, dict[str, str]] = field(default_factory=dict)
    longest_wait_s: float = 0.0
    on_shift_by_lang: dict[str, int] = field(default_factory=dict)
    service_open: bool = True
    database_up: bool = True


async def read_snapshot(services: Services) -> Snapshot | None:
    """Everything the service-wide families need; None when Redis does not answer in time."""
    k, redis = services.keys, services.redis
    snap = Snapshot()
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            snap.waiting, snap.on_shift = await services.engine.queue_counts()
            async with redis.pipeline(transaction=False) as pipe:
                pipe.scard(k.live)
                pipe.hgetall(k.stats)
                pipe.zrange(k.queue, 0, -1, withscores=True)
                pipe.smembers(k.on_shift)
                for name in HISTOGRAMS:
                    pipe.hgetall(k.hist(name))
                live, stats, queue, on, *hists = await pipe.execute()
    except Exception:
        return None
    snap.live = int(live)
    snap.stats = replies.mapping(stats)
    snap.histograms = {name: replies.mapping(h) for name, h in zip(HISTOGRAMS, hists, strict=True)}
    now_ms = time.time() * 1000
    queued = [int(score) % QUEUE_SCORE_BAND for _, score in queue]
    snap.longest_wait_s = max(0.0, (now_ms - min(queued)) / 1000) if queued else 0.0
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            on_users = set(replies.texts(on))
            languages = {s.username: s.languages for s in await services.store.list_supporters()}
            current = await services.program.hours()
    except Exception:
        snap.database_up = False
        return snap
    for lang in ("en", "fr"):
        snap.on_shift_by_lang[lang] = sum(1 for u in on_users if lang in languages.get(u, ()))
    snap.service_open = current.is_open(datetime.now(UTC).astimezone(ZoneInfo(services.settings.timezone)))
    return snap


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


class ScrapeCollector(Collector):
    """One scrape's families, from this process's state and the snapshot read from Redis."""

    def __init__(self, services: Services, snap: Snapshot | None) -> None:
        self.services = services
        self.snap = snap

    def collect(self) -> Iterator[Metric]:
        s = self.services
        yield _gauge("chatd_seeker_sockets", "Seeker sockets open on this process.", len(s.seekers))
        yield _gauge("chatd_peer_sockets", "Peer console sockets open on this process.", len(s.peers))
        yield CounterMetricFamily("chatd_hub_reconnects", "Pub/sub reconnections of this process.",
                                  value=s.hub.reconnects)
        snap = self.snap
        yield _gauge("chatd_redis_up", "Whether Redis answered this scrape.", 0 if snap is None else 1)
        if snap is None:
            return
        yield _gauge("chatd_database_up", "Whether the database answered this scrape.", int(snap.database_up))
        yield _gauge("chatd_queue_waiting", "Conversations waiting for a peer.", snap.waiting)
        yield _gauge("chatd_peers_on_shift", "Peers in shift state on.", snap.on_shift)
        yield _gauge("chatd_conversations_live", "Conversations not yet ended.", snap.live)
        yield _gauge("chatd_longest_wait_seconds", "How long the longest-waiting conversation in the queue has "
                     "waited (0: none waiting).", round(snap.longest_wait_s, 3))
        by_lang = GaugeMetricFamily("chatd_peers_on_shift_by_language", "Peers in shift state on who take "
                                    "conversations in each language.", labels=["lang"])
        for lang, n in sorted(snap.on_shift_by_lang.items()):
            by_lang.add_metric([lang], n)
        yield by_lang
        yield _gauge("chatd_service_open", "1 within the service hours set at /admin, 0 outside them.",
                     int(snap.service_open))
        yield from self._counters(snap)
        yield from self._histograms(snap)

    @staticmethod
    def _counters(snap: Snapshot) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        for key, raw in sorted(snap.stats.items()):
            prefix, _, label = key.partition("_")
            name, label_name = _COUNTERS.get(prefix, (f"chatd_{prefix}", "kind"))
            family = families.get(name)
            if family is None:
                family = families[name] = CounterMetricFamily(name, "Count since the data store was created.",
                                                              labels=[label_name])
            family.add_metric([label], int(raw))
        yield from families.values()

    @staticmethod
    def _histograms(snap: Snapshot) -> Iterator[Metric]:
        for name, bounds in HISTOGRAMS.items():
            h = snap.histograms.get(name, {})
            cumulative, buckets = 0, []
            for i, bound in enumerate((*bounds, float("inf"))):
                cumulative += int(h.get(f"b{i}", 0))
                buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), cumulative))
            yield HistogramMetricFamily(f"chatd_{name}_seconds", _HISTOGRAM_HELP[name], buckets=buckets,
                                        sum_value=int(h.get("sum", 0)) / 1000)


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    snap = await read_snapshot(services)
    # A registry per scrape: the snapshot is this request's, so concurrent scrapes never mix.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(services, snap))
    registry.register(services.process_metrics.relay)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
