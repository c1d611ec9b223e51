"""P2: a chat relay as python-socketio's documentation builds one: an ``AsyncServer`` with the
``AsyncRedisManager`` (so rooms span processes), a ``join`` event entering a room and a ``chat``
event emitted to the room, the sender skipped and acknowledged by the handler's return value.

Plain websocket transport only (no long-polling, no upgrade). Run as
``python -m bench.p2_socketio PORT REDIS_URL`` under uvicorn with chatd's settings. Installed
only for the bench (``pip install -e ".[bench]"``).
"""

from __future__ import annotations

import sys
from typing import Any

import socketio

from bench.baselines import uvicorn_run


def create_app(redis_url: str) -> Any:
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=socketio.AsyncRedisManager(redis_url),
                               transports=["websocket"])

    @sio.event
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    @sio.event
    async def chat(sid: str, data: dict[str, Any]) -> bool:
        await sio.emit("chat", data, room=data["room"], skip_sid=sid)
        return True

    return socketio.ASGIApp(sio)


def main(argv: list[str]) -> int:
    port, redis_url = int(argv[0]), argv[1]
    uvicorn_run(create_app(redis_url), port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
