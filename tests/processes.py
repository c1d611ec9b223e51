"""Real chatd processes for the tests: `chatd web` / `chatd worker` as subprocesses, and the
few steps every such test takes (wait until ready, log in, open a console)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, Any

import httpx
import websockets

from tests.conftest import PASSWORD
from tests.helpers import WS, t


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Subprocesses stopped (SIGTERM, then SIGKILL) however the test ends."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(t(15))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def spawn(procs: list[subprocess.Popen[bytes]], command: str, env: dict[str, str],
          stderr: IO[Any] | int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """``python -m chatd <command>`` with ``env``, owned by ``procs``. Its logs go nowhere by
    default: a pipe nobody reads would block the process once it filled."""
    proc = subprocess.Popen([sys.executable, "-m", "chatd", command], env=env, stderr=stderr,
                            stdout=subprocess.DEVNULL)
    procs.append(proc)
    return proc


async def ready(url: str) -> None:
    """Wait until ``url``'s /readyz answers 200."""
    async with httpx.AsyncClient() as http:
        for _ in range(int(t(10) / 0.05)):
            try:
                if (await http.get(url + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


async def login(url: str, username: str = "alice") -> str:
    """Log in over HTTP; the session cookie."""
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.cookies["chatd_session"]


async def connect_peer(url: str, cookie: str) -> WS:
    """A console socket to the process at ``url``."""
    return WS(await websockets.connect("ws" + url[4:] + "/ws/peer", origin=url,  # type: ignore[arg-type]
                                       additional_headers={"Cookie": f"chatd_session={cookie}"}))
