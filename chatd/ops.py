"""Operations endpoints: ``/healthz`` and ``/readyz`` (``/metrics``: chatd/metrics.py)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from chatd.services import Services

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
