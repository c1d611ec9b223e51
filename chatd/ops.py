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
    services: Services = request.app.state.services
    problems = []
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            await services.redis.ping()
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
