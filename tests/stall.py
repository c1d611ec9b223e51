"""A TCP proxy in front of the test's real Redis that can stall it, or cut it, mid-request.

Redis stalls for real in production: a fork for a snapshot, a slow script, a failover. This
proxy reproduces the worst moments of such a stall on purpose, when a request carrying a
chosen marker passes: either the request reaches Redis at once (Redis executes it) but every
reply on that connection is held for ``stall_s``, so the caller's timeout fires *after* the
work was done; or the connection breaks as the request is sent, so Redis never sees it.
"""

from __future__ import annotations

import asyncio
import contextlib


class StallingProxy:
    """Forwards 127.0.0.1:<port> to a Redis server; :meth:`stall_after` arms one stall."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.stalls = 0  # stalls that happened
        self._marker: bytes | None = None
        self._stall_s = 0.0
        self._cut = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stall_after(self, marker: bytes, stall_s: float) -> None:
        """The next request containing ``marker`` is executed, and its connection's replies are
        held for ``stall_s`` seconds (once)."""
        self._marker, self._stall_s, self._cut = marker, stall_s, False

    def cut_at(self, marker: bytes) -> None:
        """Requests containing ``marker`` never reach Redis: their connection is closed instead,
        also when the client retries on a new connection, until :meth:`disarm`."""
        self._marker, self._cut = marker, True

    def disarm(self) -> None:
        self._marker = None

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        hold_until = [0.0]
        loop = asyncio.get_running_loop()

        async def requests() -> None:
            while data := await reader.read(65536):
                if self._marker is not None and self._marker in data:
                    self.stalls += 1
                    if self._cut:
                        return
                    self._marker = None
                    hold_until[0] = loop.time() + self._stall_s
                up_writer.write(data)
                await up_writer.drain()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                delay = hold_until[0] - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()

        try:
            pumps = [asyncio.create_task(requests()), asyncio.create_task(replies())]
            try:
                await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()
            self._tasks.discard(task)
