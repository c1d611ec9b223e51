"""The baselines, each as small as it can be while doing the same job as chatd's part.

- **B1** ``b1 PORT``: a bare ``websockets`` server holding connections (no compression,
  64 KiB frames, a 2048 backlog like uvicorn's); it answers each text frame with a short one,
  so a client's ``hello`` gets a ``welcome`` as from chatd.

Every baseline runs on the event loop chatd runs on (uvloop when it is installed; uvicorn's
"auto" picks it for chatd, B1u and B3), so a ratio never credits chatd with a faster loop.
- **B1u** ``b1u PORT`` (for reading figures 1 and 6, no target): the same job as a raw ASGI
  app under uvicorn with chatd's settings, to tell uvicorn's own cost from chatd's.
- **B2** ``b2 PORT REDIS_URL``: a bare relay, one of two processes: ``/s/ID`` sockets publish
  every frame on Redis channel ``b2:ID``; ``/p/ID`` sockets get what is published there. One
  pub/sub connection and one listener per process, as chatd's hub; a blocking Redis pool.
- **B3** ``b3 PORT``: a bare Starlette endpoint answering ``POST /sms/inbound`` with empty
  TwiML, under uvicorn with chatd's settings.

Run as ``python -m bench.baselines KIND ...``; each stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Any

WELCOME = '{"type":"welcome"}'
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_FRAME = 64 * 1024
BACKLOG = 2048


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def b1(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def handler(ws: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in ws:
                await ws.send(WELCOME)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=MAX_FRAME, backlog=BACKLOG):
        await _until_stopped()


async def b2(port: int, redis_url: str) -> None:
    from redis.asyncio import BlockingConnectionPool, Redis
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    # A blocking pool: redis-py's default pool fails at 100 commands in flight (a stall of a few
    # ms at these rates), which would close sender sockets and lighten the baseline's load.
    redis = Redis(connection_pool=BlockingConnectionPool.from_url(redis_url, max_connections=100, timeout=None))
    pubsub = redis.pubsub()
    await pubsub.subscribe("b2:-")
    receivers: dict[str, ServerConnection] = {}

    async def listen() -> None:
        async for msg in pubsub.listen():
            if msg["type"] != "message":
                continue
            ws = receivers.get(msg["channel"].decode())
            if ws is not None:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(msg["data"].decode())

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        kind, _, ident = ws.request.path.strip("/").partition("/")
        channel = f"b2:{ident}"
        if kind == "s":
            with contextlib.suppress(ConnectionClosed):
                async for frame in ws:
                    await redis.publish(channel, frame)
        else:
            receivers[channel] = ws
            await pubsub.subscribe(channel)
            try:
                await ws.wait_closed()
            finally:
                receivers.pop(channel, None)
                await pubsub.unsubscribe(channel)

    listener = asyncio.create_task(listen())
    try:
        async with serve(handler, "127.0.0.1", port, compression=None, max_size=MAX_FRAME, backlog=BACKLOG):
            await _until_stopped()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await redis.aclose()


def uvicorn_run(app: Any, port: int) -> None:
    """uvicorn as chatd runs it (chatd/cli.py): no compression, 64 KiB frames, no access log."""
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, server_header=False,
                ws_max_size=MAX_FRAME, ws_per_message_deflate=False, lifespan="off")


def b1u(port: int) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while (await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": WELCOME})

    uvicorn_run(app, port)


def b3(port: int) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def inbound(request: Request) -> Response:
        return Response(EMPTY_TWIML, media_type="application/xml")

    uvicorn_run(Starlette(routes=[Route("/sms/inbound", inbound, methods=["POST"])]), port)


def _run(main: Any) -> None:
    """Run on the event loop chatd runs on: uvloop when installed (as uvicorn's "auto")."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: list[str]) -> int:
    kind, port = argv[0], int(argv[1])
    if kind == "b1":
        _run(b1(port))
    elif kind == "b1u":
        b1u(port)
    elif kind == "b2":
        _run(b2(port, argv[2]))
    elif kind == "b3":
        b3(port)
    else:
        print(f"unknown baseline {kind!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
