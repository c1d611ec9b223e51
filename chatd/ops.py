"""Operations endpoints: ``/healthz``, ``/readyz``, ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from chatd.services import Services
from records import replies

READY_TIMEOUT_S = 2.0


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def readyz(request: Request) -> Response:
    """200 while a Redis primary and the database answer, else 503 naming what does not.

    Redis must answer ``ROLE`` as a primary (``master``): a replica answers a PING too, but refuses
    every write, so a process still connected to a demoted primary, or pointed at a replica, is
    not ready. Through Sentinels the answer comes from the primary they name now, so this is 503
    only while no primary answers (during a failover, until the promotion)."""
    services: Services = request.app.state.services
    problems = []
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            role = await services.redis.role()
        if not role or role[0] != "master":
            problems.append("redis (not a primary)")
    except Exception:
        problems.append("redis")
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await services.store.ping()
    except Exception:
        problems.append("database")
    if problems:
        return PlainTextResponse("unavailable: " + ", ".join(problems) + "\n", status_code=503)
    return PlainTextResponse("ready\n")


def _metric(lines: list[str], name: str, kind: str, help_text: str, value: Any, labels: str = "") -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")
    lines.append(f"{name}{labels} {value}")


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    lines: list[str] = []
    _metric(lines, "chatd_seeker_sockets", "gauge", "Seeker sockets open on this process.", len(services.seekers))
    _metric(lines, "chatd_peer_sockets", "gauge", "Peer console sockets open on this process.", len(services.peers))
    _metric(lines, "chatd_hub_reconnects_total", "counter", "Pub/sub reconnections of this process.",
            services.hub.reconnects)
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            waiting, on = await services.engine.queue_counts()
            live = await services.redis.scard(services.keys.live)
            stats = replies.mapping(await services.redis.hgetall(services.keys.stats))
    except Exception:
        _metric(lines, "chatd_redis_up", "gauge", "Whether Redis answered this scrape.", 0)
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
    _metric(lines, "chatd_redis_up", "gauge", "Whether Redis answered this scrape.", 1)
    _metric(lines, "chatd_queue_waiting", "gauge", "Conversations waiting for a peer.", waiting)
    _metric(lines, "chatd_peers_on_shift", "gauge", "Peers in shift state on.", on)
    _metric(lines, "chatd_conversations_live", "gauge", "Conversations not yet ended.", live)
    counters: dict[str, list[tuple[str, int]]] = {}
    for key, raw_value in stats.items():
        family, _, label = key.partition("_")
        family_name, label_name = {
            "messages": ("chatd_messages_total", "sender"),
            "escalations": ("chatd_escalations_total", "reason"),
            "conversations": ("chatd_conversations_total", "event"),
        }.get(family, ("chatd_" + family + "_total", "kind"))
        counters.setdefault(f"{family_name}|{label_name}", []).append((label, int(raw_value)))
    for name_label, rows in sorted(counters.items()):
        name, label_name = name_label.split("|")
        lines.append(f"# HELP {name} Count since the data store was created.")
        lines.append(f"# TYPE {name} counter")
        for label, value in sorted(rows):
            lines.append(f'{name}{{{label_name}="{label}"}} {value}')
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
